//go:build !(linux && amd64)

package spawn

import (
	"errors"
	"testing"
)

// Where there is no child, Start says so clearly instead of failing later
// or pretending.
func TestStartUnsupported(t *testing.T) {
	p := &Plan{}
	p.Arg("/bin/true")
	p.Exec(false)
	if _, err := Start(&Config{Steps: p}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Start = %v, want ErrUnsupported", err)
	}
}
