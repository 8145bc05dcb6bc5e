package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nookrun/nook/image"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// imageOptions are the flags every `nook image` command shares.
type imageOptions struct {
	store string
}

func (o *imageOptions) open(cmd *cobra.Command) (*image.Store, error) {
	return image.Open(image.Options{Dir: o.store, Warn: func(msg string) {
		fmt.Fprintf(cmd.ErrOrStderr(), "nook: warning: %s\n", msg)
	}})
}

func newImageCmd() *cobra.Command {
	o := &imageOptions{}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Pull, import, list and remove OCI images",
		Long: `Manage the images "nook run --image" runs: pull them from a registry,
import them from files, list, inspect and remove them.

The store is /var/lib/nook (~/.local/share/nook for a user other than
root), or --store DIR. Each layer is unpacked once and shared by every
image that has it; every blob is checked against its digest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError{errors.New("no image command given (pull, import, ls, rm, inspect, prune)")}
		},
	}
	cmd.PersistentFlags().StringVar(&o.store, "store", "", "the image store `DIR` (default /var/lib/nook; ~/.local/share/nook unprivileged)")
	cmd.AddCommand(newImagePullCmd(o), newImageImportCmd(o), newImageLsCmd(o), newImageRmCmd(o), newImageInspectCmd(o), newImagePruneCmd(o))
	return cmd
}

func newImagePullCmd(o *imageOptions) *cobra.Command {
	var quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] REF",
		Short: "Fetch an image from a registry",
		Long: `Fetch REF (busybox, registry.example:5000/team/app:1.2, name@sha256:...)
with the registry v2 protocol, for linux on this machine's architecture.
Credentials come from the docker config file ($DOCKER_CONFIG/config.json
or ~/.docker/config.json, and its credential helpers). Registries on
loopback and private addresses are spoken to over plain HTTP. Layers
compressed with zstd are decompressed by the zstd program.

Progress (per layer: bytes and rate) goes to stderr; the image's ID to
stdout.`,
		Example: `  nook image pull busybox
  nook image pull 127.0.0.1:5000/test/app:latest`,
		Args: wantArgs(1, "REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := o.open(cmd)
			if err != nil {
				return err
			}
			po := &image.PullOptions{}
			if platform != "" {
				if po.Platform, err = image.ParsePlatform(platform); err != nil {
					return usageError{fmt.Errorf("--platform %q: %w", platform, err)}
				}
			}
			p := newProgress(cmd.ErrOrStderr(), quiet)
			po.Progress = p.report
			img, err := st.Pull(cmd.Context(), args[0], po)
			p.finish()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress")
	cmd.Flags().StringVar(&platform, "platform", "", "the image for `OS/ARCH[/VARIANT]` out of a multi-platform one (default: linux on this machine's)")
	return cmd
}

func newImageImportCmd(o *imageOptions) *cobra.Command {
	var quiet bool
	var as string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|DIR",
		Short: "Read images from an OCI layout, an OCI archive or a docker-save tarball",
		Long: `Read the images in FILE or DIR into the store: an OCI image layout
(a directory), an OCI archive (a tar of one, as "umoci" or "podman save
--format oci-archive" write), or a "docker save" / "podman save" tarball.

Images are named as the file names them (the layout's ref.name or
io.containerd.image.name annotations, the tarball's RepoTags), or --name.
Their IDs go to stdout.`,
		Example: `  nook image import ./busybox.tar
  nook image import --name mytool:1.0 ./oci-layout-dir`,
		Args: wantArgs(1, "FILE|DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := o.open(cmd)
			if err != nil {
				return err
			}
			p := newProgress(cmd.ErrOrStderr(), quiet)
			imgs, err := st.Import(cmd.Context(), args[0], as, &image.PullOptions{Progress: p.report})
			p.finish()
			for _, img := range imgs {
				fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress")
	cmd.Flags().StringVar(&as, "name", "", "name the image `NAME` (an archive with one image)")
	return cmd
}

func newImageLsCmd(o *imageOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List the images in the store",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := o.open(cmd)
			if err != nil {
				return err
			}
			imgs, err := st.List()
			if err != nil {
				return err
			}
			if asJSON {
				if imgs == nil {
					imgs = []*image.Image{}
				}
				return writeJSON(cmd.OutOrStdout(), imgs)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tID\tLAYERS\tSIZE\tCREATED")
			for _, img := range imgs {
				names := img.Names
				if len(names) == 0 {
					names = []string{"<none>"}
				}
				for _, n := range names {
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", shortName(n), img.ShortID(), len(img.Layers), humanBytes(img.Size), img.Created.Local().Format(time.DateTime))
				}
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newImageRmCmd(o *imageOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "rm REF...",
		Aliases: []string{"remove"},
		Short:   "Remove images",
		Long: `Remove names from the store; an image left with no name is removed, and
so are its layers that no other image has. A name removes that name; an
ID or a digest removes the image. Layers a running sandbox uses stay until
"nook image prune".`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("no image given (nook image rm REF...)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := o.open(cmd)
			if err != nil {
				return err
			}
			removed, err := st.Remove(cmd.Context(), args...)
			for _, img := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			}
			return err
		},
	}
}

func newImageInspectCmd(o *imageOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect REF",
		Short: "Print an image's record, config and manifest as JSON",
		Args:  wantArgs(1, "REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := o.open(cmd)
			if err != nil {
				return err
			}
			img, err := st.Get(args[0])
			if err != nil {
				return err
			}
			cfg, err := img.Config()
			if err != nil {
				return err
			}
			m, err := img.Manifest()
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), struct {
				*image.Image
				Config   any `json:"config"`
				Manifest any `json:"manifest"`
			}{img, cfg, m})
		},
	}
}

func newImagePruneCmd(o *imageOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Remove unnamed images, unused layers and what interrupted pulls left",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := o.open(cmd)
			if err != nil {
				return err
			}
			r, err := st.Prune(cmd.Context())
			if r != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %d images, %d layers, %d blobs: %s\n", len(r.Images), len(r.Layers), r.Blobs, humanBytes(r.Bytes))
			}
			return err
		},
	}
}

// wantArgs is cobra.ExactArgs as a usage error that says what is wanted.
func wantArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("want %s (see '%s --help')", what, cmd.CommandPath())}
		}
		return nil
	}
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// progress shows a pull's layers: on a terminal one line each, redrawn in
// place; otherwise a plain line per layer when it is done.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	quiet  bool
	tty    bool
	order  []string
	last   map[string]image.Progress
	drawn  int
	lastAt time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet, last: map[string]image.Progress{}}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) report(r image.Progress) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.last[r.Layer]; !ok {
		p.order = append(p.order, r.Layer)
	}
	p.last[r.Layer] = r
	if !p.tty {
		if r.State != image.StateDownloading {
			fmt.Fprintln(p.w, progressLine(r))
		}
		return
	}
	if r.State == image.StateDownloading && time.Since(p.lastAt) < 100*time.Millisecond {
		return
	}
	p.redraw()
}

func (p *progress) redraw() {
	p.lastAt = time.Now()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, l := range p.order {
		b.WriteString("\x1b[2K")
		b.WriteString(progressLine(p.last[l]))
		b.WriteByte('\n')
	}
	p.drawn = len(p.order)
	io.WriteString(p.w, b.String())
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && len(p.order) > 0 {
		p.redraw()
	}
}

func progressLine(r image.Progress) string {
	id := strings.TrimPrefix(r.Layer, "sha256:")
	id = id[:min(12, len(id))]
	switch r.State {
	case image.StateExists:
		return fmt.Sprintf("%s: already in the store", id)
	case image.StateDone:
		return fmt.Sprintf("%s: %s in %s (%s/s)", id, humanBytes(r.Done), r.Elapsed.Round(time.Millisecond), humanBytes(rate(r)))
	}
	total := "?"
	if r.Total > 0 {
		total = humanBytes(r.Total)
	}
	return fmt.Sprintf("%s: %s / %s (%s/s)", id, humanBytes(r.Done), total, humanBytes(rate(r)))
}

func rate(r image.Progress) int64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return int64(float64(r.Done) / r.Elapsed.Seconds())
}

// shortName drops Docker Hub's registry and "library/" from a name, as
// users write them ("busybox:latest").
func shortName(n string) string {
	n = strings.TrimPrefix(n, "index.docker.io/")
	return strings.TrimPrefix(n, "library/")
}
