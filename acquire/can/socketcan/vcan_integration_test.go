//go:build integration

package socketcan

import (
	"testing"
	"time"

	"roadlog/acquire/can/canframe"
)

// TestVCAN needs a vcan0 interface (modprobe vcan; ip link add dev vcan0 type
// vcan; ip link set up vcan0): it sends classic and FD frames on one socket and
// reads them, with kernel timestamps, on another.
func TestVCAN(t *testing.T) {
	rx, err := Dial("vcan0", Options{FD: true, ErrorFrames: true})
	if err != nil {
		t.Skipf("vcan0: %v", err)
	}
	defer rx.Close()
	tx, err := Dial("vcan0", Options{FD: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	for _, c := range frameCases {
		if c.frame.Flags&canframe.Error != 0 {
			continue // only the kernel sends error frames
		}
		if err := tx.Write(&c.frame); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var f canframe.Frame
		var m Meta
		if err := rx.Read(&f, &m); err != nil {
			t.Fatal(err)
		}
		if f != c.frame {
			t.Errorf("%s: got %+v", c.name, f)
		}
		if d := time.Since(time.Unix(0, m.Software)); m.Software != 0 && (d < 0 || d > time.Second) {
			t.Errorf("%s: timestamp %v ago", c.name, d)
		}
	}
}
