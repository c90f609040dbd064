package labels

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/detect/obs"
	"roadlog/internal/shared"
)

// kittiCases feed TestParseKITTILabels and FuzzParseKITTILabels' seeds. The rows are
// written in the label_2 layout by hand (not copied from KITTI).
var kittiCases = []struct {
	name string
	in   string
	n    int // objects expected
	line int // error line (0: no error)
	col  int // error column
}{
	{"one-car", "Car 0.00 0 1.50 100.0 150.0 200.0 220.0 1.50 1.70 4.20 1.00 1.60 20.00 1.57\n", 1, 0, 0},
	{"with-score", "Pedestrian 0.10 1 -0.3 500 140 540 260 1.75 0.6 0.8 -2.0 1.6 12.0 0.1 0.87\n", 1, 0, 0},
	{"blank-lines-crlf", "\r\nCar 0 0 0 1 2 3 4 1 1 1 0 0 5 0\r\n\r\n", 1, 0, 0},
	{"dontcare", "DontCare -1 -1 -10 5 6 7 8 -1 -1 -1 -1000 -1000 -1000 -10\n", 1, 0, 0},
	{"short-row", "Car 0 0 0 1 2 3 4\n", 0, 1, 1},
	{"bad-number", "Car 0 0 0 1 2 3 4 1 1 1 0 0 x5 0\n", 0, 1, 29},
	{"bad-occluded", "Car 0 0.5 0 1 2 3 4 1 1 1 0 0 5 0\n", 0, 1, 7},
	{"error-on-line-2", "Car 0 0 0 1 2 3 4 1 1 1 0 0 5 0\nVan 0 0 0 1 2 3 4 1 1 1 0 0 5\n", 0, 2, 1},
}

func TestParseKITTILabels(t *testing.T) {
	for _, c := range kittiCases {
		t.Run(c.name, func(t *testing.T) {
			objs, err := ParseKITTILabels(strings.NewReader(c.in), "x.txt")
			if c.line == 0 {
				if err != nil || len(objs) != c.n {
					t.Fatalf("got %d objects, err %v; want %d", len(objs), err, c.n)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) || pe.Line != c.line || pe.Col != c.col || pe.File != "x.txt" {
				t.Fatalf("err %v, want syntax error at x.txt:%d:%d", err, c.line, c.col)
			}
		})
	}
	objs, _ := ParseKITTILabels(strings.NewReader(kittiCases[0].in), "x")
	o := objs[0]
	if o.Type != "Car" || o.X1 != 100 || o.Y2 != 220 || o.H != 1.5 || o.W != 1.7 || o.L != 4.2 || o.Z != 20 || o.RotY != 1.57 {
		t.Fatalf("fields %+v", o)
	}
}

func TestParseKITTICalib(t *testing.T) {
	good := "P0: 1 0 2 0 0 1 3 0 0 0 1 0\nP2: 700 0 600 45 0 700 170 0.2 0 0 1 0.003\nR0_rect: 1 0 0 0 1 0 0 0 1\nTr_velo_to_cam: 1 2 3\n"
	c, err := ParseKITTICalib(strings.NewReader(good), "c.txt")
	if err != nil {
		t.Fatal(err)
	}
	cal := c.Calibration(1242, 375)
	if cal.Fx != 700 || cal.Fy != 700 || cal.Cx != 600 || cal.Cy != 170 || cal.MountHeight != KITTIMountHeight || cal.Validate() != nil {
		t.Fatalf("calibration %+v", cal)
	}
	for in, want := range map[string][2]int{
		"P0: 1 0 2\n":                                  {1, 1},
		"P2 700 0 600\n":                               {1, 1},
		"P0: 1 0 2 0 0 1 3 0 0 0 1 0\n":                {0, 0}, // no P2
		"P2: 700 0 6o0 45 0 700 170 0.2 0 0 1 0.003\n": {1, 11},
	} {
		_, err := ParseKITTICalib(strings.NewReader(in), "c.txt")
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) || pe.Line != want[0] || pe.Col != want[1] {
			t.Errorf("%q: err %v, want syntax error at line %d col %d", in, err, want[0], want[1])
		}
	}
}

var nuScenesCases = []struct {
	name      string
	in        string
	ok        bool
	line, col int
}{
	{"one-car", `{"image":"samples/a.jpg","width":1600,"height":900,"camera":"CAM_FRONT",
"cam2img":[[1266,0,816],[0,1266,491],[0,0,1]],
"objects":[{"class":"car","bbox_xyxy":[10,20,110,90],"depth_m":20.5,"bbox_3d_cam":[1,0.8,20.5,4.5,1.6,1.9,-1.57]}]}`, true, 0, 0},
	{"truncated-json", `{"image":"a.jpg","width":1600,`, false, 1, 31},
	{"wrong-type", "{\"image\":\"a.jpg\",\n\"width\":\"wide\"}", false, 2, 15},
	{"no-intrinsics", `{"image":"a.jpg","width":1600,"height":900,"camera":"CAM_FRONT","objects":[]}`, false, 0, 0},
	{"short-box", `{"image":"a.jpg","width":1600,"height":900,"cam2img":[[1,0,1],[0,1,1],[0,0,1]],"objects":[{"class":"car","bbox_xyxy":[1,2,3],"bbox_3d_cam":[1,2,3,4,5,6,7]}]}`, false, 0, 0},
}

func TestParseNuScenes(t *testing.T) {
	for _, c := range nuScenesCases {
		t.Run(c.name, func(t *testing.T) {
			f, err := ParseNuScenes(strings.NewReader(c.in), "n.json")
			if c.ok {
				if err != nil || len(f.Objects) != 1 {
					t.Fatalf("err %v, objects %d", err, len(f.Objects))
				}
				cal := f.Calibration()
				if cal.Fx != 1266 || cal.MountHeight != 1.51 || cal.Validate() != nil {
					t.Fatalf("calibration %+v", cal)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) || pe.Line != c.line || pe.Col != c.col {
				t.Fatalf("err %v, want syntax error at %d:%d", err, c.line, c.col)
			}
		})
	}
}

func TestNearDepth(t *testing.T) {
	// a car seen from behind (heading along the optical axis): near edge l/2 closer
	if d := nearDepth(20, 4.4, 1.8, math.Pi/2); math.Abs(d-17.8) > 1e-9 {
		t.Fatalf("from behind: %v, want 17.8", d)
	}
	// crossing: near edge w/2 closer
	if d := nearDepth(20, 4.4, 1.8, 0); math.Abs(d-19.1) > 1e-9 {
		t.Fatalf("crossing: %v, want 19.1", d)
	}
}

func TestLoadCorpus(t *testing.T) {
	dir := shared.Path(t, "testdata/images")
	k, err := LoadKITTI(filepath.Join(dir, "kitti"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := LoadNuScenes(filepath.Join(dir, "nuscenes"))
	if err != nil {
		t.Fatal(err)
	}
	cars := 0
	for _, im := range append(k, n...) {
		if _, err := os.Stat(im.Path); err != nil {
			t.Errorf("image %s: %v", im.Path, err)
		}
		if err := im.Calibration.Validate(); err != nil {
			t.Errorf("%s: %v", im.Path, err)
		}
		for _, o := range im.Objects {
			if o.Class == obs.ClassCar {
				cars++
			}
			if !(o.Distance > 0 && o.Distance <= o.Depth) || o.X2 <= o.X1 || o.Y2 <= o.Y1 {
				t.Errorf("%s: object %+v", im.Path, o)
			}
		}
	}
	// SOURCES.md: KITTI 1+6 Car (and 1 Truck), nuScenes 1+7 car.
	if len(k) != 3 || len(n) != 2 || cars != 15 {
		t.Fatalf("%d KITTI and %d nuScenes images, %d cars; want 3, 2, 15", len(k), len(n), cars)
	}
}

func seedFiles(f *testing.F, glob string) {
	d := shared.Dir()
	if d == "" {
		return
	}
	names, _ := filepath.Glob(filepath.Join(d, "testdata/images", glob))
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			f.Add(b)
		}
	}
}

func FuzzParseKITTILabels(f *testing.F) {
	for _, c := range kittiCases {
		f.Add([]byte(c.in))
	}
	seedFiles(f, "kitti/label_2/*.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, err := ParseKITTILabels(bytes.NewReader(b), "f")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		_ = objs
	})
}

func FuzzParseKITTICalib(f *testing.F) {
	f.Add([]byte("P2: 700 0 600 45 0 700 170 0.2 0 0 1 0.003\n"))
	seedFiles(f, "kitti/calib/*.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseKITTICalib(bytes.NewReader(b), "f")
		if err == nil {
			_ = c.Calibration(100, 100)
		}
	})
}

func FuzzParseNuScenes(f *testing.F) {
	for _, c := range nuScenesCases {
		f.Add([]byte(c.in))
	}
	seedFiles(f, "nuscenes/labels/*.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		nf, err := ParseNuScenes(bytes.NewReader(b), "f")
		if err == nil {
			_ = nf.Calibration()
		}
	})
}
