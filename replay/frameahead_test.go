package replay

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// framesAhead returns the frames cursor's read-ahead (nil without one).
func framesAhead(r *Reader) *frameAhead {
	for _, c := range r.curs {
		if c.name == schema.TableFrames {
			return c.fa
		}
	}
	return nil
}

// eachFrameRow reads r with NextRow to its end and returns the frames rows read;
// with video set, it checks each one's FrameData against its file (checkFrameBytes),
// else it asks for no frame bytes.
func eachFrameRow(t *testing.T, r *Reader, video map[string][]byte) int {
	t.Helper()
	frames := 0
	for {
		row, err := r.NextRow()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatal(err)
		}
		if row.Table() == schema.TableFrames {
			if video != nil {
				checkFrameBytes(t, row, video)
			}
			frames++
		}
	}
}

// checkFrameBytes checks that FrameData of a frames row gives the bytes the row's
// video file holds where the row says (files read whole, once, into video).
func checkFrameBytes(t *testing.T, row *Row, video map[string][]byte) {
	t.Helper()
	data, err := row.FrameData()
	if err != nil {
		t.Fatal(err)
	}
	path, err := row.FramePath()
	if err != nil {
		t.Fatal(err)
	}
	b, ok := video[path]
	if !ok {
		if b, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		video[path] = b
	}
	var f schema.Frame
	ReadRow(row, schema.FramesTable, &f)
	if !bytes.Equal(data, b[f.Offset:f.Offset+int64(f.Size)]) {
		t.Fatalf("camera %d frame %d: FrameData gives other bytes than %s holds at %d", f.Camera, f.Seq, filepath.Base(path), f.Offset)
	}
}

// With prefetch, a NextRow caller's frame bytes are read ahead by the frames
// cursor's goroutine: read straight through a drive in t order, every frame is found
// in a window read ahead, and every one is the file's bytes. Without prefetch there
// is no such goroutine.
func TestFrameAheadServesEveryFrame(t *testing.T) {
	td, d := writeDrive(t, testdrive.Spec{Seed: 81, Segments: 3, BatchRows: 40, Cameras: 3})
	for _, opts := range []Options{{Prefetch: 2}, {Prefetch: -1}} {
		r, err := d.NewReader(opts)
		if err != nil {
			t.Fatal(err)
		}
		frames := eachFrameRow(t, r, map[string][]byte{})
		if frames != len(td.Rows[schema.TableFrames]) {
			t.Fatalf("read %d frames, the drive has %d", frames, len(td.Rows[schema.TableFrames]))
		}
		fa := framesAhead(r)
		switch {
		case opts.Prefetch < 0 && fa != nil:
			t.Fatal("a frame read-ahead without prefetch")
		case opts.Prefetch > 0 && (fa == nil || fa.served != int64(frames)):
			t.Fatalf("prefetch %d: %d of %d frames found read ahead", opts.Prefetch, fa.served, frames)
		case opts.Prefetch > 0:
			t.Logf("%d frames in %d windows", frames, fa.reads.Load())
		}
		r.Close()
	}
}

// A consumer that never asks for frame bytes does not stall the reader, and once a
// batch passes without FrameData the producer stops handing batches to the
// goroutine: a few batches (those decoded ahead before it knew) at most. Asked again
// after a seek, it reads ahead again.
func TestFrameAheadStopsWhenUnused(t *testing.T) {
	_, d := writeDrive(t, testdrive.Spec{Seed: 82, Segments: 4, SegLen: 5 * time.Second, BatchRows: 10, Cameras: 2})
	r, err := d.NewReader(Options{Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	frames := eachFrameRow(t, r, nil) // no FrameData
	fa := framesAhead(r)
	asked := fa.asked.Load()
	if fa.served != 0 || fa.wanted.Load() || asked > 6 {
		t.Fatalf("no FrameData called over %d frames (%d batches), yet %d batches handed to the goroutine, %d frames served, wanted %v",
			frames, frames/10, asked, fa.served, fa.wanted.Load())
	}

	r.SeekTime(0)
	eachFrameRow(t, r, map[string][]byte{})
	if !fa.wanted.Load() || fa.served < int64(frames)/2 {
		t.Fatalf("after FrameData was asked again, %d of %d frames found read ahead", fa.served, frames)
	}
	t.Logf("unused: %d of %d batches handed over; used again: %d of %d frames read ahead", asked, frames/10, fa.served, frames)
}

// Seeks, rows out of t order (overlapping batches), camera filters and reads mixed
// with Next leave every frame's bytes right, and closing a reader whose goroutine
// waits to hand out windows ends it.
func TestFrameAheadAcrossSeeksAndClose(t *testing.T) {
	td, d := writeDrive(t, testdrive.Spec{Seed: 83, Segments: 3, BatchRows: 16, Cameras: 3, Late: 300 * time.Millisecond})
	goroutines := runtime.NumGoroutine()
	for _, opts := range []Options{{Prefetch: 2}, {Prefetch: 3, Cameras: []uint8{0, 2}}} {
		r, err := d.NewReader(opts)
		if err != nil {
			t.Fatal(err)
		}
		video := map[string][]byte{}
		span := td.End - testdrive.T0
		for i := range 8 {
			r.SeekTime(testdrive.T0 + span*int64(i%5)/5)
			for k := range 300 {
				if k%7 == 3 {
					if _, err := r.Next(); errors.Is(err, io.EOF) {
						break
					} else if err != nil {
						t.Fatal(err)
					}
					continue
				}
				row, err := r.NextRow()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if row.Table() == schema.TableFrames {
					checkFrameBytes(t, row, video)
				}
			}
		}
		if framesAhead(r).served == 0 {
			t.Fatalf("%+v: no frame found read ahead", opts)
		}
		r.Close() // mid-drive: the goroutine may be waiting to hand out a window
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Fatalf("%d goroutines after the readers closed, %d before", n, goroutines)
	}
}
