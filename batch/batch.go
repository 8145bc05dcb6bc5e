package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/sandbox"
	"github.com/nookrun/nook/seccomp"
	"github.com/nookrun/nook/verdict"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Request is one run.
type Request struct {
	// ID is the caller's name for the run; its Result carries it back.
	ID string `json:"id"`
	// Args is the command and its arguments. With an image it may be
	// empty: the image's Entrypoint and Cmd run.
	Args []string `json:"args,omitempty"`
	// Rootfs is a directory to run in, or Image an image of the store;
	// neither is the host's system read-only, as `nook run` gives.
	Rootfs string `json:"rootfs,omitempty"`
	Image  string `json:"image,omitempty"`
	// Binds are host paths bound in, SRC:DST[:ro] as `nook run --bind`.
	Binds []string `json:"binds,omitempty"`
	// Env is added to the environment; ClearEnv starts it empty.
	Env      []string `json:"env,omitempty"`
	ClearEnv bool     `json:"clear_env,omitempty"`
	// Workdir is the working directory inside.
	Workdir string `json:"workdir,omitempty"`
	// Stdin, Stdout and Stderr are files nook opens outside the sandbox
	// (stdout and stderr created or truncated); empty is /dev/null.
	Stdin  string `json:"stdin,omitempty"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// Limits are the run's limits; zero is none.
	Limits verdict.Limits `json:"limits"`
}

// Result is the verdict of one request: the verdict's fields with the
// request's ID (and its input line, for a line whose ID could not be
// read).
type Result struct {
	ID   string `json:"id"`
	Line int    `json:"line,omitempty"`
	*verdict.Verdict
}

// Runner runs requests. Its zero value runs one at a time and has no
// image store.
type Runner struct {
	// Parallel is the most runs at once in Serve; below 1 is 1.
	Parallel int
	// Store opens the image store, the first time a request names an
	// image; nil: requests with an image fail.
	Store func() (*image.Store, error)
	// BestEffort makes a limit this host cannot enforce a warning in
	// the verdict instead of an XX.
	BestEffort bool

	storeOnce sync.Once
	store     *image.Store
	storeErr  error
	// every request gets the same default seccomp profile: compiled
	// once for the Runner's life
	seccomp seccomp.Cache
}

// fail is the verdict of a request that could not run.
func fail(err error) *verdict.Verdict {
	return verdict.Judge(nil, err, verdict.Limits{})
}

// Judge runs one request to the end and judges it. A bad request gets a
// verdict with status XX whose message says what was wrong. Cancelling
// ctx kills the sandbox.
func (r *Runner) Judge(ctx context.Context, req *Request) *Result {
	p, res := r.prepare(ctx, req)
	if res != nil {
		return res
	}
	res = p.judge(ctx)
	p.close()
	return res
}

// prepared is a request's sandbox made up to its first process, and what
// the request opened.
type prepared struct {
	id      string
	sb      *sandbox.Prepared
	release func()
}

// prepare makes a request's sandbox ready to run, or returns the verdict
// of a request that cannot run.
func (r *Runner) prepare(ctx context.Context, req *Request) (*prepared, *Result) {
	c, release, err := r.config(ctx, req)
	if err == nil {
		var sb *sandbox.Prepared
		if sb, err = c.Prepare(ctx); err == nil {
			return &prepared{id: req.ID, sb: sb, release: release}, nil
		}
		release()
		v := verdict.Judge(nil, err, c.VerdictLimits())
		return nil, &Result{ID: req.ID, Verdict: v}
	}
	v := fail(err)
	v.Limits = req.Limits
	return nil, &Result{ID: req.ID, Verdict: v}
}

// judge runs the prepared sandbox and judges it; close cleans up after.
func (p *prepared) judge(ctx context.Context) *Result {
	res := &Result{ID: p.id, Verdict: p.sb.Judge(ctx)}
	if ctx.Err() != nil && res.Status != verdict.TO {
		res.Status = verdict.XX
		res.Message = "stopped before the end: " + context.Cause(ctx).Error()
	}
	return res
}

func (p *prepared) close() {
	p.sb.Close()
	p.release()
}

// config turns a request into a sandbox, its files open. release closes
// them (and lets go of the image).
func (r *Runner) config(ctx context.Context, req *Request) (_ *sandbox.Config, _ func(), err error) {
	c := &sandbox.Config{
		Args: req.Args, Rootfs: req.Rootfs, Workdir: req.Workdir,
		ClearEnv: req.ClearEnv, SeccompCache: &r.seccomp,
	}
	c.Limits.BestEffort = r.BestEffort
	var done []func()
	release := func() {
		for i := len(done) - 1; i >= 0; i-- {
			done[i]()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	if req.Image == "" && len(req.Args) == 0 {
		return nil, nil, errors.New("args: no command given")
	}
	if req.Image != "" && req.Rootfs != "" {
		return nil, nil, errors.New("rootfs and image: give one root")
	}
	for _, e := range req.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return nil, nil, fmt.Errorf("env %q: want K=V", e)
		}
		c.Env = append(c.Env, e)
	}
	for _, b := range req.Binds {
		x, err := sandbox.ParseBind(b)
		if err != nil {
			return nil, nil, err
		}
		c.Binds = append(c.Binds, x)
	}
	if err := limits(c, req.Limits); err != nil {
		return nil, nil, err
	}
	for _, f := range []struct {
		name, path string
		dst        **os.File
		write      bool
	}{
		{"stdin", req.Stdin, &c.Stdin, false},
		{"stdout", req.Stdout, &c.Stdout, true},
		{"stderr", req.Stderr, &c.Stderr, true},
	} {
		path, flag := f.path, os.O_RDONLY
		if path == "" {
			path = os.DevNull
		}
		if f.write {
			flag = os.O_WRONLY
			if f.path != "" {
				flag |= os.O_CREATE | os.O_TRUNC
			}
		}
		fh, err := os.OpenFile(path, flag, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.dst = fh
		done = append(done, func() { fh.Close() })
	}
	if req.Image != "" {
		st, err := r.openStore()
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", req.Image, err)
		}
		img, err := st.Get(req.Image)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", req.Image, err)
		}
		// the layers stay the image's until the run is over; the
		// sandbox takes its own hold too
		rel, err := img.Use(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", req.Image, err)
		}
		done = append(done, rel)
		c.Image = img
	}
	return c, release, nil
}

func (r *Runner) openStore() (*image.Store, error) {
	r.storeOnce.Do(func() {
		if r.Store == nil {
			r.storeErr = errors.New("this runner has no image store")
			return
		}
		r.store, r.storeErr = r.Store()
	})
	return r.store, r.storeErr
}

// limits puts a request's limits into c, as `nook run`'s flags do.
func limits(c *sandbox.Config, l verdict.Limits) error {
	for _, x := range []struct {
		name string
		v    int64
	}{
		{"cpu_time_ms", l.CPUTimeMS}, {"wall_time_ms", l.WallTimeMS}, {"extra_time_ms", l.ExtraTimeMS},
		{"memory_bytes", l.MemoryBytes}, {"pids", l.Pids},
	} {
		if x.v < 0 {
			return fmt.Errorf("limits: %s %d: want a positive number, or 0 for none", x.name, x.v)
		}
	}
	c.Memory, c.Pids = l.MemoryBytes, l.Pids
	if l.FileSize > 0 {
		c.Rlimits = append(c.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_FSIZE", Soft: l.FileSize, Hard: l.FileSize})
	}
	c.Limits.CPUTime = time.Duration(l.CPUTimeMS) * time.Millisecond
	c.Limits.WallTime = time.Duration(l.WallTimeMS) * time.Millisecond
	c.Limits.Extra = time.Duration(l.ExtraTimeMS) * time.Millisecond
	return nil
}

// Parse reads one request line. A line that is not a request is an
// error; the ID is returned whenever it can be read, so that the error's
// verdict can carry it.
func Parse(line []byte) (*Request, error) {
	req := &Request{}
	if len(line) > MaxLine {
		return req, fmt.Errorf("bad request: the line is longer than %d bytes", MaxLine)
	}
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(req); err != nil {
		var id struct {
			ID string `json:"id"`
		}
		json.Unmarshal(line, &id)
		return &Request{ID: id.ID}, fmt.Errorf("bad request: %w", err)
	}
	if d.More() {
		return req, errors.New("bad request: more than one JSON value on the line")
	}
	return req, nil
}

// MaxLine is the longest request line; a longer one is answered with an
// XX verdict, and nook keeps no more of it than this.
const MaxLine = 1 << 20

// readLine reads a line of at most MaxLine bytes; of a longer one it
// returns the first MaxLine+1 bytes (which Parse rejects) and skips the
// rest.
func readLine(br *bufio.Reader) ([]byte, error) {
	var b []byte
	for {
		part, err := br.ReadSlice('\n')
		if len(b) <= MaxLine {
			b = append(b, part[:min(len(part), MaxLine+1-len(b))]...)
		}
		if err != bufio.ErrBufferFull {
			return b, err
		}
	}
}

// Serve reads requests from in, one JSON object a line, runs them up to
// Parallel at a time, and writes each one's Result to out as a line of
// JSON when it ends. It returns at the end of in, once every run has
// ended, or when ctx is cancelled, once the runs in flight (killed) are
// reported; a run that had not started gets no Result.
func (r *Runner) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	par := r.Parallel
	if par < 1 {
		par = 1
	}
	var (
		mu   sync.Mutex
		werr error
		wg   sync.WaitGroup
	)
	enc := json.NewEncoder(out)
	write := func(res *Result) {
		mu.Lock()
		defer mu.Unlock()
		if werr == nil {
			if err := enc.Encode(res); err != nil {
				werr = fmt.Errorf("batch: write verdict: %w", err)
			}
		}
	}
	// a line's turn is closed once its run has its place, or once it
	// is known not to run, and never before its predecessor's: runs
	// start in the order of their lines, however long each one's
	// prepare takes
	type line struct {
		n          int
		text       []byte
		prev, turn chan struct{}
	}
	lines := make(chan line)
	readErr := make(chan error, 1)
	// the reader is a goroutine of its own, so that a cancel does not
	// wait for the next line
	go func() {
		br := bufio.NewReader(in)
		prev := make(chan struct{})
		close(prev)
		for n := 1; ; n++ {
			b, err := readLine(br)
			if len(bytes.TrimSpace(b)) > 0 {
				l := line{n, b, prev, make(chan struct{})}
				select {
				case lines <- l:
					prev = l.turn
				case <-ctx.Done():
					readErr <- nil
					return
				}
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				readErr <- err
				close(lines)
				return
			}
		}
	}()
	// workers take the lines as they come: each prepares its request's
	// sandbox, waits for its turn and one of the par places to run it,
	// and cleans up after it. Twice par of them, so that while par run,
	// as many sandboxes are prepared (on every CPU: the kernel's part of
	// a clone into new namespaces is most of a start) or cleaned up.
	slots := make(chan struct{}, par)
	// pass gives a line that will not run its turn once its
	// predecessor has had its own, without holding up its worker
	pass := func(l line) {
		go func() {
			select {
			case <-l.prev:
				close(l.turn)
			case <-ctx.Done():
			}
		}()
	}
	for range 2 * par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var l line
				var ok bool
				select {
				case <-ctx.Done():
					return
				case l, ok = <-lines:
				}
				if !ok {
					return
				}
				req, perr := Parse(l.text)
				if perr != nil {
					pass(l)
					write(&Result{ID: req.ID, Line: l.n, Verdict: fail(perr)})
					continue
				}
				p, res := r.prepare(ctx, req)
				if ctx.Err() != nil {
					// the cancel came while this request was prepared:
					// it never ran, so it has no verdict (its prepare
					// may have failed only because of the cancel)
					if p != nil {
						p.close()
					}
					return
				}
				if res != nil {
					pass(l)
					write(res)
					continue
				}
				select {
				case <-ctx.Done():
					p.close()
					return
				case <-l.prev:
				}
				select {
				case <-ctx.Done():
					p.close()
					return
				case slots <- struct{}{}:
				}
				if ctx.Err() != nil {
					// the cancel and the place came together
					<-slots
					p.close()
					return
				}
				close(l.turn)
				write(p.judge(ctx))
				// the next run need not wait for this one's clean-up
				<-slots
				p.close()
			}
		}()
	}
	wg.Wait()
	// the reader has said how the input ended if it did end (it says so
	// before it closes lines); after a cancel it may still be reading
	var err error
	select {
	case e := <-readErr:
		if e != nil {
			err = fmt.Errorf("batch: read requests: %w", e)
		}
	default:
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = werr
	}
	return err
}
