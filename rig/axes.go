package rig

import (
	"errors"
	"fmt"
	"strings"
)

// ErrAxes reports an axis mapping that is not a signed permutation of x, y, z.
var ErrAxes = errors.New("bad axis mapping")

// AxisMap is a parsed Axes: vehicle axis i = Sign[i] × sensor axis Src[i]
// (0 = x, 1 = y, 2 = z).
type AxisMap struct {
	Src  [3]int
	Sign [3]float32
}

// Identity is the mapping that changes nothing.
var Identity = AxisMap{Src: [3]int{0, 1, 2}, Sign: [3]float32{1, 1, 1}}

// Apply maps a sensor-frame vector into the vehicle frame.
func (m AxisMap) Apply(v [3]float32) [3]float32 {
	return [3]float32{m.Sign[0] * v[m.Src[0]], m.Sign[1] * v[m.Src[1]], m.Sign[2] * v[m.Src[2]]}
}

// Map parses the mapping. Each of x, y, z must name a sensor axis ("x", "-y", "+z"),
// and together they must name every sensor axis once. Empty Axes is the identity.
func (a Axes) Map() (AxisMap, error) {
	if a == (Axes{}) {
		return Identity, nil
	}
	var m AxisMap
	used := [3]bool{}
	for i, s := range [3]string{a.X, a.Y, a.Z} {
		name := "xyz"[i : i+1]
		t := strings.TrimSpace(strings.ToLower(s))
		m.Sign[i] = 1
		switch {
		case strings.HasPrefix(t, "-"):
			m.Sign[i], t = -1, t[1:]
		case strings.HasPrefix(t, "+"):
			t = t[1:]
		}
		if len(t) != 1 || strings.IndexByte("xyz", t[0]) < 0 {
			return AxisMap{}, fmt.Errorf("%w: %s: %q is not one of x, y, z with an optional sign", ErrAxes, name, s)
		}
		src := strings.IndexByte("xyz", t[0])
		if used[src] {
			return AxisMap{}, fmt.Errorf("%w: sensor axis %s is used twice", ErrAxes, t)
		}
		used[src] = true
		m.Src[i] = src
	}
	return m, nil
}
