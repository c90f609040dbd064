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

// TestStatsWhileRunning reads Stats from the test's goroutine while Run publishes
// frames on its own, as a status page does. Nothing else orders the two goroutines
// (the sink takes no lock), so under -race an unguarded counter is reported as a data
// race, however the goroutines happen to be scheduled.
func TestStatsWhileRunning(t *testing.T) {
	const n = 5000
	var sb strings.Builder
	for i := range n {
		us := 1_000_000 + 100*i
		fmt.Fprintf(&sb, "(%d.%06d) can0 %03X#%02X\n", us/1_000_000, us%1_000_000, 0x100+i%16, i%256)
	}
	p := filepath.Join(t.TempDir(), "flow.log")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{Bus: "b", Kind: KindCandump, Device: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- src.Run(context.Background(), schema.SinkFunc(func(schema.Sample) {})) }()
	var last Stats
	for running := true; running; {
		st := src.Stats() // read first: at least one read overlaps the run
		if st.Frames < last.Frames || (st.Frames > 0 && st.LastT == 0) {
			t.Fatalf("stats went from %+v to %+v", last, st)
		}
		last = st
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
	}
	if st := src.Stats(); st.Frames != n || st.Bad != 0 {
		t.Errorf("after the run: %+v, want %d frames", st, n)
	}
}
