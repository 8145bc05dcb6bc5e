package limits

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/verdict"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// judge runs a shell script in a busybox sandbox with the given nook flags
// and returns the verdict and nook's exit status.
func judge(t *testing.T, flags []string, script string) (verdict.Verdict, int, string) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	vf := filepath.Join(t.TempDir(), "verdict.json")
	args := append([]string{"run", "--rootfs", root, "--verdict", vf}, flags...)
	args = append(args, "--", "/bin/sh", "-c", script)
	_, stderr, code := testutil.Run(t, args...)
	b, err := os.ReadFile(vf)
	if err != nil {
		t.Fatalf("no verdict (exit %d): %v\n%s", code, err, stderr)
	}
	var v verdict.Verdict
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("verdict is not JSON: %v\n%s", err, b)
	}
	return v, code, stderr
}

func TestForkBombStopsAtThePidsLimit(t *testing.T) {
	t.Parallel()
	v, _, _ := judge(t, []string{"--pids", "32", "--wall-time-limit", "20s"},
		`n=0; while [ $n -lt 200 ]; do sleep 3 & n=$((n+1)); done 2>/dev/null; echo started $n; wait`)
	if v.PidsPeak != nil && *v.PidsPeak > 32 {
		t.Errorf("pids_peak %d, above the limit of 32", *v.PidsPeak)
	}
	if v.Status == "TO" {
		t.Errorf("status TO: the bomb was not stopped by the pids limit: %+v", v)
	}
	// the host still forks
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("the host cannot fork after the bomb: %v", err)
	}
}

// The hog is one shell that doubles a string: it passes the limit in a
// few large copies, within a second of CPU even under software emulation,
// where a pipeline (head | tr into $(...)) spent 6-7 s building its first
// 32 MiB. The wall limit bounds the test where the OOM killer never acts:
// a failed verdict, not a hung suite.
func TestMemoryHogGetsML(t *testing.T) {
	t.Parallel()
	v, code, _ := judge(t, []string{"--memory", "32m", "--wall-time-limit", "60s"}, `x=a; while :; do x=$x$x; done; echo survived`)
	if v.Status != "ML" || !v.OOMKilled || code != 137 || v.ExitCode != 137 {
		t.Errorf("verdict %+v, exit %d; want ML, oom_killed, 137", v, code)
	}
	if v.MaxRSSKiB < 16<<10 || v.MaxRSSKiB > 33<<10 {
		t.Errorf("max_rss_kib %d, want close to the 32 MiB limit", v.MaxRSSKiB)
	}
}

func TestBusyLoopIsStoppedNearTheCPULimit(t *testing.T) {
	t.Parallel()
	v, _, _ := judge(t, []string{"--cpu-time-limit", "1s", "--wall-time-limit", "20s"}, `while :; do :; done`)
	if v.Status != "TO" || !v.Killed {
		t.Fatalf("verdict %+v, want TO, killed", v)
	}
	if hi := 1000 + testutil.Slack(50*time.Millisecond).Milliseconds(); v.CPUTimeMS < 1000 || v.CPUTimeMS > hi {
		t.Errorf("cpu_time_ms %d, want between 1000 and %d", v.CPUTimeMS, hi)
	}
}

func TestCPULimitCountsEveryProcess(t *testing.T) {
	t.Parallel()
	// two loops in children that outlive the shell's own work: the
	// limit is on the sandbox, not on its first process
	v, _, _ := judge(t, []string{"--cpu-time-limit", "1s", "--wall-time-limit", "20s"},
		`(while :; do :; done) & (while :; do :; done) & wait`)
	if v.Status != "TO" || !v.Killed {
		t.Fatalf("verdict %+v, want TO, killed", v)
	}
	if hi := 1000 + testutil.Slack(100*time.Millisecond).Milliseconds(); v.CPUTimeMS < 1000 || v.CPUTimeMS > hi {
		t.Errorf("cpu_time_ms %d, want between 1000 and %d", v.CPUTimeMS, hi)
	}
}

func TestSleeperPastTheWallLimitGetsTO(t *testing.T) {
	t.Parallel()
	v, _, _ := judge(t, []string{"--wall-time-limit", "500ms"}, `sleep 10`)
	if v.Status != "TO" || !v.Killed {
		t.Fatalf("verdict %+v, want TO, killed", v)
	}
	if v.WallTimeMS < 500 || v.WallTimeMS > 1500 {
		t.Errorf("wall_time_ms %d, want near 500", v.WallTimeMS)
	}
}

func TestExtraTimeIsGraceNotAPass(t *testing.T) {
	t.Parallel()
	// ends within the grace period: not killed, but past the limit. The
	// grace is wide because the wall clock starts before the shell does,
	// and a loaded VM once took 3.8 s over this sleep 0.6; the command ends by
	// itself, so the test is no slower for it.
	v, _, _ := judge(t, []string{"--wall-time-limit", "300ms", "--extra-time", "30s"}, `sleep 0.6`)
	if v.Status != "TO" || v.Killed {
		t.Fatalf("verdict %+v, want TO, not killed", v)
	}
}

func TestWritingPastTheFileSizeLimitGetsOL(t *testing.T) {
	t.Parallel()
	v, _, _ := judge(t, []string{"--file-size", "1m"}, `head -c 2000000 /dev/zero > /tmp/out`)
	if v.Status != "OL" {
		t.Fatalf("verdict %+v, want OL", v)
	}
}

func TestOrphansAreReapedAndAccounted(t *testing.T) {
	t.Parallel()
	// two orphans burn CPU after their parent is gone; the sandbox's CPU
	// time includes them, and no zombie is left
	v, _, _ := judge(t, []string{"--wall-time-limit", "20s"},
		`sh -c '(i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done) & (i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done) &'; sleep 3; ps -o stat | grep -c "^Z"`)
	if v.Status != "RE" || v.ExitCode != 1 {
		// grep -c prints 0 and exits 1 when no zombie is found
		t.Errorf("verdict %+v, want exit 1 (no zombie found)", v)
	}
	if v.CPUTimeMS < 150 {
		t.Errorf("cpu_time_ms %d: the orphans' CPU time is not accounted", v.CPUTimeMS)
	}
}

func TestOKAndRE(t *testing.T) {
	t.Parallel()
	if v, _, _ := judge(t, nil, `true`); v.Status != "OK" {
		t.Errorf("true: %+v", v)
	}
	if v, code, _ := judge(t, nil, `exit 3`); v.Status != "RE" || v.ExitCode != 3 || code != 3 {
		t.Errorf("exit 3: %+v, nook exit %d", v, code)
	}
	if v, _, _ := judge(t, nil, `kill -SEGV $$`); v.Status != "SG" || v.Signal != 11 {
		t.Errorf("SIGSEGV: %+v", v)
	}
}

func TestIsolateMetaFile(t *testing.T) {
	t.Parallel()
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	meta := filepath.Join(t.TempDir(), "meta")
	testutil.Run(t, "run", "--rootfs", root, "--cpu-time-limit", "500ms", "--verdict", meta, "--verdict-format", "isolate",
		"--", "/bin/sh", "-c", "while :; do :; done")
	b, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"time:", "time-wall:", "max-rss:", "csw-voluntary:", "csw-forced:", "exitsig:9", "killed:1", "status:TO", "message:"} {
		if !strings.Contains(string(b), key) {
			t.Errorf("no %q in the meta file:\n%s", key, b)
		}
	}
}

func TestJudgeFilesAreOpenedOutsideTheSandbox(t *testing.T) {
	t.Parallel()
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	dir := t.TempDir() // not visible inside the sandbox
	in, out, errf := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "err")
	os.WriteFile(in, []byte("3 4\n"), 0o644)
	_, stderr, code := testutil.Run(t, "run", "--rootfs", root, "--stdin", in, "--stdout", out, "--stderr", errf,
		"--", "/bin/sh", "-c", `read a b; echo $((a+b)); echo oops >&2; ls `+dir)
	if code == 0 {
		t.Errorf("the test's directory is visible inside the sandbox")
	}
	if b, _ := os.ReadFile(out); string(b) != "7\n" {
		t.Errorf("stdout file %q, want 7 (stderr %s)", b, stderr)
	}
	if b, _ := os.ReadFile(errf); !strings.HasPrefix(string(b), "oops\n") {
		t.Errorf("stderr file %q", b)
	}
}

func TestBadLimitsAreClearErrors(t *testing.T) {
	t.Parallel()
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	for _, c := range []struct{ args, want string }{
		{"--memory 1k", "memory"},
		{"--memory lots", "--memory"},
		{"--pids -5", "--pids"},
		{"--cpus -1", "--cpus"},
		{"--rlimit bogus=1", "--rlimit"},
		{"--rlimit nofile=10:5", "--rlimit"},
		{"--cpu-time-limit -1s", "--cpu-time-limit"},
		{"--wall-time-limit soon", "--wall-time-limit"},
		{"--limits sometimes", "--limits"},
		{"--verdict-format xml", "--verdict-format"},
		{"--cpuset-cpus 999", "cpuset"},
		{"--stdin /nonexistent", "--stdin"},
	} {
		args := append([]string{"run"}, strings.Fields(c.args)...)
		args = append(args, "--", "true")
		_, stderr, code := testutil.Run(t, args...)
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
			t.Errorf("%s: exit %d, stderr %q; want non-zero and a message naming %s", c.args, code, stderr, c.want)
		}
	}
}

func TestBestEffortTurnsAnUnenforceableLimitIntoAWarning(t *testing.T) {
	t.Parallel()
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	_, stderr, code := testutil.Run(t, "run", "--cpuset-cpus", "999", "--limits", "best-effort", "--", "true")
	if code != 0 || !strings.Contains(stderr, "warning") {
		t.Errorf("exit %d, stderr %q; want 0 and a warning", code, stderr)
	}
}

// judgeOut runs a script as judge does, with its stdout to a file nook
// opens (--stdout), and returns the verdict and that file's size.
func judgeOut(t *testing.T, flags []string, script string) (verdict.Verdict, int64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	v, _, _ := judge(t, append([]string{"--stdout", out}, flags...), script)
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	return v, st.Size()
}

func TestOutputPastTheLimitIsOLEvenWhenSIGXFSZIsIgnored(t *testing.T) {
	t.Parallel()
	// the shell ignores SIGXFSZ, and so does head, which inherits that:
	// head gets EFBIG, and the script still exits 0
	v, size := judgeOut(t, []string{"--file-size", "1000"}, `trap "" XFSZ; head -c 5000 /dev/zero; exit 0`)
	if v.Status != "OL" || v.ExitCode != 0 {
		t.Errorf("verdict %+v, want OL with exit 0", v)
	}
	if size != 1000 {
		t.Errorf("stdout holds %d bytes, want it cut at the limit, 1000", size)
	}
}

func TestOutputOfExactlyTheLimitIsOK(t *testing.T) {
	t.Parallel()
	v, size := judgeOut(t, []string{"--file-size", "1000"}, `head -c 1000 /dev/zero`)
	if v.Status != "OK" || size != 1000 {
		t.Errorf("verdict %+v, %d bytes; want OK with 1000", v, size)
	}
}

func TestOutputOneBytePastTheLimitIsOL(t *testing.T) {
	t.Parallel()
	v, size := judgeOut(t, []string{"--file-size", "1000"}, `head -c 1001 /dev/zero`)
	if v.Status != "OL" || size != 1000 {
		t.Errorf("verdict %+v, %d bytes; want OL, cut at 1000", v, size)
	}
}

// A limit that is wrong is an error before nook touches the judge's
// files: --stdout is not truncated, --verdict not written.
func TestBadLimitsLeaveTheJudgeFilesAlone(t *testing.T) {
	t.Parallel()
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	dir := t.TempDir()
	out, vf := filepath.Join(dir, "out.txt"), filepath.Join(dir, "verdict.json")
	if err := os.WriteFile(out, []byte("previous answer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"--cpus", "-1"}, {"--memory-swap", "1m"}, {"--pids", "-2"}, {"--cpu-weight", "20000"}} {
		args := append([]string{"run", "--stdout", out, "--verdict", vf}, bad...)
		_, stderr, code := testutil.Run(t, append(args, "--", "true")...)
		if code != 2 || !strings.Contains(stderr, bad[0]) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and a message naming %s", strings.Join(bad, " "), code, stderr, bad[0])
		}
		if b, _ := os.ReadFile(out); string(b) != "previous answer\n" {
			t.Errorf("%s: --stdout file now holds %q", strings.Join(bad, " "), b)
		}
		if _, err := os.Stat(vf); err == nil {
			t.Errorf("%s: a verdict was written for a run that never was", strings.Join(bad, " "))
		}
	}
}
