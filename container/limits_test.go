package container

import (
	"testing"

	"github.com/nookrun/nook/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A limit package cgroups refuses comes back as the linux.resources field
// it was in, so that a front end can name its own word for it. The names
// cgroups gives its limits and resourceFields stay in step through this
// test.
func TestCgroupLimitErrorsNameTheSpecField(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	for _, c := range []struct {
		res   specs.LinuxResources
		field string
	}{
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100)}}, "linux.resources.memory.limit"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(8 << 20)}}, "linux.resources.memory.swap"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(16 << 20), Swap: i64(8 << 20)}}, "linux.resources.memory.swap"},
		{specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-5)}}, "linux.resources.pids.limit"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1)}}, "linux.resources.cpu.shares"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(10)}}, "linux.resources.cpu.quota"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(10)}}, "linux.resources.cpu.period"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}}, "linux.resources.devices"},
		{specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, "linux.resources.unified"},
	} {
		s := minimal()
		s.Linux.Resources = &c.res
		ct := &Container{spec: s}
		ct.need = decideCgroup(s, &ct.opts, &plan{newPid: true})
		err := ct.makeCgroup()
		if ct.cgroup != nil {
			ct.cgroup.Destroy()
		}
		fe := spec.AsFieldError(err)
		if fe == nil || fe.Field != c.field {
			t.Errorf("%+v: err = %v, want a *spec.FieldError for %s", c.res, err, c.field)
		}
	}
}
