package e2e

import (
	"archive/tar"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nookrun/nook/internal/testutil"
)

// imageStore pushes img to a registry of the test's own on loopback,
// pulls it with `nook image pull` into a store of the test's own, and
// returns the store and the reference.
func imageStore(t *testing.T, img v1.Image) (store, ref string) {
	t.Helper()
	reg := testutil.Registry(t)
	ref = reg + "/e2e/img:1"
	testutil.Push(t, ref, img)
	store = filepath.Join(t.TempDir(), "store")
	nook(t, "image", "pull", "--store", store, ref)
	return store, ref
}

// runImage returns the arguments of `nook run --image` with the test's
// marker in the sandbox's environment (an image's environment is its
// own, not nook's).
func runImage(t *testing.T, store, ref string, flags ...string) []string {
	args := []string{"run", "--store", store, "--image", ref, "--env", testutil.MarkEnv(t)}
	return append(args, flags...)
}

func TestImageConfigIsHonoured(t *testing.T) {
	e2e(t)
	root := testutil.BusyboxRootfs(t)
	os.Mkdir(filepath.Join(root, "work"), 0o755)
	img := testutil.Image(t, v1.Config{
		Entrypoint: []string{"/bin/sh", "-c"},
		Cmd:        []string{"echo default command"},
		Env:        []string{"PATH=/bin", "FOO=from-image"},
		WorkingDir: "/work",
		User:       "nobody",
	}, testutil.Layer(t, testutil.TarDir(t, root)))
	store, ref := imageStore(t, img)

	if got := nookLine(t, runImage(t, store, ref)...); got != "default command" {
		t.Errorf("the image's Entrypoint and Cmd printed %q", got)
	}
	got := nookLine(t, runImage(t, store, ref, "--", `echo "$FOO $PATH $(pwd) $(id -u):$(id -g)"`)...)
	if got != "from-image /bin /work 65534:65534" {
		t.Errorf("env, workdir, user: %q, want %q", got, "from-image /bin /work 65534:65534")
	}
	got = nookLine(t, runImage(t, store, ref, "--env", "FOO=flag", "-w", "/", "-u", "0:0", "--", `echo "$FOO $(pwd) $(id -u)"`)...)
	if got != "flag / 0" {
		t.Errorf("flags over the image's config: %q, want %q", got, "flag / 0")
	}
	// everything else of nook run still applies: limits and a verdict
	out := nook(t, runImage(t, store, ref, "--pids", "32", "--memory", "64m", "--verdict", "-", "--", "true")...)
	var v struct{ Status string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Status != "OK" {
		t.Errorf("verdict %q (%v), want status OK", out, err)
	}
	// a command the image does not have
	_, stderr := nookFails(t, 127, runImage(t, store, ref, "--", "/no/such/command")...)
	noPanic(t, stderr)
}

func TestImageWhiteoutHidesLowerFile(t *testing.T) {
	e2e(t)
	lower := testutil.TarDir(t, testutil.BusyboxRootfs(t))
	mid := testutil.Tar(t,
		testutil.TarEntry{Name: "a/", Type: tar.TypeDir},
		testutil.TarEntry{Name: "a/gone", Body: "x"},
		testutil.TarEntry{Name: "a/kept", Body: "x"},
		testutil.TarEntry{Name: "d/", Type: tar.TypeDir},
		testutil.TarEntry{Name: "d/old", Body: "x"})
	top := testutil.Tar(t,
		testutil.TarEntry{Name: "a/.wh.gone"},
		testutil.TarEntry{Name: "d/", Type: tar.TypeDir},
		testutil.TarEntry{Name: "d/.wh..wh..opq"},
		testutil.TarEntry{Name: "d/new", Body: "y"})
	img := testutil.Image(t, v1.Config{Env: []string{"PATH=/bin"}},
		testutil.Layer(t, lower), testutil.Layer(t, mid), testutil.Layer(t, top))
	store, ref := imageStore(t, img)
	for _, ro := range []bool{false, true} {
		flags := []string{}
		if ro {
			flags = append(flags, "--read-only")
		}
		got := nookLine(t, runImage(t, store, ref, append(flags, "--", "sh", "-c", "echo $(ls /a) $(ls /d)")...)...)
		if got != "kept new" {
			t.Errorf("ls /a /d (read-only %v): %q, want %q", ro, got, "kept new")
		}
	}
}

func TestImageWritesStayInTheSandbox(t *testing.T) {
	e2e(t)
	store, ref := imageStore(t, testutil.BusyboxImage(t, v1.Config{Env: []string{"PATH=/bin"}}))
	if got := nookLine(t, runImage(t, store, ref, "--", "sh", "-c", "echo hi > /bin/new && rm /bin/ls && cat /bin/new")...); got != "hi" {
		t.Errorf("write in the root: %q", got)
	}
	if got := nookLine(t, runImage(t, store, ref, "--", "sh", "-c", "test -e /bin/new || test ! -e /bin/ls || echo clean")...); got != "clean" {
		t.Errorf("a second sandbox sees the first one's writes: %q", got)
	}
	// read-only: no upper directory at all
	_, stderr := nookFails(t, 1, runImage(t, store, ref, "--read-only", "--", "sh", "-c", "echo x > /bin/new")...)
	if !strings.Contains(stderr, "Read-only") {
		t.Errorf("write to a read-only image root: stderr %q", stderr)
	}
	// --keep: the upper directory stays on the host
	keep := t.TempDir()
	nook(t, runImage(t, store, ref, "--keep", keep, "--", "sh", "-c", "echo kept > /bin/new")...)
	if b, err := os.ReadFile(filepath.Join(keep, "upper", "bin", "new")); err != nil || string(b) != "kept\n" {
		t.Errorf("--keep: upper/bin/new is %q (%v)", b, err)
	}
	// the layer itself is untouched
	if out := nook(t, "image", "ls", "--store", store); !strings.Contains(out, ref) {
		t.Errorf("image ls: %q", out)
	}
	ents, _ := filepath.Glob(filepath.Join(store, "layers", "*", "bin", "new"))
	if len(ents) != 0 {
		t.Errorf("a sandbox wrote into a layer: %q", ents)
	}
}

// SIGKILL of nook leaves no overlay mount (CheckNoLeaks), no upper
// directory and nothing in the store's tmp.
func TestImageNoLeakAfterNookIsKilled(t *testing.T) {
	e2e(t)
	store, ref := imageStore(t, testutil.BusyboxImage(t, v1.Config{Env: []string{"PATH=/bin"}}))
	r := testutil.Start(t, testutil.Command(t, runImage(t, store, ref, "--", "sh", "-c", "dd if=/dev/zero of=/big bs=1k count=64 2>/dev/null; echo ready; sleep 100")...), "ready")
	r.Signal(syscall.SIGKILL)
	r.Wait(10 * time.Second)
	if left := markedProcesses(t); len(left) > 0 {
		t.Errorf("left after SIGKILL of nook: %q", left)
	}
	for _, d := range []string{"tmp"} {
		if ents, _ := os.ReadDir(filepath.Join(store, d)); len(ents) != 0 {
			t.Errorf("%s/ of the store is not empty: %d entries", d, len(ents))
		}
	}
	// the layers are free again: rm and prune leave an empty store
	nook(t, "image", "rm", "--store", store, ref)
	nook(t, "image", "prune", "--store", store)
	if ents, _ := os.ReadDir(filepath.Join(store, "layers")); len(ents) != 1 {
		t.Errorf("layers/ after rm and prune: %d entries, want only base", len(ents))
	}
}

func TestImageCommands(t *testing.T) {
	e2e(t)
	img := testutil.BusyboxImage(t, v1.Config{Cmd: []string{"/bin/sh"}})
	store, ref := imageStore(t, img)
	id, _ := img.ConfigName()
	var list []struct {
		ID    string
		Names []string
	}
	if err := json.Unmarshal([]byte(nook(t, "image", "ls", "--json", "--store", store)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != id.String() || len(list[0].Names) != 1 || list[0].Names[0] != ref {
		t.Errorf("ls --json: %+v", list)
	}
	var insp struct {
		ID     string
		Config struct{ Config struct{ Cmd []string } }
	}
	if err := json.Unmarshal([]byte(nook(t, "image", "inspect", "--store", store, ref)), &insp); err != nil {
		t.Fatal(err)
	}
	if insp.ID != id.String() || len(insp.Config.Config.Cmd) != 1 {
		t.Errorf("inspect: %+v", insp)
	}
	// import what a registry would give as a docker tarball too
	_, stderr := nookFails(t, 125, "image", "import", "--store", store, "/etc/hostname")
	if !strings.Contains(stderr, "not an image") {
		t.Errorf("import of a text file: %q", stderr)
	}
	_, stderr = nookFails(t, 125, "run", "--store", store, "--pull", "never", "--image", "no/such:image", "--", "true")
	if !strings.Contains(stderr, "no such image") {
		t.Errorf("run of an unknown image: %q", stderr)
	}
	_, stderr = nookFails(t, 2, "run", "--keep", t.TempDir(), "--", "true")
	if !strings.Contains(stderr, "--keep") {
		t.Errorf("--keep without --image: %q", stderr)
	}
	if got := nookLine(t, "image", "rm", "--store", store, ref); got != id.String() {
		t.Errorf("rm printed %q, want %s", got, id)
	}
	nook(t, "image", "prune", "--store", store)
	for _, d := range []string{"blobs/sha256", "tmp", "locks"} {
		if ents, _ := os.ReadDir(filepath.Join(store, d)); len(ents) != 0 {
			t.Errorf("%s/ after rm and prune: %d entries", d, len(ents))
		}
	}
}

// A pull killed halfway through a layer leaves nothing in use; the next
// pull of the image works, and prune leaves no trace of the first.
func TestImagePullKilledHalfway(t *testing.T) {
	e2e(t)
	img := testutil.BusyboxImage(t, v1.Config{})
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	var mu sync.Mutex
	stall := true
	release := make(chan struct{})
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := stall
		mu.Unlock()
		if s && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			rec := httptest.NewRecorder()
			reg.ServeHTTP(rec, r)
			w.Header().Set("Content-Length", rec.Header().Get("Content-Length"))
			w.WriteHeader(rec.Code)
			b := rec.Body.Bytes()
			w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(release)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/e2e/half:1"
	testutil.Push(t, ref, img)
	store := filepath.Join(t.TempDir(), "store")

	cmd := testutil.Command(t, "image", "pull", "--store", store, ref)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// wait until the layer is being unpacked
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(store, "tmp", "layer-*", "bin")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the pull never started unpacking")
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if ents, _ := os.ReadDir(filepath.Join(store, "layers")); len(ents) != 1 {
		t.Errorf("a half-pulled layer is in layers/: %d entries", len(ents))
	}
	if _, _, code := testutil.Run(t, "run", "--store", store, "--pull", "never", "--image", ref, "--", "true"); code != 125 {
		t.Errorf("run of a half-pulled image: exit status %d, want 125", code)
	}
	mu.Lock()
	stall = false
	mu.Unlock()
	nook(t, "image", "pull", "--store", store, ref)
	if ents, _ := os.ReadDir(filepath.Join(store, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ after a second pull: %d entries", len(ents))
	}
	if got := nookLine(t, runImage(t, store, ref, "--", "echo", "whole")...); got != "whole" {
		t.Errorf("run after the second pull: %q", got)
	}
}

// A full disk is a clear error, and the store stays consistent: no layer,
// no image, nothing in tmp/.
func TestImagePullOnAFullDisk(t *testing.T) {
	e2e(t)
	store := t.TempDir()
	if err := syscall.Mount("tmpfs", store, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(store, syscall.MNT_DETACH) })
	reg := testutil.Registry(t)
	ref := reg + "/e2e/full:1"
	testutil.Push(t, ref, testutil.BusyboxImage(t, v1.Config{}))
	_, stderr := nookFails(t, 125, "image", "pull", "-q", "--store", store, ref)
	noPanic(t, stderr)
	if !strings.Contains(stderr, "no space left on device") {
		t.Errorf("stderr %q does not say the disk is full", stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(store, "layers")); len(ents) != 1 {
		t.Errorf("layers/: %d entries, want only base", len(ents))
	}
	if ents, _ := os.ReadDir(filepath.Join(store, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/: %d entries", len(ents))
	}
	if out := nook(t, "image", "ls", "--store", store, "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("image ls: %q, want []", out)
	}
}

// Two nook processes pull one image at once: both succeed, and the layer
// is unpacked once.
func TestImageConcurrentPullProcesses(t *testing.T) {
	e2e(t)
	reg := testutil.Registry(t)
	ref := reg + "/e2e/twice:1"
	testutil.Push(t, ref, testutil.BusyboxImage(t, v1.Config{}))
	store := filepath.Join(t.TempDir(), "store")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	errs := make([]string, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i], codes[i] = testutil.Run(t, "image", "pull", "--store", store, ref)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("pull %d: exit status %d: %s", i, c, errs[i])
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(store, "layers")); len(ents) != 2 {
		t.Errorf("layers/: %d entries, want the layer and base", len(ents))
	}
	if got := nookLine(t, runImage(t, store, ref, "--", "echo", "ok")...); got != "ok" {
		t.Errorf("run: %q", got)
	}
}

// Credentials come from the docker config file ($DOCKER_CONFIG here).
func TestImagePullWithCredentials(t *testing.T) {
	e2e(t)
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "nook" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/private/img:1"
	img := testutil.BusyboxImage(t, v1.Config{})
	cfgDir := t.TempDir()
	conf := `{"auths":{"` + host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("nook:s3cret")) + `"}}}`
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "nook", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(t.TempDir(), "store")
	cmd := testutil.Command(t, "image", "pull", "-q", "--store", store, ref)
	cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+cfgDir)
	if _, stderr, code := testutil.RunCmd(t, cmd); code != 0 {
		t.Fatalf("pull with credentials in $DOCKER_CONFIG: exit status %d: %s", code, stderr)
	}

	// without them: a clear error
	cmd = testutil.Command(t, "image", "pull", "-q", "--store", store, host+"/private/other:1")
	cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+t.TempDir())
	_, stderr, code := testutil.RunCmd(t, cmd)
	if code != 125 || !strings.Contains(stderr, "UNAUTHORIZED") && !strings.Contains(stderr, "401") {
		t.Errorf("pull without credentials: exit status %d, stderr %q", code, stderr)
	}
}

// Many layers: each one's file is there. The child gives overlayfs one
// layer at a time (Linux 6.8's "lowerdir+"); an older kernel takes them
// in one page of mount data, and more than fit is a clear error, not a
// truncated root.
func TestImageManyLayers(t *testing.T) {
	e2e(t)
	layers := []v1.Layer{testutil.Layer(t, testutil.TarDir(t, testutil.BusyboxRootfs(t)))}
	for i := range 120 {
		layers = append(layers, testutil.Layer(t, testutil.Tar(t, testutil.TarEntry{Name: "layers/" + strconv.Itoa(i), Body: "x"})))
	}
	store, ref := imageStore(t, testutil.Image(t, v1.Config{Env: []string{"PATH=/bin"}}, layers[:30]...))
	if got := nookLine(t, runImage(t, store, ref, "--", "sh", "-c", "ls /layers | wc -l")...); got != "29" {
		t.Errorf("files from 29 layers: %q", got)
	}
	store, ref = imageStore(t, testutil.Image(t, v1.Config{Env: []string{"PATH=/bin"}}, layers...))
	out, stderr, code := testutil.Run(t, runImage(t, store, ref, "--", "sh", "-c", "ls /layers | wc -l")...)
	switch {
	case code == 0 && strings.TrimSpace(out) == "120":
	case code == 125 && strings.Contains(stderr, "too many layers"):
		t.Logf("this kernel takes fewer layers: %s", stderr)
	default:
		t.Errorf("121 layers: exit status %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// nook's generated /etc files go over a read-only image root too (the
// base layer has the mount points).
func TestImageReadOnlyWithGeneratedEtcFiles(t *testing.T) {
	e2e(t)
	store, ref := imageStore(t, testutil.BusyboxImage(t, v1.Config{Env: []string{"PATH=/bin"}}))
	out := nook(t, runImage(t, store, ref, "--read-only", "--dns", "192.0.2.53", "--add-host", "db:192.0.2.7", "--", "cat", "/etc/resolv.conf", "/etc/hosts")...)
	if !strings.Contains(out, "nameserver 192.0.2.53") || !strings.Contains(out, "db") {
		t.Errorf("/etc/resolv.conf and /etc/hosts in a read-only image root:\n%s", out)
	}
}
