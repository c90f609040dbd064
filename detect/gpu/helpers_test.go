package gpu

import (
	"context"
	"encoding/binary"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"roadlog/detect/centernet"
	"roadlog/detect/gpu/gputest"
	"roadlog/detect/model"
	"roadlog/internal/shared"
)

// Two libraries implement the C ABI in these tests: the CPU twin
// (gputest/twin/roadlog_gpu_stub.c, compiled with gcc here, so that the binding, the
// planner and the pre/post-processing contracts are tested on any machine) and, where a
// GPU is, the CUDA library itself: ROADLOG_GPU_LIB names it (bin/libroadlog_gpu.so
// after `make gpu`). Tests run once per library present.

// buildTwin compiles the CPU twin (and a variant claiming another ABI version) once.
func buildTwin(t testing.TB) string { return gputest.Twin(t) }

// testLib is one library under test.
type testLib struct {
	name string // "twin" or "cuda"
	path string
}

// libraries returns the libraries to test: the CPU twin, and the CUDA library when
// ROADLOG_GPU_LIB names one that finds a device.
func libraries(t *testing.T) []testLib {
	t.Helper()
	var out []testLib
	if _, err := exec.LookPath("gcc"); err == nil {
		out = append(out, testLib{"twin", buildTwin(t)})
	}
	if p := os.Getenv("ROADLOG_GPU_LIB"); p != "" {
		if info, err := Probe(Options{Library: p}); err != nil {
			t.Logf("CUDA library %s not usable: %v", p, err)
		} else {
			t.Logf("CUDA library %s: %s", p, info)
			out = append(out, testLib{"cuda", p})
		}
	}
	if len(out) == 0 {
		t.Skip("neither gcc (for the CPU twin) nor a CUDA library (ROADLOG_GPU_LIB) is available")
	}
	return out
}

// refCase is an image of the shared corpus with TF.js reference tensors.
type refCase struct{ stem, image string }

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

// refTensor reads a reference tensor, skipping when the corpus lacks it.
func refTensor(t testing.TB, stem, file string) []float32 {
	return readF32(t, filepath.Join(shared.Path(t, "testdata/reference/centernet/"+stem), file))
}

// refInput returns a reference image's exact network input: input_512.bin, or for a
// PNG whose file is absent the CPU stretch pre-processing, which reproduces it bit for
// bit (detect/centernet TestStretchMatchesReference).
func refInput(t testing.TB, c refCase) []float32 {
	t.Helper()
	p := filepath.Join(shared.Path(t, "testdata/reference/centernet/"+c.stem), "input_512.bin")
	if _, err := os.Stat(p); err == nil || !strings.HasSuffix(c.image, ".png") {
		return readF32(t, p)
	}
	d := newCPUDetector(t, centernet.Config{Fit: centernet.FitStretch})
	if _, err := d.Detect(context.Background(), []image.Image{loadImage(t, c.image)}); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(d.Engine().Input(0))
}

func maxAbs(a, b []float32) (float64, int) {
	m, at := 0.0, -1
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		if d > m || math.IsNaN(d) {
			m, at = d, i
			if math.IsNaN(d) {
				return math.Inf(1), i
			}
		}
	}
	return m, at
}

// centerNetGraph returns the default model prepared for batch images.
func centerNetGraph(t testing.TB, batch int) *model.Graph {
	t.Helper()
	g, err := centernet.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if err := centernet.Prepare(g, batch); err != nil {
		t.Fatal(err)
	}
	return g
}

// reference computes every value of g with the reference kernels (model.Eval) from
// the given input: the oracle for per-tensor comparisons.
func reference(t testing.TB, g *model.Graph, input []float32) map[*model.Value][]float32 {
	t.Helper()
	vals := map[*model.Value]*model.Tensor{}
	in := model.NewTensor(model.Float32, g.Inputs[0].Shape)
	copy(in.F32, input)
	vals[g.Inputs[0]] = in
	for _, n := range g.Nodes {
		ins := make([]*model.Tensor, len(n.In))
		for i, v := range n.In {
			if v.IsConst() {
				c := *v.Const
				if c.DType == model.Float32 {
					c.F32, c.F16 = v.Const.Float32s(), nil
				}
				ins[i] = &c
				continue
			}
			ins[i] = vals[v]
		}
		outs := make([]*model.Tensor, len(n.Out))
		for i, v := range n.Out {
			outs[i] = model.NewTensor(v.DType, v.Shape)
			vals[v] = outs[i]
		}
		if err := model.Eval(n, ins, outs); err != nil {
			t.Fatal(err)
		}
	}
	out := map[*model.Value][]float32{}
	for v, ten := range vals {
		out[v] = ten.F32
	}
	return out
}
