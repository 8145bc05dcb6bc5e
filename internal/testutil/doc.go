// Package testutil holds helpers shared by nook's tests, above all the
// black-box tests in tests/e2e that run the built nook binary.
//
// The helpers are written for tests that run in parallel on one host:
//
//   - Nook builds the static nook binary once per test process (or takes
//     $NOOK_BINARY, for a binary carried to another machine) into a
//     world-readable directory, so that an unprivileged user can run it too.
//   - Mark gives each test a unique marker, NOOK_TEST_MARK=<random>, that
//     Command and Run put into nook's environment. nook passes its
//     environment into the sandbox by default, so the marker identifies
//     every process the test caused: nook, its init, its janitor and the
//     command.
//   - CheckNoLeaks, called at the start of a test, snapshots the host and
//     checks at the end (in a t.Cleanup) that the test left no process with
//     its marker, no mount and no nook cgroup or named net namespace behind.
//     It waits up to LeakWait for leftovers to go away before failing, and
//     then removes what it found, so that one leak does not break the tests
//     that follow.
//   - Run runs nook with a time limit, so that a hang fails the test
//     instead of blocking the suite.
//   - BusyboxRootfs makes a minimal root file system from the host's static
//     busybox; CreateUser makes a throw-away unprivileged user; OpenPTY
//     makes a pseudo-terminal pair.
//
// Most helpers need root and a Linux host; RequireRoot skips a test
// otherwise.
package testutil
