package socketcan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"roadlog/acquire/can/canframe"
)

func frameOf(id uint32, fl canframe.Flag, data ...byte) canframe.Frame {
	f := canframe.Frame{ID: id, Flags: fl, Len: uint8(len(data))}
	copy(f.Data[:], data)
	return f
}

// kernel builds the bytes of struct can_frame / canfd_frame field by field.
func kernel(canID uint32, length, flags, len8 byte, data []byte, fd bool) []byte {
	n := MTU
	if fd {
		n = FDMTU
	}
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b, canID) // x86-64 and arm64 are little-endian
	b[4] = length                           // can_dlc / len
	if fd {
		b[5] = flags // canfd_frame.flags; __res0, __res1 stay 0
	} else {
		b[7] = len8 // can_frame.len8_dlc (b[5] __pad, b[6] __res0)
	}
	copy(b[8:], data)
	return b
}

var frameCases = []struct {
	name  string
	frame canframe.Frame
	wire  []byte
}{
	{"sff", frameOf(0x123, 0, 0xde, 0xad), kernel(0x123, 2, 0, 0, []byte{0xde, 0xad}, false)},
	{"eff", frameOf(0x1abcdef0, canframe.Extended, 1, 2, 3, 4, 5, 6, 7, 8), kernel(0x9abcdef0, 8, 0, 0, []byte{1, 2, 3, 4, 5, 6, 7, 8}, false)},
	{"rtr", canframe.Frame{ID: 0x7ff, Flags: canframe.Remote, Len: 4}, kernel(0x400007ff, 4, 0, 0, nil, false)},
	{"error", frameOf(0x004, canframe.Error, 0, 4, 0, 0, 0, 0, 0, 0), kernel(0x20000004, 8, 0, 0, []byte{0, 4, 0, 0, 0, 0, 0, 0}, false)},
	{"len8-dlc", func() canframe.Frame {
		f := frameOf(0x100, 0, 1, 2, 3, 4, 5, 6, 7, 8)
		f.DLC8 = 13
		return f
	}(), kernel(0x100, 8, 0, 13, []byte{1, 2, 3, 4, 5, 6, 7, 8}, false)},
	{"fd-brs", frameOf(0x321, canframe.FD|canframe.BRS, bytes.Repeat([]byte{0x5a}, 12)...), kernel(0x321, 12, FDBRS, 0, bytes.Repeat([]byte{0x5a}, 12), true)},
	{"fd-eff-esi-64", frameOf(0x1ffffff, canframe.FD|canframe.Extended|canframe.ESI, bytes.Repeat([]byte{0xa5}, 64)...),
		kernel(0x81ffffff, 64, FDESI, 0, bytes.Repeat([]byte{0xa5}, 64), true)},
}

func TestFrameEncoding(t *testing.T) {
	buf := make([]byte, FDMTU)
	for _, c := range frameCases {
		t.Run(c.name, func(t *testing.T) {
			n, err := Encode(buf, &c.frame)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], c.wire) {
				t.Errorf("Encode\n got % x\nwant % x", buf[:n], c.wire)
			}
			var f canframe.Frame
			if err := Decode(c.wire, &f); err != nil {
				t.Fatal(err)
			}
			if f != c.frame {
				t.Errorf("Decode\n got %+v\nwant %+v", f, c.frame)
			}
		})
	}
	var f canframe.Frame
	if err := Decode(make([]byte, 20), &f); !errors.Is(err, ErrFrameSize) {
		t.Errorf("20-byte frame: %v", err)
	}
	// FDF set by newer kernels is accepted and not needed
	if err := Decode(kernel(0x10, 1, FDFDF|FDBRS, 0, []byte{9}, true), &f); err != nil || f.Flags != canframe.FD|canframe.BRS {
		t.Errorf("FDF frame: %v %+v", err, f)
	}
}

func TestEncodeFilters(t *testing.T) {
	got := EncodeFilters([]Filter{
		{ID: 0x123, Mask: 0x7ff},
		{ID: 0x18fef100, Mask: 0x1ffff00, Extended: true},
		{ID: 0x200, Mask: 0x700, Invert: true},
	})
	want := []byte{
		0x23, 0x01, 0x00, 0x00, 0xff, 0x07, 0x00, 0x80, // can_id 0x123, can_mask 0x800007ff
		0x00, 0xf1, 0xfe, 0x98, 0x00, 0xff, 0xff, 0x81, // can_id 0x98fef100 (EFF), can_mask 0x81ffff00
		0x00, 0x02, 0x00, 0x20, 0x00, 0x07, 0x00, 0x80, // can_id 0x20000200 (CAN_INV_FILTER), mask 0x80000700
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got  % x\nwant % x", got, want)
	}
	f := frameOf(0x123, 0)
	if !(Filter{ID: 0x123, Mask: 0x7ff}).Match(&f) || (Filter{ID: 0x123, Mask: 0x7ff, Extended: true}).Match(&f) ||
		(Filter{ID: 0x120, Mask: 0x7f0, Invert: true}).Match(&f) {
		t.Error("Match disagrees with the kernel's rule")
	}
}

// cmsg builds one control message as the kernel lays it out on 64-bit Linux:
// struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } + data,
// padded to 8 bytes.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, 16+(len(data)+7)&^7)
	binary.LittleEndian.PutUint64(b[0:], uint64(16+len(data)))
	binary.LittleEndian.PutUint32(b[8:], uint32(level))
	binary.LittleEndian.PutUint32(b[12:], uint32(typ))
	copy(b[16:], data)
	return b
}

func timespecs(ns ...int64) []byte {
	var b []byte
	for _, v := range ns {
		b = binary.LittleEndian.AppendUint64(b, uint64(v/1e9))
		b = binary.LittleEndian.AppendUint64(b, uint64(v%1e9))
	}
	return b
}

func TestParseControl(t *testing.T) {
	oob := append(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPING, timespecs(1700000000123456789, 0, 42_000000007)),
		cmsg(unix.SOL_SOCKET, unix.SO_RXQ_OVFL, []byte{7, 0, 0, 0})...)
	var m Meta
	if err := ParseControl(oob, &m); err != nil {
		t.Fatal(err)
	}
	if m.Software != 1700000000123456789 || m.Hardware != 42_000000007 || m.Drops != 7 || !m.HasDrops {
		t.Errorf("got %+v", m)
	}
	if err := ParseControl(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, timespecs(5_000000001)), &m); err != nil || m.Software != 5_000000001 || m.HasDrops {
		t.Errorf("SO_TIMESTAMPNS: %v %+v", err, m)
	}
	if err := ParseControl(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMPING, timespecs(1)), &m); !errors.Is(err, ErrControl) {
		t.Errorf("short SO_TIMESTAMPING: %v", err)
	}
	if err := ParseControl([]byte{1, 2, 3}, &m); !errors.Is(err, ErrControl) {
		t.Errorf("garbage: %v", err)
	}
}

// TestConnOverSocketpair runs Conn.Read on one end of a SOCK_SEQPACKET pair fed
// kernel-layout frames (the packet boundaries of a CAN_RAW socket), then closes it
// while a Read waits.
func TestConnOverSocketpair(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConn(fds[0], "pair")
	if err != nil {
		t.Fatal(err)
	}
	peer, err := NewConn(fds[1], "peer")
	if err != nil {
		t.Fatal(err)
	}
	for _, fc := range frameCases {
		if err := peer.Write(&fc.frame); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := unix.Write(fds[1], make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	var f canframe.Frame
	var m Meta
	for _, fc := range frameCases {
		if err := c.Read(&f, &m); err != nil {
			t.Fatal(err)
		}
		if f != fc.frame {
			t.Errorf("%s: got %+v", fc.name, f)
		}
	}
	if err := c.Read(&f, &m); !errors.Is(err, ErrFrameSize) {
		t.Errorf("bad size: %v", err)
	}
	done := make(chan error)
	go func() { done <- c.Read(&f, &m) }()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if err := peer.Write(&frameCases[0].frame); err == nil {
		t.Error("Write to a closed peer succeeded")
	}
	peer.Close()
}

// TestReceiveTimestampsAndDrops uses a UDP socket, which carries SO_TIMESTAMPING
// and SO_RXQ_OVFL exactly as a CAN_RAW socket does: the kernel stamps each
// datagram and counts what it drops when the receive buffer is full.
func TestReceiveTimestampsAndDrops(t *testing.T) {
	rfd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(rfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(rfd)
	if err := setupReceive(rfd, 4096); err != nil {
		t.Fatal(err)
	}
	c, err := NewConn(rfd, "udp")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wfd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(wfd)
	var f canframe.Frame
	var m Meta
	// the kernel turns receive timestamping on asynchronously (a deferred static
	// key), so the first datagrams after setsockopt may come unstamped
	for try := 0; m.Software == 0; try++ {
		if try == 100 {
			t.Fatal("no datagram got a kernel timestamp")
		}
		before := time.Now().UnixNano()
		if err := unix.Sendto(wfd, frameCases[0].wire, 0, sa); err != nil {
			t.Fatal(err)
		}
		if err := c.Read(&f, &m); err != nil {
			t.Fatal(err)
		}
		after := time.Now().UnixNano()
		if f != frameCases[0].frame {
			t.Errorf("frame %+v", f)
		}
		if m.Software != 0 && (m.Software < before || m.Software > after) {
			t.Errorf("kernel timestamp %d outside [%d, %d]", m.Software, before, after)
		}
		if m.Software == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for i := range 2000 { // far more than 4 KiB of buffer holds
		if err := unix.Sendto(wfd, frameCases[i%2].wire, 0, sa); err != nil {
			t.Fatal(err)
		}
	}
	// the kernel stamps the drop count on datagrams queued after drops happened:
	// empty the queue, send a marker (the remote frame) and read it
	buf := make([]byte, 100)
	for {
		if _, _, _, _, err := unix.Recvmsg(rfd, buf, nil, unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
	if err := unix.Sendto(wfd, frameCases[2].wire, 0, sa); err != nil {
		t.Fatal(err)
	}
	for f != frameCases[2].frame {
		if err := c.Read(&f, &m); err != nil {
			t.Fatal(err)
		}
	}
	if !m.HasDrops || m.Drops == 0 {
		t.Errorf("no drops counted: %+v", m)
	}
	t.Logf("kernel dropped %d datagrams", m.Drops)
}
