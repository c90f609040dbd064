package model_test

import (
	"math"
	"testing"

	"roadlog/detect/internal/onnxcase"
	"roadlog/detect/model"
)

// run evaluates a prepared graph with the reference kernels.
func run(t testing.TB, g *model.Graph, inputs ...[]float32) []*model.Tensor {
	t.Helper()
	vals := map[*model.Value]*model.Tensor{}
	for i, v := range g.Inputs {
		vals[v] = &model.Tensor{DType: model.Float32, Shape: v.Shape, F32: inputs[i]}
	}
	for _, n := range g.Nodes {
		var in, out []*model.Tensor
		for _, v := range n.In {
			if v.IsConst() {
				in = append(in, v.Const)
			} else {
				in = append(in, vals[v])
			}
		}
		for _, v := range n.Out {
			tt := model.NewTensor(v.DType, v.Shape)
			vals[v] = tt
			out = append(out, tt)
		}
		if err := model.Eval(n, in, out); err != nil {
			t.Fatal(err)
		}
	}
	var outs []*model.Tensor
	for _, v := range g.Outputs {
		if v.IsConst() {
			outs = append(outs, v.Const)
		} else {
			outs = append(outs, vals[v])
		}
	}
	return outs
}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func TestONNXCommonOps(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		c := onnxcase.Build(seed)
		g, err := model.ParseONNX(c.Model)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Prepare(model.PrepareOptions{}); err != nil {
			t.Fatal(err)
		}
		outs := run(t, g, c.Input)
		for i, want := range c.Outputs {
			if !outs[i].Shape.Equal(model.Shape(c.OutputShapes[i])) {
				t.Fatalf("seed %d output %s: shape %v, want %v", seed, c.OutputNames[i], outs[i].Shape, c.OutputShapes[i])
			}
			if d := maxDiff(outs[i].F32, want); d > 1e-4 {
				t.Errorf("seed %d output %s: max abs diff %g", seed, c.OutputNames[i], d)
			}
		}
		st := g.Stats()
		// batch-norm folded into the first convolution, no Add/Mul left for it
		if st.Nodes[model.OpConv] != 2 || st.Nodes[model.OpDepthwiseConv] != 1 {
			t.Errorf("seed %d: ops %v", seed, st.Nodes)
		}
	}
}
