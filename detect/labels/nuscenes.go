package labels

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"roadlog/detect/obs"
	"roadlog/detect/ranging"
)

// NuScenes camera mount heights above the ground, m (the nuScenes calibrated_sensor
// translations, ≈1.51 m for CAM_FRONT and ≈1.57 m for CAM_BACK on the Renault Zoe
// recording cars). The label files carry the intrinsics only.
var nuScenesMountHeight = map[string]float64{
	"CAM_FRONT": 1.51, "CAM_FRONT_LEFT": 1.52, "CAM_FRONT_RIGHT": 1.51,
	"CAM_BACK": 1.57, "CAM_BACK_LEFT": 1.52, "CAM_BACK_RIGHT": 1.53,
}

// NuScenesFile is one nuScenes per-camera label file.
type NuScenesFile struct {
	Image   string          `json:"image"`
	Width   int             `json:"width"`
	Height  int             `json:"height"`
	Camera  string          `json:"camera"`
	Cam2Img [][]float64     `json:"cam2img"`
	Objects []NuScenesLabel `json:"objects"`
}

// NuScenesLabel is one object of a nuScenes label file.
type NuScenesLabel struct {
	Class string    `json:"class"`
	Box   []float64 `json:"bbox_xyxy"` // x1 y1 x2 y2, px
	Depth float64   `json:"depth_m"`   // m, depth of the gravity centre
	Box3D []float64 `json:"bbox_3d_cam"`
}

// ParseNuScenes reads and checks a label file. name is used in errors.
func ParseNuScenes(r io.Reader, name string) (NuScenesFile, error) {
	var f NuScenesFile
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return f, &ParseError{File: name, Err: fmt.Errorf("read: %w", err)}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		pe := &ParseError{File: name, Err: fmt.Errorf("%w: %v", ErrSyntax, err)}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		off := int64(-1)
		if errors.As(err, &se) {
			off = se.Offset
		} else if errors.As(err, &te) {
			off = te.Offset
		}
		if off >= 0 {
			pe.Line, pe.Col = lineCol(data, off)
		}
		return f, pe
	}
	bad := func(format string, a ...any) error {
		return &ParseError{File: name, Err: fmt.Errorf("%w: "+format, append([]any{ErrSyntax}, a...)...)}
	}
	if f.Width <= 0 || f.Height <= 0 {
		return f, bad("image size %d×%d", f.Width, f.Height)
	}
	if len(f.Cam2Img) != 3 || len(f.Cam2Img[0]) != 3 || len(f.Cam2Img[1]) != 3 {
		return f, bad("cam2img is not 3×3")
	}
	for i, o := range f.Objects {
		if len(o.Box) != 4 {
			return f, bad("objects[%d].bbox_xyxy has %d values, want 4", i, len(o.Box))
		}
		if len(o.Box3D) != 7 {
			return f, bad("objects[%d].bbox_3d_cam has %d values, want 7", i, len(o.Box3D))
		}
	}
	return f, nil
}

func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// Calibration returns the ranging calibration of the file's camera, level, at the
// camera's mount height, at the vehicle origin looking along its own axis.
func (f *NuScenesFile) Calibration() ranging.Calibration {
	h, ok := nuScenesMountHeight[f.Camera]
	if !ok {
		h = 1.5
	}
	k := f.Cam2Img
	return ranging.Calibration{Width: f.Width, Height: f.Height, Fx: k[0][0], Fy: k[1][1], Cx: k[0][2], Cy: k[1][2], MountHeight: h}
}

func nuScenesClass(c string) (uint16, bool) {
	switch c {
	case "car":
		return obs.ClassCar, true
	case "truck", "trailer", "construction_vehicle":
		return obs.ClassTruck, true
	case "bus":
		return obs.ClassBus, true
	case "motorcycle":
		return obs.ClassMotorcycle, true
	case "bicycle":
		return obs.ClassBicycle, true
	case "pedestrian":
		return obs.ClassPerson, true
	}
	return 0, false // traffic_cone, barrier
}

// LoadNuScenes reads every labels/*.json of a nuScenes folder, in file-name order;
// image paths are relative to dir.
func LoadNuScenes(dir string) ([]Image, error) {
	names, err := filepath.Glob(filepath.Join(dir, "labels", "*.json"))
	if err != nil {
		return nil, fmt.Errorf("load nuscenes: %w", err)
	}
	sort.Strings(names)
	var out []Image
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("load nuscenes: %w", err)
		}
		f, err := ParseNuScenes(bytes.NewReader(b), n)
		if err != nil {
			return nil, fmt.Errorf("load nuscenes: %w", err)
		}
		im := Image{Path: filepath.Join(dir, filepath.FromSlash(f.Image)), Dataset: "nuscenes", Calibration: f.Calibration()}
		if !strings.HasPrefix(f.Image, "samples/") {
			im.Path = filepath.Join(dir, "samples", filepath.Base(f.Image))
		}
		for _, o := range f.Objects {
			cls, ok := nuScenesClass(o.Class)
			if !ok {
				continue
			}
			b3 := o.Box3D // x y z l h w yaw, gravity centre
			im.Objects = append(im.Objects, Object{
				Class: cls, Label: o.Class, X1: o.Box[0], Y1: o.Box[1], X2: o.Box[2], Y2: o.Box[3],
				Distance: nearDepth(b3[2], b3[3], b3[5], b3[6]), Depth: o.Depth, Lateral: -b3[0], Occluded: -1,
			})
		}
		out = append(out, im)
	}
	return out, nil
}
