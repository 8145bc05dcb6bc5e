package sandbox_test

import (
	"context"
	"fmt"

	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/network"
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

// A sandbox on bridge nook0 (made on first use) with an address of its
// own, a default route and masquerade; port 8080 of the host goes to its
// port 80.
func ExampleNet_bridge() {
	port, _ := network.ParsePort("8080:80")
	res, err := sandbox.Run(context.Background(), &sandbox.Config{
		Args: []string{"/bin/sh", "-c", "ip -4 -o addr show eth0 | grep -q 'inet 10\\.' && echo on the bridge"},
		Net:  sandbox.Net{Mode: sandbox.NetBridge, Publish: []network.Port{port}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("exit status", res.ExitCode)
	// (Not run by go test: it would leave bridge nook0 on the host, as
	// `nook run --net bridge` does until `nook net reset`.)
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
	// (Not run by go test: it needs a registry.)
}
