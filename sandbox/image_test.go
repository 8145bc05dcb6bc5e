//go:build linux && amd64

package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/internal/testutil"
	"github.com/nookrun/nook/sandbox"
)

// From Go, as from the command line: an image's config is the default,
// Config's fields win, and Run holds the layers while it runs.
func TestRunImage(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.CheckNoLeaks(t)
	dir := t.TempDir()
	lay, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	img := testutil.BusyboxImage(t, v1.Config{Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{`echo "$GREETING from $(pwd) as $(id -u)"`},
		Env: []string{"PATH=/bin", "GREETING=hello"}, WorkingDir: "/etc", User: "nobody"})
	if err := lay.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "go/api:1"})); err != nil {
		t.Fatal(err)
	}
	st, err := image.Open(image.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Import(context.Background(), filepath.Join(dir, "layout"), "", nil); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get("go/api:1")
	if err != nil {
		t.Fatal(err)
	}
	run := func(c *sandbox.Config) string {
		t.Helper()
		out, err := os.CreateTemp(dir, "out")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		c.Image, c.Stdout, c.Env = got, out, append(c.Env, testutil.MarkEnv(t))
		res, err := sandbox.Run(context.Background(), c)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("Run: %v %+v", err, res)
		}
		b, _ := os.ReadFile(out.Name())
		return strings.TrimSpace(string(b))
	}
	if s := run(&sandbox.Config{}); s != "hello from /etc as 65534" {
		t.Errorf("the image's config: %q", s)
	}
	if s := run(&sandbox.Config{Args: []string{"echo $GREETING $(pwd) $(id -u)"}, Env: []string{"GREETING=hi"}, Workdir: "/tmp", UserSet: true}); s != "hi /tmp 0" {
		t.Errorf("Config over the image's config: %q", s)
	}
	if _, err := (&sandbox.Config{Image: got, Rootfs: dir}).Spec(); err == nil {
		t.Error("Rootfs and Image together: no error")
	}
	if _, err := (&sandbox.Config{Image: got, ReadOnly: true, Keep: dir}).Spec(); err == nil {
		t.Error("Keep with ReadOnly: no error")
	}
}
