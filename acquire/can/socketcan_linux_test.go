package can

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"roadlog/acquire/can/canframe"
	"roadlog/acquire/can/socketcan"
	"roadlog/schema"
)

// TestSocketCANSourceOverSocketpair runs the SocketCAN source's read loop on a
// SOCK_SEQPACKET pair fed kernel-layout frames and one datagram of a wrong size.
func TestSocketCANSourceOverSocketpair(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	conn, err := socketcan.NewConn(fds[0], "pair")
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{Bus: "can0", Kind: KindSocketCAN, Device: "can0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	frames := []canframe.Frame{
		{ID: 0x123, Len: 2, Data: [64]byte{1, 2}},
		{ID: 0x100, Flags: canframe.FD | canframe.BRS, Len: 16},
		{ID: 0x004, Flags: canframe.Error, Len: 8, Data: [64]byte{0, 4}},
	}
	buf := make([]byte, socketcan.FDMTU)
	for i := range frames {
		n, err := socketcan.Encode(buf, &frames[i])
		if err != nil {
			t.Fatal(err)
		}
		unix.Write(fds[1], buf[:n])
		if i == 0 {
			unix.Write(fds[1], buf[:10]) // a wrong-size datagram
		}
	}
	var c collector
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.(*SocketCAN).read(ctx, &c, conn) }()
	for c.frames() < len(frames) {
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := range frames {
		var g canframe.Frame
		g.FromRow(c.can[i])
		if g != frames[i] {
			t.Errorf("frame %d: %+v", i, g)
		}
	}
	if st := src.Stats(); st.Bad != 1 || c.count(schema.EvSourceError) != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestKernelDropEvents turns SO_RXQ_OVFL's cumulative counter into events with
// the increments.
func TestKernelDropEvents(t *testing.T) {
	src, _ := New(Config{Bus: "can0", Kind: KindSocketCAN, Device: "can0"}, nil)
	b := src.(*SocketCAN).bus
	var c collector
	b.start(&c)
	for _, cum := range []uint32{0, 5, 5, 12, 4294967295, 3} {
		b.kernelDrops(cum)
	}
	var counts []int64
	for _, e := range c.events {
		if e.Code == schema.EvKernelDrop {
			counts = append(counts, e.Count)
		}
	}
	want := []int64{5, 7, 4294967283, 4} // the counter wraps at 2^32
	if len(counts) != len(want) {
		t.Fatalf("events %v, want %v", counts, want)
	}
	for i := range want {
		if counts[i] != want[i] {
			t.Errorf("events %v, want %v", counts, want)
		}
	}
	if b.stats.KernelDrops != 5+7+4294967283+4 {
		t.Errorf("total %d", b.stats.KernelDrops)
	}
}
