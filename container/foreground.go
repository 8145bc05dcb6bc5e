package container

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// forwarded are the signals Options.ForwardSignals passes on to the
// sandbox: the ones a terminal, a supervisor or kill(1) send to ask a
// command to stop, reload or report, and the window-size change.
var forwarded = []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH}

// ForwardedSignals returns the signals Options.ForwardSignals passes on.
func ForwardedSignals() []os.Signal { return append([]os.Signal(nil), forwarded...) }

// outputGrace is how long, after the command's end, its last output may
// take to come through the pty.
const outputGrace = time.Second

// withConsoleSize returns s with process.consoleSize set to the size of
// the caller's terminal, when s asks for a terminal of unset size and the
// caller's stdin is one: the pty gets it before the command starts (a
// resize after the start would reach the command as a SIGWINCH). s itself
// is not changed.
func withConsoleSize(s *specs.Spec, opts *Options) *specs.Spec {
	if s == nil || s.Process == nil || !s.Process.Terminal || s.Process.ConsoleSize != nil {
		return s
	}
	stdin := os.Stdin
	if opts != nil && opts.Stdin != nil {
		stdin = opts.Stdin
	}
	size := TerminalSize(stdin)
	if size == nil {
		return s
	}
	sc, proc := *s, *s.Process
	proc.ConsoleSize = size
	sc.Process = &proc
	return &sc
}

// Foreground is how a process started in the foreground treats the
// caller's terminal and signals: Run uses it for a sandbox (from Options),
// Exec for a process started in a running one (Instance.Exec, Enter), as
// `nook exec` and `nook enter` do.
type Foreground struct {
	// Stdin and Stdout are what the process's terminal, when it has one,
	// is copied from and to; nil means this program's own. When Stdin is
	// a terminal it is raw while the process runs, and the process's
	// terminal follows its window's size.
	Stdin, Stdout *os.File
	// ForwardSignals passes the signals this program gets while the
	// process runs (ForwardedSignals) on to it, instead of their usual
	// effect on this program.
	ForwardSignals bool
}

// Exec starts a process with start (a call of Instance.Exec or Enter)
// and waits for it in the foreground; the Execution is closed when it
// returns. The signals are caught in the background while start reads,
// plans and clones (see catch): start passes ready on as
// ExecOptions.BeforeStart or EnterOptions.BeforeStart, which call it
// right before the process is let run, so that no signal meant for it is
// lost.
func (f Foreground) Exec(ctx context.Context, start func(ready func()) (*Execution, error)) (*Result, error) {
	var x *Execution
	defer func() { x.Close() }()
	sc := f.catch()
	defer sc.stop()
	return f.wait(ctx, sc, func() (process, error) {
		var err error
		x, err = start(sc.ready)
		if err != nil {
			return nil, err
		}
		return x, nil
	})
}

// process is what the foreground needs of a started process: a
// Container or an Execution.
type process interface {
	TTY() *os.File
	Signal(syscall.Signal) error
	Wait(context.Context) (*Result, error)
}

// caught are the signals a Foreground catches for its process, from
// before the process exists (so that none is lost in between) until it
// has ended.
type caught struct {
	sigs    chan os.Signal // nil: none are caught
	inTerm  bool           // Stdin is a terminal
	stdin   *os.File
	stdout  *os.File
	started chan struct{} // closed once signal.Notify has returned
}

// catch starts catching the signals that f passes on (or that its
// terminal needs), in the background: signal.Notify takes a round trip
// between two threads for each signal (7 here: 0.15-0.2 ms and some 30
// context switches on a quiet host, 0.9 ms on a busy one, measured),
// which the caller can spend compiling the process's plan and cloning its
// process instead. The process is let run (its first step, and so its
// command) only once it is done, so that no signal meant for it is lost.
func (f Foreground) catch() *caught {
	sc := &caught{stdin: f.Stdin, stdout: f.Stdout}
	if sc.stdin == nil {
		sc.stdin = os.Stdin
	}
	if sc.stdout == nil {
		sc.stdout = os.Stdout
	}
	sc.inTerm = isTerminal(sc.stdin)
	var want []os.Signal
	switch {
	case f.ForwardSignals:
		want = forwarded
	case sc.inTerm:
		want = []os.Signal{unix.SIGWINCH} // its default is to be ignored
	}
	if len(want) == 0 {
		return sc
	}
	sc.sigs = make(chan os.Signal, 16)
	sc.started = make(chan struct{})
	go func() {
		signal.Notify(sc.sigs, want...)
		close(sc.started)
	}()
	return sc
}

// ready returns once the signals are caught.
func (sc *caught) ready() {
	if sc.started != nil {
		<-sc.started
	}
}

// stop stops catching the signals.
func (sc *caught) stop() {
	if sc.sigs == nil {
		return
	}
	// Stop takes the same round trips as Notify, and waits for the
	// runtime's signal loop to go idle (about a millisecond); nothing here
	// needs to wait for that
	go func() {
		<-sc.started
		signal.Stop(sc.sigs)
	}()
}

// wait starts a process and waits for it (start calls sc.ready before
// the process exists): its terminal, if it has one,
// is copied to and from Stdin and Stdout (in raw mode, and following the
// window's size, when Stdin is a terminal); with ForwardSignals, this
// program's signals (caught by sc, from catch) go to it.
func (f Foreground) wait(ctx context.Context, sc *caught, start func() (process, error)) (*Result, error) {
	stdin, stdout, inTerm, sigs := sc.stdin, sc.stdout, sc.inTerm, sc.sigs
	p, err := start()
	// start has waited for the signals to be caught before the process
	// ran; this is for a start that did not
	sc.ready()
	if err != nil {
		return nil, err
	}
	tty := p.TTY()
	if tty != nil {
		detach, err := attach(tty, stdin, stdout, inTerm)
		if err != nil {
			p.Signal(unix.SIGKILL)
			p.Wait(context.Background())
			return nil, err
		}
		defer detach()
	}
	if sigs != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case <-done:
					return
				case sig := <-sigs:
					if sig == unix.SIGWINCH && tty != nil && inTerm {
						resize(tty, stdin)
					}
					if f.ForwardSignals {
						p.Signal(sig.(syscall.Signal))
					}
				}
			}
		}()
	}
	return p.Wait(ctx)
}

// TerminalSize is the window size of the terminal f is, as a spec's
// consoleSize (or ExecOptions.ConsoleSize) says it; nil when f is not a
// terminal.
func TerminalSize(f *os.File) *specs.Box {
	fd, err := fdOf(f)
	if err != nil {
		return nil
	}
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return nil
	}
	return &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
}

// attach copies between the pty's master m and the caller's stdin and
// stdout. When stdin is a terminal it is put in raw mode, so that every
// key goes to the command as typed, and the pty gets its window size.
// detach lets the command's last output through, stops the copying and
// gives the terminal back.
func attach(m, stdin, stdout *os.File, inTerm bool) (detach func(), err error) {
	restore := func() {}
	if inTerm {
		fd, err := fdOf(stdin)
		if err != nil {
			return nil, err
		}
		// the size first: the command may already be asking for it
		resize(m, stdin)
		st, err := term.MakeRaw(fd)
		if err != nil {
			return nil, &os.PathError{Op: "make terminal raw", Path: stdin.Name(), Err: err}
		}
		restore = func() { term.Restore(fd, st) }
	}
	in, err := copyInput(m, stdin)
	if err != nil {
		restore()
		return nil, err
	}
	out := make(chan struct{})
	go func() {
		// until EIO: the last process with the pty's slave end is gone
		io.Copy(stdout, m)
		close(out)
	}()
	return func() {
		select {
		case <-out:
		case <-time.After(outputGrace):
		}
		in()
		restore()
	}, nil
}

// copyInput copies src to dst until src ends or stop is called. It waits
// for input with poll(2) beside a pipe of its own, so that stop ends it
// without reading (and losing) what the user types after the command has
// ended, and without making src non-blocking, which would show in every
// other process that shares it.
func copyInput(dst, src *os.File) (stop func(), err error) {
	fd, err := fdOf(src)
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unix.Close(p[0])
		buf := make([]byte, 32<<10)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(p[0]), Events: unix.POLLIN}}
		for {
			fds[0].Revents, fds[1].Revents = 0, 0
			if _, err := unix.Poll(fds, -1); err != nil {
				if err == unix.EINTR {
					continue
				}
				return
			}
			if fds[1].Revents != 0 {
				return
			}
			n, err := unix.Read(fd, buf)
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			if n <= 0 || err != nil {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	return func() {
		unix.Close(p[1])
		<-done
	}, nil
}

// fdOf returns f's descriptor without changing its blocking mode (as
// File.Fd would). It stays valid while f is open.
func fdOf(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(d uintptr) { fd = int(d) }); err != nil {
		return -1, err
	}
	if fd < 0 {
		return -1, errors.New("no file descriptor")
	}
	return fd, nil
}

func isTerminal(f *os.File) bool {
	fd, err := fdOf(f)
	return err == nil && term.IsTerminal(fd)
}

// resize gives the pty m the window size of the terminal from.
func resize(m, from *os.File) {
	fd, err := fdOf(from)
	if err != nil {
		return
	}
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err == nil {
		mfd, err := fdOf(m)
		if err == nil {
			unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, ws)
		}
	}
}
