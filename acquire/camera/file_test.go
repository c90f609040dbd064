package camera

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"roadlog/acquire/camera/mp4file"
	"roadlog/internal/shared"
	"roadlog/schema"
)

// fixedClock is a timebase that maps host time to itself plus a constant.
type fixedClock struct{}

func (fixedClock) Ref(host int64) int64 { return host + 1_700_000_000_000_000_000 }

// TestFileDashcam plays the shared dash-cam video (960x540 H.264 at 25 fps with an
// audio track) through the file source and checks every frame against the MP4 index.
func TestFileDashcam(t *testing.T) {
	p := shared.Path(t, "testdata/images/video/udacity_lanes_solidWhiteRight.mp4")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	tracks, err := mp4file.Read(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	idx := tracks[0]
	var c collector
	src := &File{Camera: 2, Path: p, Fast: true, Timebase: fixedClock{}}
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(c.frames) != len(idx.Samples) || len(c.frames) != 221 {
		t.Fatalf("%d frames, index has %d", len(c.frames), len(idx.Samples))
	}
	t0 := c.frames[0].T
	for i, fr := range c.frames {
		s := idx.Samples[i]
		if fr.Seq != int64(i) || fr.Keyframe != s.Sync || fr.Width != 960 || fr.Height != 540 || fr.Codec != schema.CodecH264 || fr.Camera != 2 {
			t.Fatalf("frame %d: seq %d key %v (index %v) %dx%d %v", i, fr.Seq, fr.Keyframe, s.Sync, fr.Width, fr.Height, fr.Codec)
		}
		if want := t0 + int64(i)*40_000_000; fr.T != want {
			t.Fatalf("frame %d: t %d, want %d (25 fps)", i, fr.T-t0, want-t0)
		}
		b := make([]byte, s.Size)
		if _, err := f.ReadAt(b, s.Offset); err != nil {
			t.Fatal(err)
		}
		// the sample minus its in-band parameter sets
		nalus, _ := SplitAVCC(b)
		var want []byte
		for _, n := range nalus {
			if typ := n[0] & 0x1f; typ == 7 || typ == 8 || typ == 9 {
				continue
			}
			want, _ = AppendAnnexB(want, [][]byte{n}, nil)
		}
		got, _ := AppendAnnexB(nil, nil, fr.Data)
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: payload differs from the sample", i)
		}
	}
	if len(c.frames[0].Params) != 2 {
		t.Fatalf("first frame has %d parameter sets", len(c.frames[0].Params))
	}
}

// TestFileRaw plays the raw fixtures: frame i at i/FPS, every picture, in order.
func TestFileRaw(t *testing.T) {
	for _, sc := range streamCases {
		t.Run(sc.file, func(t *testing.T) {
			var c collector
			src := &File{Path: filepath.Join("testdata", sc.file), FPS: 25, Fast: true, Timebase: fixedClock{}}
			if err := src.Run(context.Background(), &c); err != nil {
				t.Fatal(err)
			}
			if len(c.frames) != sc.frames {
				t.Fatalf("%d frames, want %d", len(c.frames), sc.frames)
			}
			for i, fr := range c.frames {
				if fr.Seq != int64(i) || fr.T != c.frames[0].T+int64(i)*40_000_000 {
					t.Fatalf("frame %d: seq %d t %d", i, fr.Seq, fr.T-c.frames[0].T)
				}
			}
		})
	}
}

// TestFileLoop: a looping file continues its seq and time across the end.
func TestFileLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n int
	var frames []*schema.VideoFrame
	sink := schema.SinkFunc(func(s schema.Sample) {
		if vf, ok := s.(*schema.VideoFrame); ok {
			frames = append(frames, vf)
			if n++; n == 30 {
				cancel()
			}
		}
	})
	src := &File{Path: filepath.Join("testdata", "h264_plain.h264"), FPS: 25, Fast: true, Loop: true, Timebase: fixedClock{}}
	if err := src.Run(ctx, sink); err != nil {
		t.Fatal(err)
	}
	if len(frames) < 30 {
		t.Fatalf("%d frames", len(frames))
	}
	for i, fr := range frames {
		if fr.Seq != int64(i) || fr.T != frames[0].T+int64(i)*40_000_000 {
			t.Fatalf("frame %d: seq %d t %d", i, fr.Seq, fr.T-frames[0].T)
		}
		if fr.Keyframe != (i%12%5 == 0) {
			t.Fatalf("frame %d: keyframe %v", i, fr.Keyframe)
		}
	}
}

// TestFileRealTime: played in real time, frames still carry the file's times.
func TestFileRealTime(t *testing.T) {
	var c collector
	src := &File{Path: filepath.Join("testdata", "mjpeg_plain.mjpeg"), FPS: 100, Timebase: fixedClock{}}
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	for i, fr := range c.frames {
		if fr.T != c.frames[0].T+int64(i)*10_000_000 || (i > 0 && fr.THost < c.frames[i-1].THost) {
			t.Fatalf("frame %d: t %d", i, fr.T-c.frames[0].T)
		}
	}
	if len(c.frames) != 12 {
		t.Fatalf("%d frames", len(c.frames))
	}
}

func TestFileErrors(t *testing.T) {
	var c collector
	dir := t.TempDir()
	unknown := filepath.Join(dir, "video.bin")
	if err := os.WriteFile(unknown, []byte("not a video"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (&File{Path: unknown}).Run(context.Background(), &c); !errors.Is(err, ErrFileFormat) {
		t.Fatalf("unknown format: %v", err)
	}
	if err := (&File{Path: filepath.Join(dir, "missing.mp4")}).Run(context.Background(), &c); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	// a torn MP4 plays the samples it has
	b, err := os.ReadFile(filepath.Join("mp4file", "testdata", "frag_h264.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(dir, "torn.mp4")
	tracks, err := mp4file.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	last := tracks[0].Samples[len(tracks[0].Samples)-1]
	if err := os.WriteFile(torn, b[:last.Offset+int64(last.Size)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	c = collector{}
	if err := (&File{Path: torn, Fast: true}).Run(context.Background(), &c); err != nil {
		t.Fatalf("torn file: %v", err)
	}
	if len(c.frames) == 0 || len(c.frames) >= 10 {
		t.Fatalf("torn file gave %d frames", len(c.frames))
	}
}
