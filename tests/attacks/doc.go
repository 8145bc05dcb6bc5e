// Package attacks tries the known container escapes for real, from inside
// a nook sandbox, as root there, and checks that nook's defaults stop each
// one and that the host is unchanged afterwards.
//
// Every attack is made by a small static program, ./attacker, that the
// tests build, bind into the sandbox read-only (--bind DIR:/attack:ro) and
// run as `nook run [flags] -- /attack/attacker NAME`. The attacker refuses
// to do anything (exit 99) unless its pid and mount namespaces differ from
// the host's, whose inodes the test passes in NOOK_HOST_PIDNS and
// NOOK_HOST_MNTNS. Each attempt prints one line:
//
//	RESULT <name> blocked <errno or reason>
//	RESULT <name> ESCAPED <detail>
//
// and the tests assert "blocked" with the refusal expected. A few attacks
// are also run with --privileged, on harmless targets only, to show that
// the tests do see an escape when there is one; and with --seccomp
// unconfined, to show which layer (capabilities, read-only mounts, masked
// paths, the kernel) still stands without the seccomp filter.
//
// nook run without limits makes no cgroup (container.CgroupNeed), so the
// default cases run without a device cgroup; TestDevicesWithoutCgroup
// puts device nodes in reach (in the rootfs, bound in) and shows the
// layers that stop them there: nodev mounts and no CAP_MKNOD.
//
// On a machine without Go, give both binaries:
//
//	make nook
//	CGO_ENABLED=0 go build -o attacker ./tests/attacks/attacker
//	CGO_ENABLED=0 go test -c -o attacks.test ./tests/attacks/
//	# on the other machine, as root:
//	NOOK_BINARY=$PWD/nook ATTACKER_BINARY=$PWD/attacker ./attacks.test -test.v
package attacks
