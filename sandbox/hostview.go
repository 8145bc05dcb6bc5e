package sandbox

import (
	"bufio"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostDirs are the host's system directories the host view shows, read-only.
// Everything else (/home, /root, /run, /var, /srv, /opt, /mnt...) stays out.
var hostDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

// HostView returns the mounts of the host view: each of the host's system
// directories that exists, read-only. A directory that is a symlink on the
// host (merged /usr) is bound from where it points.
//
// /etc is a read-only overlay of the host's /etc rather than a bind: its
// secrets are hidden by mounts on top of them, and a mount on a bound file
// goes away when the host renames another file over it (passwd, useradd
// and visudo all do), which would show the new file. On an overlay the
// mounts sit on the overlay's own entries, which the host cannot touch.
func HostView() []specs.Mount {
	var out []specs.Mount
	for _, d := range hostDirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		if d == "/etc" {
			out = append(out, specs.Mount{Destination: d, Type: "overlay", Source: "overlay",
				Options: []string{"lowerdir=/etc", "ro", "nosuid", "nodev"}})
			continue
		}
		out = append(out, specs.Mount{Destination: d, Type: "bind", Source: d,
			Options: []string{"rbind", "ro", "nosuid", "nodev"}})
	}
	return out
}

// secretFiles are files of /etc that a sandbox has no business reading:
// password hashes, sudo rules, private keys, stored credentials.
var secretFiles = []string{
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
	"/etc/sudoers", "/etc/sudoers.d", "/etc/security/opasswd",
	"/etc/ssl/private", "/etc/krb5.keytab", "/etc/credstore", "/etc/credstore.encrypted",
	"/etc/wireguard", "/etc/NetworkManager/system-connections", "/etc/ipsec.secrets",
	"/etc/ppp/chap-secrets", "/etc/ppp/pap-secrets", "/etc/docker/key.json",
	"/etc/subuid", "/etc/subgid", "/etc/.pwd.lock",
}

// HostSecrets returns the paths of the host view that are hidden: the
// files above and the ssh host keys that exist on this host.
func HostSecrets() []string {
	out := append([]string(nil), secretFiles...)
	keys, _ := filepath.Glob("/etc/ssh/ssh_host_*key")
	return append(out, keys...)
}

// MaskedPaths are hidden in every sandbox: kernel memory, keys, timers and
// firmware interfaces that leak host information or allow attacks.
func MaskedPaths() []string {
	return []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
}

// ReadonlyPaths are read-only in every sandbox: the kernel's knobs.
func ReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// systemMounts are the file systems every sandbox gets: its own /proc, a
// minimal /dev with its own pty instance and /dev/shm, /sys read-only and
// a private /tmp.
func systemMounts(newIPC, userns bool) []specs.Mount {
	pts := []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
	if !userns {
		pts = append(pts, "gid=5") // tty, which a user namespace may not map
	}
	m := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: pts},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
	}
	if newIPC {
		m = append(m, specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}})
	}
	return append(m,
		specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
	)
}

// defaultMap maps id to root inside, and, where the setuid helper exists
// and the subordinate-ID file gives the caller a range, that range to
// 1 and up.
//
// Both files list ranges by user (login name or UID), never by group:
// newgidmap(1) checks /etc/subgid for the user who runs it, as newuidmap(1)
// checks /etc/subuid. A user whose primary group has another number than
// the user (users, a shared group, a group taken before the user was made)
// has its group range under its user name.
func defaultMap(id, caller int, subFile, helper string) []specs.LinuxIDMapping {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(id), Size: 1}}
	if id == 0 {
		return m
	}
	if _, err := exec.LookPath(helper); err != nil {
		return m
	}
	start, count, ok := subRange(caller, subFile)
	if !ok {
		return m
	}
	return append(m, specs.LinuxIDMapping{ContainerID: 1, HostID: start, Size: count})
}

// subRange finds the first range of the user uid in /etc/subuid or
// /etc/subgid, listed by name or by number.
func subRange(uid int, file string) (start, count uint32, ok bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	names := map[string]bool{strconv.Itoa(uid): true}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		names[u.Username] = true
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fl) != 3 || !names[fl[0]] {
			continue
		}
		s, err1 := strconv.ParseUint(fl[1], 10, 32)
		c, err2 := strconv.ParseUint(fl[2], 10, 32)
		if err1 == nil && err2 == nil && c > 0 {
			return uint32(s), uint32(c), true
		}
	}
	return 0, 0, false
}
