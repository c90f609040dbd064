package can

import (
	"context"
	"net"
	"testing"
	"time"

	"roadlog/acquire/can/canframe"
	"roadlog/acquire/can/cannelloni"
)

// TestUDPLoopback sends cannelloni datagrams to a udp source on loopback: frames
// of every kind, a datagram with a bad header, a truncated one (its complete
// frames still count), and a sequence gap.
func TestUDPLoopback(t *testing.T) {
	src, err := New(Config{Bus: "gw", Kind: KindUDP, Address: "127.0.0.1:0",
		Filters: []Filter{{ID: 0x200, Mask: 0x700, Invert: true}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := src.(*UDP)
	u.bound = make(chan net.Addr, 1)
	var c collector
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, &c) }()
	addr := <-u.bound
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frames := []canframe.Frame{
		{ID: 0x123, Len: 2, Data: [64]byte{1, 2}},
		{ID: 0x1abcdef0, Flags: canframe.Extended, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{ID: 0x7ff, Flags: canframe.Remote, Len: 3},
		{ID: 0x100, Flags: canframe.FD | canframe.BRS | canframe.ESI, Len: 16},
		{ID: 0x004, Flags: canframe.Error, Len: 8, Data: [64]byte{0, 4}},
		{ID: 0x234, Len: 1, Data: [64]byte{7}}, // filtered out (0x2xx inverted)
	}
	send := func(b []byte) {
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	send(cannelloni.Append(nil, 1, frames))
	send([]byte{9, 9, 9})                         // bad header
	full := cannelloni.Append(nil, 4, frames[:2]) // seq 2, 3 lost
	send(full[:len(full)-3])                      // second frame truncated
	send(cannelloni.Append(nil, 5, frames[:1]))
	deadline := time.Now().Add(5 * time.Second)
	for c.frames() < 7 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(c.can) != 7 {
		t.Fatalf("%d frames, want 7", len(c.can))
	}
	for i, f := range frames[:5] {
		var g canframe.Frame
		g.FromRow(c.can[i])
		if g != f {
			t.Errorf("frame %d: %+v, want %+v", i, g, f)
		}
	}
	st := src.Stats()
	if st.Bad != 2 || st.Filtered != 1 || st.SeqGaps != 2 || st.Frames != 7 {
		t.Errorf("stats %+v", st)
	}
}
