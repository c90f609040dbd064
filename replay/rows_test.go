package replay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// A read mode reads a reader to its end and returns the samples, and the frames
// rows whose bytes could not be read (by video file; NextRow hands such rows out
// where Next skips them and reports the file as damage).
type readMode struct {
	name string
	read func(t *testing.T, r *Reader) (got []schema.Sample, lost map[string]int)
}

// readModes are the ways the property tests read: Next; NextRow with every row
// decoded through Sample (and checked against its typed and raw accessors); the
// two taken in turn at random.
var readModes = []readMode{
	{"next", func(t *testing.T, r *Reader) ([]schema.Sample, map[string]int) { return readAll(t, r), nil }},
	{"rows", readRows},
	{"mixed", readMixed},
}

// readRows reads r with NextRow. Every row is decoded with Sample and checked against
// what the row's accessors say: T and Table, ReadRow into a reused value, the arrow
// record, and for a frame FrameData (against the sample's bytes).
func readRows(t *testing.T, r *Reader) ([]schema.Sample, map[string]int) {
	t.Helper()
	var out []schema.Sample
	lost := map[string]int{}
	rd := newRowDecoders()
	for {
		row, err := r.NextRow()
		if errors.Is(err, io.EOF) {
			return out, lost
		}
		if err != nil {
			t.Fatal(err)
		}
		s, ok := checkRow(t, row, rd, lost)
		if ok {
			out = append(out, s)
		}
	}
}

// readMixed reads r with Next and NextRow taken at random.
func readMixed(t *testing.T, r *Reader) ([]schema.Sample, map[string]int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(r.curs)), 3))
	var out []schema.Sample
	lost := map[string]int{}
	rd := newRowDecoders()
	for {
		if rng.IntN(2) == 0 {
			s, err := r.Next()
			if errors.Is(err, io.EOF) {
				return out, lost
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
			continue
		}
		row, err := r.NextRow()
		if errors.Is(err, io.EOF) {
			return out, lost
		}
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := checkRow(t, row, rd, lost); ok {
			out = append(out, s)
		}
	}
}

// rowDecoders hold one reused value per table for ReadRow, and the video files
// FramePath named, read whole.
type rowDecoders struct {
	can   schema.CAN
	frame schema.Frame
	ev    schema.Event
	imu   schema.IMU
	video map[string][]byte
}

func newRowDecoders() *rowDecoders { return &rowDecoders{video: map[string][]byte{}} }

// checkFramePath checks that FramePath agrees with FrameData (data, err): the same
// damage, or a file that holds the frame's bytes where the row says.
func checkFramePath(t *testing.T, row *Row, rd *rowDecoders, data []byte, err error) {
	t.Helper()
	path, perr := row.FramePath()
	if err != nil {
		var de, pe *DamageError
		if !errors.As(err, &de) || !errors.As(perr, &pe) || pe.Path != de.Path {
			t.Fatalf("FrameData: %v; FramePath: %q, %v", err, path, perr)
		}
		return
	}
	if perr != nil {
		t.Fatalf("FrameData read the frame, FramePath: %v", perr)
	}
	b, ok := rd.video[path]
	if !ok {
		if b, err = os.ReadFile(path); err != nil {
			t.Fatalf("FramePath names %s: %v", path, err)
		}
		rd.video[path] = b
	}
	if !ReadRow(row, schema.FramesTable, &rd.frame) || rd.frame.File != filepath.Base(path) ||
		!bytes.Equal(b[rd.frame.Offset:rd.frame.Offset+int64(rd.frame.Size)], data) {
		t.Fatalf("frame %d/%d: FramePath names %s, which does not hold its bytes", rd.frame.Camera, rd.frame.Seq, path)
	}
}

// checkRow decodes a row and checks its accessors; ok is false for a frame whose
// bytes cannot be read (counted in lost).
func checkRow(t *testing.T, row *Row, rd *rowDecoders, lost map[string]int) (schema.Sample, bool) {
	t.Helper()
	if row.Table() == schema.TableFrames {
		data, err := row.FrameData()
		checkFramePath(t, row, rd, data, err)
		if err != nil {
			var de *DamageError
			if !errors.As(err, &de) {
				t.Fatalf("frame data: %v, want a *DamageError", err)
			}
			if _, serr := row.Sample(); serr == nil && !noVideo(row) {
				t.Fatalf("frame bytes unreadable (%v) but Sample read them", err)
			}
			lost[de.Path]++
			if noVideo(row) { // the sample is the frames row, bytes not asked for
				s, _ := row.Sample()
				return s, true
			}
			return nil, false
		}
		s, err := row.Sample()
		if err != nil {
			t.Fatalf("frame bytes read (%d) but Sample failed: %v", len(data), err)
		}
		if vf, ok := s.(*schema.VideoFrame); ok && !bytes.Equal(vf.Data, data) {
			t.Fatalf("frame %d/%d: FrameData gives %d bytes, Sample %d (or different ones)", vf.Camera, vf.Seq, len(data), len(vf.Data))
		}
		if !ReadRow(row, schema.FramesTable, &rd.frame) || rd.frame.T != row.T() {
			t.Fatalf("ReadRow of a frame row: t %d, row says %d", rd.frame.T, row.T())
		}
		checkSample(t, row, s)
		checkBatch(t, row)
		return s, true
	}
	if _, err := row.FrameData(); !errors.Is(err, ErrNotFrame) {
		t.Fatalf("frame data of a %s row: %v, want ErrNotFrame", row.Table(), err)
	}
	if _, err := row.FramePath(); !errors.Is(err, ErrNotFrame) {
		t.Fatalf("frame path of a %s row: %v, want ErrNotFrame", row.Table(), err)
	}
	if ReadRow(row, schema.FramesTable, &rd.frame) {
		t.Fatalf("ReadRow read a %s row as a frame", row.Table())
	}
	s, err := row.Sample()
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, row, s)
	// the typed accessor decodes what Sample does, into a value reused row after row
	switch v := s.(type) {
	case *schema.CAN:
		if !ReadRow(row, schema.CANTable, &rd.can) || key(&rd.can) != key(v) {
			t.Fatalf("ReadRow: %s, Sample: %s", key(&rd.can), key(v))
		}
	case *schema.IMU:
		if !ReadRow(row, schema.IMUTable, &rd.imu) || key(&rd.imu) != key(v) {
			t.Fatalf("ReadRow: %s, Sample: %s", key(&rd.imu), key(v))
		}
	case *schema.Event:
		if !ReadRow(row, schema.EventsTable, &rd.ev) || key(&rd.ev) != key(v) {
			t.Fatalf("ReadRow: %s, Sample: %s", key(&rd.ev), key(v))
		}
	}
	checkBatch(t, row)
	return s, true
}

// noVideo reports whether the row's reader delivers frames without their bytes.
func noVideo(row *Row) bool { return row.r.opts.NoVideoData }

// checkBatch checks that the row's batch holds it (its t in the t column).
func checkBatch(t *testing.T, row *Row) {
	t.Helper()
	rec, i := row.Batch()
	if rec == nil {
		if i != -1 || row.Table() != schema.TableEvents {
			t.Fatalf("a %s row without a batch", row.Table())
		}
		return
	}
	if i < 0 || i >= int(rec.NumRows()) {
		t.Fatalf("row %d of a %d-row batch", i, rec.NumRows())
	}
	if ts := int64(rec.Column(0).(*array.Timestamp).Value(i)); ts != row.T() {
		t.Fatalf("the batch has t=%d at the row, the row says %d", ts, row.T())
	}
}

func checkSample(t *testing.T, row *Row, s schema.Sample) {
	t.Helper()
	if s.Table() != row.Table() || sampleT(s) != row.T() {
		t.Fatalf("row says %s t=%d, its sample %s t=%d", row.Table(), row.T(), s.Table(), sampleT(s))
	}
}

// NextRow hands out the rows Next hands out, in the same order (ties included), under
// every option: the sequences are compared element by element.
func TestRowsFollowNext(t *testing.T) {
	for _, spec := range mergeCases {
		td, d := writeDrive(t, spec)
		mid := testdrive.T0 + (td.End-testdrive.T0)/3
		for _, oc := range []struct {
			name string
			opts Options
		}{
			{"default", Options{}},
			{"prefetch=none", Options{Prefetch: -1}},
			{"prefetch=3", Options{Prefetch: 3}},
			{"filters", Options{Cameras: []uint8{0}, CANBuses: []string{"chassis"}, CANIDs: []uint32{0x100, 0x102, 0x105}}},
			{"range", Options{From: mid, To: mid + int64(time.Second), Tables: []schema.TableName{schema.TableFrames, schema.TableIMU, schema.TableEvents}}},
			{"no video data", Options{NoVideoData: true}},
		} {
			opts := oc.opts
			t.Run(fmt.Sprintf("seed=%d/%s", spec.Seed, oc.name), func(t *testing.T) {
				var want, got []schema.Sample
				for i, read := range []func(*testing.T, *Reader) ([]schema.Sample, map[string]int){
					func(t *testing.T, r *Reader) ([]schema.Sample, map[string]int) { return readAll(t, r), nil },
					readRows,
				} {
					r, err := d.NewReader(opts)
					if err != nil {
						t.Fatal(err)
					}
					out, lost := read(t, r)
					r.Close()
					if len(lost) > 0 {
						t.Fatalf("frames lost on an intact drive: %v", lost)
					}
					if i == 0 {
						want = out
					} else {
						got = out
					}
				}
				if len(want) == 0 {
					t.Fatal("nothing read")
				}
				if len(got) != len(want) {
					t.Fatalf("NextRow gave %d rows, Next %d", len(got), len(want))
				}
				for i := range want { // kept samples stay as read: batches reused meanwhile did not touch them
					if key(got[i]) != key(want[i]) {
						t.Fatalf("row %d:\nNextRow %s\n   Next %s", i, key(got[i]), key(want[i]))
					}
				}
			})
		}
	}
}

func TestRowAccessorsAtTheEdges(t *testing.T) {
	_, d := writeDrive(t, testdrive.Spec{Seed: 71, Segments: 1})
	r, err := d.NewReader(Options{Tables: []schema.TableName{schema.TableSync}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	row, err := r.NextRow()
	if err != nil {
		t.Fatal(err)
	}
	var ev schema.Event
	if ReadRow(row, schema.EventsTable, &ev) {
		t.Fatal("ReadRow read a sync row as an event")
	}
	if _, err := r.NextRow(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the only sync row: %v, want io.EOF", err)
	}
	if _, err := r.NextRow(); !errors.Is(err, io.EOF) {
		t.Fatalf("again: %v, want io.EOF", err)
	}
	r.SeekTime(0)
	if row, err := r.NextRow(); err != nil || row.Table() != schema.TableSync {
		t.Fatalf("after a seek to the start: %v %v", row, err)
	}
}

// Reading with NextRow allocates per batch, never per row: a pass over a drive of
// large batches allocates far fewer times than it has rows (FrameData and FramePath
// asked of every frame).
func TestRowsDoNotAllocatePerRow(t *testing.T) {
	td, d := writeDrive(t, testdrive.Spec{Seed: 81, Segments: 2, BatchRows: 4000, Cameras: 2, CANRate: 8000, IMURate: 2000})
	var rows int
	for _, rs := range td.Rows {
		rows += len(rs)
	}
	pass := func() { readFrames(t, d, Options{Prefetch: -1}, nil) }
	allocs := testing.AllocsPerRun(3, pass)
	if allocs > float64(rows)/20 {
		t.Fatalf("a pass over %d rows allocates %.0f times", rows, allocs)
	}
	t.Logf("%d rows, %.0f allocations a pass", rows, allocs)
}

// readFrames reads the drive once with NextRow, asking every frame for its bytes
// (FrameData) and file (FramePath), and calls fn (if not nil) with every row.
func readFrames(t *testing.T, d *Drive, opts Options, fn func(*Row)) {
	t.Helper()
	r, err := d.NewReader(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		row, err := r.NextRow()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if row.Table() == schema.TableFrames {
			if _, err := row.FrameData(); err != nil {
				t.Fatal(err)
			}
			if _, err := row.FramePath(); err != nil {
				t.Fatal(err)
			}
		}
		if fn != nil {
			fn(row)
		}
	}
}
