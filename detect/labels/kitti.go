package labels

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	_ "image/png" // KITTI images are PNG
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"roadlog/detect/obs"
	"roadlog/detect/ranging"
)

// KITTIMountHeight is the height of the KITTI recording car's cameras above the
// ground, m (KITTI setup: 1.65 m). The calibration files do not state it.
const KITTIMountHeight = 1.65

// MaxLineBytes caps one line of a label or calibration file.
const MaxLineBytes = 64 << 10

// KITTIObject is one row of a KITTI label_2 file.
type KITTIObject struct {
	Type           string  // Car, Van, Truck, Pedestrian, Person_sitting, Cyclist, Tram, Misc, DontCare
	Truncated      float64 // 0..1
	Occluded       int     // 0..3
	Alpha          float64 // rad
	X1, Y1, X2, Y2 float64 // 2D box, px
	H, W, L        float64 // 3D size, m
	X, Y, Z        float64 // bottom centre in rectified camera coordinates, m
	RotY           float64 // rad
}

// ParseKITTILabels reads a label_2 file (15 fields per line, optionally a 16th score).
// name is used in errors.
func ParseKITTILabels(r io.Reader, name string) ([]KITTIObject, error) {
	var out []KITTIObject
	err := lines(r, name, func(line int, text string) error {
		f, cols := fields(text)
		if len(f) == 0 {
			return nil
		}
		if len(f) != 15 && len(f) != 16 {
			return &ParseError{name, line, 1, fmt.Errorf("%w: %d fields, want 15 or 16", ErrSyntax, len(f))}
		}
		var o KITTIObject
		o.Type = f[0]
		dst := []*float64{&o.Truncated, nil, &o.Alpha, &o.X1, &o.Y1, &o.X2, &o.Y2, &o.H, &o.W, &o.L, &o.X, &o.Y, &o.Z, &o.RotY}
		for i, p := range dst {
			if p == nil {
				v, err := strconv.Atoi(f[2])
				if err != nil {
					return &ParseError{name, line, cols[2], fmt.Errorf("%w: occluded %q is not an integer", ErrSyntax, f[2])}
				}
				o.Occluded = v
				continue
			}
			v, err := strconv.ParseFloat(f[i+1], 64)
			if err != nil {
				return &ParseError{name, line, cols[i+1], fmt.Errorf("%w: field %d %q is not a number", ErrSyntax, i+2, f[i+1])}
			}
			*p = v
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// KITTICalib holds the projection matrices of a KITTI calib file.
type KITTICalib struct {
	P      map[string][12]float64 // P0..P3, row-major 3×4
	R0Rect [9]float64
}

// ParseKITTICalib reads a calib file ("KEY: v v v …" per line). It needs P2.
func ParseKITTICalib(r io.Reader, name string) (KITTICalib, error) {
	c := KITTICalib{P: map[string][12]float64{}}
	err := lines(r, name, func(line int, text string) error {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		key, rest, ok := strings.Cut(text, ":")
		if !ok {
			return &ParseError{name, line, 1, fmt.Errorf("%w: no ':' after the key", ErrSyntax)}
		}
		f, cols := fields(rest)
		vals := make([]float64, len(f))
		for i, s := range f {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return &ParseError{name, line, len(key) + 1 + cols[i], fmt.Errorf("%w: %q is not a number", ErrSyntax, s)}
			}
			vals[i] = v
		}
		want := map[string]int{"P0": 12, "P1": 12, "P2": 12, "P3": 12, "R0_rect": 9}
		n, known := want[key]
		if !known {
			return nil // Tr_velo_to_cam, Tr_imu_to_velo: not needed
		}
		if len(vals) != n {
			return &ParseError{name, line, 1, fmt.Errorf("%w: %s has %d values, want %d", ErrSyntax, key, len(vals), n)}
		}
		if key == "R0_rect" {
			copy(c.R0Rect[:], vals)
		} else {
			var p [12]float64
			copy(p[:], vals)
			c.P[key] = p
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	if _, ok := c.P["P2"]; !ok {
		return c, &ParseError{File: name, Err: fmt.Errorf("%w: no P2 matrix", ErrSyntax)}
	}
	return c, nil
}

// Calibration returns the ranging calibration of the left colour camera (P2) for an
// image of w×h pixels. The camera is taken as level (KITTI's images are rectified to
// the horizon) at KITTIMountHeight, at the vehicle origin.
func (c KITTICalib) Calibration(w, h int) ranging.Calibration {
	p := c.P["P2"]
	return ranging.Calibration{Width: w, Height: h, Fx: p[0], Fy: p[5], Cx: p[2], Cy: p[6], MountHeight: KITTIMountHeight}
}

// kittiClass maps a KITTI type to the COCO class a detector reports for it.
func kittiClass(t string) (uint16, bool) {
	switch t {
	case "Car", "Van":
		return obs.ClassCar, true
	case "Truck":
		return obs.ClassTruck, true
	case "Tram":
		return obs.ClassBus, true
	case "Pedestrian", "Person_sitting", "Cyclist": // a cyclist's box spans the rider
		return obs.ClassPerson, true
	}
	return 0, false // Misc, DontCare
}

// LoadKITTI reads every image of a KITTI object-benchmark folder (image_2, label_2,
// calib), in file-name order.
func LoadKITTI(dir string) ([]Image, error) {
	names, err := filepath.Glob(filepath.Join(dir, "label_2", "*.txt"))
	if err != nil {
		return nil, fmt.Errorf("load kitti: %w", err)
	}
	sort.Strings(names)
	var out []Image
	for _, ln := range names {
		stem := strings.TrimSuffix(filepath.Base(ln), ".txt")
		im, err := loadKITTIImage(dir, stem)
		if err != nil {
			return nil, fmt.Errorf("load kitti: %w", err)
		}
		out = append(out, im)
	}
	return out, nil
}

func loadKITTIImage(dir, stem string) (Image, error) {
	im := Image{Path: filepath.Join(dir, "image_2", stem+".png"), Dataset: "kitti"}
	cfg, err := decodeConfig(im.Path)
	if err != nil {
		return im, err
	}
	cp := filepath.Join(dir, "calib", stem+".txt")
	cb, err := os.ReadFile(cp)
	if err != nil {
		return im, err
	}
	cal, err := ParseKITTICalib(bytes.NewReader(cb), cp)
	if err != nil {
		return im, err
	}
	im.Calibration = cal.Calibration(cfg.Width, cfg.Height)
	lp := filepath.Join(dir, "label_2", stem+".txt")
	lb, err := os.ReadFile(lp)
	if err != nil {
		return im, err
	}
	objs, err := ParseKITTILabels(bytes.NewReader(lb), lp)
	if err != nil {
		return im, err
	}
	for _, o := range objs {
		cls, ok := kittiClass(o.Type)
		if !ok {
			continue
		}
		im.Objects = append(im.Objects, Object{
			Class: cls, Label: o.Type, X1: o.X1, Y1: o.Y1, X2: o.X2, Y2: o.Y2,
			Distance: nearDepth(o.Z, o.L, o.W, o.RotY), Depth: o.Z, Lateral: -o.X,
			Truncated: o.Truncated, Occluded: o.Occluded,
		})
	}
	return im, nil
}

func decodeConfig(path string) (image.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Config{}, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return cfg, fmt.Errorf("decode %s: %w", path, err)
	}
	return cfg, nil
}

// lines calls fn for each line of r (1-based numbers), capping line length.
func lines(r io.Reader, name string, fn func(line int, text string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(n, sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &ParseError{name, n + 1, 0, fmt.Errorf("read: %w", err)}
	}
	return nil
}

// fields splits on blanks and returns each field with its 1-based column.
func fields(s string) ([]string, []int) {
	var f []string
	var cols []int
	start := -1
	for i := 0; i <= len(s); i++ {
		blank := i == len(s) || s[i] == ' ' || s[i] == '\t' || s[i] == '\r'
		if blank && start >= 0 {
			f = append(f, s[start:i])
			cols = append(cols, start+1)
			start = -1
		} else if !blank && start < 0 {
			start = i
		}
	}
	return f, cols
}
