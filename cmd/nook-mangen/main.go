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
