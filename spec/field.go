package spec

import (
	"errors"
	"fmt"
)

// FieldError is a mistake in one field of a sandbox's configuration. Field
// names it the way the configuration's own reader knows it: a spec's JSON
// path ("linux.resources.memory.limit", "mounts[2].destination") or a Go
// field ("Config.Workdir", "Config.Binds[1]"). The libraries name fields,
// never command-line flags; a command line maps Field to its flag.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrorf returns a *FieldError for field, its message formatted as
// fmt.Errorf formats it (%w wraps a cause).
func FieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// AsFieldError returns the first *FieldError in err's chain, or nil.
func AsFieldError(err error) *FieldError {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}
