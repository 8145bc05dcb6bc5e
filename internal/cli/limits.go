package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/nookrun/nook/sandbox"
	"github.com/nookrun/nook/verdict"
	"github.com/spf13/pflag"
)

// limitOptions are the flags of `nook run` for untrusted code: cgroup
// limits, rlimits, time limits, judge I/O and the verdict.
type limitOptions struct {
	memory, memorySwap, cpusetCPUs                    string
	pids                                              int64
	cpus                                              float64
	cpuWeight                                         uint64
	rlimits                                           []string
	openFiles, stack, fileSize, core                  string
	cpuTime, wallTime, extraTime, limits              string
	stdin, stdout, stderr, verdictFile, verdictFormat string
}

func (o *limitOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.memory, "memory", "", "memory limit of the whole sandbox, `SIZE` in bytes or with k, m, g (cgroup)")
	f.StringVar(&o.memorySwap, "memory-swap", "", "memory plus swap limit, `SIZE` (-1: unlimited swap; default: no swap beyond --memory where the kernel allows)")
	f.Int64Var(&o.pids, "pids", 0, "most processes and threads at once, `N` (cgroup)")
	f.Float64Var(&o.cpus, "cpus", 0, "CPU bandwidth, in `CPUS` (1.5: one and a half CPUs' time per period)")
	f.Uint64Var(&o.cpuWeight, "cpu-weight", 0, "relative CPU `WEIGHT`, 1-10000 (cgroup v2 cpu.weight; shares on v1)")
	f.StringVar(&o.cpusetCPUs, "cpuset-cpus", "", "run only on these `CPUS` (0-1,3)")
	stringArrayVar(f, &o.rlimits, "rlimit", "", "set rlimit `NAME=SOFT[:HARD]` (repeatable; NAME: nofile, nproc, as, fsize, cpu, stack, core, ...; unlimited)")
	f.StringVar(&o.openFiles, "open-files", "", "most open files, `N` (RLIMIT_NOFILE)")
	f.StringVar(&o.stack, "stack", "", "stack size limit, `SIZE` (RLIMIT_STACK)")
	f.StringVar(&o.fileSize, "file-size", "", "largest file the command may write, `SIZE` (RLIMIT_FSIZE: the output limit)")
	f.StringVar(&o.core, "core", "", "largest core dump, `SIZE` (RLIMIT_CORE)")
	f.StringVar(&o.cpuTime, "cpu-time-limit", "", "CPU time of the whole sandbox, `DURATION` (2s, 500ms); then every process is killed")
	f.StringVar(&o.wallTime, "wall-time-limit", "", "wall-clock time, `DURATION`; then every process is killed")
	f.StringVar(&o.extraTime, "extra-time", "", "grace `DURATION` past a time limit before the kill (the verdict still says TO)")
	f.StringVar(&o.limits, "limits", "strict", "`MODE`: strict (a limit this host cannot enforce is an error) or best-effort (a warning)")
	f.StringVar(&o.stdin, "stdin", "", "the command's stdin, from `FILE` (opened by nook, outside the sandbox)")
	f.StringVar(&o.stdout, "stdout", "", "the command's stdout, to `FILE` (created or truncated by nook)")
	f.StringVar(&o.stderr, "stderr", "", "the command's stderr, to `FILE` (created or truncated by nook)")
	f.StringVar(&o.verdictFile, "verdict", "", "write the run's verdict to `FILE` (- for stdout, after the run)")
	f.StringVar(&o.verdictFormat, "verdict-format", "json", "verdict `FORMAT`: json, or isolate (isolate's meta-file keys)")
}

// apply puts the limits into c. What they mean is the library's to check
// (sandbox.Config): here the flags are only read.
func (o *limitOptions) apply(c *sandbox.Config) error {
	if o.memory != "" {
		n, err := sandbox.ParseSize(o.memory)
		if err != nil || n == 0 {
			return fmt.Errorf("--memory %q: want a positive size (k, m, g)", o.memory)
		}
		c.Memory = n
	}
	if o.memorySwap == "-1" {
		c.MemorySwap = -1
	} else if o.memorySwap != "" {
		n, err := sandbox.ParseSize(o.memorySwap)
		if err != nil || n == 0 {
			return fmt.Errorf("--memory-swap %q: want a positive size (k, m, g) or -1", o.memorySwap)
		}
		c.MemorySwap = n
	}
	c.Pids, c.CPUs, c.CPUWeight, c.CPUSet = o.pids, o.cpus, o.cpuWeight, o.cpusetCPUs

	for _, s := range o.rlimits {
		rl, err := sandbox.ParseRlimit(s)
		if err != nil {
			return fmt.Errorf("--rlimit %w", err)
		}
		c.Rlimits = append(c.Rlimits, rl)
	}
	for _, x := range []struct{ flag, val, name string }{
		{"--open-files", o.openFiles, "nofile"}, {"--stack", o.stack, "stack"},
		{"--file-size", o.fileSize, "fsize"}, {"--core", o.core, "core"},
	} {
		if x.val == "" {
			continue
		}
		rl, err := sandbox.ParseRlimit(x.name + "=" + x.val)
		if err != nil {
			return fmt.Errorf("%s %q: want a number, a size (k, m, g) or unlimited", x.flag, x.val)
		}
		c.Rlimits = append(c.Rlimits, rl)
	}

	for _, x := range []struct {
		flag, val string
		dst       *time.Duration
		zeroOK    bool
	}{
		{"--cpu-time-limit", o.cpuTime, &c.Limits.CPUTime, false},
		{"--wall-time-limit", o.wallTime, &c.Limits.WallTime, false},
		{"--extra-time", o.extraTime, &c.Limits.Extra, true},
	} {
		if x.val == "" {
			continue
		}
		d, err := sandbox.ParseDuration(x.val)
		if err != nil {
			return fmt.Errorf("%s: %w", x.flag, err)
		}
		if d == 0 && !x.zeroOK {
			return fmt.Errorf("%s %q: want a positive duration", x.flag, x.val)
		}
		*x.dst = d
	}
	switch o.limits {
	case "strict":
	case "best-effort":
		c.Limits.BestEffort = true
	default:
		return fmt.Errorf("--limits %q: want strict or best-effort", o.limits)
	}
	switch o.verdictFormat {
	case "json", "isolate":
	default:
		return fmt.Errorf("--verdict-format %q: want json or isolate", o.verdictFormat)
	}
	// the command line reads the cgroup's account only for a verdict
	c.Accounting = o.verdictFile != ""
	return nil
}

// openIO opens the judge's files --stdin, --stdout and --stderr name,
// outside the sandbox. They are nook's to close (closeFiles).
func (o *limitOptions) openIO(c *sandbox.Config) error {
	var err error
	open := func(flag, path string, write bool) *os.File {
		if path == "" || err != nil {
			return nil
		}
		var f *os.File
		if write {
			f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		} else {
			f, err = os.Open(path)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", flag, err)
		}
		return f
	}
	c.Stdin = open("--stdin", o.stdin, false)
	c.Stdout = open("--stdout", o.stdout, true)
	c.Stderr = open("--stderr", o.stderr, true)
	if err != nil {
		closeFiles(c)
		return err
	}
	return nil
}

func closeFiles(c *sandbox.Config) {
	for _, f := range []*os.File{c.Stdin, c.Stdout, c.Stderr} {
		if f != nil {
			f.Close()
		}
	}
}

// writeVerdict writes the verdict where --verdict says.
func (o *limitOptions) writeVerdict(v *verdict.Verdict) error {
	w := os.Stdout
	if o.verdictFile != "-" {
		f, err := os.OpenFile(o.verdictFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("--verdict: %w", err)
		}
		defer f.Close()
		w = f
	}
	if o.verdictFormat == "isolate" {
		return v.WriteIsolate(w)
	}
	return v.WriteJSON(w)
}
