package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// zstdProgram decompresses zstd layers: the reference implementation's
// command-line tool (Debian's zstd package), run as a filter. See the
// package doc for why nook does not link a zstd decoder.
const zstdProgram = "zstd"

// decompressor is a layer's uncompressed stream.
type decompressor struct {
	io.Reader
	// finish is called once the stream has been read to its end: it
	// reports what went wrong that reading could not (a decoder that
	// failed after its last byte, a bad checksum).
	finish func() error
	// close releases what the decoder holds, finished or not.
	close func()
}

// decompress recognises gzip and zstd by their magic numbers; anything
// else is taken to be a plain tar stream.
func decompress(ctx context.Context, r io.Reader) (*decompressor, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return &decompressor{Reader: zr, finish: func() error { return nil }, close: func() { zr.Close() }}, nil
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return unzstd(ctx, br)
	}
	return &decompressor{Reader: br, finish: func() error { return nil }, close: func() {}}, nil
}

// unzstd pipes r through `zstd -d`. The stream is fed from a goroutine
// of ours rather than by os/exec, so that finish can wait until all of r
// has been read (the caller hashes r as it goes) and close need not.
func unzstd(ctx context.Context, r io.Reader) (*decompressor, error) {
	cmd := exec.CommandContext(ctx, zstdProgram, "-d", "-c", "-q")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("a zstd-compressed layer needs the %s program (Debian's zstd package): %w", zstdProgram, err)
		}
		return nil, fmt.Errorf("zstd: %w", err)
	}
	fed := make(chan error, 1)
	go func() {
		_, err := io.Copy(in, r)
		if cerr := in.Close(); err == nil {
			err = cerr
		}
		fed <- err
	}()
	waited := false
	wait := func() error {
		waited = true
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("zstd: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	return &decompressor{
		Reader: out,
		finish: func() error {
			// the decoder's output must end where the tar's does
			if _, err := io.Copy(io.Discard, out); err != nil {
				return fmt.Errorf("zstd: %w", err)
			}
			if err := <-fed; err != nil {
				cmd.Process.Kill()
				wait()
				return fmt.Errorf("zstd: feeding the layer: %w", err)
			}
			return wait()
		},
		close: func() {
			if !waited {
				// a failed unpack: the decoder may be blocked writing;
				// the feeder ends when the caller closes the blob
				cmd.Process.Kill()
				wait()
			}
		},
	}, nil
}
