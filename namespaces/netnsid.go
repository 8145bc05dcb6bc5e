package namespaces

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

func unsafePointer(p *uint32) unsafe.Pointer { return unsafe.Pointer(p) }

// netnsID asks the kernel (RTM_GETNSID) which ID the current net namespace
// has given the net namespace open as fd; -1 (NETNSA_NSID_NOT_ASSIGNED)
// when it has given it none.
func netnsID(fd int) (int, error) {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(s)
	if err := unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return -1, fmt.Errorf("netlink bind: %w", err)
	}
	// nlmsghdr, rtgenmsg (padded to 4), one NETNSA_FD attribute
	const attrLen = unix.SizeofRtAttr + 4
	msgLen := unix.NLMSG_HDRLEN + 4 + attrLen
	b := make([]byte, msgLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(msgLen))
	ne.PutUint16(b[4:], unix.RTM_GETNSID)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], 1) // sequence
	b[unix.NLMSG_HDRLEN] = unix.AF_UNSPEC
	a := b[unix.NLMSG_HDRLEN+4:]
	ne.PutUint16(a[0:], attrLen)
	ne.PutUint16(a[2:], unix.NETNSA_FD)
	ne.PutUint32(a[4:], uint32(fd))
	if err := unix.Sendto(s, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return -1, fmt.Errorf("RTM_GETNSID: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(s, buf, 0)
	if err != nil {
		return -1, fmt.Errorf("RTM_GETNSID: %w", err)
	}
	for d := buf[:n]; len(d) >= unix.NLMSG_HDRLEN; {
		l := int(ne.Uint32(d[0:]))
		typ := ne.Uint16(d[4:])
		if l < unix.NLMSG_HDRLEN || l > len(d) {
			break
		}
		data := d[unix.NLMSG_HDRLEN:l]
		switch typ {
		case unix.NLMSG_ERROR:
			if len(data) >= 4 {
				if e := int32(ne.Uint32(data)); e != 0 {
					return -1, fmt.Errorf("RTM_GETNSID: %w", unix.Errno(-e))
				}
			}
		case unix.RTM_NEWNSID:
			if len(data) < 4 {
				break
			}
			for a := data[4:]; len(a) >= unix.SizeofRtAttr; {
				al := int(ne.Uint16(a[0:]))
				if al < unix.SizeofRtAttr || al > len(a) {
					break
				}
				if ne.Uint16(a[2:]) == unix.NETNSA_NSID && al >= unix.SizeofRtAttr+4 {
					return int(int32(ne.Uint32(a[unix.SizeofRtAttr:]))), nil
				}
				a = a[min(len(a), (al+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1)):]
			}
		}
		d = d[min(len(d), (l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
	}
	return -1, errors.New("RTM_GETNSID: no answer")
}
