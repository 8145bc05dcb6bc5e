package cli

import (
	"regexp"
	"strings"
	"sync"

	"github.com/nookrun/nook/spec"
)

// flagOf maps the fields the libraries name in their errors (sandbox.Config
// fields, and the spec fields `nook run` fills from its flags) to the
// flags that set them. The libraries speak Go and OCI; the command line
// speaks flags. A test checks that every field of sandbox.Config is here.
// A table, not a map: a map literal is built at package initialisation,
// by every nook command, and this is read only to word an error.
var flagOf = [...]struct{ field, flag string }{
	{"Config.Args", "COMMAND"},
	{"Config.Rootfs", "--rootfs"},
	{"Config.Image", "--image"},
	{"Config.Keep", "--keep"},
	{"Config.UserSet", "--user"},
	{"Config.Net", "--net"},
	{"Config.Net.Mode", "--net"},
	{"Config.Net.Name", "--net"},
	{"Config.Net.IP", "--ip"},
	{"Config.Net.Publish", "--publish"},
	{"Config.Net.DNS", "--dns"},
	{"Config.Net.AddHosts", "--add-host"},
	{"Config.ReadOnly", "--read-only"},
	{"Config.NoPivot", "--no-pivot"},
	{"Config.Hostname", "--hostname"},
	{"Config.Domainname", "--domainname"},
	{"Config.Share", "--share"},
	{"Config.Unshare", "--unshare"},
	{"Config.UIDMap", "--uid-map"},
	{"Config.GIDMap", "--gid-map"},
	{"Config.TimeOffsets", "--time-offset"},
	{"Config.Binds", "--bind"},
	{"Config.Tmpfs", "--tmpfs"},
	{"Config.Workdir", "--workdir"},
	{"Config.Env", "--env"},
	{"Config.ClearEnv", "--clear-env"},
	{"Config.UID", "--user"},
	{"Config.GID", "--user"},
	{"Config.NoInit", "--no-init"},
	{"Config.TTY", "--tty"},
	{"Config.CapAdd", "--cap-add"},
	{"Config.CapDrop", "--cap-drop"},
	{"Config.Privileged", "--privileged"},
	{"Config.Seccomp", "--seccomp"},
	{"Config.AllowNewPrivs", "--no-new-privs"},
	{"Config.Memory", "--memory"},
	{"Config.MemorySwap", "--memory-swap"},
	{"Config.Pids", "--pids"},
	{"Config.CPUs", "--cpus"},
	{"Config.CPUWeight", "--cpu-weight"},
	{"Config.CPUSet", "--cpuset-cpus"},
	{"Config.Rlimits", "--rlimit"},
	{"Config.Limits.CPUTime", "--cpu-time-limit"},
	{"Config.Limits.WallTime", "--wall-time-limit"},
	{"Config.Limits.Extra", "--extra-time"},
	{"Config.Limits.BestEffort", "--limits"},
	{"Config.Accounting", "--verdict"},
	{"Config.Stdin", "--stdin"},
	{"Config.Stdout", "--stdout"},
	{"Config.Stderr", "--stderr"},
	{"root.path", "--rootfs"},
	{"hostname", "--hostname"},
	{"domainname", "--domainname"},
	{"process.cwd", "--workdir"},
	{"process.capabilities", "--cap-add/--cap-drop"},
	{"process.rlimits", "--rlimit"},
	{"linux.seccomp", "--seccomp"},
	{"linux.timeOffsets", "--time-offset"},
	{"linux.resources.memory.limit", "--memory"},
	{"linux.resources.memory.swap", "--memory-swap"},
	{"linux.resources.pids.limit", "--pids"},
	{"linux.resources.cpu.quota", "--cpus"},
	{"linux.resources.cpu.period", "--cpus"},
	{"linux.resources.cpu.shares", "--cpu-weight"},
	{"linux.resources.cpu.cpus", "--cpuset-cpus"},
}

// configField finds the names of sandbox.Config fields in a message,
// with an index or not: Config.Binds[1], Config.Limits.WallTime. It is
// compiled when an error needs it, not at every start.
var configField = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`Config(\.[A-Z][A-Za-z]*)+(\[[0-9]+\])?`)
})

// fieldFlag returns the flag that sets field ("Config.Binds[1]" is set by
// --bind), or "".
func fieldFlag(field string) string {
	if i := strings.IndexByte(field, '['); i >= 0 {
		field = field[:i]
	}
	for _, f := range flagOf {
		if f.field == field {
			return f.flag
		}
	}
	return ""
}

// flagError turns a library's error about a field that a flag set into an
// error about the flag: "--workdir: "rel" is not an absolute path" for
// "Config.Workdir: ...". A sandbox.Config field's error is a usage error
// (the library checked the command line's values); a spec field's is the
// host's or the start path's (exit status 125), only worded for the
// command line. Other errors pass as they are.
func flagError(err error) error {
	fe := spec.AsFieldError(err)
	if fe == nil {
		return err
	}
	flag := fieldFlag(fe.Field)
	if flag == "" {
		return err
	}
	msg := configField().ReplaceAllStringFunc(fe.Err.Error(), func(f string) string {
		if fl := fieldFlag(f); fl != "" && fl != "COMMAND" {
			return fl
		}
		return f
	})
	fl := &flagErr{flag: flag, msg: msg, err: err}
	if strings.HasPrefix(fe.Field, "Config.") {
		return usageError{fl}
	}
	return fl
}

// flagErr is a field's error as the command line words it; it still
// unwraps to the library's error.
type flagErr struct {
	flag, msg string
	err       error
}

func (e *flagErr) Error() string { return e.flag + ": " + e.msg }
func (e *flagErr) Unwrap() error { return e.err }
