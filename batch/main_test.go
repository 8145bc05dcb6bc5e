package batch_test

import (
	"os"
	"testing"

	"github.com/nookrun/nook/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
