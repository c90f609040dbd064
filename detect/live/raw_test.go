package live_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
	"time"

	"roadlog/acquire/camera"
	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/live"
	"roadlog/detect/obs"
	"roadlog/detect/pipeline"
	"roadlog/internal/shared"
)

// A raw capture camera's picture (YUYV, as the recorder's encoder keeps it for the
// live detector) is detected like the same picture sent as JPEG: the real CNN on the
// CPU engine finds the same objects in both, boxes within a few pixels.
func TestImagesDetectRawPictures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CNN on the CPU")
	}
	_, jpg, img := nuScenesFront(t)
	raw, err := (&camera.RawFrame{Pix: toYUYV(img), Format: camera.PixYUYV, Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}).Image()
	if err != nil {
		t.Fatal(err)
	}
	detectOne, _ := cpuDetect(t, img.Bounds().Dx(), img.Bounds().Dy())
	fromJPEG := detectOne(pipeline.Frame{JPEG: jpg})
	fromRaw := detectOne(pipeline.Frame{Image: raw})
	if len(fromJPEG) == 0 {
		t.Fatal("no detections in the JPEG")
	}
	// every confident detection of one is in the other (scores near the threshold may
	// fall either side: YUYV keeps twice the chroma of the JPEG's 4:2:0)
	matchDetections(t, fromJPEG, fromRaw, "JPEG → raw", 0.4, 0.9)
	matchDetections(t, fromRaw, fromJPEG, "raw → JPEG", 0.4, 0.9)
	t.Logf("%d detections from the JPEG, %d from the YUYV picture", len(fromJPEG), len(fromRaw))
}

// matchDetections checks that every detection of a scored at least minScore has one
// of the same class in b (camera 2) overlapping it by minIoU.
func matchDetections(t *testing.T, a, b []obs.Detection, what string, minScore, minIoU float32) {
	t.Helper()
	for _, da := range a {
		if da.Score < minScore {
			continue
		}
		found := false
		for _, db := range b {
			if db.Class == da.Class && db.Camera == 2 && iou(da, db) >= minIoU {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %s %.2f at (%.0f,%.0f)-(%.0f,%.0f) has no match", what, da.Label, da.Score, da.X1, da.Y1, da.X2, da.Y2)
		}
	}
}

// nuScenesFront is a labelled road image with cars, trucks and people (../shared).
func nuScenesFront(t *testing.T) (path string, jpg []byte, img image.Image) {
	t.Helper()
	path = filepath.Join(shared.Path(t, "testdata/images/nuscenes/samples"), "n015-2018-07-24-11-22-45+0800__CAM_FRONT__1532402927612460.jpg")
	jpg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = jpeg.Decode(bytes.NewReader(jpg)); err != nil {
		t.Fatal(err)
	}
	return path, jpg, img
}

// cpuDetect returns a function detecting one frame (as camera 2, of w×h) with the
// real CNN on the CPU engine through live.Images, and the live.Images detector.
func cpuDetect(t *testing.T, w, h int) (func(pipeline.Frame) []obs.Detection, pipeline.SetsDetector) {
	t.Helper()
	d, err := centernet.NewCPU(centernet.Config{Thresholds: detect.RoadThresholds()}, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	x := live.Images(d)
	return func(f pipeline.Frame) []obs.Detection {
		t.Helper()
		f.Camera, f.Width, f.Height = 2, w, h
		dets, err := x.Detect(context.Background(), &pipeline.FrameSet{T: 1, TriggerID: 1, Frames: []pipeline.Frame{f}})
		if err != nil {
			t.Fatal(err)
		}
		return dets
	}, x
}

// An H.264 camera's frame, decoded live, is detected like the same picture sent as
// JPEG: the real CNN on the CPU engine finds the same objects in both; a frame the
// decoder has no picture for is a per-frame error.
func TestImagesDetectH264Frames(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CNN on the CPU")
	}
	p, jpg, img := nuScenesFront(t)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	frames, _ := live.EncodeH264(t, 6, w, h, []string{"-loop", "1", "-i", p}, "-qp", "12")
	dec := &live.StreamDecoder{Timeout: time.Hour} // as long as ffmpeg takes on a loaded machine
	defer dec.Close()
	for _, f := range frames {
		dec.Feed(f)
	}
	detectOne, x := cpuDetect(t, w, h)
	fromJPEG := detectOne(pipeline.Frame{JPEG: jpg})
	seq := frames[2].Seq
	fromH264 := detectOne(pipeline.Frame{Seq: seq, Picture: func(ctx context.Context) (image.Image, error) { return dec.Picture(ctx, seq) }})
	if len(fromJPEG) == 0 {
		t.Fatal("no detections in the JPEG")
	}
	matchDetections(t, fromJPEG, fromH264, "JPEG → H.264", 0.5, 0.8)
	matchDetections(t, fromH264, fromJPEG, "H.264 → JPEG", 0.5, 0.8)
	_, err := x.Detect(context.Background(), &pipeline.FrameSet{Frames: []pipeline.Frame{{Camera: 4, Seq: 1,
		Picture: func(ctx context.Context) (image.Image, error) { return dec.Picture(ctx, frames[0].Seq-50) }}}})
	var fe *pipeline.FrameError
	if !errors.As(err, &fe) || fe.Camera != 4 || !errors.Is(err, live.ErrNoPicture) {
		t.Fatalf("a frame without a picture: %v", err)
	}
	t.Logf("%d detections from the JPEG, %d from the H.264 frame", len(fromJPEG), len(fromH264))

	// the decoded pictures stay on their frames: the pipeline aligns the tracks'
	// pixels in them (looming)
	fs := &pipeline.FrameSet{T: 2, TriggerID: 2, Frames: []pipeline.Frame{
		{Camera: 0, Width: w, Height: h, JPEG: jpg},
		{Camera: 1, Seq: seq, Width: w, Height: h, Picture: func(ctx context.Context) (image.Image, error) { return dec.Picture(ctx, seq) }}}}
	if _, err := x.Detect(context.Background(), fs); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs.Frames {
		if f.Image == nil || f.Image.Bounds().Dx() != w || f.Image.Bounds().Dy() != h {
			t.Errorf("camera %d: the decoded picture is not left on the frame (%v)", f.Camera, f.Image)
		}
	}
}

// toYUYV packs an image as YUYV 4:2:2 (BT.601 full range, as image/color converts).
func toYUYV(img image.Image) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]byte, 0, w*h*2)
	for y := 0; y < h; y++ {
		for x := 0; x+1 < w; x += 2 {
			y0, cb, cr := ycc(img.At(b.Min.X+x, b.Min.Y+y))
			y1, _, _ := ycc(img.At(b.Min.X+x+1, b.Min.Y+y))
			out = append(out, y0, cb, y1, cr)
		}
	}
	return out
}

func ycc(c color.Color) (y, cb, cr uint8) {
	r, g, b, _ := c.RGBA()
	return color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(b>>8))
}

func iou(a, b obs.Detection) float32 {
	ix := max(0, min(a.X2, b.X2)-max(a.X1, b.X1))
	iy := max(0, min(a.Y2, b.Y2)-max(a.Y1, b.Y1))
	inter := ix * iy
	union := (a.X2-a.X1)*(a.Y2-a.Y1) + (b.X2-b.X1)*(b.Y2-b.Y1) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}
