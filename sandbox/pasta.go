package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/network"
	"golang.org/x/sys/unix"
)

// pasta connects an unprivileged sandbox's network namespace to the
// host's through pasta(1) (Debian's passt package): a user-mode network
// stack that needs no privileges, only /dev/net/tun.
//
// pasta runs in the foreground as nook's child, with a parent-death
// signal: it goes when nook goes, even when nook is killed, and nook
// stops it when the sandbox ends. (In the background, pasta outlives the
// namespace it serves.) It is ready when the sandbox's namespace has a
// default route, which nook reads in /proc/PID/net/route, without
// entering the namespace.
type pasta struct {
	ports  []network.Port
	cmd    *exec.Cmd
	done   chan struct{}
	stderr lockedBuffer
}

// PastaReadyTimeout bounds the wait for pasta to configure the namespace.
const PastaReadyTimeout = 5 * time.Second

func checkPasta() error {
	if _, err := exec.LookPath("pasta"); err != nil {
		return errors.New("pasta network: pasta(1) is not installed (Debian: apt-get install passt)")
	}
	if err := unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK); err != nil {
		return fmt.Errorf("pasta network: pasta needs /dev/net/tun, which you cannot open: %w", err)
	}
	return nil
}

func (p *pasta) args(pid int) []string {
	a := []string{"--config-net", "--quiet", "--foreground", "-T", "none", "-U", "none"}
	var tcp, udp []string
	for _, port := range p.ports {
		spec := ""
		if port.HostIP != nil {
			spec = port.HostIP.String() + "/"
		}
		spec += strconv.Itoa(int(port.HostPort)) + ":" + strconv.Itoa(int(port.Port))
		if port.Proto == "udp" {
			udp = append(udp, spec)
		} else {
			tcp = append(tcp, spec)
		}
	}
	for _, x := range []struct {
		flag  string
		specs []string
	}{{"-t", tcp}, {"-u", udp}} {
		if len(x.specs) == 0 {
			a = append(a, x.flag, "none")
		}
		for _, s := range x.specs {
			a = append(a, x.flag, s)
		}
	}
	return append(a, strconv.Itoa(pid))
}

// start connects the namespace of pid and waits until it is configured.
func (p *pasta) start(pid int) error {
	p.cmd = exec.Command("pasta", p.args(pid)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stderr, &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL}
	p.done = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// the parent-death signal comes when the thread that started
		// pasta ends: keep this one until pasta does
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		p.cmd = nil
		return fmt.Errorf("pasta network: %w", err)
	}
	deadline := time.Now().Add(PastaReadyTimeout)
	for {
		if hasDefaultRoute(pid) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("pasta network: pasta failed: %s", p.message())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pasta network: the namespace is not configured after %v: %s", PastaReadyTimeout, p.message())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (p *pasta) message() string {
	var lines []string
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "syslog") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return "no message"
	}
	return strings.Join(lines, "; ")
}

func (p *pasta) close() error {
	if p.cmd == nil {
		return nil
	}
	p.cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
	return nil
}

// hasDefaultRoute reads /proc/PID/net/route, which shows the routes of
// the namespace pid is in.
func hasDefaultRoute(pid int) bool {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/net/route")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 2 && fields[1] == "00000000" && fields[2] != "00000000" {
			return true
		}
	}
	return false
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Options returns opts with what the network needs done between the
// sandbox's clone and its command's start (pasta connects then), and once
// the command runs (the generated files go: Started).
func (nw *Network) Options(opts *container.Options) *container.Options {
	if nw == nil || (nw.pasta == nil && len(nw.files) == 0) {
		return opts
	}
	o := *opts
	o.Remove = append(slices.Clone(o.Remove), nw.files...)
	if len(nw.files) > 0 {
		started := o.Started
		o.Started = func() {
			if started != nil {
				started()
			}
			nw.Started()
		}
	}
	if nw.pasta == nil {
		return &o
	}
	prev := o.Setup
	o.Setup = func(pid int) error {
		if prev != nil {
			if err := prev(pid); err != nil {
				return err
			}
		}
		return nw.pasta.start(pid)
	}
	return &o
}
