package sim

import "math"

// Camera is one simulated camera: its mounting on the ego car and its intrinsics.
// Positions are in the vehicle frame with the origin at the centre of the front
// bumper at road level: x forward, y left, z up (metres); yaw is left-positive
// (degrees). The same figures are the rig's calibration for ranging.
type Camera struct {
	Index  uint8   `json:"index"`
	Name   string  `json:"name"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	HFOV   float64 `json:"hfov_deg"`
	FX     float64 `json:"fx"`
	FY     float64 `json:"fy"`
	CX     float64 `json:"cx"`
	CY     float64 `json:"cy"`
	X      float64 `json:"x_m"`
	Y      float64 `json:"y_m"`
	Z      float64 `json:"height_m"`
	Yaw    float64 `json:"yaw_deg"`
	Pitch  float64 `json:"pitch_deg"`
}

type mount struct {
	name      string
	x, y, z   float64
	yaw, hfov float64
}

var rig4 = []mount{
	{"front", -0.8, 0, 1.30, 0, 60},
	{"left", -1.6, 0.95, 1.05, 90, 100},
	{"rear", -4.5, 0, 1.00, 180, 100},
	{"right", -1.6, -0.95, 1.05, -90, 100},
}

var rig8 = []mount{
	{"front_narrow", -0.8, 0.1, 1.30, 0, 30},
	{"front", -0.8, 0, 1.30, 0, 60},
	{"front_left", -1.2, 0.9, 1.10, 50, 90},
	{"front_right", -1.2, -0.9, 1.10, -50, 90},
	{"rear_left", -1.9, 0.95, 1.05, 130, 90},
	{"rear_right", -1.9, -0.95, 1.05, -130, 90},
	{"rear", -4.5, 0, 1.00, 180, 60},
	{"rear_wide", -4.5, 0, 1.00, 180, 120},
}

// Cameras returns the rig's cameras (4 or 8) at the given image size.
func Cameras(n, width, height int) []Camera {
	ms := rig4
	if n == 8 {
		ms = rig8
	}
	out := make([]Camera, len(ms))
	for i, m := range ms {
		f := float64(width) / 2 / math.Tan(m.hfov*math.Pi/360)
		out[i] = Camera{Index: uint8(i), Name: m.name, Width: width, Height: height, HFOV: m.hfov,
			FX: f, FY: f, CX: float64(width) / 2, CY: float64(height) / 2, X: m.x, Y: m.y, Z: m.z, Yaw: m.yaw}
	}
	return out
}

// project maps a point in the vehicle frame (origin at the front bumper) to pixel
// coordinates; ok is false behind the camera.
func (c *Camera) project(x, y, z float64) (u, v, depth float64, ok bool) {
	dx, dy, dz := x-c.X, y-c.Y, z-c.Z
	s, co := math.Sincos(c.Yaw * math.Pi / 180)
	fwd := co*dx + s*dy
	left := -s*dx + co*dy
	if fwd < 0.2 {
		return 0, 0, fwd, false
	}
	return c.CX - c.FX*left/fwd, c.CY - c.FY*dz/fwd, fwd, true
}

// ray returns the ground point (vehicle frame) seen at pixel (u, v), if the pixel is
// below the horizon.
func (c *Camera) ray(u, v float64) (x, y float64, ok bool) {
	dz := -(v - c.CY) / c.FY // per unit forward
	if dz >= -1e-6 {
		return 0, 0, false
	}
	fwd := c.Z / -dz
	left := -(u - c.CX) / c.FX * fwd
	s, co := math.Sincos(c.Yaw * math.Pi / 180)
	return c.X + co*fwd - s*left, c.Y + s*fwd + co*left, true
}

// box is an axis-aligned rectangle in pixels.
type box struct{ x1, y1, x2, y2 float64 }

// actorBox projects an actor's 3D box (in the vehicle frame) and returns its image
// rectangle clipped to the image, the unclipped area fraction visible, and the
// nearest depth.
func (c *Camera) actorBox(cx, cy, length, width, height float64) (b box, depth float64, ok bool) {
	b = box{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	depth = math.Inf(1)
	n := 0
	for _, dx := range []float64{-length / 2, length / 2} {
		for _, dy := range []float64{-width / 2, width / 2} {
			for _, z := range []float64{0, height} {
				u, v, d, vis := c.project(cx+dx, cy+dy, z)
				if !vis {
					continue
				}
				n++
				b.x1, b.x2 = math.Min(b.x1, u), math.Max(b.x2, u)
				b.y1, b.y2 = math.Min(b.y1, v), math.Max(b.y2, v)
				depth = math.Min(depth, d)
			}
		}
	}
	if n < 8 { // partly behind the camera: skip rather than draw a wrong box
		return b, depth, false
	}
	W, H := float64(c.Width), float64(c.Height)
	b.x1, b.y1 = math.Max(b.x1, 0), math.Max(b.y1, 0)
	b.x2, b.y2 = math.Min(b.x2, W), math.Min(b.y2, H)
	if b.x2-b.x1 < 2 || b.y2-b.y1 < 2 {
		return b, depth, false
	}
	return b, depth, true
}
