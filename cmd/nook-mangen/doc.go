// Command mangen writes nook's man pages (section 1) into a directory,
// generated from the command definitions themselves, so that the pages
// say what --help says. `make install` runs it:
//
//	go run ./cmd/nook-mangen -version v1.2 DIR
//
// It is a program of its own rather than a command of nook's because the
// man page writer (cobra/doc, go-md2man, blackfriday, yaml) costs about
// 2.5 ms of package initialisation at every start of whatever links it.
package main
