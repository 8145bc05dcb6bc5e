package container

import (
	"encoding/base64"

	"github.com/nookrun/nook/internal/jsonread"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// decodeExecCache reads an exec cache (execCacheFile) as json.Unmarshal
// would, without its reflection (package jsonread): the first
// json.Unmarshal of a specs.Process took 0.07-0.1 ms of a nook exec,
// against some 10 us for this. TestDecodeExecCacheAsJSON holds it to
// json.Unmarshal for every field of a specs.Process, so that a field a
// new runtime-spec adds fails the test rather than being dropped here.
func decodeExecCache(b []byte) (*execCache, error) {
	r := jsonread.New(b)
	c := &execCache{}
	err := r.Object(func(key string) (err error) {
		switch key {
		case "key":
			c.Key, err = r.String()
		case "process":
			c.Process, err = jsonread.Ptr(r, decodeProcess)
		case "filter":
			c.Filter, err = decodeBytes(r)
		case "filterFlags":
			var n uint64
			n, err = r.Uint(32)
			c.FilterFlags = uint32(n)
		case "sharedRoot":
			c.SharedRoot, err = r.Bool()
		default:
			err = r.Skip()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, r.End()
}

// decodeBytes reads what json.Marshal makes of a []byte: base64.
func decodeBytes(r *jsonread.Reader) ([]byte, error) {
	if null, err := r.Null(); err != nil || null {
		return nil, err
	}
	s, err := r.String()
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(s)
}

func decodeProcess(r *jsonread.Reader, p *specs.Process) error {
	return r.Object(func(key string) (err error) {
		var n int64
		switch key {
		case "terminal":
			p.Terminal, err = r.Bool()
		case "consoleSize":
			p.ConsoleSize, err = jsonread.Ptr(r, func(r *jsonread.Reader, b *specs.Box) error {
				return r.Object(func(key string) (err error) {
					var n uint64
					switch key {
					case "height":
						n, err = r.Uint(0)
						b.Height = uint(n)
					case "width":
						n, err = r.Uint(0)
						b.Width = uint(n)
					default:
						err = r.Skip()
					}
					return err
				})
			})
		case "user":
			err = decodeUser(r, &p.User)
		case "args":
			p.Args, err = r.Strings()
		case "commandLine":
			p.CommandLine, err = r.String()
		case "env":
			p.Env, err = r.Strings()
		case "cwd":
			p.Cwd, err = r.String()
		case "capabilities":
			p.Capabilities, err = jsonread.Ptr(r, decodeCaps)
		case "rlimits":
			p.Rlimits, err = jsonread.List(r, func(l *specs.POSIXRlimit) error {
				return r.Object(func(key string) (err error) {
					switch key {
					case "type":
						l.Type, err = r.String()
					case "hard":
						l.Hard, err = r.Uint(64)
					case "soft":
						l.Soft, err = r.Uint(64)
					default:
						err = r.Skip()
					}
					return err
				})
			})
		case "noNewPrivileges":
			p.NoNewPrivileges, err = r.Bool()
		case "apparmorProfile":
			p.ApparmorProfile, err = r.String()
		case "oomScoreAdj":
			p.OOMScoreAdj, err = jsonread.Ptr(r, func(r *jsonread.Reader, v *int) error {
				n, err = r.Int(0)
				*v = int(n)
				return err
			})
		case "scheduler":
			p.Scheduler, err = jsonread.Ptr(r, decodeScheduler)
		case "selinuxLabel":
			p.SelinuxLabel, err = r.String()
		case "ioPriority":
			p.IOPriority, err = jsonread.Ptr(r, func(r *jsonread.Reader, io *specs.LinuxIOPriority) error {
				return r.Object(func(key string) (err error) {
					switch key {
					case "class":
						var s string
						s, err = r.String()
						io.Class = specs.IOPriorityClass(s)
					case "priority":
						n, err = r.Int(0)
						io.Priority = int(n)
					default:
						err = r.Skip()
					}
					return err
				})
			})
		case "execCPUAffinity":
			p.ExecCPUAffinity, err = jsonread.Ptr(r, func(r *jsonread.Reader, a *specs.CPUAffinity) error {
				return r.Object(func(key string) (err error) {
					switch key {
					case "initial":
						a.Initial, err = r.String()
					case "final":
						a.Final, err = r.String()
					default:
						err = r.Skip()
					}
					return err
				})
			})
		default:
			err = r.Skip()
		}
		return err
	})
}

func decodeUser(r *jsonread.Reader, u *specs.User) error {
	return r.Object(func(key string) (err error) {
		var n uint64
		switch key {
		case "uid":
			n, err = r.Uint(32)
			u.UID = uint32(n)
		case "gid":
			n, err = r.Uint(32)
			u.GID = uint32(n)
		case "umask":
			u.Umask, err = jsonread.Ptr(r, func(r *jsonread.Reader, v *uint32) error {
				n, err = r.Uint(32)
				*v = uint32(n)
				return err
			})
		case "additionalGids":
			u.AdditionalGids, err = jsonread.List(r, func(v *uint32) error {
				n, err = r.Uint(32)
				*v = uint32(n)
				return err
			})
		case "username":
			u.Username, err = r.String()
		default:
			err = r.Skip()
		}
		return err
	})
}

func decodeCaps(r *jsonread.Reader, c *specs.LinuxCapabilities) error {
	return r.Object(func(key string) (err error) {
		switch key {
		case "bounding":
			c.Bounding, err = r.Strings()
		case "effective":
			c.Effective, err = r.Strings()
		case "inheritable":
			c.Inheritable, err = r.Strings()
		case "permitted":
			c.Permitted, err = r.Strings()
		case "ambient":
			c.Ambient, err = r.Strings()
		default:
			err = r.Skip()
		}
		return err
	})
}

func decodeScheduler(r *jsonread.Reader, s *specs.Scheduler) error {
	return r.Object(func(key string) (err error) {
		var n int64
		switch key {
		case "policy":
			var p string
			p, err = r.String()
			s.Policy = specs.LinuxSchedulerPolicy(p)
		case "nice":
			n, err = r.Int(32)
			s.Nice = int32(n)
		case "priority":
			n, err = r.Int(32)
			s.Priority = int32(n)
		case "flags":
			s.Flags, err = jsonread.List(r, func(f *specs.LinuxSchedulerFlag) error {
				v, err := r.String()
				*f = specs.LinuxSchedulerFlag(v)
				return err
			})
		case "runtime":
			s.Runtime, err = r.Uint(64)
		case "deadline":
			s.Deadline, err = r.Uint(64)
		case "period":
			s.Period, err = r.Uint(64)
		default:
			err = r.Skip()
		}
		return err
	})
}
