package container

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nookrun/nook/caps"
	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/seccomp"
	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// capSets compiles process.capabilities; nil means the spec does not touch
// capabilities at all (the command keeps what its user has). A name that
// cannot be granted here (unknown, or newer than this kernel) is told to
// warnf and left out: the runtime spec says it MUST be logged as a warning
// and runtimes SHOULD NOT fail, and runc and crun go on too.
func capSets(c *specs.LinuxCapabilities, warnf func(format string, args ...any)) (*spawn.Caps, error) {
	if c == nil {
		return nil, nil
	}
	s, skipped := caps.FromSpec(c)
	for _, k := range skipped {
		warnf("process.%s: not granted", k)
	}
	// an ambient capability must be permitted and inheritable, or the
	// kernel refuses to raise it. runc's own default spec asks for
	// ambient ones without inheritable ones; like runc, run without them
	// rather than fail.
	s.Ambient &= s.Permitted & s.Inheritable
	if err := s.Validate(); err != nil {
		return nil, spec.FieldErrorf("process.capabilities", "%w", err)
	}
	return &spawn.Caps{Bounding: s.Bounding, Effective: s.Effective, Permitted: s.Permitted,
		Inheritable: s.Inheritable, Ambient: s.Ambient, Last: uint32(caps.Last())}, nil
}

// compileSeccomp compiles linux.seccomp into the BPF program the child
// loads, and the flags to load it with, through cache where there is one.
func compileSeccomp(s *specs.LinuxSeccomp, cache *seccomp.Cache) ([]byte, uint32, error) {
	prog, err := cache.Compile(s)
	if err != nil {
		return nil, 0, spec.FieldErrorf("linux.seccomp", "%w", err)
	}
	flags, err := seccomp.FilterFlags(s)
	if err != nil {
		return nil, 0, spec.FieldErrorf("linux.seccomp", "%w", err)
	}
	return prog.Bytes(), flags, nil
}

// warner returns f, or for nil one that writes to stderr: a skipped value
// MUST be logged (the runtime spec), whoever the caller is.
func warner(f func(format string, args ...any)) func(format string, args ...any) {
	if f != nil {
		return f
	}
	return func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "nook: warning: "+format+"\n", args...)
	}
}

// apparmorExec returns the procfs file that sets the AppArmor profile the
// next exec enters, or an error where AppArmor is not enabled: runc and
// crun refuse the profile then too, and running unconfined what asked to
// be confined would be a silent skip.
func apparmorExec() (string, error) {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || strings.TrimSpace(string(b)) != "Y" {
		return "", errors.New("AppArmor is not enabled on this host")
	}
	// Linux 5.8+: AppArmor's own file, right beside other LSMs'
	if _, err := os.Stat("/proc/self/attr/apparmor/exec"); err == nil {
		return "/proc/self/attr/apparmor/exec", nil
	}
	return "/proc/self/attr/exec", nil
}

// selinuxFS is where the kernel shows SELinux's state once it is enabled.
const selinuxFS = "/sys/fs/selinux"

// selinuxEnabled says whether SELinux labels mean anything here: its file
// system is mounted and says enforcing or permissive (a policy is
// loaded). runc asks the same of go-selinux.
func selinuxEnabled() bool {
	b, err := os.ReadFile(selinuxFS + "/enforce")
	if err != nil {
		return false
	}
	v := strings.TrimSpace(string(b))
	return v == "0" || v == "1"
}

// selinuxExecAttr is the procfs file that sets the SELinux label the next
// exec of this thread enters; the kernel clears it at that exec.
const selinuxExecAttr = "/proc/thread-self/attr/exec"

// mountLabelled says whether a mount of fstype takes linux.mountLabel as
// its context= option, by runc's rules: not proc and sysfs (the kernel
// labels them itself and refuses a context), not cgroups (runc mounts
// them without one), not a bind (mount(2) ignores a bind's data).
func mountLabelled(fstype string) bool {
	switch fstype {
	case "proc", "sysfs", "cgroup", "cgroup2", "bind":
		return false
	}
	return true
}

// withContext adds the SELinux context option for label to a mount's
// data, quoted since a label holds commas (s0:c1,c2).
func withContext(data, label string) string {
	opt := `context="` + label + `"`
	if data == "" {
		return opt
	}
	return data + "," + opt
}
