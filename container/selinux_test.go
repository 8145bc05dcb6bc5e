package container

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nookrun/nook/internal/spawn"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const testLabel = "system_u:object_r:container_file_t:s0:c1,c2"

// linux.mountLabel goes to the mounts runc gives it to, as context=, and
// to no others: proc and sysfs (the kernel refuses a context there),
// cgroups and binds.
func TestMountLabelRules(t *testing.T) {
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"ro"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"newinstance"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"},
		{Destination: "/mnt", Type: "bind", Source: "/"},
	}
	var st spawn.Plan
	if err := compileMounts(&st, mounts, "", "", testLabel, ""); err != nil {
		t.Fatal(err)
	}
	steps, err := st.Steps()
	if err != nil {
		t.Fatal(err)
	}
	ctx := `context="` + testLabel + `"`
	want := map[string]string{
		"/proc": "", "/sys": "", "/sys/fs/cgroup": "", "/mnt": "",
		"/dev": "mode=755," + ctx, "/dev/pts": "newinstance," + ctx, "/dev/mqueue": ctx,
	}
	for _, s := range steps {
		m, ok := s.(spawn.Mount)
		if !ok {
			continue
		}
		if w, ok := want[m.Target]; !ok || m.Data != w {
			t.Errorf("%s: data %q, want %q", m.Target, m.Data, w)
		}
		delete(want, m.Target)
	}
	if len(want) != 0 {
		t.Errorf("mounts missing from the plan: %v", want)
	}
}

// process.selinuxLabel is written for the command's exec where SELinux
// is enabled, and refused, naming the field, where it is not (as runc
// refuses it): the command would otherwise run unlabelled.
// linux.mountLabel without SELinux is a warning, since runtime-tools'
// conformance suite sends one on any host and runc and crun mount
// without it there.
func TestSELinuxLabels(t *testing.T) {
	s := minimal()
	s.Process.SelinuxLabel = "system_u:system_r:container_t:s0:c1,c2"
	listing, err := PlanListing(s, nil)
	if selinuxEnabled() {
		if err != nil || !strings.Contains(listing, "write "+selinuxExecAttr) {
			t.Errorf("with SELinux: err %v, plan:\n%s\nwant a write to %s", err, listing, selinuxExecAttr)
		}
	} else if err == nil || !strings.Contains(err.Error(), "process.selinuxLabel") || !strings.Contains(err.Error(), "not enabled") {
		t.Errorf("without SELinux: err %v, want a refusal naming process.selinuxLabel", err)
	}

	s = minimal()
	s.Linux.MountLabel = testLabel
	s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"}}
	var warned []string
	listing, err = PlanListing(s, &Options{Warnf: func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	labelled := strings.Contains(listing, "context=")
	if selinuxEnabled() {
		if !labelled || len(warned) != 0 {
			t.Errorf("with SELinux: warnings %q, plan:\n%s\nwant the tmpfs labelled", warned, listing)
		}
	} else if labelled || len(warned) != 1 || !strings.Contains(warned[0], "linux.mountLabel") {
		t.Errorf("without SELinux: warnings %q, plan:\n%s\nwant one warning naming linux.mountLabel and no context", warned, listing)
	}
}
