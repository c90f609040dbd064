package model_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"roadlog/detect/internal/onnxcase"
	"roadlog/detect/model"
	"roadlog/detect/model/onnxpb"
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

func TestONNXErrors(t *testing.T) {
	c := onnxcase.Build(1)
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(c.Model, m); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		damage func(m *onnxpb.ModelProto)
		check  func(t *testing.T, err error)
	}{
		{"unknown op", func(m *onnxpb.ModelProto) { m.Graph.Node[2].OpType = proto.String("Mish") }, func(t *testing.T, err error) {
			var ue *model.UnsupportedOpError
			if !errors.As(err, &ue) || ue.Op != "Mish" || ue.Node != "r_node" {
				t.Errorf("got %v, want UnsupportedOpError Mish in r_node", err)
			}
		}},
		{"custom domain", func(m *onnxpb.ModelProto) { m.Graph.Node[2].Domain = proto.String("com.microsoft") }, func(t *testing.T, err error) {
			if !errors.Is(err, model.ErrUnsupported) {
				t.Errorf("got %v, want ErrUnsupported", err)
			}
		}},
		{"undefined input", func(m *onnxpb.ModelProto) { m.Graph.Node[1].Input[0] = "nowhere" }, func(t *testing.T, err error) {
			if !errors.Is(err, model.ErrFormat) {
				t.Errorf("got %v, want ErrFormat", err)
			}
		}},
		{"short initializer", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].FloatData = m.Graph.Initializer[0].FloatData[:5] }, func(t *testing.T, err error) {
			var fe *model.FileError
			if !errors.Is(err, model.ErrFormat) || !errors.As(err, &fe) || !strings.Contains(fe.Where, "w1") {
				t.Errorf("got %v, want ErrFormat naming initializer w1", err)
			}
		}},
		{"wrong input shape", func(m *onnxpb.ModelProto) {
			d := m.Graph.Input[0].Type.GetTensorType().Shape.Dim[1]
			d.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 5}
		}, func(t *testing.T, err error) {
			var ne *model.NodeError
			if !errors.Is(err, model.ErrShape) || !errors.As(err, &ne) || ne.Node != "c1_node" {
				t.Errorf("got %v, want ErrShape at c1_node", err)
			}
		}},
		{"external data", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer[0].DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
		}, func(t *testing.T, err error) {
			if !errors.Is(err, model.ErrUnsupported) {
				t.Errorf("got %v, want ErrUnsupported", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := proto.Clone(m).(*onnxpb.ModelProto)
			c.damage(d)
			b, err := proto.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			g, err := model.ParseONNX(b)
			if err == nil {
				err = g.Prepare(model.PrepareOptions{})
			}
			if err == nil {
				t.Fatal("no error")
			}
			c.check(t, err)
		})
	}
	// a truncated file
	if _, err := model.ParseONNX(c.Model[:len(c.Model)/3]); !errors.Is(err, model.ErrFormat) {
		t.Errorf("truncated protobuf: %v, want ErrFormat", err)
	}
}
