package testutil

import (
	"os"
	"time"
)

// SlowEnv is the environment variable that says the tests run on a slow,
// emulated machine: the VM harness (scripts/vm/run.sh) sets it in a guest
// that runs under software emulation (TCG), where the guest's vCPUs are
// host threads that the host may not run for tens of milliseconds.
const SlowEnv = "NOOK_TEST_SLOW"

// Slack returns d, the tolerance of a timing check, or four times d where
// SlowEnv is set. Only for tolerances: a limit is never loosened.
func Slack(d time.Duration) time.Duration {
	if os.Getenv(SlowEnv) != "" {
		return 4 * d
	}
	return d
}
