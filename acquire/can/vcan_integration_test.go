//go:build integration

package can

import (
	"context"
	"testing"
	"time"

	"roadlog/acquire/can/canframe"
	"roadlog/acquire/can/socketcan"
)

// TestSocketCANSourceVCAN needs vcan0 (modprobe vcan; ip link add dev vcan0 type
// vcan mtu 72; ip link set up vcan0).
func TestSocketCANSourceVCAN(t *testing.T) {
	tx, err := socketcan.Dial("vcan0", socketcan.Options{FD: true})
	if err != nil {
		t.Skipf("vcan0: %v", err)
	}
	defer tx.Close()
	src, err := New(Config{Bus: "v", Kind: KindSocketCAN, Device: "vcan0", FD: true, ErrorFrames: true,
		Filters: []Filter{{ID: 0x100, Mask: 0x700}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, &c) }()
	time.Sleep(100 * time.Millisecond)
	frames := []canframe.Frame{
		{ID: 0x123, Len: 1, Data: [64]byte{1}},                  // passes 0x1xx
		{ID: 0x223, Len: 1, Data: [64]byte{2}},                  // filtered by the kernel
		{ID: 0x1ff, Flags: canframe.FD | canframe.BRS, Len: 16}, // passes
	}
	for i := range frames {
		if err := tx.Write(&frames[i]); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for c.frames() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(c.can) != 2 || c.can[0].ID != 0x123 || c.can[1].ID != 0x1ff || !c.can[1].FD || c.can[0].TDevice == 0 {
		t.Fatalf("rows %+v", c.can)
	}
}
