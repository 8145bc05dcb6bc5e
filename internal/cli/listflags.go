package cli

import (
	"bytes"
	"encoding/csv"
	"strings"

	"github.com/spf13/pflag"
)

// stringList is a repeatable flag's value, read as pflag's StringArray
// (each use one element) or, with split, as its StringSlice (each use a
// comma-separated list). It is pflag's own behaviour, type names and text,
// less one cost: pflag's values write their default as CSV when the flag
// is defined, a bufio.Writer of 4 KiB each, and `nook run` defines eleven
// such flags at every start (44 KB of its 200 KB of allocations, the pages
// faulted in with them). An empty list's text is written here without CSV.
type stringList struct {
	value   *[]string
	split   bool
	changed bool
}

// stringArrayVar defines a flag as pflag.FlagSet.StringArrayVarP does,
// with no default.
func stringArrayVar(f *pflag.FlagSet, p *[]string, name, short, usage string) {
	defineList(f, &stringList{value: p}, name, short, usage)
}

// stringSliceVar defines a flag as pflag.FlagSet.StringSliceVarP does,
// with no default.
func stringSliceVar(f *pflag.FlagSet, p *[]string, name, short, usage string) {
	defineList(f, &stringList{value: p, split: true}, name, short, usage)
}

func defineList(f *pflag.FlagSet, v *stringList, name, short, usage string) {
	*v.value = nil
	fl := f.VarPF(v, name, short, usage)
	// pflag knows "[]" as an empty default only of its own list types;
	// "" keeps "(default [])" out of --help, as for those
	fl.DefValue = ""
}

func (s *stringList) Set(val string) error {
	v := []string{val}
	if s.split {
		v = []string{}
		if val != "" {
			var err error
			if v, err = csv.NewReader(strings.NewReader(val)).Read(); err != nil {
				return err
			}
		}
	}
	if !s.changed {
		*s.value = v
		s.changed = true
	} else {
		*s.value = append(*s.value, v...)
	}
	return nil
}

func (s *stringList) Type() string {
	if s.split {
		return "stringSlice"
	}
	return "stringArray"
}

func (s *stringList) String() string {
	if len(*s.value) == 0 {
		return "[]"
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(*s.value)
	w.Flush()
	return "[" + strings.TrimSuffix(b.String(), "\n") + "]"
}

// Append, Replace and GetSlice make it a pflag.SliceValue, as pflag's own
// are (cobra's completion uses them).
func (s *stringList) Append(val string) error {
	*s.value = append(*s.value, val)
	return nil
}

func (s *stringList) Replace(val []string) error {
	*s.value = append([]string(nil), val...)
	return nil
}

func (s *stringList) GetSlice() []string { return append([]string(nil), *s.value...) }
