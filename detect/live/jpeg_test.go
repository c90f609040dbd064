package live

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
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

// batchJPEG answers DetectJPEG with one car per frame, at x = the frame's last byte,
// and fails a call holding a frame of fewer than 3 bytes.
type batchJPEG struct {
	fakeJPEG
	sizes []int
}

func (f *batchJPEG) DetectJPEG(ctx context.Context, frames [][]byte) ([][]detect.Detection, error) {
	f.sizes = append(f.sizes, len(frames))
	out := make([][]detect.Detection, len(frames))
	for i, b := range frames {
		if len(b) < 3 {
			return nil, errors.New("nvjpeg: bad bitstream")
		}
		out[i] = []detect.Detection{{Box: detect.Box{X1: float32(b[len(b)-1])}, Class: 2, Label: "car", Score: 0.9}}
	}
	return out, nil
}

func TestImagesDetectSetsInOneCall(t *testing.T) {
	var pic bytes.Buffer
	if err := jpeg.Encode(&pic, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	set := func(cams ...uint8) *pipeline.FrameSet { // a real JPEG, the camera's number after its end
		fs := &pipeline.FrameSet{}
		for _, c := range cams {
			fs.Frames = append(fs.Frames, pipeline.Frame{Camera: c, JPEG: append(bytes.Clone(pic.Bytes()), c)})
		}
		return fs
	}
	f := &batchJPEG{fakeJPEG: fakeJPEG{decodes: true}}
	sd := Images(f)
	dets, errs := sd.DetectSets(context.Background(), []*pipeline.FrameSet{set(1, 2), set(3), set(4, 5, 6)})
	if len(f.sizes) != 1 || f.sizes[0] != 6 {
		t.Fatalf("calls of DetectJPEG with %v frames, want one of 6", f.sizes)
	}
	want := [][]uint8{{1, 2}, {3}, {4, 5, 6}}
	for k := range want {
		if errs[k] != nil || len(dets[k]) != len(want[k]) {
			t.Fatalf("set %d: %v %+v", k, errs[k], dets[k])
		}
		for i, d := range dets[k] {
			if d.Camera != want[k][i] || d.X1 != float32(want[k][i]) {
				t.Fatalf("set %d detection %d: %+v, want camera %d", k, i, d, want[k][i])
			}
		}
	}
	// a frame the engine cannot decode: set by set, that frame reported, the others kept
	f.sizes = nil
	bad := set(7, 8)
	bad.Frames[1].JPEG = []byte{0xFF}
	dets, errs = sd.DetectSets(context.Background(), []*pipeline.FrameSet{set(1), bad})
	var fe *pipeline.FrameError
	if errs[0] != nil || len(dets[0]) != 1 || !errors.As(errs[1], &fe) || fe.Camera != 8 {
		t.Fatalf("with a bad frame: dets %+v errs %v (DetectJPEG calls %v)", dets, errs, f.sizes)
	}
}

// pictureJPEG is a JPEG engine that also hands back the pictures it decoded, one
// grey picture per frame, w = 10 + the frame's index in the call.
type pictureJPEG struct{ batchJPEG }

func (f *pictureJPEG) DetectJPEGPictures(ctx context.Context, frames [][]byte) ([][]detect.Detection, []image.Image, error) {
	res, err := f.DetectJPEG(ctx, frames)
	pics := make([]image.Image, len(frames))
	for i := range pics {
		if i != 1 { // the engine could not hand back the second
			pics[i] = image.NewGray(image.Rect(0, 0, 10+i, 4))
		}
	}
	return res, pics, err
}

// The pictures a JPEG engine decoded stay on their frames, set by set in the order
// the frames went in, for the pipeline's looming; a picture it could not hand back
// leaves its frame without one.
func TestImagesLeaveDecodedPicturesOnFrames(t *testing.T) {
	f := &pictureJPEG{batchJPEG{fakeJPEG: fakeJPEG{decodes: true}}}
	x := Images(f)
	a := &pipeline.FrameSet{Frames: []pipeline.Frame{{Camera: 0, JPEG: []byte{1, 2, 3}}, {Camera: 1, JPEG: []byte{1, 2, 4}}}}
	b := &pipeline.FrameSet{Frames: []pipeline.Frame{{Camera: 0, JPEG: []byte{1, 2, 5}}}}
	if _, errs := x.DetectSets(context.Background(), []*pipeline.FrameSet{a, b}); errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	widths := func(fs ...*pipeline.FrameSet) (w []int) {
		for _, s := range fs {
			for _, fr := range s.Frames {
				if fr.Image == nil {
					w = append(w, 0)
				} else {
					w = append(w, fr.Image.Bounds().Dx())
				}
			}
		}
		return w
	}
	if got := widths(a, b); len(got) != 3 || got[0] != 10 || got[1] != 0 || got[2] != 12 {
		t.Fatalf("pictures on the frames of two sets: widths %v, want [10 0 12]", got)
	}
	c := &pipeline.FrameSet{Frames: []pipeline.Frame{{Camera: 2, JPEG: []byte{1, 2, 6}}}}
	if _, err := x.Detect(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := widths(c); got[0] != 10 {
		t.Fatalf("picture on the frame of one set: width %v, want 10", got)
	}
}
