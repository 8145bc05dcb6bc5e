package state

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// encodeState writes s as json.Marshal does, to the byte, without
// reflection: every change of a sandbox's status saves its state, and
// encoding/json's first use of State in a process (each nook command is
// one) builds encoders for its whole graph of types, 0.2-0.3 ms, against
// some microseconds for the writing itself. TestEncodeStateIsMarshal
// holds it to json.Marshal with every field set.
func encodeState(s *State) ([]byte, error) {
	b := make([]byte, 0, 512)
	b = append(b, `{"format":`...)
	b = appendString(b, s.Format)
	b = append(b, `,"ociVersion":`...)
	b = appendString(b, s.OCIVersion)
	b = append(b, `,"id":`...)
	b = appendString(b, s.ID)
	if s.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, s.Name)
	}
	b = append(b, `,"status":`...)
	b = appendString(b, string(s.Status))
	b = append(b, `,"init":`...)
	b = appendProcess(b, s.Init)
	b = append(b, `,"monitor":`...)
	b = appendProcess(b, s.Monitor)
	if s.NookInit {
		b = append(b, `,"nook_init":true`...)
	}
	if s.DenySetgroups {
		b = append(b, `,"deny_setgroups":true`...)
	}
	if s.AutoRemove {
		b = append(b, `,"auto_remove":true`...)
	}
	if s.LogSize != 0 {
		b = append(b, `,"log_size":`...)
		b = strconv.AppendInt(b, s.LogSize, 10)
	}
	if l := s.Limits; l != nil {
		b = append(b, `,"limits":{`...)
		n := len(b)
		b = appendOmitInt(b, n, "cpu_time_ms", l.CPUTimeMS)
		b = appendOmitInt(b, n, "wall_time_ms", l.WallTimeMS)
		b = appendOmitInt(b, n, "extra_time_ms", l.ExtraMS)
		if l.BestEffort {
			b = appendKey(b, n, "best_effort")
			b = append(b, "true"...)
		}
		b = append(b, '}')
	}
	if s.Bundle != "" {
		b = append(b, `,"bundle":`...)
		b = appendString(b, s.Bundle)
	}
	if s.Rootfs != "" {
		b = append(b, `,"rootfs":`...)
		b = appendString(b, s.Rootfs)
	}
	if len(s.Command) > 0 {
		b = append(b, `,"command":[`...)
		for i, a := range s.Command {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"owner":`...)
	b = strconv.AppendInt(b, int64(s.Owner), 10)
	var err error
	b = append(b, `,"created":`...)
	if b, err = appendTime(b, s.Created); err != nil {
		return nil, err
	}
	if s.Started != nil {
		b = append(b, `,"started":`...)
		if b, err = appendTime(b, *s.Started); err != nil {
			return nil, err
		}
	}
	if s.Finished != nil {
		b = append(b, `,"finished":`...)
		if b, err = appendTime(b, *s.Finished); err != nil {
			return nil, err
		}
	}
	if len(s.Annotations) > 0 {
		b = append(b, `,"annotations":{`...)
		keys := make([]string, 0, len(s.Annotations))
		for k := range s.Annotations {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, s.Annotations[k])
		}
		b = append(b, '}')
	}
	if e := s.Exit; e != nil {
		b = append(b, `,"exit":{"code":`...)
		b = strconv.AppendInt(b, int64(e.Code), 10)
		if e.Signal != 0 {
			b = append(b, `,"signal":`...)
			b = strconv.AppendInt(b, int64(e.Signal), 10)
		}
		b = append(b, `,"cpu_time_ms":`...)
		b = strconv.AppendInt(b, e.CPUTimeMS, 10)
		b = append(b, `,"wall_time_ms":`...)
		b = strconv.AppendInt(b, e.WallTimeMS, 10)
		b = append(b, `,"max_rss_kib":`...)
		b = strconv.AppendInt(b, e.MaxRSSKiB, 10)
		if e.Killed != "" {
			b = append(b, `,"killed":`...)
			b = appendString(b, e.Killed)
		}
		b = append(b, '}')
	}
	if len(s.Undo) > 0 {
		b = append(b, `,"undo":[`...)
		for i, u := range s.Undo {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"kind":`...)
			b = appendString(b, string(u.Kind))
			b = append(b, `,"path":`...)
			b = appendString(b, u.Path)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if s.Log != "" {
		b = append(b, `,"log":`...)
		b = appendString(b, s.Log)
	}
	if s.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, s.Error)
	}
	return append(b, '}'), nil
}

func appendProcess(b []byte, p Process) []byte {
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(p.Pid), 10)
	b = append(b, `,"start_time":`...)
	b = strconv.AppendUint(b, p.StartTime, 10)
	return append(b, '}')
}

// appendKey writes key in an object whose first member starts at n.
func appendKey(b []byte, n int, key string) []byte {
	if len(b) > n {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, `":`...)
}

// appendOmitInt writes an omitempty integer member of an object whose
// first member starts at n.
func appendOmitInt(b []byte, n int, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(appendKey(b, n, key), v, 10)
}

// appendTime writes t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds), and fails where it does (a year outside 0-9999).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	j, err := t.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// appendString writes s as a JSON string. Printable ASCII that
// encoding/json leaves as it is (all but ", \ and its HTML escapes <, >
// and &) is copied; anything else is json.Marshal's to write, so that
// escapes, invalid UTF-8 and U+2028/U+2029 come out as it writes them.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always encodes
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
