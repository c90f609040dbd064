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
func Images(d detect.Detector) pipeline.Detector {
	var (
		imgs  []image.Image
		cams  []uint8
		jpegs [][]byte
	)
	jd, canJPEG := d.(jpegDetector)
	canJPEG = canJPEG && jd.DecodesJPEG() // on the CPU engine, decode here (per-frame errors)
	return pipeline.DetectorFunc(func(ctx context.Context, fs *pipeline.FrameSet) ([]obs.Detection, error) {
		if canJPEG && allJPEG(fs) {
			// the engine decodes the JPEG bitstreams itself (nvJPEG, batched, on the GPU)
			jpegs = jpegs[:0]
			for i := range fs.Frames {
				jpegs = append(jpegs, fs.Frames[i].JPEG)
			}
			res, err := jd.DetectJPEG(ctx, jpegs)
			if err != nil {
				return nil, err
			}
			return label(fs, res), nil
		}
		imgs, cams = imgs[:0], cams[:0]
		var bad []error
		for i := range fs.Frames {
			f := &fs.Frames[i]
			img := f.Image
			if img == nil {
				var err error
				if len(f.JPEG) == 0 {
					err = errNoPicture
				} else if img, err = jpeg.Decode(bytes.NewReader(f.JPEG)); err != nil {
					err = fmt.Errorf("decode JPEG: %w", err)
				}
				if err != nil {
					bad = append(bad, &pipeline.FrameError{Camera: f.Camera, Seq: f.Seq, Err: err})
					continue
				}
			}
			imgs = append(imgs, img)
			cams = append(cams, f.Camera)
		}
		var out []obs.Detection
		if len(imgs) > 0 {
			res, err := d.Detect(ctx, imgs)
			if err != nil {
				return nil, err
			}
			for i, ds := range res {
				for _, x := range ds {
					out = append(out, obs.Detection{Camera: cams[i], X1: x.Box.X1, Y1: x.Box.Y1, X2: x.Box.X2, Y2: x.Box.Y2,
						Class: x.Class, Label: x.Label, Score: x.Score})
				}
			}
		}
		return out, errors.Join(bad...)
	})
}

// errNoPicture: a frame with neither a decoded image nor JPEG bytes (only MJPEG
// cameras are detected live).
var errNoPicture = errors.New("no image and no JPEG bytes (only MJPEG cameras are detected live)")

// jpegDetector is a detector that decodes JPEG itself (centernet.Detector.DetectJPEG:
// nvJPEG on the GPU engine, Go's decoder elsewhere).
type jpegDetector interface {
	DetectJPEG(ctx context.Context, frames [][]byte) ([][]detect.Detection, error)
	DecodesJPEG() bool
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
func label(fs *pipeline.FrameSet, res [][]detect.Detection) []obs.Detection {
	var out []obs.Detection
	for i, ds := range res {
		for _, x := range ds {
			out = append(out, obs.Detection{Camera: fs.Frames[i].Camera, X1: x.Box.X1, Y1: x.Box.Y1, X2: x.Box.X2, Y2: x.Box.Y2,
				Class: x.Class, Label: x.Label, Score: x.Score})
		}
	}
	return out
}
