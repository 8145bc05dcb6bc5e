package network

import (
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
)

// BenchmarkAttach times a sandbox's whole network: Attach and Close.
func BenchmarkAttach(b *testing.B) {
	testutil.RequireRoot(b)
	br := testBridge(b)
	var attach, detach time.Duration
	for b.Loop() {
		t0 := time.Now()
		a, err := Attach(AttachOptions{Bridge: br})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := a.Close(); err != nil {
			b.Fatal(err)
		}
		attach += t1.Sub(t0)
		detach += time.Since(t1)
	}
	b.ReportMetric(float64(attach.Microseconds())/float64(b.N), "attach-µs/op")
	b.ReportMetric(float64(detach.Microseconds())/float64(b.N), "detach-µs/op")
}

// BenchmarkNamespace times an empty namespace's creation and release.
func BenchmarkNamespace(b *testing.B) {
	testutil.RequireRoot(b)
	for b.Loop() {
		n, err := NewNamespace()
		if err != nil {
			b.Fatal(err)
		}
		n.Close()
	}
}
