package image_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/internal/testutil"
	"golang.org/x/sys/unix"
)

func openStore(t *testing.T) *image.Store {
	t.Helper()
	testutil.RequireRoot(t)
	s, err := image.Open(image.Options{Dir: filepath.Join(t.TempDir(), "store")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// layerDirs lists the unpacked layers of the store, base excluded.
func layerDirs(t *testing.T, s *image.Store) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Dir(), "layers"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != "base" {
			out = append(out, e.Name())
		}
	}
	return out
}

func tmpEntries(t *testing.T, s *image.Store) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestPullStoresLayersAndConfig(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	reg := testutil.Registry(t)
	cfg := v1.Config{Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"echo hi"}, Env: []string{"A=1"}, WorkingDir: "/tmp", User: "nobody"}
	testutil.Push(t, reg+"/test/busybox:1", testutil.BusyboxImage(t, cfg))

	var mu sync.Mutex
	var states []string
	img, err := s.Pull(context.Background(), reg+"/test/busybox:1", &image.PullOptions{Progress: func(p image.Progress) {
		mu.Lock()
		states = append(states, p.State)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(states, image.StateDone) {
		t.Errorf("progress states %q, want a %q", states, image.StateDone)
	}
	if want := reg + "/test/busybox:1"; !slices.Contains(img.Names, want) {
		t.Errorf("names %q, want %q", img.Names, want)
	}
	got, err := s.Get(reg + "/test/busybox:1")
	if err != nil || got.ID != img.ID {
		t.Fatalf("Get by name: %v, %v", got, err)
	}
	if got, err := s.Get(img.ShortID()); err != nil || got.ID != img.ID {
		t.Errorf("Get by short ID: %v, %v", got, err)
	}
	if got, err := s.Get(reg + "/test/busybox@" + img.Digest); err != nil || got.ID != img.ID {
		t.Errorf("Get by digest: %v, %v", got, err)
	}
	dirs := img.LayerDirs()
	if len(dirs) != 2 {
		t.Fatalf("layer dirs %q, want the layer and the base", dirs)
	}
	if fi, err := os.Stat(filepath.Join(dirs[0], "bin", "busybox")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/busybox in the layer: %v %v", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(dirs[0], "bin", "sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh: %q %v, want a symlink to busybox", l, err)
	}
	c, err := img.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.WorkingDir != "/tmp" || c.Config.User != "nobody" || !slices.Equal(c.Config.Env, []string{"A=1"}) {
		t.Errorf("config %+v", c.Config)
	}
	if uid, gid, err := img.User("nobody"); err != nil || uid != 65534 || gid != 65534 {
		t.Errorf("User(nobody) = %d:%d %v, want 65534:65534", uid, gid, err)
	}
	if _, _, err := img.User("nosuchuser"); err == nil {
		t.Error("User(nosuchuser): no error")
	}
	if len(tmpEntries(t, s)) != 0 {
		t.Errorf("tmp/ not empty after a pull: %q", tmpEntries(t, s))
	}
}

func TestLayersAreSharedBetweenImages(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	reg := testutil.Registry(t)
	base := testutil.Layer(t, testutil.TarDir(t, testutil.BusyboxRootfs(t)))
	one := testutil.Image(t, v1.Config{}, base, testutil.Layer(t, testutil.Tar(t, testutil.TarEntry{Name: "one", Body: "1"})))
	two := testutil.Image(t, v1.Config{}, base, testutil.Layer(t, testutil.Tar(t, testutil.TarEntry{Name: "two", Body: "2"})))
	testutil.Push(t, reg+"/a/one", one)
	testutil.Push(t, reg+"/a/two", two)
	if _, err := s.Pull(context.Background(), reg+"/a/one", nil); err != nil {
		t.Fatal(err)
	}
	var exists int
	if _, err := s.Pull(context.Background(), reg+"/a/two", &image.PullOptions{Progress: func(p image.Progress) {
		if p.State == image.StateExists {
			exists++
		}
	}}); err != nil {
		t.Fatal(err)
	}
	if exists != 1 {
		t.Errorf("%d layers reported as already there, want 1", exists)
	}
	if got := layerDirs(t, s); len(got) != 3 {
		t.Errorf("layers %q, want 3 (one shared)", got)
	}
	// rm of one keeps the shared layer; rm of both and a prune leave
	// nothing
	if _, err := s.Remove(context.Background(), reg+"/a/one"); err != nil {
		t.Fatal(err)
	}
	if got := layerDirs(t, s); len(got) != 2 {
		t.Errorf("after rm one: layers %q, want 2", got)
	}
	if _, err := s.Remove(context.Background(), reg+"/a/two"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
}

// assertEmpty checks that nothing but the store's skeleton is left.
func assertEmpty(t *testing.T, s *image.Store) {
	t.Helper()
	if imgs, err := s.List(); err != nil || len(imgs) != 0 {
		t.Errorf("images left: %v %v", imgs, err)
	}
	if got := layerDirs(t, s); len(got) != 0 {
		t.Errorf("layers left: %q", got)
	}
	for _, d := range []string{"blobs/sha256", "locks", "tmp"} {
		ents, _ := os.ReadDir(filepath.Join(s.Dir(), d))
		if len(ents) != 0 {
			t.Errorf("%s not empty: %d entries", d, len(ents))
		}
	}
}

func TestWhiteoutsBecomeOverlayWhiteouts(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	reg := testutil.Registry(t)
	lower := testutil.Tar(t,
		testutil.TarEntry{Name: "a/", Type: tar.TypeDir},
		testutil.TarEntry{Name: "a/gone", Body: "x"},
		testutil.TarEntry{Name: "a/kept", Body: "x"},
		testutil.TarEntry{Name: "d/", Type: tar.TypeDir},
		testutil.TarEntry{Name: "d/old", Body: "x"})
	upper := testutil.Tar(t,
		testutil.TarEntry{Name: "a/.wh.gone"},
		testutil.TarEntry{Name: "d/", Type: tar.TypeDir},
		testutil.TarEntry{Name: "d/.wh..wh..opq"},
		testutil.TarEntry{Name: "d/new", Body: "y"})
	testutil.Push(t, reg+"/w/h:1", testutil.Image(t, v1.Config{}, testutil.Layer(t, lower), testutil.Layer(t, upper)))
	img, err := s.Pull(context.Background(), reg+"/w/h:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	top := img.LayerDirs()[0]
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(top, "a", "gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("a/gone in the top layer: %v, mode %o rdev %d; want a 0/0 character device", err, st.Mode, st.Rdev)
	}
	if _, err := os.Lstat(filepath.Join(top, "a", ".wh.gone")); err == nil {
		t.Error("the .wh. file itself is in the layer")
	}
	buf := make([]byte, 8)
	n, err := unix.Getxattr(filepath.Join(top, "d"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("d's trusted.overlay.opaque: %q %v, want y", buf[:n], err)
	}
}

// hijack serves a registry and lets the test change blob responses.
func hijack(t *testing.T, change func(w http.ResponseWriter, r *http.Request, next http.Handler) bool) string {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if change != nil && change(w, r, reg) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestCorruptBlobIsRefused(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	img := testutil.Image(t, v1.Config{}, testutil.Layer(t, testutil.Tar(t, testutil.TarEntry{Name: "f", Body: strings.Repeat("data", 1000)})))
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	var corrupt bool
	reg := hijack(t, func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !corrupt || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			return false
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		b := rec.Body.Bytes()
		b[len(b)/2] ^= 0xff
		w.WriteHeader(rec.Code)
		w.Write(b)
		return true
	})
	testutil.Push(t, reg+"/c/x", img)
	corrupt = true
	_, err := s.Pull(context.Background(), reg+"/c/x", nil)
	if err == nil {
		t.Fatal("pull of a corrupt layer: no error")
	}
	if !strings.Contains(err.Error(), "sha256") {
		t.Errorf("error %q does not say which digest failed", err)
	}
	if got := layerDirs(t, s); len(got) != 0 {
		t.Errorf("a corrupt layer entered the store: %q", got)
	}
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Errorf("an image with a corrupt layer was recorded: %v", imgs)
	}
	// and a good pull after it works
	corrupt = false
	if _, err := s.Pull(context.Background(), reg+"/c/x", nil); err != nil {
		t.Fatal(err)
	}
}

// A malicious layer is refused, and nothing lands outside the store.
func TestMaliciousLayers(t *testing.T) {
	t.Parallel()
	testutil.RequireRoot(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "victim"), []byte("intact"), 0o644)
	rel := "../../../../../../../../.." + outside
	cases := []struct {
		name    string
		entries []testutil.TarEntry
		want    string // in the error
	}{
		{"dotdot", []testutil.TarEntry{{Name: "../../../../../../../.." + outside + "/pwned", Body: "x"}}, `".."`},
		{"dotdot-inside", []testutil.TarEntry{{Name: "a/../../pwned", Body: "x"}}, `".."`},
		{"absolute-symlink-then-write", []testutil.TarEntry{
			{Name: "link", Type: tar.TypeSymlink, Linkname: outside},
			{Name: "link/pwned", Body: "x"}}, "symbolic link"},
		{"relative-symlink-then-write", []testutil.TarEntry{
			{Name: "link", Type: tar.TypeSymlink, Linkname: rel},
			{Name: "link/pwned", Body: "x"}}, "symbolic link"},
		{"symlink-replaced-file", []testutil.TarEntry{
			{Name: "victim", Type: tar.TypeSymlink, Linkname: outside + "/victim"},
			{Name: "victim", Body: "overwritten"}}, ""},
		{"hardlink-dotdot", []testutil.TarEntry{
			{Name: "hl", Type: tar.TypeLink, Linkname: rel + "/victim"}}, `".."`},
		{"hardlink-absolute", []testutil.TarEntry{
			{Name: "hl", Type: tar.TypeLink, Linkname: outside + "/victim"}}, "hard link"},
		{"hardlink-through-symlink", []testutil.TarEntry{
			{Name: "s", Type: tar.TypeSymlink, Linkname: outside},
			{Name: "hl", Type: tar.TypeLink, Linkname: "s/victim"}}, "symbolic link"},
		{"whiteout-dotdot", []testutil.TarEntry{{Name: "a/.wh..."}}, `whiteout of ".."`},
		{"whiteout-dot", []testutil.TarEntry{{Name: ".wh.."}}, `whiteout of "."`},
		{"overlay-xattr", []testutil.TarEntry{
			{Name: "d/", Type: tar.TypeDir, PAX: map[string]string{"SCHILY.xattr.trusted.overlay.redirect": "/etc"}}}, "trusted.overlay.redirect"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t)
			dir := writeLayout(t, testutil.Image(t, v1.Config{}, testutil.Layer(t, testutil.Tar(t, c.entries...))), "evil")
			_, err := s.Import(context.Background(), dir, "", nil)
			if c.want == "" {
				// allowed: the later entry replaces the symlink
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q, want it to say %q", err, c.want)
				}
				if got := layerDirs(t, s); len(got) != 0 {
					t.Errorf("a bad layer entered the store: %q", got)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "victim")); string(b) != "intact" {
				t.Errorf("victim outside the store is %q", b)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 1 {
				t.Errorf("outside has %d entries, want only victim", len(ents))
			}
		})
	}
}

func TestDeviceNodesAreSkipped(t *testing.T) {
	t.Parallel()
	testutil.RequireRoot(t)
	var warnings []string
	s, err := image.Open(image.Options{Dir: t.TempDir(), Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	dir := writeLayout(t, testutil.Image(t, v1.Config{}, testutil.Layer(t, testutil.Tar(t,
		testutil.TarEntry{Name: "dev/", Type: tar.TypeDir},
		testutil.TarEntry{Name: "dev/sda", Type: tar.TypeBlock},
		testutil.TarEntry{Name: "suid", Body: "x", Mode: 0o4755}))), "dev")
	imgs, err := s.Import(context.Background(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	top := imgs[0].LayerDirs()[0]
	if _, err := os.Lstat(filepath.Join(top, "dev", "sda")); err == nil {
		t.Error("a block device was made")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "dev/sda") {
		t.Errorf("warnings %q", warnings)
	}
	if fi, err := os.Stat(filepath.Join(top, "suid")); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("setuid bit lost: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(s.Dir(), "layers")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("layers/ mode %v, want 0700 (setuid files only for sandboxes)", fi.Mode())
	}
}

func TestLimitsStopBombs(t *testing.T) {
	t.Parallel()
	testutil.RequireRoot(t)
	s, err := image.Open(image.Options{Dir: t.TempDir(), Limits: image.Limits{MaxFiles: 10, MaxBytes: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	big := testutil.Layer(t, testutil.Tar(t, testutil.TarEntry{Name: "zeros", Body: string(make([]byte, 4<<20))}))
	dir := writeLayout(t, testutil.Image(t, v1.Config{}, big), "big")
	if _, err := s.Import(context.Background(), dir, "", nil); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("a 4 MiB layer with a 1 MiB limit: %v", err)
	}
	var many []testutil.TarEntry
	for i := range 20 {
		many = append(many, testutil.TarEntry{Name: "f" + string(rune('a'+i))})
	}
	dir = writeLayout(t, testutil.Image(t, v1.Config{}, testutil.Layer(t, testutil.Tar(t, many...))), "many")
	if _, err := s.Import(context.Background(), dir, "", nil); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("20 files with a limit of 10: %v", err)
	}
	if got := layerDirs(t, s); len(got) != 0 {
		t.Errorf("layers: %q", got)
	}
}

func TestConcurrentPullsShareTheWork(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	reg := testutil.Registry(t)
	testutil.Push(t, reg+"/p/busybox", testutil.BusyboxImage(t, v1.Config{}))
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	ids := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// each pull opens its own store, as separate processes would
			st, err := image.Open(image.Options{Dir: s.Dir()})
			if err != nil {
				errs[i] = err
				return
			}
			img, err := st.Pull(context.Background(), reg+"/p/busybox", nil)
			errs[i] = err
			if img != nil {
				ids[i] = img.ID
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("pull %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("pull %d got image %s, pull 0 %s", i, ids[i], ids[0])
		}
	}
	if imgs, _ := s.List(); len(imgs) != 1 {
		t.Errorf("%d images recorded, want 1", len(imgs))
	}
	if got := layerDirs(t, s); len(got) != 1 {
		t.Errorf("layers %q, want 1", got)
	}
	if got := tmpEntries(t, s); len(got) != 0 {
		t.Errorf("tmp/: %q", got)
	}
}

// writeLayout writes img as an OCI layout with a ref.name annotation.
func writeLayout(t *testing.T, img v1.Image, refName string) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": refName})); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tarDirTo(t *testing.T, dir, file string) {
	t.Helper()
	if err := os.WriteFile(file, testutil.TarDir(t, dir), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportFormats(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	img := testutil.BusyboxImage(t, v1.Config{Cmd: []string{"/bin/sh"}})
	id, _ := img.ConfigName()

	// an OCI layout
	dir := writeLayout(t, img, "busybox:layout")
	got, err := s.Import(context.Background(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != id.String() || !slices.Contains(got[0].Names, "index.docker.io/library/busybox:layout") {
		t.Fatalf("layout import: %+v", got)
	}
	// an OCI archive of the same
	arch := filepath.Join(t.TempDir(), "oci.tar")
	tarDirTo(t, dir, arch)
	if got, err = s.Import(context.Background(), arch, "other/name:2", nil); err != nil {
		t.Fatal(err)
	}
	if got[0].ID != id.String() || !slices.Contains(got[0].Names, "index.docker.io/other/name:2") {
		t.Fatalf("archive import: %+v", got[0])
	}
	// a docker-save tarball
	tag, _ := name.NewTag("saved/busybox:3")
	dtar := filepath.Join(t.TempDir(), "docker.tar")
	if err := tarball.WriteToFile(dtar, tag, img); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Import(context.Background(), dtar, "", nil); err != nil {
		t.Fatal(err)
	}
	if got[0].ID != id.String() || !slices.Contains(got[0].Names, tag.Name()) {
		t.Fatalf("docker import: %+v", got[0])
	}
	if imgs, _ := s.List(); len(imgs) != 1 || len(imgs[0].Names) != 3 {
		t.Errorf("store: %+v, want one image with three names", imgs)
	}
	if got := layerDirs(t, s); len(got) != 1 {
		t.Errorf("layers: %q", got)
	}
	// rm by ID removes every name; prune leaves nothing
	if _, err := s.Remove(context.Background(), got[0].ShortID()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	reg := testutil.Registry(t)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>garbage</html>")
	}))
	defer garbage.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer failing.Close()
	notImage := filepath.Join(t.TempDir(), "x.tar")
	os.WriteFile(notImage, testutil.Tar(t, testutil.TarEntry{Name: "hello", Body: "x"}), 0o644)
	notTar := filepath.Join(t.TempDir(), "x.txt")
	os.WriteFile(notTar, []byte("just text, long enough to not be a tar header at all........"), 0o644)
	ctx := context.Background()
	for _, c := range []struct {
		what string
		err  error
		want string
	}{
		{"malformed reference", pullErr(s.Pull(ctx, "UPPER/Case::x", nil)), "reference"},
		{"unknown image", pullErr(s.Pull(ctx, reg+"/no/such:image", nil)), "UNKNOWN"},
		{"garbage registry", pullErr(s.Pull(ctx, strings.TrimPrefix(garbage.URL, "http://")+"/x/y", nil)), "manifest"},
		{"failing registry", pullErr(s.Pull(ctx, strings.TrimPrefix(failing.URL, "http://")+"/x/y", nil)), "500"},
		{"not an image", importErr(s.Import(ctx, notImage, "", nil)), "not an image"},
		{"not a tar", importErr(s.Import(ctx, notTar, "", nil)), "not an image"},
		{"missing file", importErr(s.Import(ctx, "/nonexistent/x.tar", "", nil)), "no such file"},
		{"unknown in store", getErr(s.Get("busybox")), "no such image"},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.what)
			continue
		}
		if !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %q, want it to say %q", c.what, c.err, c.want)
		}
	}
	if _, err := s.Get("busybox"); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("Get of an unknown image: %v, want ErrNotFound", err)
	}
	assertEmpty(t, s)
}

func pullErr(_ *image.Image, err error) error     { return err }
func importErr(_ []*image.Image, err error) error { return err }
func getErr(_ *image.Image, err error) error      { return err }

// A layer a sandbox uses survives rm and prune until the sandbox lets go.
func TestLayersInUseStay(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	dir := writeLayout(t, testutil.Image(t, v1.Config{}, testutil.Layer(t, testutil.Tar(t, testutil.TarEntry{Name: "f", Body: "x"}))), "inuse")
	imgs, err := s.Import(context.Background(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	release, err := imgs[0].Use(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(context.Background(), "inuse"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := layerDirs(t, s); len(got) != 1 {
		t.Errorf("a layer in use was removed: layers %q", got)
	}
	release()
	if _, err := s.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
	// and Use of the removed image says so
	if _, err := imgs[0].Use(context.Background()); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("Use of a removed image: %v", err)
	}
}

// A multi-platform index: the pull takes this machine's image, and the
// index's digest finds it afterwards.
func TestPullPicksThePlatform(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	reg := testutil.Registry(t)
	mine := testutil.Image(t, v1.Config{Cmd: []string{"mine"}}, testutil.Layer(t, testutil.Tar(t, testutil.TarEntry{Name: "mine"})))
	other := testutil.Image(t, v1.Config{Cmd: []string{"other"}}, testutil.Layer(t, testutil.Tar(t, testutil.TarEntry{Name: "other"})))
	cf, _ := other.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = "s390x"
	other, _ = mutate.ConfigFile(other, cf)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}})
	ref, _ := name.ParseReference(reg + "/multi/arch:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	img, err := s.Pull(context.Background(), ref.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := img.Config()
	if !slices.Equal(c.Config.Cmd, []string{"mine"}) {
		t.Errorf("pulled the image with Cmd %q, want this machine's", c.Config.Cmd)
	}
	d, _ := idx.Digest()
	if got, err := s.Get(reg + "/multi/arch@" + d.String()); err != nil || got.ID != img.ID {
		t.Errorf("Get by the index's digest: %v %v", got, err)
	}
	// another platform, asked for
	img, err = s.Pull(context.Background(), ref.String(), &image.PullOptions{Platform: &image.Platform{OS: "linux", Architecture: "s390x"}})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := img.Config(); !slices.Equal(c.Config.Cmd, []string{"other"}) {
		t.Errorf("--platform linux/s390x pulled the image with Cmd %q", c.Config.Cmd)
	}
}
