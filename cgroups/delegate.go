package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// placeV2 is where a Manager makes its directory on cgroup v2: parent/<name>,
// with controllers enabled in root's cgroup.subtree_control and then in
// parent's.
type placeV2 struct {
	root   string // the root of the tree nook may change: /sys/fs/cgroup, or a delegated subtree
	parent string // root + "/nook"
}

// findPlaceV2 returns where this process makes sandbox cgroups on v2: under
// /sys/fs/cgroup as root, and without root under the subtree delegated to
// the effective user that this process's own cgroup is in.
func findPlaceV2() (placeV2, error) {
	if os.Geteuid() == 0 {
		return placeV2{root: v2Root, parent: v2Parent}, nil
	}
	d, err := DelegatedV2()
	if err != nil {
		return placeV2{}, err
	}
	return placeV2{root: d, parent: d + "/nook"}, nil
}

// ErrNotDelegated is wrapped by the error of Create without root on a host
// where no cgroup subtree is delegated to the user: the message says what
// to delegate. It also matches ErrNotSupported.
var ErrNotDelegated = errors.New("no cgroup delegated to this user")

type notDelegatedError struct{ msg string }

func (e *notDelegatedError) Error() string { return e.msg }
func (e *notDelegatedError) Is(target error) bool {
	return target == ErrNotDelegated || target == ErrNotSupported
}

// delegateHow is the advice every not-delegated error ends with.
const delegateHow = "delegate a cgroup v2 subtree to the user and start nook in a cgroup below it: " +
	"with systemd, systemd-run --user --scope -p Delegate=yes nook run ...; " +
	"by hand, as root, mkdir a cgroup D (its parent's cgroup.subtree_control enabling +memory +pids +cpu), " +
	"chown the user D D/cgroup.procs D/cgroup.subtree_control D/cgroup.threads, " +
	"and move the user's shell into a cgroup below D"

// DelegatedV2 returns the cgroup v2 subtree delegated to the effective user
// that this process is in: the topmost directory, from the process's own
// cgroup upwards, that the user owns and whose cgroup.procs and
// cgroup.subtree_control the user may write. That is what systemd's
// Delegate=yes, or an administrator's chown, hands to a user (see the
// kernel's cgroup-v2.rst, "Delegation"). Without root, nook makes sandbox
// cgroups there, under DIR/nook. The error wraps ErrNotDelegated (and
// ErrNotSupported) and says what to delegate.
func DelegatedV2() (string, error) {
	if m := detectMode(); m != Unified {
		return "", &notDelegatedError{fmt.Sprintf(
			"cgroups: limits without root need cgroup v2, and this host's cgroups are %s (v1 cannot be delegated safely)", m)}
	}
	own, err := ownCgroupV2()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(v2Root, own)
	euid := os.Geteuid()
	found := ""
	for d := dir; d != v2Root && strings.HasPrefix(d, v2Root+"/"); d = filepath.Dir(d) {
		if !delegatedTo(d, euid) {
			break
		}
		found = d
	}
	if found == "" {
		return "", &notDelegatedError{fmt.Sprintf(
			"cgroups: limits without root need a cgroup delegated to uid %d, and nook runs in %s, which is not (owned by someone else, or its cgroup.procs or cgroup.subtree_control not writable): %s",
			euid, dir, delegateHow)}
	}
	return found, nil
}

// delegatedTo reports whether uid owns cgroup dir and may write its
// cgroup.procs and cgroup.subtree_control.
func delegatedTo(dir string, uid int) bool {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil || int(st.Uid) != uid {
		return false
	}
	for _, f := range []string{"cgroup.procs", "cgroup.subtree_control"} {
		if unix.Faccessat(unix.AT_FDCWD, dir+"/"+f, unix.W_OK, unix.AT_EACCESS) != nil {
			return false
		}
	}
	return true
}

// ownCgroupV2 returns this process's cgroup v2 path, from the "0::" line of
// /proc/self/cgroup.
func ownCgroupV2() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if p, ok := strings.CutPrefix(s.Text(), "0::"); ok {
			if !strings.HasPrefix(p, "/") {
				break
			}
			return p, nil
		}
	}
	return "", fmt.Errorf("cgroups: /proc/self/cgroup: no cgroup v2 entry (0::/path)")
}
