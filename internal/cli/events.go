package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"time"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/state"
	"github.com/spf13/cobra"
)

// events: runc's events, one JSON object a line: "stats" with the
// container's cgroup usage, "oom" when the OOM killer killed in it.

// runcEvent is runc's event (runc's types.Event).
type runcEvent struct {
	Type string     `json:"type"`
	ID   string     `json:"id"`
	Data *runcStats `json:"data,omitempty"`
}

// runcStats is the part of runc's types.Stats that nook accounts.
type runcStats struct {
	CPU struct {
		Usage struct {
			Total  uint64 `json:"total"`
			Kernel uint64 `json:"kernel"`
			User   uint64 `json:"user"`
		} `json:"usage"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Limit uint64 `json:"limit"`
			Usage uint64 `json:"usage,omitempty"`
			Max   uint64 `json:"max,omitempty"`
		} `json:"usage"`
		Swap struct {
			Limit uint64 `json:"limit"`
		} `json:"swap"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current,omitempty"`
		Limit   uint64 `json:"limit,omitempty"`
	} `json:"pids"`
}

func toRuncStats(s *container.Stats) *runcStats {
	r := &runcStats{}
	r.CPU.Usage.Total = uint64(s.CPUUsage.Nanoseconds())
	r.CPU.Usage.Kernel = uint64(s.CPUSystem.Nanoseconds())
	r.CPU.Usage.User = uint64(s.CPUUser.Nanoseconds())
	r.Memory.Usage.Limit = s.Limits.Memory
	r.Memory.Usage.Usage = s.MemoryCurrent
	r.Memory.Usage.Max = s.MemoryPeak
	r.Memory.Swap.Limit = s.Limits.MemorySwap
	r.Pids.Current = s.PidsCurrent
	r.Pids.Limit = s.Limits.Pids
	return r
}

func newEventsCmd() *cobra.Command {
	var (
		stats    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "events [--stats] [--interval DURATION] CONTAINER-ID",
		Short: "Print a container's statistics and OOM events as JSON lines (runc events)",
		Long: `Print, every --interval, the container's resource usage as runc's JSON
event {"type":"stats","id":ID,"data":{"cpu":...,"memory":...,"pids":...}},
and {"type":"oom","id":ID} each time the OOM killer kills in it, until the
container stops. With --stats, print the statistics once and exit.`,
		Args: exactArgsNamed(1, "the container ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return usageError{fmt.Errorf("--interval %s: want more than 0", interval)}
			}
			in, err := loadContainer(cmd, args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			if stats {
				return printStats(enc, in)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return followEvents(ctx, enc, in, interval)
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "print the statistics once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "how often to print the statistics (`DURATION`)")
	return cmd
}

func printStats(enc *json.Encoder, in *container.Instance) error {
	s, err := in.Stats()
	if err != nil {
		return err
	}
	return enc.Encode(runcEvent{Type: "stats", ID: in.State.ID, Data: toRuncStats(s)})
}

// oomPoll is how often events looks for new OOM kills between the
// statistics (the kill count in memory.oom_control or memory.events).
const oomPoll = 200 * time.Millisecond

// followEvents prints statistics every interval and an oom event for
// each new OOM kill, until the container stops or ctx ends.
func followEvents(ctx context.Context, enc *json.Encoder, in *container.Instance, interval time.Duration) error {
	s, err := in.Stats()
	if err != nil {
		return err
	}
	ooms := s.OOMKills
	if err := enc.Encode(runcEvent{Type: "stats", ID: in.State.ID, Data: toRuncStats(s)}); err != nil {
		return err
	}
	next := time.Now().Add(interval)
	tick := time.NewTicker(min(oomPoll, interval))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := in.Refresh(); err != nil || in.State.Current() == state.Stopped {
			return nil // deleted or stopped: no more events
		}
		s, err := in.Stats()
		if err != nil {
			return nil // its cgroup went with it
		}
		for ; ooms < s.OOMKills; ooms++ {
			if err := enc.Encode(runcEvent{Type: "oom", ID: in.State.ID}); err != nil {
				return err
			}
		}
		if time.Now().After(next) {
			next = next.Add(interval)
			if err := enc.Encode(runcEvent{Type: "stats", ID: in.State.ID, Data: toRuncStats(s)}); err != nil {
				return err
			}
		}
	}
}
