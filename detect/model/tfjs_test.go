package model_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/detect/model"
	"roadlog/internal/shared"
	"roadlog/models"
)

// centerNet returns the default model's model.json and weights (embedded copy).
func centerNet(t testing.TB) (js, weights []byte) {
	t.Helper()
	fsys := models.CenterNet()
	js, err := fsReadFile(fsys, "centernet.json")
	if err != nil {
		t.Fatal(err)
	}
	weights, err = fsReadFile(fsys, "centernet.bin")
	if err != nil {
		t.Fatal(err)
	}
	return js, weights
}

func TestHalfRoundTrip(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := model.HalfToFloat(uint16(h))
		if f != f {
			if back := model.FloatToHalf(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x → %#04x", h, back)
			}
			continue
		}
		if back := model.FloatToHalf(f); back != uint16(h) {
			t.Fatalf("half %#04x → %g → %#04x", h, f, back)
		}
	}
	for _, c := range []struct {
		f float32
		h uint16
	}{
		{1.0 / 6, 0x3155}, {65504, 0x7bff}, {65520, 0x7c00}, {1e-8, 0}, {-2, 0xc000},
		{5.960464477539063e-08, 0x0001}, {2.98e-8, 0x0000}, {1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02},
	} {
		if got := model.FloatToHalf(c.f); got != c.h {
			t.Errorf("FloatToHalf(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
}

func TestTFJSCenterNet(t *testing.T) {
	js, w := centerNet(t)
	g, err := model.ParseTFJS(js, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Inputs) != 1 || !g.Inputs[0].Shape.Equal(model.Shape{1, 512, 512, 3}) {
		t.Fatalf("inputs %v", g.Inputs)
	}
	err = g.Prepare(model.PrepareOptions{
		Outputs: []string{"tower_0/keypoints", "tower_0/wh"},
		Inputs:  map[string]model.Shape{"tower_0/images": {4, 512, 512, 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Outputs[0].Shape; !s.Equal(model.Shape{4, 128, 128, 80}) {
		t.Errorf("keypoints %v", s)
	}
	if s := g.Outputs[1].Shape; !s.Equal(model.Shape{4, 128, 128, 4}) {
		t.Errorf("wh %v", s)
	}
	st := g.Stats()
	// what fusion must achieve on this model: every hard-swish, hard-sigmoid, residual
	// Add and the wh scale fused into a convolution; only the squeeze-excitation Muls and
	// the head's Relus after Concat remain
	if st.Nodes[model.OpConv] != 63 || st.Nodes[model.OpDepthwiseConv] != 26 {
		t.Errorf("convolutions: %v", st.Nodes)
	}
	if st.Nodes[model.OpAdd] != 0 || st.Nodes[model.OpSub] != 0 || st.Nodes[model.OpActivation] != 3 || st.Nodes[model.OpMul] != 9 {
		t.Errorf("leftover elementwise ops: %v", st.Nodes)
	}
	if g := float64(st.MACs) / 4; math.Abs(g-1.295e9) > 0.01e9 {
		t.Errorf("MACs per image %.4g, want 1.295e9", g)
	}
	for _, n := range g.Nodes {
		if (n.Op == model.OpConv || n.Op == model.OpDepthwiseConv) && !n.In[1].Const.Half() && n.In[1].Const.F32 == nil {
			t.Errorf("%s: weights without data", n.Name)
		}
	}
}

// TestTFJSFull keeps the graph's own decoding (TopK, Gather, StridedSlice, integer
// arithmetic): every op resolves and the output has the documented shape.
func TestTFJSFull(t *testing.T) {
	js, w := centerNet(t)
	g, err := model.ParseTFJS(js, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Prepare(model.PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, v := range g.Outputs {
		if v.Name == "tower_0/detections" {
			found = true
			if !v.Shape.Equal(model.Shape{1, 100, 6}) {
				t.Errorf("detections %v", v.Shape)
			}
		}
	}
	if !found {
		t.Errorf("outputs %v lack tower_0/detections", g.Outputs)
	}
}

// tfjsDamage is a table of damaged models and the error each must give.
var tfjsDamage = []struct {
	name   string
	damage func(js, w []byte) ([]byte, []byte)
	check  func(t *testing.T, err error)
}{
	{"truncated weights", func(js, w []byte) ([]byte, []byte) { return js, w[:len(w)-100] },
		func(t *testing.T, err error) {
			var fe *model.FileError
			if !errors.Is(err, model.ErrTruncated) || !errors.As(err, &fe) || fe.Offset <= 0 || !strings.Contains(fe.Where, "weight") {
				t.Errorf("got %v, want ErrTruncated naming a weight and offset", err)
			}
		}},
	{"extra weight bytes", func(js, w []byte) ([]byte, []byte) { return js, append(w, 1, 2, 3, 4) },
		func(t *testing.T, err error) {
			if !errors.Is(err, model.ErrFormat) {
				t.Errorf("got %v, want ErrFormat", err)
			}
		}},
	{"truncated json", func(js, w []byte) ([]byte, []byte) { return js[:len(js)/2], w },
		func(t *testing.T, err error) {
			var fe *model.FileError
			if !errors.Is(err, model.ErrFormat) || !errors.As(err, &fe) {
				t.Errorf("got %v, want a FileError with ErrFormat", err)
			}
		}},
	{"unknown op", func(js, w []byte) ([]byte, []byte) {
		return bytes.Replace(js, []byte(`"op":"Relu6"`), []byte(`"op":"Relu7"`), 1), w
	}, func(t *testing.T, err error) {
		var ue *model.UnsupportedOpError
		if !errors.As(err, &ue) || ue.Op != "Relu7" || ue.Node == "" || !errors.Is(err, model.ErrUnsupported) {
			t.Errorf("got %v, want UnsupportedOpError naming Relu7 and its node", err)
		}
	}},
	{"wrong weight shape", func(js, w []byte) ([]byte, []byte) {
		// same byte count, transposed: the first convolution's input channels no longer fit
		return swapShape(js, "tower_0/MobilenetV3/Conv/Conv2D_weights", "[3, 3, 3, 16]", "[3, 3, 16, 3]"), w
	}, func(t *testing.T, err error) {
		var ne *model.NodeError
		if !errors.Is(err, model.ErrShape) || !errors.As(err, &ne) || !strings.Contains(ne.Node, "Conv") {
			t.Errorf("got %v, want ErrShape at the first convolution", err)
		}
	}},
	{"missing input", func(js, w []byte) ([]byte, []byte) {
		return bytes.Replace(js, []byte(`"input":["tower_0/images"`), []byte(`"input":["tower_0/nothing"`), 1), w
	}, func(t *testing.T, err error) {
		if !errors.Is(err, model.ErrFormat) {
			t.Errorf("got %v, want ErrFormat", err)
		}
	}},
}

// swapShape rewrites one manifest entry's shape.
func swapShape(js []byte, name, from, to string) []byte {
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		panic(err)
	}
	for _, g := range m["weightsManifest"].([]any) {
		for _, w := range g.(map[string]any)["weights"].([]any) {
			wm := w.(map[string]any)
			if wm["name"] == name {
				var s []any
				json.Unmarshal([]byte(to), &s)
				wm["shape"] = s
			}
		}
	}
	out, _ := json.MarshalIndent(m, "", " ")
	return out
}

func TestTFJSDamage(t *testing.T) {
	js, w := centerNet(t)
	for _, c := range tfjsDamage {
		t.Run(c.name, func(t *testing.T) {
			dj, dw := c.damage(bytes.Clone(js), bytes.Clone(w))
			g, err := model.ParseTFJS(dj, dw)
			if err == nil {
				err = g.Prepare(model.PrepareOptions{Outputs: []string{"tower_0/keypoints", "tower_0/wh"}})
			}
			if err == nil {
				t.Fatal("no error")
			}
			c.check(t, err)
		})
	}
}

func TestLoadTFJSFromDisk(t *testing.T) {
	dir := shared.Path(t, "models/centernet")
	g, err := model.LoadTFJS(os.DirFS(dir), "centernet.json", model.TFJSLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Cut("tower_0/keypoints"); err != nil {
		t.Fatal(err)
	}
	if err := g.Cut("no/such/tensor"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("cut at a missing name: %v", err)
	}
	// a limit below the weights' size is refused with the file named
	_, err = model.LoadTFJS(os.DirFS(dir), "centernet.json", model.TFJSLimits{MaxWeights: 1000})
	var fe *model.FileError
	if !errors.As(err, &fe) || filepath.Base(fe.File) != "centernet.bin" {
		t.Errorf("weights over the limit: %v", err)
	}
	if _, err := model.LoadTFJS(os.DirFS(t.TempDir()), "model.json", model.TFJSLimits{}); err == nil {
		t.Error("missing model.json: no error")
	}
}
