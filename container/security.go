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
// loads, and the flags to load it with.
func compileSeccomp(s *specs.LinuxSeccomp) ([]byte, uint32, error) {
	prog, err := seccomp.Compile(s)
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
