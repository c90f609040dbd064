package centernet

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"

	"roadlog/detect"
	"roadlog/detect/loom"
)

// Peak is a heat-map peak found by a DeviceEngine: the flat heat-map index
// (y·W + x)·C + class, its score and the four box distances at its cell.
type Peak struct {
	Index int32
	Score float32
	WH    [4]float32
}

// DeviceEngine is an engine that also does the detector's pre- and post-processing on
// its own device (detect/gpu), so that images go in as 8-bit pixels and only peaks come
// back. The detector uses these methods when its engine has them.
type DeviceEngine interface {
	detect.Engine
	// SetImage fits img into input slot j of the next RunPeaks: resized to nw×nh at
	// (dx, dy) of the square input and zero elsewhere, bilinear with the CPU path's
	// arithmetic (half-pixel centres when half, else the reference's stretch mapping).
	SetImage(j int, img image.Image, nw, nh, dx, dy int, half bool) error
	// RunPeaks runs the network on the first n slots (set by SetImage, or else the
	// host Input) and returns, per image, the topK 3×3 peaks of output 0 whose score is
	// above thr[class], best first (equal scores: lower index first), with output 1's
	// values at each peak's cell. The slices stay valid until the next call. A nil slice
	// for an image means the device could not hold its candidates: decode that image
	// from Output.
	RunPeaks(ctx context.Context, n int, thr []float32, topK int) ([][]Peak, error)
}

// JPEGEngine is a DeviceEngine that also decodes JPEG bitstreams on its device.
type JPEGEngine interface {
	DeviceEngine
	// SetJPEG is SetImage for a w×h JPEG bitstream (baseline or progressive).
	SetJPEG(j int, data []byte, w, h, nw, nh, dx, dy int, half bool) error
}

// LumaEngine is a JPEGEngine that hands back the luminance of parts of the pictures
// it decoded (detect/gpu: nvJPEG's output, reduced on the device).
type LumaEngine interface {
	JPEGEngine
	// LumaRects copies rectangles of the pictures the last run decoded as 8-bit
	// luminance: rects[j] are slot j's (inside its picture), parts[j][k] the
	// image.Gray of rects[j][k].
	LumaRects(rects [][]image.Rectangle) (parts [][]*image.Gray, err error)
}

// fit returns where a w×h image goes in the network input and how to map back: the
// same numbers preprocessor.fill uses.
func (p *preprocessor) fit(w, h int) (g geometry, nw, nh, dx, dy int) {
	s := p.size
	if !p.letterbox {
		return geometry{w: w, h: h, sx: float64(w) / float64(s), sy: float64(h) / float64(s)}, s, s, 0, 0
	}
	scale := math.Min(float64(s)/float64(h), float64(s)/float64(w))
	nw = int(math.Round(float64(w) * scale))
	nh = int(math.Round(float64(h) * scale))
	dx, dy = (s-nw)/2, (s-nh)/2
	return geometry{w: w, h: h, sx: 1 / scale, sy: 1 / scale, dx: float64(dx), dy: float64(dy)}, nw, nh, dx, dy
}

// detectDevice is Detect on a DeviceEngine.
func (d *Detector) detectDevice(ctx context.Context, de DeviceEngine, images []image.Image) ([][]detect.Detection, error) {
	out := make([][]detect.Detection, len(images))
	batch := len(d.geo)
	for i := 0; i < len(images); i += batch {
		n := min(batch, len(images)-i)
		for j := 0; j < n; j++ {
			b := images[i+j].Bounds()
			if b.Dx() <= 0 || b.Dy() <= 0 {
				return nil, fmt.Errorf("detect image %d: empty image %v", i+j, b)
			}
			g, nw, nh, dx, dy := d.pre.fit(b.Dx(), b.Dy())
			d.geo[j] = g
			if err := de.SetImage(j, images[i+j], nw, nh, dx, dy, d.pre.letterbox); err != nil {
				return nil, fmt.Errorf("detect image %d: %w", i+j, err)
			}
		}
		if err := d.peaks(ctx, de, n, out[i:i+n]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DetectJPEG returns the detections of every JPEG image, in order. On an engine that
// decodes JPEG itself (detect/gpu with nvJPEG) the bitstreams go to the device as they
// are; otherwise they are decoded here and run through Detect.
func (d *Detector) DetectJPEG(ctx context.Context, frames [][]byte) ([][]detect.Detection, error) {
	return d.detectJPEG(ctx, frames, nil)
}

// DetectJPEGPictures is DetectJPEG that also returns each frame's decoded picture,
// for the pipeline's looming: where the engine decodes the JPEG itself and can hand
// parts back (LumaEngine), the luminance around each detection (a loom.Sparse of the
// loom.Regions of their boxes: what the pipeline aligns), else the host's whole
// decode. A picture the engine cannot hand back is nil.
func (d *Detector) DetectJPEGPictures(ctx context.Context, frames [][]byte) ([][]detect.Detection, []image.Image, error) {
	pics := make([]image.Image, len(frames))
	dets, err := d.detectJPEG(ctx, frames, pics)
	return dets, pics, err
}

// detectJPEG is DetectJPEG, filling pics (when not nil) with the frames' pictures.
func (d *Detector) detectJPEG(ctx context.Context, frames [][]byte, pics []image.Image) ([][]detect.Detection, error) {
	je, ok := d.eng.(JPEGEngine)
	if !ok {
		imgs := make([]image.Image, len(frames))
		for i, f := range frames {
			img, err := jpeg.Decode(bytes.NewReader(f))
			if err != nil {
				return nil, fmt.Errorf("detect jpeg %d: %w", i, err)
			}
			imgs[i] = img
		}
		copy(pics, imgs)
		return d.Detect(ctx, imgs)
	}
	le, withLuma := d.eng.(LumaEngine)
	out := make([][]detect.Detection, len(frames))
	batch := len(d.geo)
	sizes := make([]image.Rectangle, batch)
	for i := 0; i < len(frames); i += batch {
		n := min(batch, len(frames)-i)
		for j := 0; j < n; j++ {
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(frames[i+j]))
			if err != nil {
				return nil, fmt.Errorf("detect jpeg %d: %w", i+j, err)
			}
			if cfg.Width <= 0 || cfg.Height <= 0 {
				return nil, fmt.Errorf("detect jpeg %d: empty image %dx%d", i+j, cfg.Width, cfg.Height)
			}
			sizes[j] = image.Rect(0, 0, cfg.Width, cfg.Height)
			g, nw, nh, dx, dy := d.pre.fit(cfg.Width, cfg.Height)
			d.geo[j] = g
			if err := je.SetJPEG(j, frames[i+j], cfg.Width, cfg.Height, nw, nh, dx, dy, d.pre.letterbox); err != nil {
				return nil, fmt.Errorf("detect jpeg %d: %w", i+j, err)
			}
		}
		if err := d.peaks(ctx, je, n, out[i:i+n]); err != nil {
			return nil, err
		}
		if pics != nil && withLuma {
			rects := make([][]image.Rectangle, n)
			for j := range rects {
				boxes := make([]loom.Box, len(out[i+j]))
				for k, det := range out[i+j] {
					boxes[k] = loom.Box{X1: float64(det.Box.X1), Y1: float64(det.Box.Y1), X2: float64(det.Box.X2), Y2: float64(det.Box.Y2)}
				}
				rects[j] = loom.Regions(boxes, sizes[j])
			}
			parts, err := le.LumaRects(rects)
			if err != nil {
				return nil, fmt.Errorf("detect jpeg %d-%d: pictures: %w", i, i+n-1, err)
			}
			for j := range rects {
				pics[i+j] = &loom.Sparse{Rect: sizes[j], Parts: parts[j]}
			}
		}
	}
	return out, nil
}

// peaks runs the network on the first n slots and decodes their peaks into out.
func (d *Detector) peaks(ctx context.Context, de DeviceEngine, n int, out [][]detect.Detection) error {
	pk, err := de.RunPeaks(ctx, n, d.dec.thr, d.dec.topK)
	if err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	for j := 0; j < n; j++ {
		if pk[j] == nil { // the device's candidate buffer overflowed: decode from the heat map
			out[j] = d.decodeOne(j, d.geo[j])
			continue
		}
		out[j] = d.dec.fromPeaks(pk[j], d.geo[j])
	}
	return nil
}

// fromPeaks turns device peaks (already thresholded, sorted and cut to top-K) into
// detections: boxes, NMS, image pixels, as detections does.
func (dec *decoder) fromPeaks(pk []Peak, g geometry) []detect.Detection {
	dec.cands = dec.cands[:0]
	for _, p := range pk {
		i := int(p.Index)
		cell := i / dec.c
		y, x := cell/dec.w, cell%dec.w
		fx, fy := float32(x)*dec.stride, float32(y)*dec.stride
		dec.cands = append(dec.cands, Candidate{
			X1: fx - p.WH[0], Y1: fy - p.WH[1], X2: fx + p.WH[2], Y2: fy + p.WH[3],
			Score: p.Score, Class: i % dec.c, Index: i,
		})
	}
	return dec.fromCandidates(dec.cands, g)
}

// DecodesJPEG reports whether the detector's engine decodes JPEG itself (nvJPEG),
// so that callers hand it bitstreams rather than decoded images.
func (d *Detector) DecodesJPEG() bool {
	_, ok := d.eng.(JPEGEngine)
	return ok
}
