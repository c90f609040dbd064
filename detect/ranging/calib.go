// Package ranging turns a detection box into a distance, a lateral offset and a width
// in the ego vehicle's frame, from one camera's calibration: the flat-ground distance
// of the box's bottom edge, fused by inverse variance with the distances that the
// class's typical width and height imply. Each cue carries its own error model, so the
// fused distance comes with a standard deviation that the track filter uses.
package ranging

import (
	"errors"
	"fmt"
	"math"
)

// Calibration is what ranging needs to know about one camera: a pinhole model of the
// (undistorted) image and where the camera sits on the vehicle. The vehicle frame has
// its origin on the ground at the middle of the front bumper, x forward, y left, z up.
// The rig file maps its YAML onto these fields.
type Calibration struct {
	// Width and Height are the image size, px, that the intrinsics refer to.
	Width, Height int
	// Fx, Fy are the focal lengths and Cx, Cy the principal point, px.
	Fx, Fy, Cx, Cy float64
	// MountHeight is the optical centre's height above the ground, m (> 0).
	MountHeight float64
	// Pitch is the optical axis' angle below the horizontal, rad (positive: looking
	// down).
	Pitch float64
	// Yaw is the direction the camera looks, rad, counter-clockwise seen from above:
	// 0 forward, π/2 left, -π/2 right, π rearward.
	Yaw float64
	// X is the optical centre's position ahead of the front bumper, m (negative:
	// behind it; a windscreen camera sits near -2).
	X float64
	// Y is the optical centre's position left of the vehicle's centre line, m.
	Y float64
}

// ErrBadCalibration is wrapped by every validation error.
var ErrBadCalibration = errors.New("bad camera calibration")

// Validate checks that every field is usable.
func (c *Calibration) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("validate calibration: %s = %v %s: %w", field, v, why, ErrBadCalibration)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Width <= 0 || c.Height <= 0:
		return bad("width×height", fmt.Sprintf("%d×%d", c.Width, c.Height), "(must be > 0)")
	case !(c.Fx > 0) || !finite(c.Fx):
		return bad("fx", c.Fx, "px (must be > 0)")
	case !(c.Fy > 0) || !finite(c.Fy):
		return bad("fy", c.Fy, "px (must be > 0)")
	case !finite(c.Cx) || !finite(c.Cy):
		return bad("cx,cy", fmt.Sprintf("%v,%v", c.Cx, c.Cy), "px (must be finite)")
	case !(c.MountHeight > 0 && c.MountHeight < 20):
		return bad("mount height", c.MountHeight, "m (must be in (0, 20))")
	case !(math.Abs(c.Pitch) < math.Pi/4):
		return bad("pitch", c.Pitch, "rad (must be within ±π/4)")
	case !finite(c.Yaw) || !finite(c.X) || !finite(c.Y):
		return bad("yaw,x,y", fmt.Sprintf("%v,%v,%v", c.Yaw, c.X, c.Y), "(must be finite)")
	}
	return nil
}

// Scaled returns the calibration of the same camera delivering images of w×h pixels
// (the intrinsics scale with the image).
func (c Calibration) Scaled(w, h int) Calibration {
	if w <= 0 || h <= 0 || c.Width <= 0 || c.Height <= 0 || (w == c.Width && h == c.Height) {
		return c
	}
	sx, sy := float64(w)/float64(c.Width), float64(h)/float64(c.Height)
	c.Fx, c.Cx, c.Fy, c.Cy = c.Fx*sx, c.Cx*sx, c.Fy*sy, c.Cy*sy
	c.Width, c.Height = w, h
	return c
}

// Project returns where a point on the ground or above it, given in the vehicle frame
// (x forward of the front bumper, y left, z up; m), appears in the image (px), and
// whether it lies in front of the camera. Simulators and tests use it to draw boxes
// with the very model ranging inverts.
func (c *Calibration) Project(x, y, z float64) (u, v float64, ok bool) {
	// vehicle → camera-level frame (forward f, right r, down d)
	dx, dy := x-c.X, y-c.Y
	sy, cy := math.Sincos(c.Yaw)
	f := dx*cy + dy*sy
	l := -dx*sy + dy*cy
	r, d := -l, c.MountHeight-z
	// level → camera (x right, y down, z optical axis), pitched down by Pitch
	sp, cp := math.Sincos(c.Pitch)
	xc := r
	yc := d*cp - f*sp
	zc := d*sp + f*cp
	if zc <= 1e-6 {
		return 0, 0, false
	}
	return c.Cx + c.Fx*xc/zc, c.Cy + c.Fy*yc/zc, true
}
