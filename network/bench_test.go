package network

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/netns"
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

// BenchmarkScale makes n sandboxes' worth of namespaces and veths on one
// bridge, holds them all, and lets them all go; it reports the time per
// sandbox for each half, the teardown until the kernel has removed every
// veth, and nook's memory per sandbox held.
func BenchmarkScale(b *testing.B) {
	testutil.RequireRoot(b)
	br := testBridge(b)
	for _, n := range []int{10, 100, 500} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var up, down time.Duration
			var rss int64
			for b.Loop() {
				runtime.GC()
				before := vmRSS()
				t0 := time.Now()
				as := make([]*Attachment, 0, n)
				for range n {
					a, err := Attach(AttachOptions{Bridge: br})
					if err != nil {
						b.Fatal(err)
					}
					as = append(as, a)
				}
				t1 := time.Now()
				rss += vmRSS() - before
				for _, a := range as {
					a.Close()
				}
				// until the kernel has taken every veth back
				for {
					left := 0
					for _, a := range as {
						if _, err := os.Stat("/sys/class/net/" + LeaseLink(a.IP)); err == nil {
							left++
						}
					}
					if left == 0 {
						break
					}
					time.Sleep(time.Millisecond)
				}
				up += t1.Sub(t0)
				down += time.Since(t1)
			}
			per := float64(b.N * n)
			b.ReportMetric(float64(up.Microseconds())/per, "create-µs/sandbox")
			b.ReportMetric(float64(down.Microseconds())/per, "teardown-µs/sandbox")
			b.ReportMetric(float64(rss)/per, "rss-bytes/sandbox")
		})
	}
}

func vmRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n * 1024
		}
	}
	return 0
}

// BenchmarkNamespaceParallel makes and drops namespaces from 1, 2 and 8
// goroutines at once: whether the kernel serialises their creation shows
// as time per namespace that does not fall with more at once.
func BenchmarkNamespaceParallel(b *testing.B) {
	testutil.RequireRoot(b)
	for _, p := range []int{1, 2, 8} {
		b.Run(strconv.Itoa(p), func(b *testing.B) {
			b.SetParallelism(p)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n, err := NewNamespace()
					if err != nil {
						b.Error(err)
						return
					}
					n.Close()
				}
			})
		})
	}
}

// BenchmarkConnect is `nook net connect --create` in-process: two named
// namespaces made, a veth pair between them with addresses, links up.
func BenchmarkConnect(b *testing.B) {
	testutil.RequireRoot(b)
	x, y := "nkbx"+testutil.Mark(b)[1:8], "nkby"+testutil.Mark(b)[1:8]
	var add, conn time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := netns.Add(x); err != nil {
			b.Fatal(err)
		}
		if err := netns.Add(y); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := Connect(End{Namespace: x, Addr: "10.249.3.1/30"}, End{Namespace: y, Addr: "10.249.3.2/30"}, ConnectOptions{}); err != nil {
			b.Fatal(err)
		}
		add += t1.Sub(t0)
		conn += time.Since(t1)
		b.StopTimer()
		netns.Delete(x)
		netns.Delete(y)
		b.StartTimer()
	}
	b.ReportMetric(float64(add.Microseconds())/float64(b.N), "add2-µs/op")
	b.ReportMetric(float64(conn.Microseconds())/float64(b.N), "connect-µs/op")
}
