package record

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
)

// TestClosedSegmentIsCompacted: while a segment is open its table file gets a batch
// per flush; when it closes the file is rewritten in one batch with the same rows —
// every column of every row, bytes included — in t order, late rows put in place,
// and the segment still open is left alone.
func TestClosedSegmentIsCompacted(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%v", late), func(t *testing.T) {
			opt, err := Options{Root: t.TempDir()}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			t0 := int64(1_800_000_000e9)
			e := &Engine{opt: opt}
			r := &recording{e: e, opt: opt, dir: opt.Root, seg: newSegmenter(t0, int64(time.Second)), dirs: map[int]bool{}}
			w := newTableWriter[schema.CAN, *schema.CAN](r, schema.CANTable, 16).(*tableWriterOf[schema.CAN, *schema.CAN])
			defer w.closeThrough(1 << 30)
			row := func(n int, t int64) *schema.CAN {
				return &schema.CAN{T: t, THost: int64(n), Bus: fmt.Sprint("can", n%3), ID: uint32(n), DLC: uint8(n % 9),
					Data: bytes.Repeat([]byte{byte(n), byte(n >> 8)}, n%5)}
			}
			var want [2][]schema.CAN // per segment, in t order
			n := 0
			for flush := 0; flush < 30; flush++ { // 20 flushes into segment 0, 10 into segment 1
				for i := 0; i < 10; i++ {
					tt := t0 + int64(n)*5e6
					w.add(row(n, tt))
					want[tt/1e9-t0/1e9] = append(want[tt/1e9-t0/1e9], *row(n, tt))
					n++
				}
				w.flush(time.Now(), -1, true)
			}
			if late { // a row of segment 0 that comes after later rows were written
				lr := row(n, t0+2e6+1)
				w.add(lr)
				w.flush(time.Now(), -1, true)
				want[0] = append(want[0][:1], append([]schema.CAN{*lr}, want[0][1:]...)...)
			}
			if b := w.files[0].Batches; b < 20 {
				t.Fatalf("segment 0 written in %d batches while open, want one per flush", b)
			}
			w.closeThrough(0)
			for s := 0; s < 2; s++ {
				if s == 1 {
					if b := w.files[1].Batches; b != 10 {
						t.Fatalf("the open segment 1 holds %d batches, want its 10 flushes", b)
					}
					w.closeThrough(1)
				}
				path := filepath.Join(opt.Root, drive.SegmentDir(s), drive.TableFile(schema.TableCAN))
				scan, err := drive.ScanArrow(path)
				if err != nil || !scan.Footer || len(scan.Batches) != 1 {
					t.Fatalf("closed segment %d: %d batches, footer %v, err %v; want one batch", s, len(scan.Batches), scan.Footer, err)
				}
				if st := w.closed[s]; st.Batches != 1 || st.Rows != int64(len(want[s])) || st.Late != 0 {
					t.Fatalf("segment %d stats %+v, want 1 batch, %d rows, none late", s, st, len(want[s]))
				}
				k := 0
				if _, err := drive.ReadRows(path, schema.CANTable, func(got *schema.CAN) error {
					if k >= len(want[s]) || fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want[s][k]) {
						return fmt.Errorf("row %d: %+v, want %+v", k, *got, want[s][min(k, len(want[s])-1)])
					}
					k++
					return nil
				}); err != nil || k != len(want[s]) {
					t.Fatalf("segment %d: %d rows read, want %d: %v", s, k, len(want[s]), err)
				}
			}
		})
	}
}
