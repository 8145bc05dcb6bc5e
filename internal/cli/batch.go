package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/nookrun/nook/batch"
	"github.com/nookrun/nook/image"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func newBatchCmd() *cobra.Command {
	var (
		parallel     int
		store, input string
		limitsMode   string
	)
	cmd := &cobra.Command{
		Use:   "batch [OPTIONS]",
		Short: "Run many sandboxes from JSON requests, one verdict per line",
		Long: `Read one JSON request per line (from stdin, or --input FILE), run up to
--parallel of them at once, and write one verdict per line to stdout, in
the order the runs end, each with its request's "id". One nook process
serves every run: a judge pays nook's start-up once, not per run.

A request:

  {"id": "t1", "args": ["/bin/sh", "-c", "./a.out"],
   "rootfs": "/srv/root",           (or "image": "REF" of the store; neither: the host's system read-only)
   "binds": ["/srv/sub/1:/sub:ro"], "env": ["K=V"], "clear_env": false, "workdir": "/sub",
   "stdin": "in.txt", "stdout": "out.txt", "stderr": "err.txt",   (files nook opens; default /dev/null)
   "limits": {"cpu_time_ms": 1000, "wall_time_ms": 3000, "extra_time_ms": 0,
              "memory_bytes": 268435456, "pids": 64, "file_size_bytes": 1048576}}

The limits are those of the verdict's "limits" object, which echoes them.
Each run is what "nook run" with the same flags runs, with the same
security defaults, and its verdict is "nook run --verdict"'s (OK, RE, SG,
TO, ML, OL, XX). A line that is not a good request gets a verdict with
status XX, its id when it could be read, its "line" number and a message;
the batch goes on.

The end of the input waits for the runs in flight. SIGTERM or SIGINT kills
the runs in flight, reports them (XX, "stopped before the end"), starts
no more, and nook exits with status 1. Images are never pulled here: pull
them first ("nook image pull").`,
		Example: `  printf '%s\n' '{"id":"a","args":["/bin/true"],"limits":{"memory_bytes":268435456}}' | nook batch
  nook batch --parallel 4 --input requests.jsonl > verdicts.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallel < 1 {
				return usageError{fmt.Errorf("--parallel %d: want 1 or more", parallel)}
			}
			r := &batch.Runner{Parallel: parallel}
			switch limitsMode {
			case "strict":
			case "best-effort":
				r.BestEffort = true
			default:
				return usageError{fmt.Errorf("--limits %q: want strict or best-effort", limitsMode)}
			}
			r.Store = func() (*image.Store, error) {
				return (&imageOptions{store: store}).open(cmd)
			}
			in := os.Stdin
			if input != "" && input != "-" {
				f, err := os.Open(input)
				if err != nil {
					return usageError{fmt.Errorf("--input: %w", err)}
				}
				defer f.Close()
				in = f
			}
			ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
			defer stop()
			err := r.Serve(ctx, in, cmd.OutOrStdout())
			if errors.Is(err, context.Canceled) {
				fmt.Fprintln(cmd.ErrOrStderr(), "nook: batch stopped by a signal")
				return exitError{1}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVarP(&parallel, "parallel", "j", 1, "run up to `N` commands at once (the next request's sandbox is made meanwhile)")
	f.StringVar(&input, "input", "", "read requests from `FILE` instead of stdin")
	f.StringVar(&store, "store", "", "the image store `DIR` for requests with an image (default /var/lib/nook; ~/.local/share/nook unprivileged)")
	f.StringVar(&limitsMode, "limits", "strict", "`MODE`: strict (a limit this host cannot enforce is an XX verdict) or best-effort (a warning)")
	return cmd
}
