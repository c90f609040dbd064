// Package centernet is roadlog's default detector: the COCO CenterNet/MobileNetV3 TF.js
// graph model (embedded from models/centernet) run by any detect.Engine, with the
// pre-processing of the reference implementation (@vladmandic/human: RGB 0..255, TF
// resizeBilinear stretch to 512×512) or, by default, letterboxed, and the reference's
// decoding (3×3 peaks, top-100, boxes from wh, class-agnostic NMS) done here in Go.
package centernet

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"

	"roadlog/detect"
	"roadlog/detect/cpu"
	"roadlog/detect/model"
	"roadlog/models"
)

// Tensor names of the default model.
const (
	InputName     = "tower_0/images"
	KeypointsName = "tower_0/keypoints" // per-class centre heat map after sigmoid, [N,128,128,80]
	WHName        = "tower_0/wh"        // distances to the box sides in input pixels, [N,128,128,4]
	// DetectionsName is the graph's own decode (top-100 peaks as x1,y1,x2,y2,score,class);
	// the detector cuts the graph before it and decodes in Go.
	DetectionsName = "tower_0/detections"
)

// Fit is how an image is fitted into the square network input.
type Fit uint8

// Fits. Letterboxing is the default: on the labelled public images (KITTI, nuScenes) it
// finds 13 of 44 labelled road objects against 10 for the stretch, mostly small and far
// ones that the stretch squeezes (TestLetterboxVsStretch); the stretch is what the
// reference implementation (@vladmandic/human) does.
const (
	FitLetterbox Fit = 0 // keep the aspect ratio, centre on black (half-pixel bilinear, as the model's author)
	FitStretch   Fit = 1 // tf.image.resizeBilinear to 512×512, aspect ratio not kept (the reference)
)

// Config tunes the detector. The zero value is letterboxed input and, for every COCO
// class, the reference's decoding: score > 0.2, class-agnostic NMS at IoU 0.4, at most
// 100 detections.
type Config struct {
	// Thresholds keeps only these classes, each with its own score threshold (a
	// detection needs a score above it); nil keeps every class at MinScore.
	// detect.RoadThresholds() is the road-class set.
	Thresholds map[uint16]float32
	// MinScore is the threshold of every class when Thresholds is nil (default 0.2).
	MinScore float32
	// IoU is the NMS overlap at which the weaker box is dropped (default 0.4).
	IoU float32
	// MaxDetections caps the detections per image after NMS (default 100).
	MaxDetections int
	// Fit is how images are fitted into the network input (default FitLetterbox).
	Fit Fit
}

// ErrModel is returned when a graph does not look like the CenterNet model.
var ErrModel = errors.New("not a CenterNet graph")

// LoadDefault imports the embedded default model (unprepared).
func LoadDefault() (*model.Graph, error) {
	g, err := model.LoadTFJS(models.CenterNet(), models.CenterNetModelJSON, model.TFJSLimits{})
	if err != nil {
		return nil, fmt.Errorf("load default centernet: %w", err)
	}
	return g, nil
}

// Prepare cuts g at the heat map and box sizes and prepares it for batches of batch
// images, ready for an engine.
func Prepare(g *model.Graph, batch int) error {
	in := g.Value(InputName)
	if in == nil || len(in.Shape) != 4 {
		return fmt.Errorf("prepare centernet: input %s: %w", InputName, ErrModel)
	}
	s := in.Shape.Clone()
	s[0] = max(batch, 1)
	err := g.Prepare(model.PrepareOptions{Outputs: []string{KeypointsName, WHName}, Inputs: map[string]model.Shape{InputName: s}})
	if err != nil {
		return fmt.Errorf("prepare centernet: %w", err)
	}
	return nil
}

// Detector is the CenterNet detector on one engine. One goroutine uses it at a time.
type Detector struct {
	eng  detect.Engine
	size int
	pre  preprocessor
	dec  decoder
	geo  []geometry
}

// New returns a detector running eng, which must have been built from a graph prepared
// by Prepare. The detector owns eng and closes it.
func New(eng detect.Engine, cfg Config) (*Detector, error) {
	kp, wh := eng.OutputShape(0), eng.OutputShape(1)
	if len(kp) != 4 || len(wh) != 4 || wh[3] != 4 || kp[1] != wh[1] || kp[2] != wh[2] {
		return nil, fmt.Errorf("new centernet detector: outputs %v and %v: %w", kp, wh, ErrModel)
	}
	batch := eng.Batch()
	in := len(eng.Input(0)) / max(batch, 1)
	size := int(math.Round(math.Sqrt(float64(in / 3))))
	if size*size*3 != in || size%kp[1] != 0 {
		return nil, fmt.Errorf("new centernet detector: input of %d values per image: %w", in, ErrModel)
	}
	d := &Detector{eng: eng, size: size, pre: preprocessor{size: size, letterbox: cfg.Fit == FitLetterbox}, geo: make([]geometry, batch)}
	dec := &d.dec
	dec.h, dec.w, dec.c = kp[1], kp[2], kp[3]
	dec.stride = float32(size / kp[1])
	dec.topK = 100
	dec.iou = float64(cfg.IoU)
	if dec.iou <= 0 {
		dec.iou = 0.4
	}
	dec.maxDet = cfg.MaxDetections
	if dec.maxDet <= 0 {
		dec.maxDet = 100
	}
	minScore := cfg.MinScore
	if minScore <= 0 {
		minScore = 0.2
	}
	dec.thr = make([]float32, dec.c)
	dec.minThr = float32(math.Inf(1))
	for c := range dec.thr {
		t := minScore
		if cfg.Thresholds != nil {
			var ok bool
			if t, ok = cfg.Thresholds[uint16(c)]; !ok {
				t = float32(math.Inf(1))
			}
		}
		dec.thr[c] = t
		dec.minThr = min(dec.minThr, t)
	}
	return d, nil
}

// NewCPU builds the default detector on the pure-Go engine (batch 1).
func NewCPU(cfg Config, o cpu.Options) (*Detector, error) {
	g, err := LoadDefault()
	if err != nil {
		return nil, err
	}
	if err := Prepare(g, 1); err != nil {
		return nil, err
	}
	e, err := cpu.New(g, o)
	if err != nil {
		return nil, fmt.Errorf("new centernet detector: %w", err)
	}
	return New(e, cfg)
}

// Engine returns the detector's engine.
func (d *Detector) Engine() detect.Engine { return d.eng }

// InputSize is the side of the square network input (512).
func (d *Detector) InputSize() int { return d.size }

// Detect returns the detections of every image, in order.
func (d *Detector) Detect(ctx context.Context, images []image.Image) ([][]detect.Detection, error) {
	if de, ok := d.eng.(DeviceEngine); ok {
		return d.detectDevice(ctx, de, images)
	}
	out := make([][]detect.Detection, len(images))
	batch := len(d.geo)
	per := d.size * d.size * 3
	for i := 0; i < len(images); i += batch {
		n := min(batch, len(images)-i)
		in := d.eng.Input(0)
		for j := 0; j < n; j++ {
			b := images[i+j].Bounds()
			if b.Dx() <= 0 || b.Dy() <= 0 {
				return nil, fmt.Errorf("detect image %d: empty image %v", i+j, b)
			}
			d.geo[j] = d.pre.fill(images[i+j], in[j*per:(j+1)*per])
		}
		if err := d.eng.Run(ctx, n); err != nil {
			return nil, fmt.Errorf("detect: %w", err)
		}
		for j := 0; j < n; j++ {
			out[i+j] = d.decodeOne(j, d.geo[j])
		}
	}
	return out, nil
}

func (d *Detector) decodeOne(j int, g geometry) []detect.Detection {
	kp, wh := d.eng.Output(0), d.eng.Output(1)
	nk := d.dec.h * d.dec.w * d.dec.c
	nw := d.dec.h * d.dec.w * 4
	return d.dec.detections(kp[j*nk:(j+1)*nk], wh[j*nw:(j+1)*nw], g)
}

// Candidates runs the network on one prepared input tensor (size×size×3 RGB 0..255) and
// returns the decoded peaks before NMS, in model-input pixels: the rows of the graph's
// own tower_0/detections above the thresholds. Used to check against reference outputs.
func (d *Detector) Candidates(ctx context.Context, input []float32) ([]Candidate, error) {
	copy(d.eng.Input(0), input)
	if err := d.eng.Run(ctx, 1); err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	nk := d.dec.h * d.dec.w * d.dec.c
	nw := d.dec.h * d.dec.w * 4
	c := d.dec.candidates(d.eng.Output(0)[:nk], d.eng.Output(1)[:nw])
	return append([]Candidate(nil), c...), nil
}

// Close releases the engine.
func (d *Detector) Close() error { return d.eng.Close() }
