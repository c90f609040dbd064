package replay

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"roadlog/record/drive"
	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// batchRows returns, for each batch of an intact table file, its offset and the
// range of rows (in file order) it holds.
type batchSpan struct {
	off, end int64
	lo, hi   int
}

func batchSpans(t *testing.T, path string) []batchSpan {
	t.Helper()
	s, err := drive.ScanArrow(path)
	if err != nil || len(s.Damage) > 0 {
		t.Fatalf("scan %s: %v %v", path, err, s.Damage)
	}
	var out []batchSpan
	row := 0
	for _, b := range s.Batches {
		out = append(out, batchSpan{b.Offset, b.Offset + b.Length, row, row + int(b.Rows)})
		row += int(b.Rows)
	}
	return out
}

func damageDrive(t *testing.T) *testdrive.Drive {
	t.Helper()
	td, err := testdrive.Write(t.TempDir(), testdrive.Spec{Seed: 41, Segments: 3, Cameras: 2, BatchRows: 32})
	if err != nil {
		t.Fatal(err)
	}
	return td
}

// Crash tests as a table of damage: each case damages the drive and says which rows
// of which file are lost; everything else must come out, in order, with at least one
// EvReplayDamage event, and no error.
func TestReplayPastDamage(t *testing.T) {
	type lost map[string]func(i int) bool // per file (relative path): rows lost, by file-order index
	all := func(int) bool { return true }
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string) lost
		events int // damage events at least
	}{
		{"truncated mid-batch (crash)", func(t *testing.T, dir string) lost {
			rel := "seg-000001/can.arrow"
			sp := batchSpans(t, filepath.Join(dir, rel))
			k := len(sp) / 2
			cut := (sp[k].off + sp[k].end) / 2
			if err := os.Truncate(filepath.Join(dir, rel), cut); err != nil {
				t.Fatal(err)
			}
			return lost{rel: func(i int) bool { return i >= sp[k].lo }}
		}, 1},
		{"every file of the last segment cut (crash)", func(t *testing.T, dir string) lost {
			l := lost{}
			seg := "seg-000002"
			ents, _ := os.ReadDir(filepath.Join(dir, seg))
			for _, e := range ents {
				rel := filepath.Join(seg, e.Name())
				p := filepath.Join(dir, rel)
				if filepath.Ext(e.Name()) == ".mp4" {
					st, _ := os.Stat(p)
					os.Truncate(p, st.Size()*2/3) // frames past the cut are lost with their bytes
					continue
				}
				sp := batchSpans(t, p)
				k := len(sp) * 2 / 3
				os.Truncate(p, sp[k].off+9)
				lo := sp[k].lo
				l[rel] = func(i int) bool { return i >= lo }
			}
			// frames whose bytes lie past the cut of their mp4: found by reading the
			// frames rows that survive
			return l
		}, 3},
		{"corrupt batch in the middle (footer intact)", func(t *testing.T, dir string) lost {
			rel := "seg-000000/imu.arrow"
			p := filepath.Join(dir, rel)
			sp := batchSpans(t, p)
			k := len(sp) / 2
			f, _ := os.OpenFile(p, os.O_RDWR, 0)
			f.WriteAt([]byte{0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB}, sp[k].off)
			f.Close()
			return lost{rel: func(i int) bool { return i >= sp[k].lo && i < sp[k].hi }}
		}, 1},
		{"corrupt batch in a footerless file", func(t *testing.T, dir string) lost {
			rel := "seg-000001/ego.arrow"
			p := filepath.Join(dir, rel)
			sp := batchSpans(t, p)
			k := len(sp) / 3
			f, _ := os.OpenFile(p, os.O_RDWR, 0)
			f.WriteAt(make([]byte, 16), sp[k].off) // zeroed prefix: the scan resynchronises
			f.Close()
			os.Truncate(p, sp[len(sp)-1].end) // drop the footer
			return lost{rel: func(i int) bool { return i >= sp[k].lo && i < sp[k].hi }}
		}, 1},
		{"table file is garbage", func(t *testing.T, dir string) lost {
			rel := "seg-000001/gnss.arrow"
			os.WriteFile(filepath.Join(dir, rel), []byte("this is not an arrow file at all"), 0o644)
			return lost{rel: all}
		}, 1},
		{"camera file missing", func(t *testing.T, dir string) lost {
			os.Remove(filepath.Join(dir, "seg-000001", "cam1.mp4"))
			return nil // the frames of camera 1 in segment 1 are lost: checked below
		}, 1},
		{"no manifest (crash before the first segment closed)", func(t *testing.T, dir string) lost {
			os.Remove(filepath.Join(dir, drive.ManifestFile))
			return nil
		}, 0},
	}
	for _, c := range cases {
		for _, mode := range readModes[:2] { // Next skips frames whose bytes are gone, NextRow hands them out
			t.Run(c.name+"/read="+mode.name, func(t *testing.T) {
				td := damageDrive(t)
				l := c.damage(t, td.Dir)
				d, err := Open(td.Dir)
				if err != nil {
					t.Fatal(err)
				}
				r, err := d.NewReader(Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				got, lost := mode.read(t, r)
				checkOrdered(t, got)
				var data, damage []schema.Sample
				for _, s := range got {
					if ev, ok := s.(*schema.Event); ok && ev.Code == schema.EvReplayDamage {
						damage = append(damage, s)
						continue
					}
					data = append(data, s)
				}
				// NextRow reports frames whose bytes are gone through FrameData, not as events
				if reported := len(damage) + len(lost); reported < c.events || (c.events == 0 && reported > 0) {
					t.Fatalf("%d damage events and %d files with frames lost, want %d: %v %v", len(damage), len(lost), c.events, keys(damage), lost)
				}
				if st := r.Stats(); st.Damage != int64(len(damage)) {
					t.Fatalf("stats count %d damage events, stream has %d", st.Damage, len(damage))
				}
				var want []schema.Sample
				framesGone := 0
				for rel, rows := range td.Files {
					for i, s := range rows {
						if f := l[rel]; f != nil && f(i) {
							continue
						}
						if vf, ok := s.(*schema.VideoFrame); ok && !frameSurvives(td.Dir, rel, vf) {
							framesGone++
							continue
						}
						want = append(want, s)
					}
				}
				sameKeys(t, keys(data), keys(want))
				if lostRows := sumLost(lost); mode.name == "rows" && lostRows != framesGone {
					t.Fatalf("FrameData failed on %d frames, %d lost their bytes", lostRows, framesGone)
				}
			})
		}
	}
}

func sumLost(lost map[string]int) int {
	n := 0
	for _, k := range lost {
		n += k
	}
	return n
}

// frameSurvives reports whether a frame's bytes are still in its video file.
func frameSurvives(dir, rel string, vf *schema.VideoFrame) bool {
	st, err := os.Stat(filepath.Join(dir, filepath.Dir(rel), vf.File))
	return err == nil && vf.Offset+int64(vf.Size) <= st.Size()
}

func TestFrameTimeAndSeekFrame(t *testing.T) {
	td, d := openTest(t, testdrive.Spec{Seed: 51, Segments: 4, Cameras: 3, FPS: 15, SegLen: time.Second})
	r, err := d.NewReader(Options{Tables: []schema.TableName{schema.TableFrames, schema.TableCAN}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, s := range td.Rows[schema.TableFrames] {
		if i%7 != 0 {
			continue
		}
		vf := s.(*schema.VideoFrame)
		at, err := r.SeekFrame(vf.Camera, vf.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if at != vf.T {
			t.Fatalf("frame %d/%d at %d, want %d", vf.Camera, vf.Seq, at, vf.T)
		}
		// the frame's instant comes next, this frame among it
		found := false
		for {
			s, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if sampleT(s) != at {
				break
			}
			if g, ok := s.(*schema.VideoFrame); ok && key(g) == key(vf) {
				found = true
			}
		}
		if !found {
			t.Fatalf("after seeking to frame %d/%d it did not come", vf.Camera, vf.Seq)
		}
	}
	if _, err := d.FrameTime(9, 0); !errors.Is(err, ErrNoFrame) {
		t.Fatalf("missing camera: %v, want ErrNoFrame", err)
	}
	if _, err := d.FrameTime(0, 1<<40); !errors.Is(err, ErrNoFrame) {
		t.Fatalf("missing seq: %v, want ErrNoFrame", err)
	}
}
