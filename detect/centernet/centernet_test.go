package centernet_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/model"
	"roadlog/internal/shared"
)

// refCase is one image with reference outputs of the independent TF.js run.
type refCase struct {
	stem  string
	image string // path inside the shared corpus
}

var refCases = []refCase{
	{"000008", "testdata/images/kitti/image_2/000008.png"},
	{"bdd_hybridnets_4", "testdata/images/dashcam/bdd_hybridnets_4.jpg"},
	{"n015-2018-07-24-11-22-45+0800__CAM_FRONT__1532402927612460", "testdata/images/nuscenes/samples/n015-2018-07-24-11-22-45+0800__CAM_FRONT__1532402927612460.jpg"},
	{"udacity_vehdet_test1", "testdata/images/dashcam/udacity_vehdet_test1.jpg"},
	{"ultralytics_bus", "testdata/images/street/ultralytics_bus.jpg"},
}

func readF32(t testing.TB, p string) []float32 {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func maxAbs(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

type refDetections struct {
	ImageSize struct{ Width, Height int }
	NMSMax100 struct {
		Results []struct {
			RawIndex int       `json:"rawIndex"`
			RawScore float32   `json:"rawScore"`
			Class    int       `json:"class"`
			BoxRaw   []float64 `json:"boxRaw"`
		}
	} `json:"nmsMax100"`
}

func newCPU(t testing.TB, o cpu.Options) *centernet.Detector {
	t.Helper()
	d, err := centernet.NewCPU(centernet.Config{Fit: centernet.FitStretch}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestReferenceTensors runs the network on the reference input tensors and compares the
// heat map, box sizes and decoded detections with the TF.js reference.
func TestReferenceTensors(t *testing.T) {
	dir := shared.Path(t, "testdata/reference/centernet")
	engines := []struct {
		name string
		o    cpu.Options
		n    int // reference images to run
	}{{"asm", cpu.Options{}, len(refCases)}, {"purego", cpu.Options{PureGo: true}, 1}}
	for _, eng := range engines {
		d := newCPU(t, eng.o)
		for _, c := range refCases[:eng.n] {
			t.Run(eng.name+"/"+c.stem, func(t *testing.T) {
				ref := filepath.Join(dir, c.stem)
				cands, err := d.Candidates(context.Background(), readF32(t, filepath.Join(ref, "input_512.bin")))
				if err != nil {
					t.Fatal(err)
				}
				e := d.Engine()
				if diff := maxAbs(e.Output(0), readF32(t, filepath.Join(ref, "keypoints.bin"))); diff > 1e-3 {
					t.Errorf("keypoints: max abs diff %g > 1e-3", diff)
				} else {
					t.Logf("keypoints: max abs diff %.3g", diff)
				}
				if diff := maxAbs(e.Output(1), readF32(t, filepath.Join(ref, "wh.bin"))); diff > 1e-2 {
					t.Errorf("wh: max abs diff %g > 1e-2", diff)
				} else {
					t.Logf("wh: max abs diff %.3g", diff)
				}
				// detections above 0.2: the same rows, in the same order
				raw := readF32(t, filepath.Join(ref, "detections_raw.bin"))
				var want [][6]float32
				for i := 0; i < 100; i++ {
					if raw[i*6+4] > 0.2 {
						want = append(want, [6]float32(raw[i*6:i*6+6]))
					}
				}
				if len(cands) != len(want) {
					t.Fatalf("%d detections above 0.2, reference has %d", len(cands), len(want))
				}
				for i, w := range want {
					g := cands[i]
					if float32(g.Class) != w[5] || math.Abs(float64(g.Score-w[4])) > 1e-3 {
						t.Errorf("row %d: class %d score %.5f, reference class %v score %.5f", i, g.Class, g.Score, w[5], w[4])
					}
					for k, v := range []float32{g.X1, g.Y1, g.X2, g.Y2} {
						if math.Abs(float64(v-w[k])) > 0.02 {
							t.Errorf("row %d: box %v, reference %v", i, []float32{g.X1, g.Y1, g.X2, g.Y2}, w[:4])
							break
						}
					}
				}
			})
		}
	}
}

// TestReferenceImages runs whole images (Go's decoders, our resize, NMS) and compares with
// the reference's NMS output. JPEG decoders differ by a few levels, so boxes get a
// tolerance and only confident detections must match one for one.
func TestReferenceImages(t *testing.T) {
	dir := shared.Path(t, "testdata/reference/centernet")
	d := newCPU(t, cpu.Options{})
	for _, c := range refCases {
		t.Run(c.stem, func(t *testing.T) {
			f, err := os.Open(shared.Path(t, c.image))
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := image.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Detect(context.Background(), []image.Image{img})
			if err != nil {
				t.Fatal(err)
			}
			var ref refDetections
			b, err := os.ReadFile(filepath.Join(dir, c.stem, "detections.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			w, h := float32(ref.ImageSize.Width), float32(ref.ImageSize.Height)
			png := filepath.Ext(c.image) == ".png" // identical decoders: exact match expected
			for _, r := range ref.NMSMax100.Results {
				if !png && r.RawScore < 0.3 {
					continue
				}
				want := detect.Box{X1: float32(r.BoxRaw[0]) * w, Y1: float32(r.BoxRaw[1]) * h,
					X2: float32(r.BoxRaw[0]+r.BoxRaw[2]) * w, Y2: float32(r.BoxRaw[1]+r.BoxRaw[3]) * h}
				found := false
				for _, g := range got[0] {
					if int(g.Class) == r.Class && g.Box.IoU(want) > 0.9 && math.Abs(float64(g.Score-r.RawScore)) < 0.03 {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("reference %s %.3f at %v not detected", detect.COCO[r.Class], r.RawScore, want)
				}
			}
			if png && len(got[0]) != len(ref.NMSMax100.Results) {
				t.Errorf("%d detections, reference %d", len(got[0]), len(ref.NMSMax100.Results))
			}
		})
	}
}

// TestGraphDecode runs the whole graph, its own decode included (MaxPool, Equal, Cast,
// TopK, Gather, StridedSlice, integer arithmetic), on the CPU engine and compares
// tower_0/detections with the reference's rows above 0.2.
func TestGraphDecode(t *testing.T) {
	dir := shared.Path(t, "testdata/reference/centernet")
	g, err := centernet.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Prepare(model.PrepareOptions{Outputs: []string{centernet.DetectionsName}}); err != nil {
		t.Fatal(err)
	}
	e, err := cpu.New(g, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, c := range refCases[:2] {
		copy(e.Input(0), readF32(t, filepath.Join(dir, c.stem, "input_512.bin")))
		if err := e.Run(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		got, want := e.Output(0), readF32(t, filepath.Join(dir, c.stem, "detections_raw.bin"))
		for i := 0; i < 100 && want[i*6+4] > 0.2; i++ {
			for k := 0; k < 6; k++ {
				tol := 0.02
				if k == 4 {
					tol = 1e-3
				}
				if math.Abs(float64(got[i*6+k]-want[i*6+k])) > tol {
					t.Errorf("%s row %d: %v, reference %v", c.stem, i, got[i*6:i*6+6], want[i*6:i*6+6])
					break
				}
			}
		}
	}
}
