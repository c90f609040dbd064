package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"

	"roadlog/detect"
	"roadlog/detect/obs"
	"roadlog/detect/pipeline"
)

// Images adapts an image detector (the CenterNet model on the CPU or GPU engine) to
// the pipeline: it decodes every frame of a set that carries only its JPEG bytes,
// detects in all of them in one call (a batch across the cameras of the set), and
// labels each detection with its camera. A frame that cannot be read (no picture, a
// JPEG that does not decode) is left out and reported as a pipeline.FrameError beside
// the detections of the others, which the runner keeps.
//
// The detector it returns is also a pipeline.SetsDetector: DetectSets puts the frames
// of several sets into one call (one batch on the GPU), as offline re-runs do.
func Images(d detect.Detector) pipeline.SetsDetector {
	x := &images{d: d}
	x.jd, x.canJPEG = d.(jpegDetector)
	x.canJPEG = x.canJPEG && x.jd.DecodesJPEG() // on the CPU engine, decode here (per-frame errors)
	return x
}

type images struct {
	d       detect.Detector
	jd      jpegDetector
	canJPEG bool
	imgs    []image.Image
	cams    []uint8
	jpegs   [][]byte
}

func (x *images) Detect(ctx context.Context, fs *pipeline.FrameSet) ([]obs.Detection, error) {
	if x.canJPEG && allJPEG(fs) {
		// the engine decodes the JPEG bitstreams itself (nvJPEG, batched, on the GPU)
		x.jpegs = x.jpegs[:0]
		for i := range fs.Frames {
			x.jpegs = append(x.jpegs, fs.Frames[i].JPEG)
		}
		res, err := x.detectJPEG(ctx, fs)
		if err == nil {
			return label(fs.Frames, res), nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		// a frame the engine could not decode: decode each here, so the bad ones are
		// reported one by one and the others still detected
	}
	x.imgs, x.cams = x.imgs[:0], x.cams[:0]
	var bad []error
	for i := range fs.Frames {
		f := &fs.Frames[i]
		img := f.Image
		if img == nil {
			var err error
			switch {
			case len(f.JPEG) > 0:
				if img, err = jpeg.Decode(bytes.NewReader(f.JPEG)); err != nil {
					err = fmt.Errorf("decode JPEG: %w", err)
				}
			case f.Picture != nil:
				if img, err = f.Picture(ctx); err != nil {
					err = fmt.Errorf("decoded picture: %w", err)
				}
			default:
				err = errNoPicture
			}
			if err != nil {
				bad = append(bad, &pipeline.FrameError{Camera: f.Camera, Seq: f.Seq, Err: err})
				continue
			}
			f.Image = img // the pipeline aligns the tracks' pixels in it (looming)
		}
		x.imgs = append(x.imgs, img)
		x.cams = append(x.cams, f.Camera)
	}
	var out []obs.Detection
	if len(x.imgs) > 0 {
		res, err := x.d.Detect(ctx, x.imgs)
		if err != nil {
			return nil, err
		}
		for i, ds := range res {
			for _, d := range ds {
				out = append(out, obs.Detection{Camera: x.cams[i], X1: d.Box.X1, Y1: d.Box.Y1, X2: d.Box.X2, Y2: d.Box.Y2,
					Class: d.Class, Label: d.Label, Score: d.Score})
			}
		}
	}
	return out, errors.Join(bad...)
}

// DetectSets detects the frames of all sets in one call when the engine decodes their
// JPEG bytes itself; otherwise, or when that call fails, set by set with Detect.
func (x *images) DetectSets(ctx context.Context, sets []*pipeline.FrameSet) ([][]obs.Detection, []error) {
	dets, errs := make([][]obs.Detection, len(sets)), make([]error, len(sets))
	together := x.canJPEG && len(sets) > 1
	x.jpegs = x.jpegs[:0]
	for _, fs := range sets {
		together = together && allJPEG(fs)
		for i := range fs.Frames {
			x.jpegs = append(x.jpegs, fs.Frames[i].JPEG)
		}
	}
	if together {
		res, err := x.detectJPEG(ctx, sets...)
		if err == nil {
			for k, fs := range sets {
				dets[k] = label(fs.Frames, res[:len(fs.Frames)])
				res = res[len(fs.Frames):]
			}
			return dets, errs
		}
	}
	for k, fs := range sets {
		dets[k], errs[k] = x.Detect(ctx, fs)
	}
	return dets, errs
}

// errNoPicture: a frame with no picture, no JPEG bytes and no decoder to ask (an
// H.264/H.265 camera whose frames no StreamDecoder was fed).
var errNoPicture = errors.New("no image, no JPEG bytes and no decoder for this frame")

// jpegDetector is a detector that decodes JPEG itself (centernet.Detector.DetectJPEG:
// nvJPEG on the GPU engine, Go's decoder elsewhere).
type jpegDetector interface {
	DetectJPEG(ctx context.Context, frames [][]byte) ([][]detect.Detection, error)
	DecodesJPEG() bool
}

// detectJPEG detects in x.jpegs, the JPEG bytes of the frames of sets in order, on an
// engine that decodes them itself, and leaves each decoded picture it can hand back on
// its frame as luminance: the pipeline aligns the tracks' pixels in it (looming).
func (x *images) detectJPEG(ctx context.Context, sets ...*pipeline.FrameSet) ([][]detect.Detection, error) {
	pd, ok := x.jd.(pictureDetector)
	if !ok {
		return x.jd.DetectJPEG(ctx, x.jpegs)
	}
	res, pics, err := pd.DetectJPEGPictures(ctx, x.jpegs)
	if err != nil {
		return nil, err
	}
	k := 0 // x.jpegs[k] is the JPEG of the frame at hand
	for _, fs := range sets {
		for i := range fs.Frames {
			if k < len(pics) && pics[k] != nil {
				fs.Frames[i].Image = pics[k]
			}
			k++
		}
	}
	return res, nil
}

// pictureDetector is a jpegDetector that also hands back the decoded pictures
// (centernet.Detector.DetectJPEGPictures: their luminance from the device on the GPU
// engine).
type pictureDetector interface {
	DetectJPEGPictures(ctx context.Context, frames [][]byte) ([][]detect.Detection, []image.Image, error)
}

// allJPEG reports whether every frame of a set carries only its JPEG bytes.
func allJPEG(fs *pipeline.FrameSet) bool {
	if len(fs.Frames) == 0 {
		return false
	}
	for i := range fs.Frames {
		if fs.Frames[i].Image != nil || len(fs.Frames[i].JPEG) == 0 {
			return false
		}
	}
	return true
}

// label turns per-frame detections into the pipeline's, each with its camera.
func label(frames []pipeline.Frame, res [][]detect.Detection) []obs.Detection {
	var out []obs.Detection
	for i, ds := range res {
		for _, x := range ds {
			out = append(out, obs.Detection{Camera: frames[i].Camera, X1: x.Box.X1, Y1: x.Box.Y1, X2: x.Box.X2, Y2: x.Box.Y2,
				Class: x.Class, Label: x.Label, Score: x.Score})
		}
	}
	return out
}
