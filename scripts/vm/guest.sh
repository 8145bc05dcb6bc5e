#!/bin/bash
# The guest side of the VM harness (see scripts/vm/run.sh): PID 1 of the
# virtual machine once the initramfs has moved into the overlay of the
# host's root. It makes the machine look like a small Debian host (its own
# /proc, /sys, /dev, /tmp, /run, modules, loopback), mounts cgroups the way
# the mode asks, runs every test binary the host built, one package after
# another, writes each one's output and exit status to the shared out
# directory, and powers off.
#
# Modes (nook.mode= on the kernel command line):
#   v2      cgroup2 at /sys/fs/cgroup (the kernel has cgroup_no_v1=all)
#   v1      a tmpfs at /sys/fs/cgroup with the v1 hierarchies as systemd's
#           legacy mode mounts them (cpu,cpuacct together), no cgroup2
#   hybrid  each v1 controller on its own, name=systemd, and an empty
#           cgroup2 at /sys/fs/cgroup/unified: like this project's CI
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
umask 022

say() { echo "nook-vm guest: $*" >/dev/console; }
off() {
	sync
	echo o >/proc/sysrq-trigger 2>/dev/null
	busybox poweroff -f
	sleep 60
}
die() { say "$*"; echo "$*" >>"$out/error" 2>/dev/null; off; }
arg() { # the value of NAME= on the kernel command line
	local w
	for w in $(</proc/cmdline); do
		case $w in "$1"=*) echo "${w#*=}" ;; esac
	done
}

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=000 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev shm /dev/shm
mount -t tmpfs -o nosuid,nodev,mode=755 run /run
mount -t tmpfs -o nosuid,nodev,mode=755 varrun /var/tmp 2>/dev/null
chmod 1777 /var/tmp
ln -sf /proc/self/mounts /etc/mtab

mode=$(arg nook.mode)
run=$(arg nook.run)
out=/run/nook-vm-out
mkdir -p "$out"
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=512000 out "$out" ||
	{ say "cannot mount the out directory (tag out)"; off; }
[ -d "$run" ] || die "run directory $run is not there"

# modules: the kernel's tree from the host's cache, loaded on demand by
# modprobe (kmod's when the host has it, busybox's otherwise)
kver=$(uname -r)
mkdir -p "/lib/modules/$kver"
mount --bind "$(arg nook.modules)" "/lib/modules/$kver" || die "cannot bind the kernel's modules"
if [ ! -x /sbin/modprobe ]; then
	mkdir -p /run/nook-vm-bin
	ln -s "$(command -v busybox)" /run/nook-vm-bin/modprobe
	echo /run/nook-vm-bin/modprobe >/proc/sys/kernel/modprobe
fi

# /tmp on ext4, as on a Debian host: tmpfs has no user.* extended
# attributes before Linux 6.6, and unprivileged image stores need them. A
# sparse image on a tmpfs of its own, so on the guest's memory.
tmp_on_ext4() {
	"$(cat /proc/sys/kernel/modprobe)" loop 2>/dev/null
	mkdir -p /run/nook-vm-disk &&
		mount -t tmpfs -o size=1200m,mode=700 disk /run/nook-vm-disk &&
		truncate -s 1100m /run/nook-vm-disk/tmp.img &&
		mkfs.ext4 -q -F -O ^has_journal /run/nook-vm-disk/tmp.img &&
		mount -o loop,nosuid,nodev /run/nook-vm-disk/tmp.img /tmp &&
		chmod 1777 /tmp
}
tmp_on_ext4 || { say "no ext4 /tmp (loop device?): a tmpfs instead"; mount -t tmpfs -o nosuid,nodev,mode=1777 tmp /tmp; }

hostname nook-vm
echo nook-vm >/etc/hostname
ip link set lo up

# cgroups
case $mode in
v2)
	mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup || die "mount cgroup2"
	;;
v1)
	# as systemd mounts a legacy hierarchy: cpu and cpuacct together, and
	# net_cls with net_prio, each pair reachable under both names
	mount -t tmpfs -o nosuid,nodev,noexec,mode=755 cgroup /sys/fs/cgroup || die "tmpfs at /sys/fs/cgroup"
	for c in $(awk '!/^#/ && $4 == 1 { print $1 }' /proc/cgroups); do
		case $c in
		cpu | cpuacct) c=cpu,cpuacct ;;
		net_cls | net_prio) c=net_cls,net_prio ;;
		esac
		[ -d "/sys/fs/cgroup/$c" ] && continue
		mkdir -p "/sys/fs/cgroup/$c"
		mount -t cgroup -o "nosuid,nodev,noexec,$c" cgroup "/sys/fs/cgroup/$c" || die "mount the v1 $c hierarchy"
	done
	for c in cpu cpuacct; do ln -s cpu,cpuacct "/sys/fs/cgroup/$c"; done
	for c in net_cls net_prio; do ln -s net_cls,net_prio "/sys/fs/cgroup/$c"; done
	mkdir -p /sys/fs/cgroup/systemd
	mount -t cgroup -o nosuid,nodev,noexec,none,name=systemd cgroup /sys/fs/cgroup/systemd || die "mount name=systemd"
	;;
hybrid)
	# like this project's CI machines: each v1 controller on its own,
	# name=systemd, and an empty cgroup2 at /sys/fs/cgroup/unified
	mount -t tmpfs -o nosuid,nodev,noexec,mode=755 cgroup /sys/fs/cgroup || die "tmpfs at /sys/fs/cgroup"
	for c in $(awk '!/^#/ && $4 == 1 { print $1 }' /proc/cgroups); do
		mkdir -p "/sys/fs/cgroup/$c"
		mount -t cgroup -o "nosuid,nodev,noexec,$c" cgroup "/sys/fs/cgroup/$c" || die "mount the v1 $c controller"
	done
	mkdir -p /sys/fs/cgroup/systemd /sys/fs/cgroup/unified
	mount -t cgroup -o nosuid,nodev,noexec,none,name=systemd cgroup /sys/fs/cgroup/systemd || die "mount name=systemd"
	mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup/unified || die "mount cgroup2 at unified"
	;;
*) die "unknown mode '$mode' (v2, v1, hybrid)" ;;
esac

echo "$(uname -r) $mode" >"$out/booted"
say "up: kernel $(uname -r), cgroups $mode, $(nproc) CPUs, $(free -m | awk '/^Mem/ { print $2 }') MiB"

# the binaries, where an unprivileged user can run them too (the host's
# cache directory may be under /root, mode 700)
bins=/run/nook-vm
mkdir -p "$bins"
mount --bind -o ro "$run" "$bins" || die "cannot bind $run"
export NOOK_BINARY=$bins/nook ATTACKER_BINARY=$bins/attacker
# under software emulation, timing checks get more slack (testutil.Slack)
[ "$(arg nook.slow)" != 1 ] || export NOOK_TEST_SLOW=1
# flags for every test binary (-r of run.sh), one a line
flags=()
[ ! -f "$run/testflags" ] || mapfile -t flags <"$run/testflags"

# the tests: one line per package in $run/tests: import path, source
# directory, test binary; run nook.jobs= of them at a time (as go test -p
# does on a host), in the order given
timeout=$(arg nook.timeout)
jobs=$(arg nook.jobs)
[ -n "$jobs" ] && [ "$jobs" -gt 0 ] 2>/dev/null || jobs=1
one() { # NAME DIR BIN: run one package's tests; NAME.res gets "CODE SECS"
	local t0=$EPOCHREALTIME code
	(cd "$2" && exec "$3" -test.count=1 -test.v -test.timeout="${timeout:-20m}" "${flags[@]}") \
		</dev/null >"$out/$1.log" 2>&1
	code=$?
	awk -v c="$code" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d %.1f\n", c, b - a }' >"$out/$1.res"
}
# what the packages that ran since the last check left behind, checked
# whenever none runs (run.sh fails the mode), and removed, so that the
# packages after them are not blamed
leftovers() {
	local left d
	left=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d \( -name 'nook-*' -o -path '*/nook/*' \) 2>/dev/null | head -5)
	[ -n "$left" ] || return 0
	echo "$* (run together):" cgroups left behind: $left >>"$out/leftovers"
	for d in $(echo "$left" | sort -r); do rmdir "$d" 2>/dev/null; done
}
# a guest where no package has written a line for nook.stall= seconds is
# stuck or thrashing: what it was doing then (each task's state and kernel
# stack, the memory of nook's cgroups) goes to stall-N.txt beside the logs,
# once a stall, for run.sh to show, since the console says nothing about it
stall=$(arg nook.stall)
watch_stall() {
	local last= now quiet=0 told= n=0 f d
	while sleep 15; do
		now=$(stat -c %Y "$out"/*.log 2>/dev/null | sort -n | tail -1)
		if [ "$now" != "$last" ]; then
			last=$now quiet=0 told=
			continue
		fi
		quiet=$((quiet + 15))
		[ "$quiet" -ge "${stall:-180}" ] && [ -z "$told" ] || continue
		told=1
		n=$((n + 1))
		f=$out/stall-$n.txt
		{
			echo "no package wrote for $quiet s ($(cut -d' ' -f1 /proc/uptime) s after boot)"
			echo "== /proc/meminfo"; head -8 /proc/meminfo
			echo "== /proc/pressure"; grep -H . /proc/pressure/* 2>/dev/null
			echo "== tasks"; ps -eo pid,ppid,stat,pcpu,wchan:32,args --sort=-pcpu | head -40 | cut -c1-200
			echo "== nook's memory cgroups"
			for d in $(find /sys/fs/cgroup -mindepth 1 -type d \( -name 'nook-*' -o -path '*/nook/*' \) 2>/dev/null); do
				echo "-- $d"
				for v in memory.usage_in_bytes memory.limit_in_bytes memory.failcnt memory.oom_control memory.current memory.max memory.events cgroup.procs; do
					[ -r "$d/$v" ] && echo "$v: $(tr '\n' ' ' <"$d/$v")"
				done
				[ -r "$d/memory.stat" ] && grep -E '^(total_)?(cache|rss|mapped_file|active_file|inactive_file|pgmajfault|workingset_refault)' "$d/memory.stat" | tr '\n' ' ' && echo
			done
			echo 1 >/proc/sys/kernel/sysrq
			echo w >/proc/sysrq-trigger # blocked tasks
			echo l >/proc/sysrq-trigger # what each CPU runs
			sleep 2
			echo "== dmesg"; dmesg | tail -400
		} >"$f" 2>&1
		say "no package wrote for $quiet s: see ${f##*/}"
	done
}
watch_stall &
declare -A running=() # pid of a package's run -> "PKG NAME"
since=()
reap() { # wait for one package to end and record its result
	local pid pkg name res
	wait -n -p pid
	read -r pkg name <<<"${running[$pid]}"
	unset "running[$pid]"
	res=$(cat "$out/$name.res" 2>/dev/null) || res="1 0"
	echo "$pkg $res" >>"$out/results"
	since+=("$pkg")
	if [ ${#running[@]} -eq 0 ]; then
		leftovers "${since[@]}"
		since=()
	fi
}
while read -r pkg dir bin; do
	[ -n "$pkg" ] || continue
	while [ ${#running[@]} -ge "$jobs" ]; do reap; done
	name=${pkg//\//_}
	one "$name" "$dir" "$bins/${bin#"$run"/}" &
	running[$!]="$pkg $name"
done <"$run/tests"
while [ ${#running[@]} -gt 0 ]; do reap; done
echo done >"$out/finished"
off
