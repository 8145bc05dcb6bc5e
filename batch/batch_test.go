package batch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/batch"
	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/verdict"
)

func serve(t *testing.T, r *batch.Runner, ctx context.Context, lines []string) map[string][]batch.Result {
	t.Helper()
	var out bytes.Buffer
	if err := r.Serve(ctx, strings.NewReader(strings.Join(lines, "\n")+"\n"), &out); err != nil && ctx.Err() == nil {
		t.Fatalf("Serve: %v", err)
	}
	got := map[string][]batch.Result{}
	for _, l := range testutil.Lines(out.String()) {
		var res batch.Result
		if err := json.Unmarshal([]byte(l), &res); err != nil {
			t.Fatalf("verdict line %q: %v", l, err)
		}
		got[res.ID] = append(got[res.ID], res)
	}
	return got
}

func req(t *testing.T, r batch.Request) string {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Good, bad and limit-breaking requests mixed, three at a time: every
// verdict is right and carries its request's ID.
func TestServeJudgesEveryRequest(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, []byte("3 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := func(id, script string, l verdict.Limits) batch.Request {
		return batch.Request{ID: id, Args: []string{"/bin/sh", "-c", script}, Rootfs: root, Limits: l}
	}
	sum := sh("sum", `read a b; echo $((a+b))`, verdict.Limits{MemoryBytes: 64 << 20, Pids: 16, CPUTimeMS: 5000})
	sum.Stdin, sum.Stdout = in, filepath.Join(dir, "sum.out")
	ol := sh("ol", `trap "" XFSZ; head -c 5000 /dev/zero; exit 0`, verdict.Limits{FileSize: 1000})
	ol.Stdout = filepath.Join(dir, "ol.out")
	lines := []string{
		req(t, sum),
		req(t, sh("re", "exit 3", verdict.Limits{})),
		req(t, sh("to", "while :; do :; done", verdict.Limits{CPUTimeMS: 300})),
		req(t, sh("wall", "sleep 5", verdict.Limits{WallTimeMS: 300})),
		req(t, sh("ml", `x=$(head -c 200000000 /dev/zero | tr "\0" a)`, verdict.Limits{MemoryBytes: 32 << 20})),
		req(t, ol),
		req(t, batch.Request{ID: "missing", Args: []string{"/no/such"}, Rootfs: root}),
		`{"id": "badtype", "args": 3}`,
		`{"id": "unknown", "args": ["/bin/true"], "rootfs": "` + root + `", "memory": 5}`,
		`not json at all`,
		req(t, batch.Request{ID: "noargs", Rootfs: root}),
		req(t, sh("neg", "true", verdict.Limits{Pids: -1})),
		req(t, batch.Request{ID: "nostdin", Args: []string{"/bin/true"}, Rootfs: root, Stdin: filepath.Join(dir, "nope")}),
		req(t, batch.Request{ID: "noroot", Args: []string{"/bin/true"}, Rootfs: filepath.Join(dir, "noroot")}),
		req(t, batch.Request{ID: "noimage", Image: "nook-test-no-such-image:1"}),
		`{"id": "long", "args": ["` + strings.Repeat("x", batch.MaxLine) + `"]}`,
	}
	got := serve(t, &batch.Runner{Parallel: 3}, context.Background(), lines)
	want := map[string]string{
		"sum": "OK", "re": "RE", "to": "TO", "wall": "TO", "ml": "ML", "ol": "OL", "missing": "RE",
		"badtype": "XX", "unknown": "XX", "noargs": "XX", "neg": "XX", "nostdin": "XX",
		"noroot": "XX", "noimage": "XX",
	}
	for id, status := range want {
		rs := got[id]
		if len(rs) != 1 {
			t.Errorf("%q: %d verdicts, want 1", id, len(rs))
			continue
		}
		if rs[0].Status != status {
			t.Errorf("%q: %s (%s), want %s", id, rs[0].Status, rs[0].Message, status)
		}
		if status == "XX" && rs[0].Message == "" {
			t.Errorf("%q: XX without a message", id)
		}
	}
	// the lines whose id nook could not read: not JSON (line 10), and
	// too long (line 16)
	var noID []int
	for _, r := range got[""] {
		if r.Status != "XX" || r.Message == "" {
			t.Errorf("line %d: %s %q, want XX with a message", r.Line, r.Status, r.Message)
		}
		noID = append(noID, r.Line)
	}
	slices.Sort(noID)
	if !slices.Equal(noID, []int{10, 16}) {
		t.Errorf("verdicts without an id for lines %v, want 10 and 16", noID)
	}
	if len(got) != len(want)+1 {
		t.Errorf("verdicts for %d IDs, want %d: %v", len(got), len(want)+1, got)
	}
	if b, _ := os.ReadFile(sum.Stdout); string(b) != "7\n" {
		t.Errorf("sum's stdout %q, want 7", b)
	}
	if st, err := os.Stat(ol.Stdout); err != nil || st.Size() != 1000 {
		t.Errorf("ol's stdout not cut at the limit: %v %v", st, err)
	}
	if r := got["sum"]; len(r) == 1 && (r[0].Limits.MemoryBytes != 64<<20 || r[0].Limits.Pids != 16) {
		t.Errorf("sum's verdict does not echo its limits: %+v", r[0].Limits)
	}
}

// At most Parallel sandboxes run at once, and that many do.
func TestServeHonoursParallel(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	marks := t.TempDir()
	var lines []string
	const n = 6
	for i := range n {
		lines = append(lines, req(t, batch.Request{
			ID: fmt.Sprint(i), Rootfs: root, Binds: []string{marks + ":/marks"},
			Args: []string{"/bin/sh", "-c", fmt.Sprintf("touch /marks/%d.start; sleep 0.4; touch /marks/%d.end", i, i)},
		}))
	}
	got := serve(t, &batch.Runner{Parallel: 2}, context.Background(), lines)
	type ev struct {
		at    time.Time
		delta int
	}
	var evs []ev
	for i := range n {
		if r := got[fmt.Sprint(i)]; len(r) != 1 || r[0].Status != "OK" {
			t.Fatalf("run %d: %+v", i, r)
		}
		for _, x := range []struct {
			name  string
			delta int
		}{{"start", 1}, {"end", -1}} {
			st, err := os.Stat(filepath.Join(marks, fmt.Sprintf("%d.%s", i, x.name)))
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev{st.ModTime(), x.delta})
		}
	}
	slices.SortFunc(evs, func(a, b ev) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	most, now := 0, 0
	for _, e := range evs {
		now += e.delta
		most = max(most, now)
	}
	if most != 2 {
		t.Errorf("at most %d ran at once, want 2", most)
	}
}

// Requests are prepared several at a time, but their runs start in the
// order of their lines, whichever prepare ends first: here the first
// request binds in many files, which makes its sandbox slower to
// prepare than the others'.
func TestServeStartsInLineOrder(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	marks := t.TempDir()
	empty := t.TempDir()
	var binds []string
	for i := range 50 {
		binds = append(binds, fmt.Sprintf("%s:/b%d:ro", empty, i))
	}
	var lines []string
	const n = 6
	for i := range n {
		r := batch.Request{
			ID: fmt.Sprint(i), Rootfs: root, Binds: []string{marks + ":/marks"},
			Args: []string{"/bin/sh", "-c", fmt.Sprintf("echo %d >> /marks/order", i)},
		}
		if i == 0 {
			r.Binds = append(r.Binds, binds...)
		}
		lines = append(lines, req(t, r))
	}
	got := serve(t, &batch.Runner{Parallel: 1}, context.Background(), lines)
	for i := range n {
		if r := got[fmt.Sprint(i)]; len(r) != 1 || r[0].Status != "OK" {
			t.Fatalf("run %d: %+v", i, *r[0].Verdict)
		}
	}
	b, err := os.ReadFile(filepath.Join(marks, "order"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0\n1\n2\n3\n4\n5\n"; string(b) != want {
		t.Errorf("runs started in the order %q, want %q", b, want)
	}
}

// Every run gets the default seccomp filter, the first and those after
// it (which the Runner's cache compiled once): none may make a user
// namespace.
func TestServeFiltersEveryRun(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	dir := t.TempDir()
	var lines []string
	const n = 3
	for i := range n {
		lines = append(lines, req(t, batch.Request{
			ID: fmt.Sprint(i), Rootfs: root, Args: []string{"/bin/busybox", "unshare", "-U", "true"},
			Stderr: filepath.Join(dir, fmt.Sprint(i)),
		}))
	}
	got := serve(t, &batch.Runner{Parallel: 2}, context.Background(), lines)
	for i := range n {
		r := got[fmt.Sprint(i)]
		b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprint(i)))
		if len(r) != 1 || r[0].Status != "RE" || !strings.Contains(string(b), "not permitted") {
			t.Errorf("run %d made a user namespace, or failed otherwise: %+v, stderr %q", i, r, b)
		}
	}
}

// A cancelled context kills the runs in flight, which are reported, and
// starts no more.
func TestServeStopsOnCancel(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	dir := t.TempDir()
	slow := func(id string) string {
		return req(t, batch.Request{ID: id, Args: []string{"/bin/sh", "-c", "echo started; exec sleep 30"}, Rootfs: root,
			Stdout: filepath.Join(dir, id)})
	}
	// cancelled once a runs, however long its start takes: b is then being
	// prepared, or waits for a's place
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelledAt := make(chan time.Time, 1)
	go func() {
		for {
			if b, _ := os.ReadFile(filepath.Join(dir, "a")); len(b) > 0 {
				cancelledAt <- time.Now()
				cancel()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	got := serve(t, &batch.Runner{Parallel: 1}, ctx, []string{slow("a"), slow("b")})
	select {
	case at := <-cancelledAt:
		if d := time.Since(at); d > testutil.Slack(5*time.Second) {
			t.Errorf("Serve took %v after the cancel", d)
		}
	default:
		t.Fatalf("Serve returned before a started: %+v", got)
	}
	if r := got["a"]; len(r) != 1 || r[0].Status != "XX" || !strings.Contains(r[0].Message, "stopped") {
		t.Errorf("the run in flight: %+v, want XX stopped", r)
	}
	if r := got["b"]; len(r) != 0 {
		t.Errorf("a run started after the cancel: %+v", r)
	}
}

// Judge from Go: one request, no JSON.
func TestJudge(t *testing.T) {
	testutil.RequireRoot(t)
	t.Parallel()
	testutil.CheckNoLeaks(t)
	root := testutil.BusyboxRootfs(t)
	r := &batch.Runner{}
	res := r.Judge(context.Background(), &batch.Request{ID: "x", Args: []string{"/bin/sh", "-c", "exit 2"}, Rootfs: root})
	if res.ID != "x" || res.Status != verdict.RE || res.ExitCode != 2 {
		t.Errorf("%+v, want RE with exit 2", res)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		line, id string
		ok       bool
	}{
		{`{"id":"a","args":["/bin/true"]}`, "a", true},
		{`{"id":"a","args":["/bin/true"],"limits":{"memory_bytes":1048576}}`, "a", true},
		{`{"id":"a","args":"/bin/true"}`, "a", false},
		{`{"id":"a","arg":["/bin/true"]}`, "a", false},
		{`{"id":"a"} {"id":"b"}`, "a", false},
		{`[1,2]`, "", false},
	} {
		r, err := batch.Parse([]byte(tc.line))
		if (err == nil) != tc.ok || r == nil || r.ID != tc.id {
			t.Errorf("Parse(%s) = %+v, %v; want id %q, ok %v", tc.line, r, err, tc.id, tc.ok)
		}
	}
}
