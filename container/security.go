package container

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// capMasks holds bounding, effective, permitted, inheritable and ambient.
type capMasks [5]uint64

func (c *capMasks) get(i int) uint64 {
	if c == nil {
		return 0
	}
	return c[i]
}

func capSets(c *specs.LinuxCapabilities) (*capMasks, error) {
	if c == nil {
		return nil, nil
	}
	return nil, nil // TODO(security): caps package
}

func compileSeccomp(s *specs.LinuxSeccomp) ([]byte, error) {
	return nil, nil // TODO(security): seccomp package
}
