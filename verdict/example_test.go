package verdict_test

import (
	"context"
	"os"
	"time"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/sandbox"
	"github.com/nookrun/nook/verdict"
)

// A judge runs a solution under limits and writes its verdict. The
// container.Result of the run converts to the verdict.Run that Judge
// reads; a program that only reads verdicts needs neither.
func ExampleJudge() {
	res, err := sandbox.Run(context.Background(), &sandbox.Config{
		Args:   []string{"./solution"},
		Limits: container.Limits{CPUTime: time.Second},
	})
	var run *verdict.Run
	if res != nil {
		run = (*verdict.Run)(res)
	}
	v := verdict.Judge(run, err, verdict.Limits{CPUTimeMS: 1000})
	v.WriteJSON(os.Stdout)
}
