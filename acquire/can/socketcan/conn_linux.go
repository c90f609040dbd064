package socketcan

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"roadlog/acquire/can/canframe"
)

// Options of a raw CAN socket.
type Options struct {
	FD          bool     // receive CAN FD frames too (CAN_RAW_FD_FRAMES)
	ErrorFrames bool     // receive error frames of every class (CAN_RAW_ERR_FILTER)
	Filters     []Filter // kernel identifier filters (none: every frame)
	RecvBuf     int      // SO_RCVBUF in bytes (0: the system default)
}

// Conn is a raw CAN socket bound to one interface. Read blocks in the Go poller;
// Close unblocks it.
type Conn struct {
	closed atomic.Bool
	f      *os.File
	rc     syscall.RawConn
	buf    [FDMTU]byte
	oob    [256]byte
}

// Dial opens a CAN_RAW socket on iface (e.g. "can0", "vcan0") with the options
// and receive timestamps and drop counting on.
func Dial(iface string, o Options) (*Conn, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("find interface %s: %w", iface, err)
	}
	fd, err := unix.Socket(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.CAN_RAW)
	if err != nil {
		return nil, fmt.Errorf("open CAN_RAW socket: %w", err)
	}
	fail := func(what string, err error) (*Conn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s on %s: %w", what, iface, err)
	}
	if o.FD {
		if err := unix.SetsockoptInt(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_FD_FRAMES, 1); err != nil {
			return fail("enable CAN FD frames", err)
		}
	}
	if o.ErrorFrames {
		if err := unix.SetsockoptInt(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_ERR_FILTER, ErrAllCl); err != nil {
			return fail("enable error frames", err)
		}
	}
	if len(o.Filters) > 0 {
		if err := unix.SetsockoptString(fd, unix.SOL_CAN_RAW, unix.CAN_RAW_FILTER, string(EncodeFilters(o.Filters))); err != nil {
			return fail("set filters", err)
		}
	}
	if err := setupReceive(fd, o.RecvBuf); err != nil {
		return fail("set up receive", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrCAN{Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	return NewConn(fd, iface)
}

// setupReceive turns on receive timestamps and the drop counter; both are
// generic socket options, so they work on any socket (tests use UDP).
func setupReceive(fd, recvBuf int) error {
	if recvBuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, recvBuf); err != nil {
			return fmt.Errorf("set SO_RCVBUF: %w", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING, timestampingFlags); err != nil {
		// kernels without SO_TIMESTAMPING support still have SO_TIMESTAMPNS
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fmt.Errorf("enable receive timestamps: %w", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
		return fmt.Errorf("enable SO_RXQ_OVFL: %w", err)
	}
	return nil
}

// NewConn wraps an open datagram or seqpacket socket that delivers struct
// can_frame / canfd_frame datagrams (a CAN_RAW socket opened elsewhere, or a
// socketpair in tests). The Conn owns fd.
func NewConn(fd int, name string) (*Conn, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("raw conn: %w", err)
	}
	return &Conn{f: f, rc: rc}, nil
}

// ErrClosed is returned by Read after Close.
var ErrClosed = os.ErrClosed

// Read receives one frame and what the kernel says about it. A datagram of the
// wrong size returns an error wrapping ErrFrameSize; the Conn stays usable.
func (c *Conn) Read(f *canframe.Frame, m *Meta) error {
	var n, oobn int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), c.buf[:], c.oob[:], 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err != nil {
		if c.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("read CAN socket: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("read CAN socket: %w", rerr)
	}
	if n == 0 && oobn == 0 {
		return io.EOF // a stream or seqpacket peer closed; CAN_RAW never sends empty datagrams
	}
	if err := ParseControl(c.oob[:oobn], m); err != nil {
		return err
	}
	return Decode(c.buf[:n], f)
}

// Write sends one frame (as struct can_frame, or canfd_frame for FD frames,
// which needs Options.FD).
func (c *Conn) Write(f *canframe.Frame) error {
	var b [FDMTU]byte
	n, err := Encode(b[:], f)
	if err != nil {
		return err
	}
	var werr error
	err = c.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), b[:n])
		return !errors.Is(werr, unix.EAGAIN)
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("write CAN socket: %w", err)
	}
	return nil
}

// Close closes the socket and unblocks Read.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.f.Close()
}
