package tableread

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"roadlog/internal/testdrive"
	"roadlog/record/drive"
	"roadlog/schema"
)

// TestWindowMatchesFilter compares indexed windows (footer) and streamed windows (no
// footer) with a plain filter of every row.
func TestWindowMatchesFilter(t *testing.T) {
	for _, noFooter := range []bool{false, true} {
		info, err := testdrive.Write(t.TempDir(), testdrive.Options{Duration: 3 * time.Second, Segment: 5 * time.Second, NoFooter: noFooter})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(info.Dir, "seg-000000", "imu.arrow")
		var all []int64
		if _, err := drive.ReadRows(path, schema.IMUTable, func(r *schema.IMU) error { all = append(all, r.T); return nil }); err != nil {
			t.Fatal(err)
		}
		var c Cache
		f := c.File(path)
		if c.File(path) != f {
			t.Fatal("cache returned a second File for the same path")
		}
		s := testdrive.Start
		for _, w := range [][2]int64{{s, s + 1}, {s + 250e6, s + 1750e6}, {s - 1e9, s + 10e9}, {s + 5e9, s + 6e9}, {s + 1e9, s + 1e9}} {
			var want, got []int64
			for _, v := range all {
				if v >= w[0] && v < w[1] {
					want = append(want, v)
				}
			}
			if err := Rows(f, schema.IMUTable, w[0], w[1], func(r *schema.IMU) error { got = append(got, r.T); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("footer %v, window %v: %d rows, want %d", !noFooter, w, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("footer %v, window %v: row %d t %d, want %d", !noFooter, w, i, got[i], want[i])
				}
			}
		}
		if f.footer == noFooter {
			t.Errorf("file with footer=%v indexed as footer=%v", !noFooter, f.footer)
		}
	}
}

func TestMissingFileHasNoRows(t *testing.T) {
	var c Cache
	n := 0
	err := Rows(c.File(filepath.Join(t.TempDir(), "none.arrow")), schema.IMUTable, 0, 1<<62, func(*schema.IMU) error { n++; return nil })
	if err != nil || n != 0 {
		t.Fatalf("missing file: %d rows, %v", n, err)
	}
}

// TestSlicesOutOfOrder: rows out of t order (late rows) are cut into runs, none lost.
func TestSlicesOutOfOrder(t *testing.T) {
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema.IMUTable.Schema())
	defer b.Release()
	ts := []int64{10, 30, 20, 40, 15, 50, 25}
	for _, v := range ts {
		r := schema.IMU{T: v, AX: float32(v)}
		schema.IMUTable.Append(b, &r)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var got []int64
	runs := 0
	if err := slices(rec, 15, 31, func(s arrow.RecordBatch) error {
		runs++
		for _, v := range s.Column(0).(*array.Timestamp).TimestampValues() {
			got = append(got, int64(v))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []int64{30, 20, 15, 25}
	if len(got) != len(want) || runs != 3 {
		t.Fatalf("got %v in %d runs, want %v in 3", got, runs, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
