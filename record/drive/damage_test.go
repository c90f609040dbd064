package drive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/schema"
)

// makeDrive writes a small closed drive by hand: one segment, 10 batches of 100 CAN
// rows, 30 MJPEG-like frames in 6 fragments with their frames rows.
func makeDrive(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	seg := filepath.Join(dir, SegmentDir(0))
	os.MkdirAll(seg, 0o755)
	f, _ := OSFS{}.Create(filepath.Join(seg, "can.arrow"))
	w, err := NewTableWriter(f, schema.CANTable, CodecZSTD)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 10; b++ {
		for i := 0; i < 100; i++ {
			n := int64(b*100 + i)
			w.Append(&schema.CAN{T: 1e9 + n*1e6, Bus: "pt", ID: uint32(n % 7), DLC: 8, Data: []byte{byte(n), 1, 2, 3, 4, 5, 6, 7}}, 1e9+n*1e6)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	vf, _ := OSFS{}.Create(filepath.Join(seg, "cam0.mp4"))
	mk := func(i int) *schema.VideoFrame {
		return &schema.VideoFrame{Frame: schema.Frame{T: 1e9 + int64(i)*33e6, Seq: int64(i), TriggerID: int64(i), Codec: schema.CodecMJPEG, Width: 16, Height: 16, Keyframe: true},
			Data: []byte(strings.Repeat(string(rune('a'+i%26)), 500+i))}
	}
	vw, err := NewVideoWriter(vf, "cam0.mp4", mk(0))
	if err != nil {
		t.Fatal(err)
	}
	var rows []schema.Frame
	for i := 0; i < 30; i++ {
		vw.Add(mk(i))
		if i%5 == 4 {
			r, _ := vw.Flush()
			rows = append(rows, r...)
		}
	}
	vw.Close()
	ff, _ := OSFS{}.Create(filepath.Join(seg, "frames.arrow"))
	fw, _ := NewTableWriter(ff, schema.FramesTable, CodecZSTD)
	for i := range rows {
		fw.Append(&rows[i], rows[i].T)
	}
	fw.Close()
	for _, tb := range schema.Tables() {
		p := filepath.Join(seg, TableFile(tb.TableName()))
		if _, err := os.Stat(p); err != nil {
			f, _ := OSFS{}.Create(p)
			WriteEmpty(f, tb, CodecZSTD)
		}
	}
	m := &Manifest{Format: schema.FormatName, Version: 1, DriveID: "test", Status: StatusClosed, Compression: "zstd"}
	if err := RefreshSegments(dir, m); err != nil {
		t.Fatal(err)
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	if rep, _ := Verify(dir); !rep.OK() {
		var b strings.Builder
		rep.Print(&b)
		t.Fatalf("fresh drive does not verify:\n%s", b.String())
	}
	return dir
}

// damage is one way to break a file; minRows/minFrames is what must survive.
type damage struct {
	name      string
	file      string
	apply     func(b []byte) []byte
	minRows   int64 // CAN rows that must survive
	minFrames int   // video frames that must survive
	cut       bool  // repair must report a cut on this file
}

func truncAt(frac float64) func([]byte) []byte {
	return func(b []byte) []byte { return b[:int(float64(len(b))*frac)] }
}

func zeroRange(from, to float64) func([]byte) []byte {
	return func(b []byte) []byte {
		for i := int(float64(len(b)) * from); i < int(float64(len(b))*to); i++ {
			b[i] = 0
		}
		return b
	}
}

func flipAt(frac float64) func([]byte) []byte {
	return func(b []byte) []byte { b[int(float64(len(b))*frac)] ^= 0xA5; return b }
}

var damages = []damage{
	{"arrow: footer lost (crash)", "can.arrow", func(b []byte) []byte { return b[:len(b)-10] }, 1000, 30, true},
	{"arrow: truncated mid-file", "can.arrow", truncAt(0.55), 400, 30, true},
	{"arrow: truncated to the magic", "can.arrow", func(b []byte) []byte { return b[:8] }, 0, 30, true},
	{"arrow: empty file", "can.arrow", func(b []byte) []byte { return nil }, 0, 30, true},
	{"arrow: zeroed middle", "can.arrow", zeroRange(0.4, 0.5), 700, 30, true},
	{"arrow: flipped byte in a batch", "can.arrow", flipAt(0.3), 800, 30, true},
	{"arrow: flipped byte in the footer length", "can.arrow", func(b []byte) []byte { b[len(b)-9] ^= 0x40; return b }, 1000, 30, true},
	{"arrow: flipped byte in the footer body", "can.arrow", flipAt(0.995), 1000, 30, false},
	{"arrow: flipped byte in the schema", "can.arrow", func(b []byte) []byte { b[40] ^= 0xFF; return b }, 0, 30, false},
	{"arrow: garbage appended", "can.arrow", func(b []byte) []byte { return append(b, []byte("garbage garbage garbage")...) }, 1000, 30, true},
	{"mp4: truncated mid-fragment", "cam0.mp4", truncAt(0.7), 1000, 15, true},
	{"mp4: last fragment's mdat cut", "cam0.mp4", func(b []byte) []byte { return b[:len(b)-100] }, 1000, 25, true},
	{"mp4: zeroed middle", "cam0.mp4", zeroRange(0.5, 0.6), 1000, 10, true},
	{"mp4: garbage appended", "cam0.mp4", func(b []byte) []byte { return append(b, 0, 0, 0, 9, 'x') }, 1000, 30, true},
	{"mp4: only the init segment", "cam0.mp4", truncAt(0.08), 1000, 0, true},
	{"frames: footer lost", "frames.arrow", func(b []byte) []byte { return b[:len(b)-10] }, 1000, 30, true},
	{"manifest: corrupt", "../manifest.json", func(b []byte) []byte { return b[:len(b)/2] }, 1000, 30, true},
}

func TestRepairDamageTable(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := makeDrive(t)
			p := filepath.Join(dir, SegmentDir(0), d.file)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, d.apply(b), 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := Repair(dir, Software{Name: "test"})
			if err != nil {
				t.Fatalf("repair: %v", err)
			}
			if d.cut && len(rep.Cuts) == 0 {
				t.Fatalf("repair reported nothing for %s", d.file)
			}
			for _, c := range rep.Cuts {
				if c.Reason == "" || c.Action == "" {
					t.Errorf("cut without action or reason: %+v", c)
				}
			}
			vr, err := Verify(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !vr.OK() {
				var sb strings.Builder
				vr.Print(&sb)
				t.Fatalf("verify after repair:\n%s", sb.String())
			}
			if vr.Rows["can"] < d.minRows {
				t.Errorf("%d CAN rows survive, want ≥ %d", vr.Rows["can"], d.minRows)
			}
			if vr.Frames < int64(d.minFrames) || vr.Rows["frames"] != vr.Frames {
				t.Errorf("%d frames (%d rows) survive, want ≥ %d", vr.Frames, vr.Rows["frames"], d.minFrames)
			}
			m, err := ReadManifest(dir)
			if err != nil || (len(rep.Cuts) > 0 && (m.Status != StatusRecovered || m.Recovery == nil)) {
				t.Fatalf("manifest after repair: %+v %v", m, err)
			}
			// the damaged original is kept aside
			if d.file != "../manifest.json" {
				if _, err := os.Stat(filepath.Join(dir, DamagedDir, SegmentDir(0), d.file)); err != nil && len(rep.Cuts) > 0 && rep.Cuts[0].Action != "created" {
					t.Errorf("damaged original not kept: %v", err)
				}
			}
			// a second repair finds nothing more to cut
			rep2, err := Repair(dir, Software{Name: "test"})
			if err != nil || len(rep2.Cuts) != 0 {
				t.Fatalf("second repair: %v %+v", err, rep2.Cuts)
			}
		})
	}
}
