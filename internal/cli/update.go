package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/nookrun/nook/sandbox"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

// update: runc's update, for containerd's shim (UpdateContainerResources
// through CRI) and podman update.
func newUpdateCmd() *cobra.Command {
	var resources string
	cmd := &cobra.Command{
		Use:   "update [--resources FILE|-] [flags] CONTAINER-ID",
		Short: "Change the cgroup limits of a container (runc update)",
		Long: `Change the limits of a created, running or paused container: those in
--resources (an OCI linux.resources JSON object, "-" for stdin), then those
the flags give; limits not named stay as they are. Sizes take k, m, g or t
(powers of 1024); -1 is unlimited. The flags of runc's update that nook
has no limit for (--blkio-weight, --cpu-rt-period, --cpu-rt-runtime,
--kernel-memory, --kernel-memory-tcp, --memory-reservation,
--l3-cache-schema, --mem-bw-schema) are refused with an error naming them.`,
		Args: exactArgsNamed(1, "the container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := &specs.LinuxResources{}
			if resources != "" {
				var b []byte
				var err error
				if resources == "-" {
					b, err = io.ReadAll(cmd.InOrStdin())
				} else {
					b, err = os.ReadFile(resources)
				}
				if err != nil {
					return fmt.Errorf("--resources: %w", err)
				}
				if err := json.Unmarshal(b, r); err != nil {
					return usageError{fmt.Errorf("--resources %s: %w", resources, err)}
				}
			}
			if err := updateFlags(cmd, r); err != nil {
				return err
			}
			in, err := loadContainer(cmd, args[0])
			if err != nil {
				return err
			}
			return in.Update(r)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&resources, "resources", "r", "", "read the limits from the OCI linux.resources JSON in `FILE` (- for stdin)")
	f.String("memory", "", "memory limit (`SIZE`, -1 for none)")
	f.String("memory-swap", "", "memory plus swap limit (`SIZE`, -1 for none)")
	f.Uint64("cpu-share", 0, "CPU shares (`N`, v2: converted to cpu.weight)")
	f.Uint64("cpu-shares", 0, "the same as --cpu-share")
	f.Int64("cpu-quota", 0, "CPU time in each period (`USEC`, -1 for none)")
	f.Uint64("cpu-period", 0, "CPU quota period (`USEC`)")
	f.String("cpuset-cpus", "", "CPUs the container may use (`LIST`, as 0-3,6)")
	f.String("cpuset-mems", "", "memory nodes the container may use (`LIST`)")
	f.Int64("pids-limit", 0, "most processes (`N`, -1 for none)")
	for _, name := range unsupportedUpdateFlags {
		f.String(name, "", "not supported by nook (refused)")
	}
	return cmd
}

// unsupportedUpdateFlags are runc update's flags for limits nook has not.
var unsupportedUpdateFlags = []string{"blkio-weight", "cpu-rt-period", "cpu-rt-runtime", "kernel-memory",
	"kernel-memory-tcp", "memory-reservation", "l3-cache-schema", "mem-bw-schema"}

// updateFlags puts the flags that were given into r.
func updateFlags(cmd *cobra.Command, r *specs.LinuxResources) error {
	f := cmd.Flags()
	for _, name := range unsupportedUpdateFlags {
		if f.Changed(name) {
			return usageError{fmt.Errorf("--%s: not supported: nook has no such limit", name)}
		}
	}
	size := func(name string) (*int64, error) {
		if !f.Changed(name) {
			return nil, nil
		}
		s, _ := f.GetString(name)
		if s == "-1" {
			v := int64(-1)
			return &v, nil
		}
		v, err := sandbox.ParseSize(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("--%s: %w", name, err)}
		}
		return &v, nil
	}
	mem, err := size("memory")
	if err != nil {
		return err
	}
	swap, err := size("memory-swap")
	if err != nil {
		return err
	}
	if mem != nil || swap != nil {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if mem != nil {
			r.Memory.Limit = mem
		}
		if swap != nil {
			r.Memory.Swap = swap
		}
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	for _, name := range []string{"cpu-share", "cpu-shares"} {
		if f.Changed(name) {
			v, _ := f.GetUint64(name)
			cpu().Shares = &v
		}
	}
	if f.Changed("cpu-quota") {
		v, _ := f.GetInt64("cpu-quota")
		cpu().Quota = &v
	}
	if f.Changed("cpu-period") {
		v, _ := f.GetUint64("cpu-period")
		cpu().Period = &v
	}
	if f.Changed("cpuset-cpus") {
		cpu().Cpus, _ = f.GetString("cpuset-cpus")
	}
	if f.Changed("cpuset-mems") {
		cpu().Mems, _ = f.GetString("cpuset-mems")
	}
	if f.Changed("pids-limit") {
		v, _ := f.GetInt64("pids-limit")
		if v < -1 {
			return usageError{fmt.Errorf("--pids-limit %s: want -1 or more", strconv.FormatInt(v, 10))}
		}
		r.Pids = &specs.LinuxPids{Limit: &v}
	}
	return nil
}
