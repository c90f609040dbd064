// Package detect is roadlog's perception vocabulary: detections, the Detector that
// produces them from images, and the Engine interface that runs a network for a
// detector (the pure-Go engine in detect/cpu, the CUDA one in detect/gpu). Model import
// and the graph IR live in detect/model; the default CenterNet detector in
// detect/centernet.
package detect

import (
	"context"
	"image"

	"roadlog/detect/model"
)

// Box is an axis-aligned box in pixels of the image it was found in: (X1, Y1) top-left,
// (X2, Y2) bottom-right, not clipped to the image.
type Box struct {
	X1 float32 `json:"x1"`
	Y1 float32 `json:"y1"`
	X2 float32 `json:"x2"`
	Y2 float32 `json:"y2"`
}

// W and H are the box's width and height.
func (b Box) W() float32 { return b.X2 - b.X1 }

// H is the box's height.
func (b Box) H() float32 { return b.Y2 - b.Y1 }

// IoU is the intersection over union of a and b (0 when either is empty).
func (b Box) IoU(o Box) float32 {
	ix := min(b.X2, o.X2) - max(b.X1, o.X1)
	iy := min(b.Y2, o.Y2) - max(b.Y1, o.Y1)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	u := b.W()*b.H() + o.W()*o.H() - inter
	if u <= 0 {
		return 0
	}
	return inter / u
}

// Detection is one object found in one image.
type Detection struct {
	Class uint16  `json:"class"` // index into the model's labels (COCO: 0 person, 2 car, …)
	Label string  `json:"label"` // class name
	Score float32 `json:"score"` // confidence 0..1
	Box   Box     `json:"box"`
}

// Detector finds objects in images. Implementations own their engine and buffers; one
// goroutine uses a Detector at a time.
type Detector interface {
	// Detect returns the detections of every image, in order.
	Detect(ctx context.Context, images []image.Image) ([][]Detection, error)
	// Close releases the engine.
	Close() error
}

// Engine runs one prepared network (see detect/model) on a batch of images. A detector
// fills Input, calls Run and reads Output; the engine owns the buffers, which stay valid
// until Close (Output until the next Run). Layouts are NHWC, row-major, float32, the
// batch first. One goroutine uses an Engine at a time.
type Engine interface {
	// Name says which engine and device, e.g. "cpu avx2+fma ×8".
	Name() string
	// Batch is the number of images one Run takes (the graph's input batch size).
	Batch() int
	// Input returns graph input i's buffer: Batch images, NHWC.
	Input(i int) []float32
	// Output returns graph output i from the last Run.
	Output(i int) []float32
	// OutputShape returns graph output i's shape (batch first).
	OutputShape(i int) model.Shape
	// Run computes the network for the first n ≤ Batch images of the inputs (an engine
	// may compute the whole batch).
	Run(ctx context.Context, n int) error
	// Close releases the engine's resources. It is idempotent.
	Close() error
}
