// Package labels reads the labelled road images the ranging evaluation runs on: the
// KITTI object benchmark layout (label_2 text files and calib files) and nuScenes
// per-camera label JSON files (boxes, depths, intrinsics). Every object becomes an
// Object with a COCO class, its 2D box and the true distance of its near edge; every
// image gets a ranging.Calibration.
package labels

import (
	"errors"
	"fmt"
	"math"

	"roadlog/detect/obs"
	"roadlog/detect/ranging"
)

// ErrSyntax is wrapped by errors about malformed label or calibration files.
var ErrSyntax = errors.New("syntax error")

// ParseError locates a malformed input: file, line and column (1-based; 0 when not
// known).
type ParseError struct {
	File      string
	Line, Col int
	Err       error
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Col, e.Err)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// Object is one labelled object of an image.
type Object struct {
	Class     uint16 // COCO class index the dataset's class maps to
	Label     string // the dataset's own class name
	X1, Y1    float64
	X2, Y2    float64 // 2D box, px
	Distance  float64 // m: depth (along the optical axis) of the object's nearest ground corner
	Depth     float64 // m: depth of the object's centre, as the dataset states it
	Lateral   float64 // m: the centre's offset, left positive
	Truncated float64 // 0..1 (KITTI), 0 where unknown
	Occluded  int     // 0 visible … 3 unknown (KITTI), -1 where unknown
}

// Image is one labelled camera image.
type Image struct {
	Path        string // image file
	Dataset     string // "kitti" or "nuscenes"
	Calibration ranging.Calibration
	Objects     []Object
}

// Detections returns the labelled boxes as detections (score 1): what a perfect
// detector would report, so that ranging can be judged on its own.
func (im *Image) Detections() []obs.Detection {
	out := make([]obs.Detection, 0, len(im.Objects))
	for _, o := range im.Objects {
		out = append(out, obs.Detection{X1: float32(o.X1), Y1: float32(o.Y1), X2: float32(o.X2), Y2: float32(o.Y2),
			Class: o.Class, Label: obs.ClassLabel(o.Class), Score: 1})
	}
	return out
}

// nearDepth returns the depth of the nearest footprint corner of a box of length l
// and width w, centred at depth z, rotated yaw about the vertical axis.
func nearDepth(z, l, w, yaw float64) float64 {
	s, c := math.Sincos(yaw)
	return z - (math.Abs(l/2*s) + math.Abs(w/2*c))
}
