package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nookrun/nook/caps"
)

// Env is what the conditional parts of a Docker-format profile
// ("includes"/"excludes" and "archMap") are evaluated against.
type Env struct {
	// Caps are the capabilities granted to the sandbox (its bounding
	// set), in any form [caps.Normalize] accepts.
	Caps []string
	// GOARCH is the target architecture; "" means runtime.GOARCH.
	GOARCH string
	// Kernel is the kernel release to compare "minKernel" against, such
	// as "6.1.0-13-amd64"; "" means the running kernel.
	Kernel string
}

// profileFile is the union of the OCI LinuxSeccomp object and Docker's
// seccomp profile format (which adds archMap, a single "name",
// "comment" and includes/excludes filters).
type profileFile struct {
	DefaultAction    specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet  *uint                    `json:"defaultErrnoRet,omitempty"`
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ArchMap          []archMapEntry           `json:"archMap,omitempty"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
	Syscalls         []profileSyscall         `json:"syscalls,omitempty"`
}

type archMapEntry struct {
	Arch      specs.Arch   `json:"architecture"`
	SubArches []specs.Arch `json:"subArchitectures"`
}

type profileSyscall struct {
	Name     string                   `json:"name,omitempty"`
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	Comment  string                   `json:"comment,omitempty"`
	Includes *profileFilter           `json:"includes,omitempty"`
	Excludes *profileFilter           `json:"excludes,omitempty"`
}

type profileFilter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

// Load reads an OCI (runtime-spec LinuxSeccomp) or Docker-format seccomp
// profile, evaluating Docker's conditional parts for nook's default
// capabilities ([caps.Default]) on this machine. See [Parse].
func Load(path string) (*specs.LinuxSeccomp, error) {
	return LoadWithCaps(path, caps.Default())
}

// LoadWithCaps is [Load] for a sandbox granted the given capabilities.
func LoadWithCaps(path string, granted []string) (*specs.LinuxSeccomp, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	p, err := Parse(data, Env{Caps: granted})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse decodes a profile in OCI or Docker format and returns it as an
// OCI LinuxSeccomp, validated as [Compile] would.
//
// The Docker parts are evaluated against env, as Docker does:
//   - "archMap": the entry whose "architecture" is env's native
//     architecture supplies the architectures (it and its
//     subArchitectures); "archMap" and "architectures" together are an
//     error;
//   - "name" is the same as a one-element "names" (both is an error);
//   - a rule with "includes" is kept only if all the listed caps are
//     granted, the architecture is listed (if any are) and the kernel is
//     at least minKernel (if given);
//   - a rule with "excludes" is dropped if any listed cap is granted, the
//     architecture is listed, or the kernel is at least minKernel.
//
// Arches in includes/excludes may be given as GOARCH ("amd64"), as
// Docker/kernel names ("x86_64", "x86", "aarch64") or as SCMP_ARCH_*.
// Unknown JSON fields are an error, so that a misspelt key does not
// silently weaken a profile.
func Parse(data []byte, env Env) (*specs.LinuxSeccomp, error) {
	var f profileFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("seccomp: decoding profile: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("seccomp: decoding profile: data after the JSON object")
	}
	goarch := env.GOARCH
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	granted := map[string]bool{}
	for _, c := range env.Caps {
		n, err := caps.Normalize(c)
		if err != nil {
			return nil, fmt.Errorf("seccomp: granted capabilities: %w", err)
		}
		granted[n] = true
	}
	kernel := env.Kernel
	var kernelErr error
	if kernel == "" {
		var u unix.Utsname
		if kernelErr = unix.Uname(&u); kernelErr == nil {
			kernel = unix.ByteSliceToString(u.Release[:])
		}
	}
	kernelAtLeast := func(what, min string) (bool, error) {
		want, err := parseKernelVersion(min)
		if err != nil {
			return false, fmt.Errorf("seccomp: %s: minKernel %q: %w", what, min, err)
		}
		if kernelErr != nil {
			return false, fmt.Errorf("seccomp: %s: cannot read the kernel version: %w", what, kernelErr)
		}
		have, err := parseKernelVersion(kernel)
		if err != nil {
			return false, fmt.Errorf("seccomp: kernel version %q: %w", kernel, err)
		}
		return have[0] > want[0] || have[0] == want[0] && have[1] >= want[1], nil
	}

	p := &specs.LinuxSeccomp{
		DefaultAction:    f.DefaultAction,
		DefaultErrnoRet:  f.DefaultErrnoRet,
		Architectures:    f.Architectures,
		Flags:            f.Flags,
		ListenerPath:     f.ListenerPath,
		ListenerMetadata: f.ListenerMetadata,
	}
	if len(f.ArchMap) > 0 {
		if len(f.Architectures) > 0 {
			return nil, fmt.Errorf("seccomp: profile has both architectures and archMap")
		}
		for i, e := range f.ArchMap {
			if !slices.Contains(knownArches, e.Arch) {
				return nil, fmt.Errorf("seccomp: archMap[%d].architecture: unknown architecture %q", i, e.Arch)
			}
			if g, _ := find(goArchOf, e.Arch); g == goarch {
				p.Architectures = append([]specs.Arch{e.Arch}, e.SubArches...)
			}
		}
	}
	for i, sc := range f.Syscalls {
		what := "syscalls[" + strconv.Itoa(i) + "]"
		names := sc.Names
		if sc.Name != "" {
			if len(sc.Names) > 0 {
				return nil, fmt.Errorf("seccomp: %s: both name and names are set", what)
			}
			names = []string{sc.Name}
		}
		keep := true
		if in := sc.Includes; in != nil {
			for _, c := range in.Caps {
				if !granted[capName(c)] {
					keep = false
				}
			}
			if len(in.Arches) > 0 && !slices.ContainsFunc(in.Arches, func(a string) bool { return archMatches(a, goarch) }) {
				keep = false
			}
			if in.MinKernel != "" {
				ok, err := kernelAtLeast(what+".includes", in.MinKernel)
				if err != nil {
					return nil, err
				}
				keep = keep && ok
			}
		}
		if ex := sc.Excludes; ex != nil {
			for _, c := range ex.Caps {
				if granted[capName(c)] {
					keep = false
				}
			}
			if slices.ContainsFunc(ex.Arches, func(a string) bool { return archMatches(a, goarch) }) {
				keep = false
			}
			if ex.MinKernel != "" {
				ok, err := kernelAtLeast(what+".excludes", ex.MinKernel)
				if err != nil {
					return nil, err
				}
				keep = keep && !ok
			}
		}
		if !keep {
			continue
		}
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{
			Names:    names,
			Action:   sc.Action,
			ErrnoRet: sc.ErrnoRet,
			Args:     sc.Args,
		})
	}
	if _, err := normalize(p); err != nil {
		return nil, err
	}
	return p, nil
}

// capName canonicalises a capability name from a profile; names this
// package does not know are compared as written (they are never granted).
func capName(c string) string {
	if n, err := caps.Normalize(c); err == nil {
		return n
	}
	return c
}

// archMatches tells whether an arch name from includes/excludes means
// goarch.
func archMatches(name, goarch string) bool {
	n := strings.ToLower(name)
	switch n {
	case "x86_64":
		n = "amd64"
	case "x86", "i386", "i686":
		n = "386"
	case "aarch64":
		n = "arm64"
	}
	if g, ok := find(goArchOf, specs.Arch(name)); ok {
		n = g
	}
	return n == goarch
}

// parseKernelVersion reads "major.minor" from a version or release
// string such as "4.8" or "6.1.0-13-amd64".
func parseKernelVersion(s string) ([2]int, error) {
	var v [2]int
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return v, fmt.Errorf("want major.minor")
	}
	for i := range 2 {
		p := parts[i]
		if i == 1 {
			// "8-rc1", "8+" and the like: keep the leading digits.
			end := 0
			for end < len(p) && p[end] >= '0' && p[end] <= '9' {
				end++
			}
			p = p[:end]
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("want major.minor")
		}
		v[i] = n
	}
	return v, nil
}
