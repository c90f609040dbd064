//go:build integration

package ptp

import (
	"os"
	"testing"
	"time"
)

// TestLivePHC reads a real PHC: ROADLOG_PTP names it (default /dev/ptp0).
func TestLivePHC(t *testing.T) {
	path := os.Getenv("ROADLOG_PTP")
	if path == "" {
		path = "/dev/ptp0"
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no PTP hardware clock at %s: %v", path, err)
	}
	p, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	caps, err := p.Caps()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: clock id %d, max_adj %d ppb, pps %d", path, p.ClockID(), caps.Max_adj, caps.Pps)
	a, err := Best(p, 5)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	b, err := Best(p, 5)
	if err != nil {
		t.Fatal(err)
	}
	dh, dp := b.Before-a.Before, b.PHC-a.PHC
	if diff := dp - dh; diff < -int64(time.Millisecond) || diff > int64(time.Millisecond) {
		t.Errorf("PHC advanced %d ns while the host advanced %d ns", dp, dh)
	}
	t.Logf("bracket %d ns", a.After-a.Before)
}
