package can

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"roadlog/acquire/can/canframe"
	"roadlog/acquire/can/slcan"
	"roadlog/schema"
)

// TestSLCANOverPTY runs the slcan source against a peer on a real pseudo-terminal
// that answers commands like a CANable and, once the channel is open, sends
// classic, extended, remote and CAN FD frames with timestamps (one wrapping past
// 60 s), a garbage line and an over-long line.
func TestSLCANOverPTY(t *testing.T) {
	master, slave := openPTY(t)
	defer master.Close()
	src, err := New(Config{Bus: "slcan0", Kind: KindSLCAN, Device: slave, Bitrate: 500000, DataBitrate: 2000000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	frames := []canframe.Frame{
		{ID: 0x123, Len: 2, Data: [64]byte{0xde, 0xad}},
		{ID: 0x1abcdef0, Flags: canframe.Extended, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{ID: 0x7ff, Flags: canframe.Remote, Len: 3},
		{ID: 0x100, Flags: canframe.FD | canframe.BRS, Len: 12, Data: [64]byte{9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}},
		{ID: 0x101, Flags: canframe.FD | canframe.Extended, Len: 64},
	}
	stamps := []uint16{59990, 59995, 3, 10, 20} // wraps between the 2nd and 3rd
	cmds := make(chan string, 16)
	go func() { // the adapter
		r := bufio.NewReader(master)
		for {
			cmd, err := r.ReadString('\r')
			if err != nil {
				close(cmds)
				return
			}
			cmds <- strings.TrimSuffix(cmd, "\r")
			master.Write([]byte("\r")) // OK
			if cmd == "O\r" {
				var out []byte
				for i := range frames {
					out = slcan.Append(out, &frames[i], stamps[i], true)
				}
				out = append(out, "x123\r"...)                                 // not a frame: a status line, ignored
				out = append(out, "t12X1AA\r"...)                              // bad identifier
				out = append(out, "t"+strings.Repeat("1", 300)+"\r"...)        // too long
				out = append(out, slcan.Append(nil, &frames[0], 100, true)...) // and on it goes
				master.Write(out)
			}
		}
	}()
	var c collector
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, &c) }()
	deadline := time.Now().Add(10 * time.Second)
	for c.frames() < len(frames)+1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for cmd := range cmds {
		got = append(got, cmd)
		if cmd == "C" && len(got) > 1 {
			break
		}
	}
	if want := "C S6 Y2 Z1 O C"; strings.Join(got, " ") != want {
		t.Errorf("commands %q, want %q", strings.Join(got, " "), want)
	}
	if len(c.can) != len(frames)+1 {
		t.Fatalf("%d frames, want %d", len(c.can), len(frames)+1)
	}
	for i, f := range frames {
		var want schema.CAN
		f.ToRow(&want)
		g := c.can[i]
		if g.ID != want.ID || g.Ext != want.Ext || g.FD != want.FD || g.RTR != want.RTR || g.BRS != want.BRS ||
			g.DLC != want.DLC || !bytes.Equal(g.Data, want.Data) || g.Bus != "slcan0" {
			t.Errorf("frame %d: %+v, want %+v", i, g, want)
		}
	}
	wantDev := []int64{59990e6, 59995e6, 60003e6, 60010e6, 60020e6}
	for i, w := range wantDev {
		if c.can[i].TDevice != w {
			t.Errorf("frame %d: t_device %d, want %d", i, c.can[i].TDevice, w)
		}
	}
	if st := src.Stats(); st.Bad != 2 {
		t.Errorf("stats %+v, want 2 bad lines", st)
	}
}
