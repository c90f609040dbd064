package record

import (
	"errors"
	"testing"
	"time"

	"roadlog/schema"
)

// TestFlushPolicyBoundsLoss checks the recovery point by construction: a row is
// written once it has waited Holdback, and flushes run every FlushInterval-Holdback, so
// no row waits longer than FlushInterval before it is in its file.
func TestFlushPolicyBoundsLoss(t *testing.T) {
	opt, err := Options{Root: t.TempDir(), FlushInterval: 400 * time.Millisecond, Holdback: 100 * time.Millisecond}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	t0 := int64(1_800_000_000e9)
	e := &Engine{opt: opt}
	r := &recording{e: e, opt: opt, dir: opt.Root, seg: newSegmenter(t0, int64(opt.SegmentDuration)), dirs: map[int]bool{}}
	w := newTableWriter[schema.CAN, *schema.CAN](r, schema.CANTable, 16).(*tableWriterOf[schema.CAN, *schema.CAN])
	now := time.Now()
	ages := []time.Duration{350 * time.Millisecond, 101 * time.Millisecond, 99 * time.Millisecond, 0}
	for i, a := range ages {
		w.pending = append(w.pending, pend[*schema.CAN]{row: &schema.CAN{T: t0 + int64(i), Bus: "b"}, t: t0 + int64(i), arrival: now.Add(-a).UnixNano(), seg: -1})
	}
	w.flush(now, -1, false)
	if f := w.files[0]; f == nil || f.Rows != 2 {
		t.Fatalf("flush wrote %v rows, want the 2 that waited ≥ holdback", f)
	}
	if len(w.pending) != 2 {
		t.Fatalf("%d rows still pending, want 2", len(w.pending))
	}
	// The next tick comes FlushInterval-Holdback later: by then every pending row has
	// waited at least Holdback, so all are written, none older than FlushInterval.
	next := now.Add(opt.FlushInterval - opt.Holdback)
	w.flush(next, -1, false)
	if w.files[0].Rows != 4 || len(w.pending) != 0 {
		t.Fatalf("second flush: %d rows written, %d pending", w.files[0].Rows, len(w.pending))
	}
	// The bound needs a tick period FlushInterval-Holdback above zero: options with a
	// holdback as long as the flush interval are refused.
	if _, err := (Options{Root: opt.Root, FlushInterval: opt.FlushInterval, Holdback: opt.FlushInterval}).withDefaults(); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("holdback = flush interval: err %v, want ErrBadOptions", err)
	}
	w.closeThrough(1 << 30)
}
