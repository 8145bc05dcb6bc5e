package cgroups_test

import (
	"fmt"
	"log"
	"os/exec"

	"github.com/nookrun/nook/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A sandbox's cgroups: create with limits, add the first process, read the
// usage when it is done, remove everything.
func Example() {
	limit := int64(256 << 20)
	pids := int64(64)
	quota, period := int64(50000), uint64(100000) // half a CPU

	m, err := cgroups.Create("example", &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit}, // no swap
		Pids:   &specs.LinuxPids{Limit: &pids},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
	}, &cgroups.Options{BestEffort: true})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Destroy() // kills whatever is left, removes the directories
	for _, w := range m.Warnings() {
		log.Print(w) // limits this host could not enforce
	}

	cmd := exec.Command("/bin/sh", "-c", "read x; echo hello from the sandbox")
	stdin, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	// In nook the child is held before exec until it has joined; here it
	// waits for a line on stdin.
	if err := m.Add(cmd.Process.Pid); err != nil {
		log.Fatal(err)
	}
	stdin.Close()
	_ = cmd.Wait()

	st, err := m.Stats()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("cpu %v, peak memory %d bytes, OOM kills %d\n", st.CPUUsage, st.MemoryPeak, st.OOMKills)
}
