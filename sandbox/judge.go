package sandbox

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/nookrun/nook/verdict"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fileSize is the output limit (RLIMIT_FSIZE's soft value), when there
// is one.
func (c *Config) fileSize() (uint64, bool) {
	for _, rl := range c.Rlimits {
		if rl.Type == "RLIMIT_FSIZE" && rl.Soft != math.MaxUint64 {
			return rl.Soft, true
		}
	}
	return 0, false
}

// outputFiles are Stdout and Stderr where they are regular files: the
// output nook can measure after the run.
func (c *Config) outputFiles() []*os.File {
	var out []*os.File
	for _, f := range []*os.File{c.Stdout, c.Stderr} {
		if f == nil {
			continue
		}
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			out = append(out, f)
		}
	}
	return out
}

// outputRlimits are the rlimits the command gets. With an output limit
// and Stdout or Stderr a regular file, RLIMIT_FSIZE is one byte above the
// limit: a program that ignores SIGXFSZ and handles EFBIG itself still
// leaves a file longer than the limit behind, which CheckOutput sees.
func (c *Config) outputRlimits() []specs.POSIXRlimit {
	fs, ok := c.fileSize()
	if !ok || len(c.outputFiles()) == 0 {
		return c.Rlimits
	}
	out := make([]specs.POSIXRlimit, 0, len(c.Rlimits))
	for _, rl := range c.Rlimits {
		if rl.Type == "RLIMIT_FSIZE" {
			rl.Soft = fs + 1
			if rl.Hard != math.MaxUint64 && rl.Hard < rl.Soft {
				rl.Hard = rl.Soft
			}
		}
		out = append(out, rl)
	}
	return out
}

// ApplyOutputLimit sets the RLIMIT_FSIZE of s, a spec c built, for the
// Stdout and Stderr c has now: a caller that opens them after Spec (so
// that a bad configuration touches no file) calls it once they are open.
func (c *Config) ApplyOutputLimit(s *specs.Spec) {
	if s.Process != nil {
		s.Process.Rlimits = c.outputRlimits()
	}
}

// CheckOutput reports whether the command wrote past the output limit
// into Stdout or Stderr (regular files only), and cuts such a file back
// to the limit. Call it after the run; nil means within the limit.
func (c *Config) CheckOutput() error {
	fs, ok := c.fileSize()
	if !ok {
		return nil
	}
	var over error
	for _, f := range c.outputFiles() {
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("output limit: %w", err)
		}
		if uint64(st.Size()) <= fs {
			continue
		}
		if err := f.Truncate(int64(fs)); err != nil {
			return fmt.Errorf("output limit: truncate %s: %w", f.Name(), err)
		}
		if over == nil {
			over = fmt.Errorf("output limit exceeded (%s: more than %d bytes)", f.Name(), fs)
		}
	}
	return over
}

// Judge runs the sandbox to completion, as Run does, and judges the run:
// its cgroup's account, its limits, and whether it wrote past the output
// limit into Stdout or Stderr.
func Judge(ctx context.Context, c *Config) *verdict.Verdict {
	p, err := c.Prepare(ctx)
	if err != nil {
		return verdict.Judge(nil, err, c.VerdictLimits())
	}
	defer p.Close()
	return p.Judge(ctx)
}

// Judge runs a prepared sandbox and judges the run, as sandbox.Judge
// does. It returns as soon as the sandbox's last process is gone; Close,
// which the caller must call, waits for the rest of its clean-up, so that
// a judge can report the verdict, or start the next run, first.
func (p *Prepared) Judge(ctx context.Context) *verdict.Verdict {
	r, err := p.run(ctx)
	var run *verdict.Run
	if r != nil {
		run = (*verdict.Run)(r)
	}
	v := verdict.Judge(run, err, p.c.VerdictLimits())
	if r != nil {
		if over := p.c.CheckOutput(); over != nil {
			v.OverOutput(over.Error())
		}
	}
	return v
}
