// Command mangen writes nook's man pages (section 1) into a directory,
// generated from the command definitions themselves, so that the pages
// say what --help says. `make install` runs it:
//
//	go run ./internal/mangen -version v1.2 DIR
//
// It is a program of its own rather than a command of nook's because the
// man page writer (cobra/doc, go-md2man, blackfriday, yaml) costs about
// 2.5 ms of package initialisation at every start of whatever links it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/nookrun/nook/internal/cli"
	"github.com/spf13/cobra/doc"
)

func main() {
	version := flag.String("version", cli.Version, "the version the pages name")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: mangen [-version V] DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(flag.Arg(0), *version); err != nil {
		fmt.Fprintf(os.Stderr, "mangen: %v\n", err)
		os.Exit(1)
	}
}

func write(dir, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	hdr := &doc.GenManHeader{Title: "NOOK", Section: "1", Source: "nook " + version, Manual: "nook manual"}
	if err := doc.GenManTree(cli.Root(), hdr, dir); err != nil {
		return fmt.Errorf("man pages in %s: %w", dir, err)
	}
	return nil
}
