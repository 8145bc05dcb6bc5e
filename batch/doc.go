// Package batch runs many sandboxes from one long-lived process, as a
// contest judge or a CI system does: requests in, one verdict each out.
//
// A judge that starts `nook run` for every submission pays nook's start
// (the Go runtime, reading flags, building the spec) every time. A Runner
// pays it once: each Request becomes a sandbox.Config, so the same spec and
// start path `nook run` uses runs it (there is one way in), up to
// Runner.Parallel at a time, and each ends in a verdict.Verdict tagged with
// the request's ID. While they run, Serve makes the next requests'
// sandboxes (sandbox.Config.Prepare: its cgroup, its namespaces, its first
// process waiting before its first step), up to Parallel of them at once,
// so that every CPU takes part (the kernel's clone into new namespaces is
// most of a start, and one goroutine preparing left CPUs idle); the runs
// still start in the order of their lines. A finished run's clean-up does
// not hold up the next: the start of one overlaps the runs of the others.
//
// Serve speaks the line protocol of `nook batch`: one JSON Request per
// input line, one JSON Result per output line, in the order the runs end.
// A line that is not a good request gets a Result with status XX and a
// message saying what was wrong; the batch goes on. The end of the input
// waits for the runs in flight; a cancelled context kills them, reports
// them, and starts nothing more.
//
// A request's limits are the fields of the verdict's own "limits" object
// (verdict.Limits), so a verdict echoes what its request asked for. Its
// stdin, stdout and stderr are files nook opens outside the sandbox
// (/dev/null when not given): the batch's own streams carry requests and
// verdicts, never a sandbox's output.
package batch
