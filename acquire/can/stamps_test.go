package can

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/schema"
)

// syncRows collects a source's sync rows beside the collector's samples.
type syncRows struct {
	collector
	rows []*schema.SyncRow
}

func (s *syncRows) Publish(x schema.Sample) {
	if r, ok := x.(*schema.SyncRow); ok {
		s.mu.Lock()
		s.rows = append(s.rows, r)
		s.mu.Unlock()
		return
	}
	s.collector.Publish(x)
}

// TestCandumpStamps replays a candump log at 20× and as fast as possible: at a rate,
// every frame's t is its log time stamp mapped through the replay (the spacing of the
// log divided by the rate, whatever the scheduler did), as fast as possible it is the
// publication time; either way t never decreases and the bus publishes its sync rows
// under can/<bus>.
func TestCandumpStamps(t *testing.T) {
	var b strings.Builder
	const n, base = 400, int64(1_700_000_000_000_000_000)
	var ts []int64
	for i := range int64(n) {
		x := base + i*10_000_000 + (i%7)*137_000 // 10 ms apart, a little uneven
		ts = append(ts, x)
		fmt.Fprintf(&b, "(%d.%06d) can0 %03X#%016X\n", x/1e9, x%1e9/1e3, 0x100+i%16, i)
	}
	path := filepath.Join(t.TempDir(), "log.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rate  float64
		state schema.SyncState
	}{{20, schema.SyncConverging}, {0, schema.SyncPassthrough}} {
		src, err := New(Config{Bus: "log", Kind: KindCandump, Device: path, Rate: tc.rate}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var c syncRows
		if err := src.Run(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
		if len(c.can) != n {
			t.Fatalf("rate %v: %d frames", tc.rate, len(c.can))
		}
		for i := 1; i < n; i++ {
			if c.can[i].T < c.can[i-1].T {
				t.Fatalf("rate %v: frame %d went backwards", tc.rate, i)
			}
			if tc.rate == 0 {
				continue
			}
			// microsecond log stamps: the spacing, divided by the rate, within 1 µs
			got, want := c.can[i].T-c.can[0].T, (ts[i]/1000*1000-ts[0]/1000*1000)/20
			if d := got - want; d > 1000 || d < -1000 {
				t.Fatalf("rate 20: frame %d at %d ns from the first, the log says %d", i, got, want)
			}
		}
		if len(c.rows) == 0 || c.rows[len(c.rows)-1].Source != "can/log" || c.rows[len(c.rows)-1].State != tc.state {
			t.Errorf("rate %v: sync rows %+v, want the last of can/log in state %s", tc.rate, c.rows, tc.state)
		}
	}
}
