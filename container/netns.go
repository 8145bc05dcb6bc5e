package container

import (
	"os"

	"github.com/nookrun/nook/netns"
)

// premadeNetNS is the sandbox's network namespace, made on another thread
// while the rest of the sandbox is prepared: New starts it and prepare
// hands it to the child (spawn.Config.NetNS) in place of CLONE_NEWNET.
// Making a network namespace costs the kernel over a millisecond
// (loopback_net_init alone is a third of it, in perf); the clone would
// otherwise spend it while nook waits, and the compile, the cgroup and
// the state written meanwhile take about as long.
type premadeNetNS struct {
	done chan struct{}
	f    *os.File
	err  error
}

// makeNetNS starts making a network namespace.
func makeNetNS() *premadeNetNS {
	m := &premadeNetNS{done: make(chan struct{})}
	go func() {
		m.f, m.err = netns.New()
		close(m.done)
	}()
	return m
}

// take waits for the namespace; it returns why where it could not be made.
// The descriptor stays m's: release closes it.
func (m *premadeNetNS) take() (*os.File, error) {
	<-m.done
	return m.f, m.err
}

// release closes the namespace's descriptor once it is made: the child
// that joined it holds the namespace from then on. A nil m is none.
func (m *premadeNetNS) release() {
	if m == nil {
		return
	}
	<-m.done
	if m.f != nil {
		m.f.Close()
	}
}
