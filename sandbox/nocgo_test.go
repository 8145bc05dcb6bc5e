//go:build !cgo

package sandbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nookrun/nook/internal/spawn"
	"github.com/nookrun/nook/sandbox"
)

// Without cgo a Config still becomes a spec, and running it says clearly
// that this nook cannot start sandboxes.
func TestWithoutCgo(t *testing.T) {
	cfg := &sandbox.Config{Args: []string{"/bin/true"}}
	if _, err := cfg.Spec(); err != nil {
		t.Fatalf("Spec: %v", err)
	}
	_, err := sandbox.Run(context.Background(), cfg)
	if !errors.Is(err, spawn.ErrNoCgo) {
		t.Errorf("Run = %v, want %v", err, spawn.ErrNoCgo)
	}
}
