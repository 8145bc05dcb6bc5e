package state

import (
	"time"

	"github.com/nookrun/nook/internal/jsonread"
)

// decodeState reads state.json as json.Unmarshal would, without its
// reflection (package jsonread): every nook command that names a sandbox
// reads one, and a first json.Unmarshal of a State took 0.1-0.18 ms of a
// nook exec's 5 ms of CPU, against some 20 us for this.
// TestDecodeStateAsJSON holds it to json.Unmarshal for every field.
func decodeState(b []byte, st *State) error {
	r := jsonread.New(b)
	err := r.Object(func(key string) (err error) {
		switch key {
		case "format":
			st.Format, err = r.String()
		case "ociVersion":
			st.OCIVersion, err = r.String()
		case "id":
			st.ID, err = r.String()
		case "name":
			st.Name, err = r.String()
		case "status":
			var s string
			s, err = r.String()
			st.Status = Status(s)
		case "init":
			err = decodeProcess(r, &st.Init)
		case "monitor":
			err = decodeProcess(r, &st.Monitor)
		case "nook_init":
			st.NookInit, err = r.Bool()
		case "deny_setgroups":
			st.DenySetgroups, err = r.Bool()
		case "auto_remove":
			st.AutoRemove, err = r.Bool()
		case "log_size":
			st.LogSize, err = r.Int(64)
		case "limits":
			st.Limits, err = jsonread.Ptr(r, decodeLimits)
		case "bundle":
			st.Bundle, err = r.String()
		case "rootfs":
			st.Rootfs, err = r.String()
		case "command":
			st.Command, err = r.Strings()
		case "owner":
			var n int64
			n, err = r.Int(0)
			st.Owner = int(n)
		case "created":
			err = decodeTime(r, &st.Created)
		case "started":
			st.Started, err = jsonread.Ptr(r, decodeTime)
		case "finished":
			st.Finished, err = jsonread.Ptr(r, decodeTime)
		case "annotations":
			st.Annotations, err = decodeStringMap(r)
		case "exit":
			st.Exit, err = jsonread.Ptr(r, decodeExit)
		case "undo":
			st.Undo, err = jsonread.List(r, func(u *Undo) error {
				return r.Object(func(key string) (err error) {
					switch key {
					case "kind":
						var s string
						s, err = r.String()
						u.Kind = UndoKind(s)
					case "path":
						u.Path, err = r.String()
					default:
						err = r.Skip()
					}
					return err
				})
			})
		case "log":
			st.Log, err = r.String()
		case "error":
			st.Error, err = r.String()
		default:
			err = r.Skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	return r.End()
}

func decodeProcess(r *jsonread.Reader, p *Process) error {
	return r.Object(func(key string) (err error) {
		switch key {
		case "pid":
			var n int64
			n, err = r.Int(0)
			p.Pid = int(n)
		case "start_time":
			p.StartTime, err = r.Uint(64)
		default:
			err = r.Skip()
		}
		return err
	})
}

func decodeLimits(r *jsonread.Reader, l *TimeLimits) error {
	return r.Object(func(key string) (err error) {
		switch key {
		case "cpu_time_ms":
			l.CPUTimeMS, err = r.Int(64)
		case "wall_time_ms":
			l.WallTimeMS, err = r.Int(64)
		case "extra_time_ms":
			l.ExtraMS, err = r.Int(64)
		case "best_effort":
			l.BestEffort, err = r.Bool()
		default:
			err = r.Skip()
		}
		return err
	})
}

func decodeExit(r *jsonread.Reader, e *Exit) error {
	return r.Object(func(key string) (err error) {
		var n int64
		switch key {
		case "code":
			n, err = r.Int(0)
			e.Code = int(n)
		case "signal":
			n, err = r.Int(0)
			e.Signal = int(n)
		case "cpu_time_ms":
			e.CPUTimeMS, err = r.Int(64)
		case "wall_time_ms":
			e.WallTimeMS, err = r.Int(64)
		case "max_rss_kib":
			e.MaxRSSKiB, err = r.Int(64)
		case "killed":
			e.Killed, err = r.String()
		default:
			err = r.Skip()
		}
		return err
	})
}

// decodeTime reads a time as time.Time's UnmarshalJSON does (RFC 3339);
// null leaves it as it is.
func decodeTime(r *jsonread.Reader, t *time.Time) error {
	if null, err := r.Null(); err != nil || null {
		return err
	}
	s, err := r.String()
	if err != nil {
		return err
	}
	return t.UnmarshalText([]byte(s))
}

// decodeStringMap reads an object of strings: null leaves nil, {} an
// empty map, as json.Unmarshal does.
func decodeStringMap(r *jsonread.Reader) (map[string]string, error) {
	if null, err := r.Null(); err != nil || null {
		return nil, err
	}
	m := map[string]string{}
	err := r.Object(func(key string) error {
		v, err := r.String()
		m[key] = v
		return err
	})
	return m, err
}
