package live

import (
	"context"
	"image"
	"testing"

	"roadlog/detect"
	"roadlog/detect/pipeline"
)

// fakeJPEG records which entry point the adapter used.
type fakeJPEG struct {
	decodes      bool
	byJPEG, byIm int
}

func (f *fakeJPEG) Detect(ctx context.Context, imgs []image.Image) ([][]detect.Detection, error) {
	f.byIm++
	return make([][]detect.Detection, len(imgs)), nil
}
func (f *fakeJPEG) DetectJPEG(ctx context.Context, frames [][]byte) ([][]detect.Detection, error) {
	f.byJPEG++
	out := make([][]detect.Detection, len(frames))
	out[0] = []detect.Detection{{Class: 2, Label: "car", Score: 0.9}}
	return out, nil
}
func (f *fakeJPEG) DecodesJPEG() bool { return f.decodes }
func (f *fakeJPEG) Close() error      { return nil }

func TestImagesHandsJPEGToEnginesThatDecodeIt(t *testing.T) {
	jpegs := []byte{0xFF, 0xD8, 0xFF, 0xD9} // not a decodable picture: only a JPEG engine copes
	fs := &pipeline.FrameSet{Frames: []pipeline.Frame{{Camera: 3, JPEG: jpegs}, {Camera: 5, JPEG: jpegs}}}
	f := &fakeJPEG{decodes: true}
	dets, err := Images(f).Detect(context.Background(), fs)
	if err != nil || f.byJPEG != 1 || f.byIm != 0 || len(dets) != 1 || dets[0].Camera != 3 {
		t.Fatalf("JPEG engine: err %v, DetectJPEG %d, Detect %d, dets %+v", err, f.byJPEG, f.byIm, dets)
	}
	// an engine that does not decode JPEG gets pictures decoded here (these fail: errors per frame)
	g := &fakeJPEG{decodes: false}
	_, err = Images(g).Detect(context.Background(), fs)
	if g.byJPEG != 0 || err == nil {
		t.Fatalf("CPU engine: DetectJPEG %d, err %v", g.byJPEG, err)
	}
}
