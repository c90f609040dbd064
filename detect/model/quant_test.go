package model_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"roadlog/detect/model"
)

// TestTFJSQuantisedWeights builds a one-convolution TF.js graph model whose weights are
// stored three ways (uint8-quantised kernel, float16 bias, float32 scale) and checks the
// decoded values and the result against a direct computation.
func TestTFJSQuantisedWeights(t *testing.T) {
	// kernel 1×1×2×3 as uint8 with scale 0.5, min −1: value = q·0.5 − 1
	q := []byte{0, 1, 2, 3, 4, 5}
	kernel := make([]float32, 6)
	for i, v := range q {
		kernel[i] = float32(v)*0.5 - 1
	}
	bias := []float32{0.5, -0.25, 2}
	scale := float32(1.5)
	var w []byte
	w = append(w, q...)
	for _, b := range bias {
		w = binary.LittleEndian.AppendUint16(w, model.FloatToHalf(b))
	}
	w = binary.LittleEndian.AppendUint32(w, math.Float32bits(scale))
	js := fmt.Sprintf(`{
 "format": "graph-model",
 "modelTopology": {"node": [
  {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": "1"}, {"size": "2"}, {"size": "2"}, {"size": "2"}]}}}},
  {"name": "k", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
  {"name": "b", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
  {"name": "s", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
  {"name": "conv", "op": "Conv2D", "input": ["x", "k"], "attr": {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": "%s"}}},
  {"name": "biased", "op": "BiasAdd", "input": ["conv", "b"]},
  {"name": "scaled", "op": "Mul", "input": ["biased", "s"]},
  {"name": "y", "op": "Relu", "input": ["scaled"]}
 ]},
 "weightsManifest": [{"paths": ["w.bin"], "weights": [
  {"name": "k", "shape": [1, 1, 2, 3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}},
  {"name": "b", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16", "original_dtype": "float32"}},
  {"name": "s", "shape": [], "dtype": "float32"}
 ]}]
}`, "U0FNRQ==")
	g, err := model.ParseTFJS([]byte(js), w)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Prepare(model.PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || g.Nodes[0].Op != model.OpConv || g.Nodes[0].Act != model.ActRelu {
		t.Fatalf("not fused into one convolution: %v", g.Nodes)
	}
	x := []float32{1, 2, -1, 0.5, 3, -2, 0, 1}
	got := run(t, g, x)[0].F32
	for p := 0; p < 4; p++ {
		for o := 0; o < 3; o++ {
			v := (x[p*2]*kernel[o] + x[p*2+1]*kernel[3+o] + bias[o]) * scale
			want := float32(math.Max(0, float64(v)))
			if math.Abs(float64(got[p*3+o]-want)) > 1e-6 {
				t.Errorf("pixel %d channel %d: %g, want %g", p, o, got[p*3+o], want)
			}
		}
	}
}
