package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nookrun/nook/container"
	"github.com/nookrun/nook/image"
	"github.com/nookrun/nook/network"
	"github.com/nookrun/nook/sandbox"
	"github.com/nookrun/nook/spec"
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

// Limits for untrusted code: the cgroup stops the program at 64 MiB, and
// the verdict says so, as `nook run --memory 64m --verdict -` does.
func ExampleConfig_Verdict() {
	cfg := &sandbox.Config{
		Args:       []string{"/bin/sh", "-c", `x=$(head -c 200000000 /dev/zero | tr "\\0" a)`},
		Memory:     64 << 20,
		Pids:       64,
		Limits:     container.Limits{WallTime: time.Minute},
		Accounting: true, // the memory peak and OOM kills, for the verdict
	}
	res, err := sandbox.Run(context.Background(), cfg)
	v := cfg.Verdict(res, err)
	fmt.Println(v.Status, v.ExitCode, v.OOMKilled, v.Limits.MemoryBytes)
	// Output:
	// ML 137 true 67108864
}

// An interactive shell on this program's terminal, as `nook run -t` runs
// it: a pty of its own, the terminal raw and its size followed, and the
// signals this program gets passed on. (Not run: it needs a terminal.)
func ExampleRun_tty() {
	res, err := sandbox.Run(context.Background(), &sandbox.Config{
		Args: []string{"/bin/sh"},
		TTY:  true, ForwardSignals: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	os.Exit(res.ExitCode)
}

// A mistake in a Config names the field.
func ExampleConfig_Spec_error() {
	_, err := (&sandbox.Config{Args: []string{"true"}, CPUs: -1}).Spec()
	fmt.Println(spec.AsFieldError(err).Field)
	fmt.Println(err)
	// Output:
	// Config.CPUs
	// Config.CPUs: -1: want a positive number of CPUs
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
