package batch_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/nookrun/nook/batch"
	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/verdict"
)

// BenchmarkJudge runs /bin/true in a busybox root with limits on, two at
// a time, through one Runner: what a judge that stays up pays per run.
func BenchmarkJudge(b *testing.B) {
	testutil.RequireRoot(b)
	root := testutil.BusyboxRootfs(b)
	r := &batch.Runner{}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res := r.Judge(context.Background(), &batch.Request{
					ID: strconv.Itoa(i), Args: []string{"/bin/true"}, Rootfs: root,
					Limits: verdict.Limits{MemoryBytes: 256 << 20, Pids: 64, CPUTimeMS: 10000},
				})
				if res.Status != verdict.OK {
					b.Errorf("run %s: %s %s", res.ID, res.Status, res.Message)
				}
			}
		}()
	}
	for i := 0; b.Loop(); i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
