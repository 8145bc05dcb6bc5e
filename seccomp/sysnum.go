package seccomp

//go:generate go run mksysnum.go

import "sort"

// sysEntry is one syscall of one architecture.
type sysEntry struct {
	name string
	nr   uint32
}

// sysTable is sorted by name, so lookups are a binary search and the
// tables are plain static data (no map building at program start).
type sysTable []sysEntry

func (t sysTable) lookup(name string) (uint32, bool) {
	i := sort.Search(len(t), func(i int) bool { return t[i].name >= name })
	if i < len(t) && t[i].name == name {
		return t[i].nr, true
	}
	return 0, false
}
