package image_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/internal/testutil"
)

// References read as docker reads them, and normalise to the names the
// store records.
func TestParseReference(t *testing.T) {
	t.Parallel()
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	good := map[string]string{
		"busybox":                      "index.docker.io/library/busybox:latest",
		"busybox:1.36":                 "index.docker.io/library/busybox:1.36",
		"docker.io/busybox":            "index.docker.io/library/busybox:latest",
		"index.docker.io/library/bb:x": "index.docker.io/library/bb:x",
		"user/app:V1_2.3-rc":           "index.docker.io/user/app:V1_2.3-rc",
		"localhost/app":                "localhost/app:latest",
		"localhost:5000/a/b/c:t":       "localhost:5000/a/b/c:t",
		"127.0.0.1:5000/app":           "127.0.0.1:5000/app:latest",
		"ghcr.io/org/app:1":            "ghcr.io/org/app:1",
		"[::1]:5000/app:1":             "[::1]:5000/app:1",
		"app@" + d:                     "index.docker.io/library/app@" + d,
		"quay.io/a/b:tag@" + d:         "quay.io/a/b@" + d,
	}
	for in, want := range good {
		r, err := image.ParseReference(in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", in, err)
			continue
		}
		if r.Name() != want {
			t.Errorf("ParseReference(%q).Name() = %q, want %q", in, r.Name(), want)
		}
	}
	for _, in := range []string{
		"", "UPPER/case", "app:", "app:bad/tag", "app@sha256:short", "app@md5:" + strings.Repeat("0", 32),
		"a@" + d + "@" + d, ":tag", "reg.io/", "a//b", "app:" + strings.Repeat("t", 129), "bad host:5000/app",
		"app:tag with space",
	} {
		if r, err := image.ParseReference(in); err == nil {
			t.Errorf("ParseReference(%q) = %q, want an error", in, r.Name())
		} else if !strings.Contains(err.Error(), "image reference") {
			t.Errorf("ParseReference(%q): error %q does not say what was wrong", in, err)
		}
	}
}

// The nook binary links none of the image libraries: their package
// initialisers ran at every start (regexps, tables), whether or not an
// image was touched. Tests may use them.
func TestNookLinksNoImageLibraries(t *testing.T) {
	t.Parallel()
	// the toolchain that built this test, else the one on PATH
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go command to list the nook binary's packages: %v", err)
		}
	}
	cmd := exec.Command(gobin, "list", "-deps", "-tags", "osusergo,netgo", "github.com/nookrun/nook/cmd/nook")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/google/go-containerregistry",
			"github.com/opencontainers/go-digest",
			"github.com/opencontainers/image-spec",
			"github.com/klauspost/compress",
			"github.com/docker/",
		} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("the nook binary links %s", pkg)
			}
		}
	}
}

// A registry that hands out Bearer tokens: nook asks the realm for a
// pull token of the repository, with the credentials it was given, and
// uses it.
func TestPullWithBearerToken(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	const token = "tok-3f9a"
	var asked atomic.Value
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		asked.Store(r.URL.Query().Get("scope") + " " + r.URL.Query().Get("service") + " " + u + ":" + p)
		if u != "nook" || p != "s3cret" {
			http.Error(w, `{"errors":[{"code":"DENIED","message":"bad password"}]}`, http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"access_token": token})
	}))
	defer tokens.Close()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("Authorization") == "Bearer "+token {
			reg.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+tokens.URL+`/token",service="test.registry",scope="repository:private/app:pull"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	// pushed through an unguarded door to the same registry
	open := httptest.NewServer(reg)
	defer open.Close()
	testutil.Push(t, strings.TrimPrefix(open.URL, "http://")+"/private/app:1", testutil.BusyboxImage(t, v1.Config{}))

	creds := func(password string) image.CredentialsFunc {
		return func(_ context.Context, registry, repository string) (image.Credentials, error) {
			if registry != host || repository != "private/app" {
				t.Errorf("credentials asked for %s %s", registry, repository)
			}
			return image.Credentials{Username: "nook", Password: password}, nil
		}
	}
	if _, err := s.Pull(context.Background(), host+"/private/app:1", &image.PullOptions{Credentials: creds("s3cret")}); err != nil {
		t.Fatal(err)
	}
	if got, want := asked.Load(), "repository:private/app:pull test.registry nook:s3cret"; got != want {
		t.Errorf("token request %q, want %q", got, want)
	}
	_, err := s.Pull(context.Background(), host+"/private/app:1", &image.PullOptions{Credentials: creds("wrong")})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "bad password") {
		t.Errorf("pull with a wrong password: %v, want the realm's 401 and its message", err)
	}
}

// zstd-compressed layers (as podman and buildah push them) unpack, and
// their digests are checked as gzip ones are.
func TestPullZstdLayer(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	reg := testutil.Registry(t)
	tarball_ := testutil.TarDir(t, testutil.BusyboxRootfs(t))
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarball_)), nil
	}, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := l.MediaType(); !strings.Contains(string(mt), "zstd") {
		t.Fatalf("test layer media type %q, want zstd", mt)
	}
	testutil.Push(t, reg+"/zstd/busybox:1", testutil.Image(t, v1.Config{}, l))
	img, err := s.Pull(context.Background(), reg+"/zstd/busybox:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(img.LayerDirs()[0], "bin", "busybox")); err != nil {
		t.Errorf("bin/busybox of a zstd layer: %v", err)
	}
	if len(tmpEntries(t, s)) != 0 {
		t.Errorf("tmp/ not empty after a pull: %q", tmpEntries(t, s))
	}
}

// Credentials as docker keeps them: "auths" in $DOCKER_CONFIG/config.json
// (Docker Hub's under its v1 URL), and credential helpers.
func TestDockerConfigCredentials(t *testing.T) {
	dir := t.TempDir()
	helper := filepath.Join(dir, "docker-credential-nooktest")
	// a helper answers "get" with the server on stdin
	script := `#!/bin/sh
read server
case "$server" in
helped.example:5000) echo '{"ServerURL":"helped.example:5000","Username":"hu","Secret":"hs"}' ;;
*) echo "credentials not found in native keychain"; exit 1 ;;
esac
`
	if err := os.WriteFile(helper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := `{"auths":{
		"https://index.docker.io/v1/":{"auth":"aHViOmh1YnB3"},
		"plain.example":{"username":"pu","password":"pp"},
		"https://urlkey.example/v2/":{"auth":"dXU6dXA="}},
	"credHelpers":{"helped.example:5000":"nooktest"}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	for _, c := range []struct{ registry, user, password string }{
		{"index.docker.io", "hub", "hubpw"},
		{"plain.example", "pu", "pp"},
		{"urlkey.example", "uu", "up"},
		{"helped.example:5000", "hu", "hs"},
		{"unknown.example", "", ""},
	} {
		got, err := image.DockerConfigCredentials(context.Background(), c.registry, "some/repo")
		if err != nil {
			t.Errorf("%s: %v", c.registry, err)
			continue
		}
		if got.Username != c.user || got.Password != c.password {
			t.Errorf("%s: credentials %q:%q, want %q:%q", c.registry, got.Username, got.Password, c.user, c.password)
		}
	}
}

// An OCI layout's manifests are checked against the digests its index
// gives, as a registry's are: a changed one is refused, and nothing of
// it enters the store.
func TestImportRefusesATamperedLayout(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	dir := writeLayout(t, testutil.BusyboxImage(t, v1.Config{}), "tampered:1")
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ix struct{ Manifests []struct{ Digest string } }
	if err := json.Unmarshal(b, &ix); err != nil || len(ix.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, b)
	}
	blob := filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(ix.Manifests[0].Digest, "sha256:"))
	m, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blob, append(m, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.Import(context.Background(), dir, "", nil)
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Errorf("import of a layout with a changed manifest: %v, want a digest mismatch", err)
	}
	assertEmpty(t, s)
}
