package rerun

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	itestdrive "roadlog/internal/testdrive"
	"roadlog/record/drive"
	"roadlog/replay"
	"roadlog/schema"
)

// frameKey names a camera frame.
type frameKey struct {
	camera uint8
	seq    int64
}

// imageSums is the truth detector, keeping a hash of every decoded picture it is given.
type imageSums struct {
	t       *testing.T
	inner   Detector
	sums    map[frameKey][sha256.Size]byte
	missing int
}

func (s *imageSums) Detect(ctx context.Context, fs *FrameSet) ([]Detection, error) {
	for _, f := range fs.Frames {
		img, ok := f.Image.(*image.YCbCr)
		if !ok {
			s.missing++
			continue
		}
		h := sha256.New()
		h.Write(img.Y)
		h.Write(img.Cb)
		h.Write(img.Cr)
		s.sums[frameKey{f.Camera, f.Seq}] = [sha256.Size]byte(h.Sum(nil))
	}
	return s.inner.Detect(ctx, fs)
}

// editManifest rewrites the manifest of the drive in dir.
func editManifest(t *testing.T, dir string, edit func(m *drive.Manifest)) {
	t.Helper()
	m, err := drive.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	if err := drive.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
}

// TestRunFindsFramesByTheirRows re-runs an H.264 drive (3 segments of 2 s) whose
// manifest says wrong or nothing about where segments start, or which a crash left
// torn: a frame is decoded from the video file its frames row names, in the segment
// whose frames table holds the row, so every case gives the intact drive's pictures
// (the same hash for every frame) with no decode error, and byte-identical tables
// where no frame was lost.
func TestRunFindsFramesByTheirRows(t *testing.T) {
	opt := itestdrive.Options{Duration: 6 * time.Second, Segment: 2 * time.Second, Cameras: 4, H264: true}
	intact, err := itestdrive.Write(t.TempDir(), opt)
	if errors.Is(err, itestdrive.ErrNoFFmpeg) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	crashOpt := opt
	crashOpt.NoFooter = true
	crashed, err := itestdrive.Write(t.TempDir(), crashOpt)
	if err != nil {
		t.Fatal(err)
	}
	crashManifest := func(t *testing.T, dir string) {
		editManifest(t, dir, func(m *drive.Manifest) {
			m.Segments = m.Segments[:len(m.Segments)-1]
			m.Status, m.EndT = drive.StatusRecording, 0
		})
	}
	cases := []struct {
		name   string
		src    string
		damage func(t *testing.T, dir string)
		// frames left out: their bytes are not in the file (one damage event); the
		// tables then differ from the intact drive's
		lost int64
	}{
		{"intact", intact.Dir, nil, 0},
		{"segment 1 without start", intact.Dir, func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *drive.Manifest) { m.Segments[1].StartT = 0 })
		}, 0},
		{"segment 0 without start", intact.Dir, func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *drive.Manifest) { m.Segments[0].StartT = 0 })
		}, 0},
		// the recorder moves a camera to the next segment at its first keyframe at or
		// after the segment's start: the frames before it stay in the earlier file
		{"segment 1 starts before its first frame", intact.Dir, func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *drive.Manifest) { m.Segments[1].StartT -= int64(200 * time.Millisecond) })
		}, 0},
		// a crash: the last segment was never closed, so the manifest does not list it
		// and its tables have no footer
		{"crash-torn last segment", crashed.Dir, crashManifest, 0},
		// ... and camera 0's video of that segment cut before its last fragment's
		// samples (15 frames): the file opens with its complete fragments
		{"crash-torn last segment and video", crashed.Dir, func(t *testing.T, dir string) {
			crashManifest(t, dir)
			seg := filepath.Join(dir, drive.SegmentDir(2))
			var offs []int64
			if _, err := drive.ReadRows(filepath.Join(seg, drive.TableFile(schema.TableFrames)), schema.FramesTable, func(f *schema.Frame) error {
				if f.Camera == 0 {
					offs = append(offs, f.Offset)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(offs) != 60 {
				t.Fatalf("camera 0 has %d frames in segment 2, want 60", len(offs))
			}
			if err := os.Truncate(filepath.Join(seg, drive.VideoFile(0, 0)), offs[45]-1); err != nil {
				t.Fatal(err)
			}
		}, 15},
	}
	cams := []uint8{0, 2}
	var want map[frameKey][sha256.Size]byte
	var wantDir string
	for _, c := range cases {
		d := copyDrive(t, c.src)
		if c.damage != nil {
			c.damage(t, d.Dir)
			if d, err = replay.Open(d.Dir); err != nil {
				t.Fatal(err)
			}
		}
		p := truth(t, d)
		det := &imageSums{t: t, inner: p.Detector, sums: map[frameKey][sha256.Size]byte{}}
		p.Detector, p.NeedImages = det, true
		info, err := Run(context.Background(), d, Options{RunID: "r", Perception: p, Cameras: cams})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		damage := int64(0)
		if c.lost > 0 {
			damage = 1
		}
		if info.Stats.DecodeErrors != 0 || info.Stats.Damage != damage || det.missing != 0 || info.Stats.Frames != 2*6*30-c.lost {
			t.Errorf("%s: stats %+v, %d frames without a picture", c.name, info.Stats, det.missing)
		}
		if want == nil {
			want, wantDir = det.sums, d.Dir
			continue
		}
		bad := 0
		for k, sum := range det.sums {
			if want[k] != sum {
				bad++
			}
		}
		if bad > 0 || int64(len(det.sums)) != int64(len(want))-c.lost {
			t.Errorf("%s: %d of %d pictures differ from the intact drive's (%d of them decoded)", c.name, bad, len(det.sums), len(want))
		}
		if c.lost > 0 {
			continue
		}
		for _, tbl := range []schema.TableName{schema.TableObjects, schema.TableTargets, schema.TableEvents} {
			a, err := os.ReadFile(filepath.Join(wantDir, drive.RunsDir, "r", drive.TableFile(tbl)))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(d.Dir, drive.RunsDir, "r", drive.TableFile(tbl)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s: %s differs from the intact drive's", c.name, tbl)
			}
		}
	}
}
