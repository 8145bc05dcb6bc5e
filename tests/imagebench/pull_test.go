// Package imagebench times `nook image pull` and `nook image import`
// against skopeo, podman and umoci on the same image from the same local
// registry. It is a benchmark, not a test: it runs only with
// NOOK_BENCH_PULL=1 (scripts/bench-pull.sh), and prints a table.
package imagebench

import (
	"archive/tar"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/nookrun/nook/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// layer makes a tar of about size bytes: files of 64 KiB to 1 MiB, half
// of them random (incompressible), half text (compressible), as real
// images mix binaries and text.
func layer(t *testing.T, seed int64, size int) []byte {
	r := rand.New(rand.NewSource(seed))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/", seed), Typeflag: tar.TypeDir, Mode: 0o755})
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog 0123456789\n"), 1<<14)
	for i := 0; buf.Len() < size; i++ {
		n := 64<<10 + r.Intn(1<<20-64<<10)
		body := make([]byte, n)
		if i%2 == 0 {
			r.Read(body)
		} else {
			copy(body, text[r.Intn(1000):])
		}
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/f%05d", seed, i), Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	tw.Close()
	return buf.Bytes()
}

func timeIt(t *testing.T, runs int, prepare func(i int), name string, args func(i int) []string) time.Duration {
	t.Helper()
	var ds []time.Duration
	for i := range runs {
		if prepare != nil {
			prepare(i)
		}
		a := args(i)
		start := time.Now()
		out, err := exec.Command(name, a...).CombinedOutput()
		ds = append(ds, time.Since(start))
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, testutil.Quote(a), err, out)
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func TestPullBench(t *testing.T) {
	if os.Getenv("NOOK_BENCH_PULL") == "" {
		t.Skip("a benchmark: NOOK_BENCH_PULL=1 to run it")
	}
	testutil.RequireRoot(t)
	nook := testutil.Nook(t)
	runs := 3
	var layers []v1.Layer
	for i := range 4 {
		layers = append(layers, testutil.Layer(t, layer(t, int64(i), 25<<20)))
	}
	img := testutil.Image(t, v1.Config{}, layers...)
	reg := testutil.Registry(t)
	ref := reg + "/bench/big:1"
	testutil.Push(t, ref, img)
	var sent int64
	for _, l := range layers {
		n, _ := l.Size()
		sent += n
	}
	dir := t.TempDir()
	fresh := func(p string) func(int) { return func(int) { os.RemoveAll(p) } }
	type row struct {
		what string
		d    time.Duration
	}
	var rows []row
	store := filepath.Join(dir, "store")
	rows = append(rows, row{"nook image pull (download, verify, unpack)", timeIt(t, runs, fresh(store), nook, func(int) []string {
		return []string{"image", "pull", "-q", "--store", store, ref}
	})})
	if _, err := exec.LookPath("skopeo"); err == nil {
		lay := filepath.Join(dir, "skopeo")
		rows = append(rows, row{"skopeo copy to an OCI layout (download, verify)", timeIt(t, runs, fresh(lay), "skopeo", func(int) []string {
			return []string{"copy", "-q", "--src-tls-verify=false", "docker://" + ref, "oci:" + lay + ":big"}
		})})
		if _, err := exec.LookPath("umoci"); err == nil {
			bundle := filepath.Join(dir, "bundle")
			rows = append(rows, row{"umoci unpack of that layout", timeIt(t, runs, fresh(bundle), "umoci", func(int) []string {
				return []string{"unpack", "--image", lay + ":big", bundle}
			})})
			store2 := filepath.Join(dir, "store2")
			rows = append(rows, row{"nook image import of that layout", timeIt(t, runs, fresh(store2), nook, func(int) []string {
				return []string{"image", "import", "-q", "--store", store2, lay}
			})})
		}
	}
	if _, err := exec.LookPath("podman"); err == nil {
		root := filepath.Join(dir, "podman")
		run, _ := os.MkdirTemp("", "pm")
		defer os.RemoveAll(run)
		p := []string{"--root", root, "--runroot", run, "--storage-driver", "overlay", "--events-backend", "none", "--cgroup-manager", "cgroupfs"}
		rows = append(rows, row{"podman pull (overlay driver)", timeIt(t, runs, func(int) {
			exec.Command("podman", append(p, "system", "reset", "-f")...).Run()
			os.RemoveAll(root)
		}, "podman", func(int) []string {
			return append(p, "pull", "-q", "--tls-verify=false", ref)
		})})
		exec.Command("podman", append(p, "system", "reset", "-f")...).Run()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "image: 4 layers, %d MB as sent, 100 MB unpacked; medians of %d runs\n", sent/1e6, runs)
	for _, r := range rows {
		fmt.Fprintf(&b, "%-50s %8.0f ms\n", r.what, float64(r.d.Microseconds())/1000)
	}
	t.Log("\n" + b.String())
	fmt.Print(b.String())
}
