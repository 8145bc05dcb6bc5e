// Command nook runs processes in Linux namespaces. All of its work is done
// by the packages of this module; this file only hands over the arguments.
package main

import (
	"os"

	"github.com/nookrun/nook/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
