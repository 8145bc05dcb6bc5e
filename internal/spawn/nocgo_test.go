//go:build !cgo

package spawn

import (
	"errors"
	"strings"
	"testing"
)

// Without cgo, Start says so clearly instead of failing later or
// pretending.
func TestStartWithoutCgo(t *testing.T) {
	p := &Plan{}
	p.Arg("/bin/true")
	p.Exec(false)
	_, err := Start(&Config{Steps: p})
	if !errors.Is(err, ErrNoCgo) || !strings.Contains(err.Error(), "not supported: nook was built without cgo") {
		t.Errorf("Start = %v, want ErrNoCgo", err)
	}
}
