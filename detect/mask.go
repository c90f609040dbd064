package detect

// IgnoreMask drops detections whose bottom-centre point (where the object touches the
// road) lies in a masked region of a camera's image, typically the ego vehicle's bonnet.
// Regions are in normalised image coordinates (0..1), so one mask fits any resolution.
type IgnoreMask struct {
	Regions []Region
}

// Region is a normalised rectangle: X0 ≤ x < X1, Y0 ≤ y < Y1.
type Region struct {
	X0, Y0, X1, Y1 float32
}

// BonnetMask masks everything below the fraction bottom of the image height, e.g. 0.85.
func BonnetMask(bottom float32) IgnoreMask {
	return IgnoreMask{Regions: []Region{{X0: 0, Y0: bottom, X1: 1, Y1: 1.01}}}
}

// Filter returns dets without the masked ones, reusing dets' storage; w and h are the
// image size in pixels.
func (m IgnoreMask) Filter(dets []Detection, w, h int) []Detection {
	if len(m.Regions) == 0 || w <= 0 || h <= 0 {
		return dets
	}
	out := dets[:0]
	for _, d := range dets {
		x := (d.Box.X1 + d.Box.X2) / 2 / float32(w)
		y := d.Box.Y2 / float32(h)
		masked := false
		for _, r := range m.Regions {
			if x >= r.X0 && x < r.X1 && y >= r.Y0 && y < r.Y1 {
				masked = true
				break
			}
		}
		if !masked {
			out = append(out, d)
		}
	}
	return out
}
