package verdict

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"syscall"
	"time"

	"github.com/nookrun/nook/cgroups"
	"golang.org/x/sys/unix"
)

// Statuses.
const (
	OK = "OK" // exited with 0
	RE = "RE" // exited with another status
	SG = "SG" // killed by a signal
	TO = "TO" // ran past a CPU or wall time limit
	ML = "ML" // ran past the memory limit, or was killed by the OOM killer
	OL = "OL" // ran past the output (file size) limit
	XX = "XX" // the sandbox failed
)

// Limits are the limits a run had, as the verdict reports them; zero is
// none.
type Limits struct {
	CPUTimeMS   int64  `json:"cpu_time_ms,omitempty"`
	WallTimeMS  int64  `json:"wall_time_ms,omitempty"`
	ExtraTimeMS int64  `json:"extra_time_ms,omitempty"`
	MemoryBytes int64  `json:"memory_bytes,omitempty"`
	Pids        int64  `json:"pids,omitempty"`
	FileSize    uint64 `json:"file_size_bytes,omitempty"`
}

// Verdict is the judgement of one run.
type Verdict struct {
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Signal   int    `json:"signal"`
	// CPUTimeMS is user+system time of the whole sandbox.
	CPUTimeMS  int64 `json:"cpu_time_ms"`
	WallTimeMS int64 `json:"wall_time_ms"`
	// MaxRSSKiB is the cgroup's memory peak where the kernel keeps one,
	// else the largest resident set of one process (rusage).
	MaxRSSKiB int64 `json:"max_rss_kib"`
	OOMKilled bool  `json:"oom_killed"`
	// PidsPeak is the most tasks alive at once, where the kernel counts it.
	PidsPeak *uint64 `json:"pids_peak,omitempty"`
	// Context switches of every process the sandbox reaped.
	VoluntaryCSW   int64  `json:"csw_voluntary"`
	InvoluntaryCSW int64  `json:"csw_involuntary"`
	Limits         Limits `json:"limits"`
	Message        string `json:"message"`
	// Killed is true when nook killed the sandbox for a time limit.
	Killed   bool     `json:"killed"`
	Warnings []string `json:"warnings,omitempty"`
}

// Run is how a run ended, as Judge reads it. Its fields are those of
// container.Result, which converts to it (verdict.Run(*result)): verdict
// does not import container, so a judge that only reads verdicts builds
// without the start path and its C compiler.
type Run struct {
	// ExitCode is the command's exit status, or 128+N when signal N
	// killed it.
	ExitCode int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
	// Rusage covers the whole sandbox.
	Rusage unix.Rusage
	// Wall is the time from the start of the command to its end.
	Wall time.Duration
	// CPU is the CPU time of the whole sandbox.
	CPU time.Duration
	// Killed names the limit the sandbox was killed for: "cpu-time" or
	// "wall-time"; empty when it was not.
	Killed string
	// Cgroup is the cgroup's account of the run, or nil.
	Cgroup *cgroups.Stats
	// Warnings are limits that could not be enforced.
	Warnings []string
}

// OverOutput records that the command wrote past the output limit into
// a file nook measured after the run (msg says which): the verdict is OL
// whatever the command's exit, unless a time or memory limit came first
// or the sandbox failed.
func (v *Verdict) OverOutput(msg string) {
	switch v.Status {
	case TO, ML, XX, OL:
		return
	}
	v.Status, v.Message = OL, msg
}

// exitStatuser is an error that carries the exit status a shell would
// give a failed start (container.StartError): 126 or 127 for a command
// that cannot be executed or does not exist.
type exitStatuser interface {
	error
	ExitStatus() int
}

// Judge decides the verdict of a run: r is how it ended, or nil with err
// saying why it could not run.
func Judge(r *Run, err error, lim Limits) *Verdict {
	v := &Verdict{Limits: lim}
	if r == nil {
		v.Status, v.Message = XX, "no result"
		var se exitStatuser
		if errors.As(err, &se) && (se.ExitStatus() == 126 || se.ExitStatus() == 127) {
			// the command itself is missing or not executable: the
			// program's fault, as a shell would see it
			v.Status, v.ExitCode = RE, se.ExitStatus()
		}
		if err != nil {
			v.Message = err.Error()
		}
		return v
	}
	v.ExitCode = r.ExitCode
	v.Signal = int(r.Signal)
	v.CPUTimeMS = r.CPU.Milliseconds()
	v.WallTimeMS = r.Wall.Milliseconds()
	v.MaxRSSKiB = r.Rusage.Maxrss
	v.VoluntaryCSW = r.Rusage.Nvcsw
	v.InvoluntaryCSW = r.Rusage.Nivcsw
	v.Warnings = r.Warnings
	v.Killed = r.Killed != ""
	if cg := r.Cgroup; cg != nil {
		if cg.HaveMemoryPeak && cg.MemoryPeak > 0 {
			v.MaxRSSKiB = int64(cg.MemoryPeak / 1024)
		}
		v.OOMKilled = cg.OOMKills > 0
		if cg.HavePidsPeak {
			p := cg.PidsPeak
			v.PidsPeak = &p
		}
	}
	overCPU := lim.CPUTimeMS > 0 && v.CPUTimeMS > lim.CPUTimeMS
	overWall := lim.WallTimeMS > 0 && v.WallTimeMS > lim.WallTimeMS
	switch {
	case r.Killed == "cpu-time" || overCPU:
		v.Status, v.Message = TO, fmt.Sprintf("cpu time limit exceeded (%d ms > %d ms)", v.CPUTimeMS, lim.CPUTimeMS)
	case r.Killed == "wall-time" || overWall:
		v.Status, v.Message = TO, fmt.Sprintf("wall time limit exceeded (%d ms > %d ms)", v.WallTimeMS, lim.WallTimeMS)
	case v.OOMKilled:
		v.Status, v.Message = ML, "memory limit exceeded (killed by the OOM killer)"
	case r.Signal == unix.SIGXFSZ:
		v.Status, v.Message = OL, "output limit exceeded (file size)"
	case r.Signal != 0:
		v.Status, v.Message = SG, "killed by signal "+fmt.Sprint(int(r.Signal))+" ("+unix.SignalName(r.Signal)+")"
	case r.ExitCode != 0:
		v.Status, v.Message = RE, fmt.Sprintf("exited with status %d", r.ExitCode)
	default:
		v.Status = OK
	}
	return v
}

// WriteJSON writes v as one JSON object and a newline.
func (v *Verdict) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteIsolate writes v as isolate's meta file: key:value lines, times in
// seconds with millisecond precision, memory in KiB.
func (v *Verdict) WriteIsolate(w io.Writer) error {
	sec := func(ms int64) string { return fmt.Sprintf("%d.%03d", ms/1000, ms%1000) }
	var b []byte
	add := func(k, val string) { b = append(b, k+":"+val+"\n"...) }
	add("time", sec(v.CPUTimeMS))
	add("time-wall", sec(v.WallTimeMS))
	add("max-rss", fmt.Sprint(v.MaxRSSKiB))
	add("csw-voluntary", fmt.Sprint(v.VoluntaryCSW))
	add("csw-forced", fmt.Sprint(v.InvoluntaryCSW))
	if v.Signal != 0 {
		add("exitsig", fmt.Sprint(v.Signal))
	} else if v.Status != XX {
		add("exitcode", fmt.Sprint(v.ExitCode))
	}
	if v.Killed {
		add("killed", "1")
	}
	add("cg-mem", fmt.Sprint(v.MaxRSSKiB))
	if v.OOMKilled {
		add("cg-oom-killed", "1")
	}
	if v.Status != OK {
		st := v.Status
		switch st {
		case ML, OL:
			// isolate has no such statuses: a memory or output limit
			// shows as a signal death, with the message saying which
			st = SG
			if v.Signal == 0 {
				st = RE
			}
		}
		add("status", st)
		add("message", v.Message)
	}
	_, err := w.Write(b)
	return err
}
