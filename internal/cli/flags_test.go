package cli

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/sandbox"
	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Every field of sandbox.Config, and of Limits and Net in it, is set by a
// flag the command line can name in an error. ForwardSignals is the
// command line's own choice, not a flag; SeccompCache is a judge's.
func TestEveryConfigFieldHasItsFlag(t *testing.T) {
	notFlags := map[string]bool{"Config.ForwardSignals": true, "Config.Resources": true, "Config.SeccompCache": true}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := prefix + "." + f.Name
			if f.Type == reflect.TypeOf(sandbox.Net{}) && fieldFlag(name) == "" {
				t.Errorf("%s: no flag in flagOf", name)
			}
			if f.Type == reflect.TypeOf(container.Limits{}) || f.Type == reflect.TypeOf(sandbox.Net{}) {
				walk(name, f.Type)
				continue
			}
			if notFlags[name] {
				continue
			}
			if fieldFlag(name) == "" {
				t.Errorf("%s: no flag in flagOf", name)
			}
		}
	}
	walk("Config", reflect.TypeOf(sandbox.Config{}))
}

func TestFlagErrorNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{spec.FieldErrorf("Config.Binds[1]", "source: no such file"), "--bind: source: no such file"},
		{spec.FieldErrorf("Config.MemorySwap", "needs Config.Memory"), "--memory-swap: needs --memory"},
		{spec.FieldErrorf("Config.UIDMap", "needs a user namespace of its own (user in Config.Unshare)"), "--uid-map: needs a user namespace of its own (user in --unshare)"},
		{spec.FieldErrorf("Config.Limits.WallTime", "-1s is negative"), "--wall-time-limit: -1s is negative"},
		{spec.FieldErrorf("linux.resources.memory.limit", "too small"), "--memory: too small"},
	} {
		err := flagError(c.err)
		if err.Error() != c.want {
			t.Errorf("flagError(%v) = %v, want %q", c.err, err, c.want)
		}
		// the command line's values are wrong (2), or the host cannot
		// run them (125)
		var ue usageError
		if isUsage := errors.As(err, &ue); isUsage != strings.HasPrefix(c.err.(*spec.FieldError).Field, "Config.") {
			t.Errorf("flagError(%v): usage error %v", c.err, isUsage)
		}
		if spec.AsFieldError(err) == nil {
			t.Errorf("flagError(%v) lost the library's error", c.err)
		}
	}
	// a field no flag sets stays the library's, and is not a usage error
	in := spec.FieldErrorf("mounts[2]", "destination %q is not absolute", "x")
	if err := flagError(in); err != in {
		t.Errorf("flagError(%v) = %v, want it unchanged", in, err)
	}
	if err := flagError(errors.New("plain")); err.Error() != "plain" {
		t.Errorf("flagError(plain) = %v", err)
	}
}

// What `nook run` does with its flags is what a Go caller gets from the
// same Config fields: the command line only reads them.
func TestRunFlagsFillTheTypedConfig(t *testing.T) {
	o := &runOptions{}
	cmd := runCmd(o)
	err := cmd.ParseFlags([]string{"--memory", "64m", "--memory-swap", "-1", "--pids", "9", "--cpus", "1.5", "--cpu-weight", "100",
		"--cpuset-cpus", "0", "--file-size", "1m", "--cpu-time-limit", "2s", "--wall-time-limit", "3", "--limits", "best-effort",
		"--env", "A=1", "--user", "5:6", "--bind", "/tmp:/x:ro", "--verdict", "-", "--", "true"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config(cmd.Flags().Args())
	if err != nil {
		t.Fatal(err)
	}
	if err := o.limitOptions.apply(cfg); err != nil {
		t.Fatal(err)
	}
	want := sandbox.Config{
		Args: []string{"true"}, Env: []string{"A=1"}, UID: 5, GID: 6, UserSet: true,
		Binds:  []sandbox.Bind{{Source: "/tmp", Dest: "/x", ReadOnly: true}},
		Memory: 64 << 20, MemorySwap: -1, Pids: 9, CPUs: 1.5, CPUWeight: 100, CPUSet: "0",
		Rlimits:    []specs.POSIXRlimit{{Type: "RLIMIT_FSIZE", Soft: 1 << 20, Hard: 1 << 20}},
		Limits:     container.Limits{CPUTime: 2 * time.Second, WallTime: 3 * time.Second, BestEffort: true},
		Accounting: true,
	}
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("config from flags:\n got %+v\nwant %+v", *cfg, want)
	}
}
