package sandbox_test

import (
	"context"
	"fmt"

	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/sandbox"
)

// A command in new pid, mount, uts, ipc, net and cgroup namespaces, on the
// host's system read-only.
func ExampleRun() {
	res, err := sandbox.Run(context.Background(), &sandbox.Config{
		Args: []string{"/bin/sh", "-c", "echo PID $$ on $(hostname)"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("exit status", res.ExitCode)
	// Output:
	// PID 2 on nook
	// exit status 0
}

// Limits for untrusted code: the cgroup stops the program at 64 MiB.
func ExampleConfig_limits() {
	limit := int64(64 << 20)
	cfg := &sandbox.Config{
		Args: []string{"/bin/sh", "-c", `x=$(head -c 200000000 /dev/zero | tr "\\0" a)`},
	}
	cfg.Resources = sandbox.Memory(limit)
	res, err := sandbox.Run(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("exit status", res.ExitCode, "oom kills", res.Cgroup.OOMKills > 0)
	// Output:
	// exit status 137 oom kills true
}

// An image: pulled into the store (or imported: Store.Import), then run
// on an overlay root with its own Entrypoint, Cmd, Env, WorkingDir and
// User.
func ExampleConfig_image() {
	st, err := image.Open(image.Options{}) // /var/lib/nook, or ~/.local/share/nook
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := st.Pull(context.Background(), "registry.example:5000/tools/busybox:1", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := sandbox.Run(context.Background(), &sandbox.Config{
		Image: img,
		Args:  []string{"sh", "-c", "echo hello > /written-to-the-overlay; cat /written-to-the-overlay"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("exit status", res.ExitCode)
}
