#!/usr/bin/env bash
# run.sh: every test of nook inside a virtual machine that runs Debian's
# stock kernel (linux-image-amd64), once per cgroup layout:
#
#   v2      pure cgroup v2 (cgroup_no_v1=all on the kernel command line)
#   v1      pure cgroup v1, no unified hierarchy
#   hybrid  v1 controllers plus an empty cgroup2 at /sys/fs/cgroup/unified
#
#   scripts/vm/run.sh [-m MODE,...] [-p PACKAGE,...] [-r REGEXP] [-t TIMEOUT]
#
# -m picks the modes (all three by default, or $NOOK_VM_MODES), -p the Go
# packages whose tests run (import paths or ./dir patterns; all that have
# tests by default), -r the tests (go test's -run), -t the time each
# package's tests may take (go test's -timeout: $NOOK_VM_TEST_TIMEOUT, 20m
# by default). The guest runs $NOOK_VM_JOBS packages at a time (one per
# CPU by default, as go test -p does), the end-to-end suites first.
# $NOOK_VM_LOGS, when set, is a directory that receives each package's
# full -v output and the guest's console, per mode.
#
# The guest's root is this machine's own /, shared read-only over 9p
# (virtio) with a tmpfs overlay on top, so the tests find what they find
# here: a shell, coreutils, iproute2, busybox, python3... The kernel and
# its modules come from Debian's package, unpacked (never installed) into
# the cache directory, ${NOOK_VM_CACHE:-~/.cache/nook-vm}, with a small
# initramfs (static busybox, the modules for 9p and overlayfs, and
# scripts/vm/init). Both are kept between runs. The test binaries, the
# static nook and the attacker are built here (go test -c) and run there by
# scripts/vm/guest.sh; their output comes back through a second, writable
# 9p share and is printed as `go test` prints it, per mode.
#
# It uses KVM when /dev/kvm works and software emulation (TCG) when it does
# not. A guest that does not come up within $NOOK_VM_BOOT_TIMEOUT seconds
# (180), or does not finish within $NOOK_VM_TIMEOUT seconds (2400), is
# stopped and reported as a failure, with the end of the output of each
# package still running. One in which no package writes a line for
# $NOOK_VM_STALL seconds (180) reports what its tasks and kernel are doing
# (stall-N.txt), and goes on. Needs root, qemu-system-x86 and busybox-static
# (installed from Debian's packages when missing).
#
# Exit status: 0 when every package passed in every mode, 1 when one did
# not, 2 for a usage mistake.
set -euo pipefail
export PATH=$PATH:/usr/local/go/bin

# all of it in a function, which bash reads whole before it runs it: an
# edit of this file during a run cannot change the run
main() {
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${NOOK_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nook-vm}
modes=${NOOK_VM_MODES:-v2,v1,hybrid}
pkgs=./...
pkg_timeout=${NOOK_VM_TEST_TIMEOUT:-20m}
boot_timeout=${NOOK_VM_BOOT_TIMEOUT:-180}
mode_timeout=${NOOK_VM_TIMEOUT:-2400}
# seconds without a line from any package before the guest reports a stall
stall=${NOOK_VM_STALL:-180}
mem=${NOOK_VM_MEMORY:-3072}
cpus=${NOOK_VM_CPUS:-$(nproc)}
# packages that run at once in the guest, as go test -p does on a host
guest_jobs=${NOOK_VM_JOBS:-$cpus}
tags=osusergo,netgo

run_re=
usage() { echo "usage: $0 [-m v2,v1,hybrid] [-p PACKAGE,...] [-r REGEXP] [-t TIMEOUT]" >&2; exit 2; }
while getopts m:p:r:t: opt; do
	case $opt in
	m) modes=$OPTARG ;;
	p) pkgs=${OPTARG//,/ } ;;
	r) run_re=$OPTARG ;;
	t) pkg_timeout=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || usage
for m in ${modes//,/ }; do
	case $m in v2 | v1 | hybrid) ;; *) echo "$0: unknown mode '$m' (v2, v1, hybrid)" >&2; exit 2 ;; esac
done
[[ $stall =~ ^[1-9][0-9]*$ ]] || { echo "$0: NOOK_VM_STALL='$stall' is not a number of seconds" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "$0: needs root (the tests run as root in the guest, and 9p shares the whole /)" >&2; exit 2; }
case $repo in *[[:space:]]*) echo "$0: the repository's path $repo has a space; the kernel command line cannot carry it" >&2; exit 2 ;; esac

log() { echo "nook-vm: $*" >&2; }
fail() { log "$*"; exit 1; }

# --- what the host needs ---------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[[ -x /bin/busybox ]] && /bin/busybox --list | grep -x depmod >/dev/null || need+=(busybox-static)
if ((${#need[@]})); then
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- the kernel: Debian's linux-image-amd64, unpacked into the cache -------
mkdir -p "$cache"
kernel_dir() { # the newest unpacked kernel in the cache
	local d
	for d in "$cache"/kernel-*/; do if [[ -f $d/done ]]; then echo "${d%/}"; fi; done | sort -V | tail -1
}
kdir=$(kernel_dir)
if [[ -z $kdir ]]; then
	tmp=$(mktemp -d "$cache/download.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	chmod 755 "$tmp" # apt downloads as the _apt user where it can
	image() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }'; }
	pkg=$(image)
	if [[ -z $pkg ]] || ! (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1); then
		apt-get update -qq
		pkg=$(image)
		[[ -n $pkg ]] || fail "apt knows no linux-image-amd64"
		(cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) || fail "apt-get download $pkg failed"
	fi
	log "unpacking $pkg into $cache"
	dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
	kver=$(ls "$tmp/x/lib/modules")
	kdir=$cache/kernel-$kver
	rm -rf "$kdir"
	mkdir -p "$kdir"
	mv "$tmp/x/boot/vmlinuz-$kver" "$kdir/vmlinuz"
	mv "$tmp/x/lib/modules/$kver" "$kdir/modules"
	# modules.dep and friends, which the package's postinst would make
	mkdir -p "$tmp/dep/lib/modules"
	ln -s "$kdir/modules" "$tmp/dep/lib/modules/$kver"
	/bin/busybox depmod -b "$tmp/dep" "$kver"
	echo "$pkg" >"$kdir/done"
	rm -rf "$tmp"
	trap - EXIT
fi
kver=${kdir##*/kernel-}

# --- the initramfs: static busybox, the root's modules, init ---------------
# the modules that mounting the root needs, in load order (dependencies
# first), from modules.dep
root_modules=(virtio_pci 9pnet_virtio 9p overlay)
declare -A seen=()
order=()
add_module() {
	local name=$1 path deps d
	path=$(awk -F: -v n="$name" '{ f = $1; sub(".*/", "", f); sub("\\.ko.*", "", f); gsub("-", "_", f) } f == n { print $1; exit }' "$kdir/modules/modules.dep")
	[[ -n $path ]] || { [[ " $(cat "$kdir/modules/modules.builtin" 2>/dev/null | tr '\n' ' ') " == *"/$name.ko "* ]] && return; fail "module $name: not in $kdir/modules/modules.dep"; }
	[[ -z ${seen[$path]:-} ]] || return 0
	seen[$path]=1
	deps=$(awk -F': *' -v p="$path" '$1 == p { print $2; exit }' "$kdir/modules/modules.dep")
	for d in $deps; do
		d=${d##*/}
		d=${d%%.ko*}
		add_module "${d//-/_}"
	done
	order+=("$path")
}
for m in "${root_modules[@]}"; do add_module "$m"; done
initrd_key=$( (cat "$here/init" /bin/busybox; printf '%s\n' "$kver" "${order[@]}") | sha256sum | cut -c1-16)
initrd=$cache/initrd-$initrd_key.cpio.gz
if [[ ! -f $initrd ]]; then
	log "building the initramfs ($kver)"
	tmp=$(mktemp -d "$cache/initrd.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp"/{bin,dev,proc,sys,modules}
	cp /bin/busybox "$tmp/bin/busybox"
	cp "$here/init" "$tmp/init"
	chmod 755 "$tmp/init"
	: >"$tmp/modules/order"
	for p in "${order[@]}"; do
		f=${p##*/}
		case $f in
		*.xz) xz -dc "$kdir/modules/$p" >"$tmp/modules/${f%.xz}"; f=${f%.xz} ;;
		*.zst) zstd -qdc "$kdir/modules/$p" >"$tmp/modules/${f%.zst}"; f=${f%.zst} ;;
		*) cp "$kdir/modules/$p" "$tmp/modules/$f" ;;
		esac
		echo "$f" >>"$tmp/modules/order"
	done
	(cd "$tmp" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	# those of older kernels or older inits are not used again
	find "$cache" -maxdepth 1 -name 'initrd-*.cpio.gz' ! -path "$initrd" -delete
	rm -rf "$tmp"
	trap - EXIT
fi

# --- the binaries: nook, the attacker, one test binary per package ---------
run=$(mktemp -d "$cache/run.XXXXXX")
chmod 755 "$run"
qemu_pid=
cleanup() {
	[[ -z $qemu_pid ]] || kill "$qemu_pid" 2>/dev/null || true
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
t_build=$SECONDS
log "building nook, the attacker and the test binaries"
(
	cd "$repo"
	# -E as the Makefile links it: the entry point that replays a plain
	# nook exec before Go's runtime (internal/spawn/entry.c)
	CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-E nook_rt0" -o "$run/nook" ./cmd/nook
	CGO_ENABLED=0 go build -o "$run/attacker" ./tests/attacks/attacker
	# shellcheck disable=SC2086
	go list -tags "$tags" -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' $pkgs
) >"$run/packages.all" || fail "build failed"
# the end-to-end suites (tests/...) first: they take most of a mode's
# time, and the guest runs packages side by side, so the long ones start
# at once and the short ones fill the other places
awk '$1 ~ "/tests/" { print; next } { rest[++n] = $0 } END { for (i = 1; i <= n; i++) print rest[i] }' \
	"$run/packages.all" >"$run/packages"
mkdir -p "$run/bin"
cp "$here/guest.sh" "$run/guest.sh" # the guest runs this copy, whatever happens to the file meanwhile
# as many at a time as there are CPUs: linking a static test binary is
# one process's work, and the compiles share go's build cache
while read -r pkg dir; do
	bin=$run/bin/${pkg//\//_}.test
	while (($(jobs -rp | wc -l) >= $(nproc))); do wait -n || true; done
	(cd "$repo" && CGO_ENABLED=0 go test -c -tags "$tags" -o "$bin" "$pkg" &&
		touch "$bin.built") >"$bin.log" 2>&1 &
	echo "$pkg $dir $bin" >>"$run/tests"
done <"$run/packages"
wait
while read -r pkg dir bin; do
	[[ -f $bin.built ]] || { cat "$bin.log" >&2; fail "go test -c $pkg failed"; }
	rm -f "$bin.built" "$bin.log"
done <"$run/tests"
[[ -s $run/tests ]] || fail "no package with tests in $pkgs"
[[ -z $run_re ]] || printf '%s\n' "-test.run=$run_re" >"$run/testflags"
log "built $(wc -l <"$run/tests") test binaries in $((SECONDS - t_build)) s"

# --- KVM or TCG ------------------------------------------------------------
accel=(-accel tcg,thread=multi -cpu max)
accel_name=TCG
if [[ ${NOOK_VM_KVM:-auto} != no && -r /dev/kvm && -w /dev/kvm ]]; then
	accel=(-accel kvm -cpu host)
	accel_name=KVM
fi

# --- one boot per mode -----------------------------------------------------
# summarise LOG: the skipped tests with their reasons, and for a failed
# package the output of each failed test (or the log's end when no test
# failed: a panic or a time-out)
summarise() { # LOG CODE
	awk -v code="$2" '
	function put(n, l) { if (!(n in out)) { names[++nn] = n }; out[n] = out[n] l "\n"; last[n] = l }
	/^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; next }
	/^ *--- (PASS|FAIL|SKIP): / {
		st = $2; sub(":", "", st); n = $3; res[n] = st
		if (st == "SKIP") { why = last[n]; sub(/^ +/, "", why); skips[++ns] = "--- SKIP: " n ": " why }
		if (st == "FAIL") { fails++ }
		put(n, $0); next
	}
	{ put(cur, $0); tail[NR % 40] = $0 }
	END {
		for (i = 1; i <= ns; i++) print "    " skips[i]
		if (code == 0) exit
		for (i = 1; i <= nn; i++) if (res[names[i]] == "FAIL") printf "%s", out[names[i]]
		if (!fails) { print "    (no test failed: the end of the log)"; for (i = NR - 39; i <= NR; i++) if (i > 0) print tail[i % 40] }
	}' "$1"
}

status=0
summary=()
for mode in ${modes//,/ }; do
	out=$run/out-$mode
	mkdir -p "$out"
	: >"$out/results"
	cmdline="console=ttyS0 panic=-1 loglevel=4 random.trust_cpu=on rdinit=/init"
	cmdline+=" nook.mode=$mode nook.guest=$run/guest.sh nook.run=$run nook.modules=$kdir/modules nook.timeout=$pkg_timeout nook.jobs=$guest_jobs nook.stall=$stall"
	itest=
	if [[ $mode == v2 ]]; then
		cmdline+=" cgroup_no_v1=all"
		# the tests of a root that cannot be pivoted, from the initramfs
		itest=$(awk '$1 == "github.com/nookrun/nook/tests/e2e" { print $3 }' "$run/tests")
		[[ -z $itest ]] || cmdline+=" nook.itest=$itest"
	fi
	t0=$SECONDS
	for try in 1 2; do
		rm -f "$out/booted" "$out/console.log"
		append=$cmdline
		[[ $accel_name != TCG ]] || append+=" nook.slow=1"
		log "$mode: booting $kver ($accel_name, $cpus CPUs, $mem MiB)"
		qemu-system-x86_64 -machine q35 "${accel[@]}" -smp "$cpus" -m "$mem" \
			-nodefaults -no-user-config -display none -no-reboot \
			-kernel "$kdir/vmlinuz" -initrd "$initrd" -append "$append" \
			-serial "file:$out/console.log" \
			-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
			-virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap" \
			</dev/null >"$out/qemu.log" 2>&1 &
		qemu_pid=$!
		up=
		limit=$boot_timeout
		# a KVM guest is up in seconds, or hangs (nested virtualisation
		# often does): do not wait long for it
		[[ $accel_name != KVM ]] || limit=30
		for ((i = 0; i < limit; i++)); do
			[[ -f $out/booted ]] && { up=1; break; }
			kill -0 "$qemu_pid" 2>/dev/null || break
			sleep 1
		done
		[[ -z $up ]] || break
		kill "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
		qemu_pid=
		if [[ $accel_name == KVM ]]; then
			log "$mode: the guest did not come up with KVM; software emulation from now on"
			grep -m2 . "$out/qemu.log" | sed 's/^/nook-vm:   qemu: /' >&2 || true
			accel=(-accel tcg,thread=multi -cpu max)
			accel_name=TCG
			continue
		fi
		break
	done
	if [[ -z $up ]]; then
		log "$mode: the guest did not come up within $limit s; qemu said:"
		tail -20 "$out/qemu.log" >&2 || true
		log "$mode: the end of its console:"
		tail -30 "$out/console.log" >&2 || true
		summary+=("FAIL $mode: the guest did not come up")
		status=1
		continue
	fi
	log "$mode: up in $((SECONDS - t0)) s ($(cat "$out/booted"))"
	# print each package's result as the guest writes it; stop the guest at
	# the time limit
	mode_status=0
	done_n=0
	report() { # the results the guest added since the last call
		local pkg code secs
		while read -r pkg code secs; do
			if [[ $code == 0 ]]; then
				printf 'ok  \t%s\t%ss\t[%s]\n' "$pkg" "$secs" "$mode"
			else
				printf 'FAIL\t%s\t%ss\t[%s]\n' "$pkg" "$secs" "$mode"
				mode_status=1
			fi
			summarise "$out/${pkg//\//_}.log" "$code"
			done_n=$((done_n + 1))
		done < <(tail -n +$((done_n + 1)) "$out/results")
	}
	timed_out=
	while kill -0 "$qemu_pid" 2>/dev/null; do
		report
		if ((SECONDS - t0 > mode_timeout)); then
			timed_out=1
			kill "$qemu_pid" 2>/dev/null || true
			break
		fi
		sleep 2
	done
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=
	report
	{
		cat "$run/tests"
		[[ -z $itest ]] || echo "github.com/nookrun/nook/tests/e2e(initramfs)"
	} | while read -r pkg dir bin; do
		grep -qF "$pkg " "$out/results" && continue
		echo 1 >"$out/missing"
		log="$out/${pkg//\//_}.log"
		if [[ ! -s $log ]]; then
			printf 'FAIL\t%s\t(no result: the guest stopped before it)\t[%s]\n' "$pkg" "$mode"
			continue
		fi
		# it had started: it is what hung, or what the guest died in
		printf 'FAIL\t%s\t(no result: still running when the guest stopped; the end of its output:)\t[%s]\n' "$pkg" "$mode"
		tail -25 "$log" | sed 's/^/    /'
	done
	[[ ! -f $out/missing ]] || mode_status=1
	# nothing may leak: a cgroup a package left behind fails the mode, even
	# where the package's own leak checks missed it
	[[ ! -s $out/leftovers ]] || { log "$mode: left behind after a package:"; cat "$out/leftovers" >&2; mode_status=1; }
	[[ ! -s $out/error ]] || { log "$mode: the guest said:"; cat "$out/error" >&2; mode_status=1; }
	[[ -z $timed_out ]] || { log "$mode: stopped after $mode_timeout s"; mode_status=1; }
	# what the guest was doing when no package wrote for minutes (the
	# kernel's stacks follow in the file, kept with NOOK_VM_LOGS)
	for f in "$out"/stall-*.txt; do
		[[ -f $f ]] || continue
		log "$mode: ${f##*/}:"
		sed '/^== dmesg/q' "$f" | sed 's/^/    /' >&2
	done
	if [[ ! -f $out/finished && -z $timed_out ]]; then
		log "$mode: the guest stopped before the end; its console's end:"
		tail -30 "$out/console.log" >&2 || true
		mode_status=1
	fi
	if [[ -n ${NOOK_VM_LOGS:-} ]]; then
		mkdir -p "$NOOK_VM_LOGS/$mode"
		cp "$out"/*.log "$out"/*.txt "$out/results" "$NOOK_VM_LOGS/$mode/" 2>/dev/null || true
	fi
	((mode_status == 0)) && r=ok || { r=FAIL; status=1; }
	summary+=("$r $mode: $((SECONDS - t0)) s ($accel_name, kernel $kver)")
done
for s in "${summary[@]}"; do log "$s"; done
exit "$status"
}

main "$@"
