package live

import (
	"bytes"
	"context"
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
// labels each detection with its camera.
func Images(d detect.Detector) pipeline.Detector {
	var imgs []image.Image
	return pipeline.DetectorFunc(func(ctx context.Context, fs *pipeline.FrameSet) ([]obs.Detection, error) {
		imgs = imgs[:0]
		for i := range fs.Frames {
			f := &fs.Frames[i]
			img := f.Image
			if img == nil {
				if len(f.JPEG) == 0 {
					return nil, fmt.Errorf("camera %d frame %d: no image and no JPEG bytes (only MJPEG cameras are detected live)", f.Camera, f.Seq)
				}
				var err error
				if img, err = jpeg.Decode(bytes.NewReader(f.JPEG)); err != nil {
					return nil, fmt.Errorf("camera %d frame %d: decode JPEG: %w", f.Camera, f.Seq, err)
				}
			}
			imgs = append(imgs, img)
		}
		res, err := d.Detect(ctx, imgs)
		if err != nil {
			return nil, err
		}
		var out []obs.Detection
		for i, ds := range res {
			for _, x := range ds {
				out = append(out, obs.Detection{Camera: fs.Frames[i].Camera, X1: x.Box.X1, Y1: x.Box.Y1, X2: x.Box.X2, Y2: x.Box.Y2,
					Class: x.Class, Label: x.Label, Score: x.Score})
			}
		}
		return out, nil
	})
}
