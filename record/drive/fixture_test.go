package drive

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

const fixtureV1 = "testdata/v1/drive"

// TestFormatV1Fixture pins format version 1: a drive recorded by the first version of
// the recorder (committed) must always open, verify and read.
func TestFormatV1Fixture(t *testing.T) {
	m, err := ReadManifest(fixtureV1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.Status != StatusClosed || len(m.Segments) != 1 || len(m.Cameras) != 4 {
		t.Fatalf("manifest: version %d status %s segments %d cameras %d", m.Version, m.Status, len(m.Segments), len(m.Cameras))
	}
	rep, err := Verify(fixtureV1)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		var b strings.Builder
		rep.Print(&b)
		t.Fatal(b.String())
	}
	seg := filepath.Join(fixtureV1, SegmentDir(0))
	var n int
	if _, err := ReadRows(filepath.Join(seg, "imu.arrow"), schema.IMUTable, func(r *schema.IMU) error {
		if r.AZ < 9 || r.AZ > 10.6 {
			t.Fatalf("imu az %v", r.AZ)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if int64(n) != m.Segments[0].Tables["imu"].Rows || n != 1000 {
		t.Fatalf("imu rows %d", n)
	}
	var frames []schema.Frame
	if _, err := ReadRows(filepath.Join(seg, "frames.arrow"), schema.FramesTable, func(r *schema.Frame) error {
		frames = append(frames, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(seg, frames[0].File))
	if err != nil {
		t.Fatal(err)
	}
	if jpeg := raw[frames[0].Offset : frames[0].Offset+int64(frames[0].Size)]; !bytes.HasPrefix(jpeg, []byte{0xFF, 0xD8}) {
		t.Fatalf("frame 0 does not point at a JPEG")
	}
}

// FuzzScanArrow feeds damaged table files to the recovery reader: it must never panic,
// and what it reports must lie inside the file.
func FuzzScanArrow(f *testing.F) {
	ents, _ := os.ReadDir(filepath.Join(fixtureV1, SegmentDir(0)))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".arrow") {
			b, err := os.ReadFile(filepath.Join(fixtureV1, SegmentDir(0), e.Name()))
			if err == nil {
				f.Add(b)
				f.Add(b[:len(b)*2/3])
			}
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.arrow")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := ScanArrow(p)
		if err != nil {
			return
		}
		var end int64
		for _, b := range s.Batches {
			if b.Offset < end || b.Offset+b.Length > int64(len(data)) || b.Rows < 0 {
				t.Fatalf("batch %+v outside the file (%d bytes) or before %d", b, len(data), end)
			}
			end = b.Offset + b.Length
		}
		rows := int64(0)
		if _, err := ReadTable(p, func(rec arrow.RecordBatch) error { rows += rec.NumRows(); return nil }); err == nil && rows != s.Rows() {
			t.Fatalf("ReadTable read %d rows, scan found %d", rows, s.Rows())
		}
	})
}

// FuzzScanMP4 feeds damaged video files to the fragment walker.
func FuzzScanMP4(f *testing.F) {
	ents, _ := os.ReadDir(filepath.Join(fixtureV1, SegmentDir(0)))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".mp4") {
			b, err := os.ReadFile(filepath.Join(fixtureV1, SegmentDir(0), e.Name()))
			if err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.mp4")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := ScanMP4(p)
		if err != nil {
			t.Fatal(err)
		}
		if s.ValidEnd > int64(len(data)) {
			t.Fatalf("valid end %d past the file (%d)", s.ValidEnd, len(data))
		}
		for _, sm := range s.Samples {
			if sm.Offset < 0 || sm.Offset+int64(sm.Size) > s.ValidEnd {
				t.Fatalf("sample %+v outside the valid part (%d)", sm, s.ValidEnd)
			}
		}
	})
}
