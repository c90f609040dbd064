package cpu_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"go.uber.org/goleak"

	"roadlog/detect/cpu"
	"roadlog/detect/internal/onnxcase"
	"roadlog/detect/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var kernelSets = []struct {
	name string
	o    cpu.Options
}{{"auto", cpu.Options{}}, {"purego", cpu.Options{PureGo: true}}, {"auto-1thread", cpu.Options{Threads: 1}}}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = math.Max(m, d)
	}
	return m
}

// reference evaluates a prepared graph with detect/model's reference kernels.
func reference(t testing.TB, g *model.Graph, inputs ...[]float32) [][]float32 {
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
	var outs [][]float32
	for _, v := range g.Outputs {
		outs = append(outs, vals[v].F32)
	}
	return outs
}

func TestONNXCommonOps(t *testing.T) {
	c := onnxcase.Build(11)
	for _, ks := range kernelSets {
		t.Run(ks.name, func(t *testing.T) {
			g, err := model.ParseONNX(c.Model)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Prepare(model.PrepareOptions{}); err != nil {
				t.Fatal(err)
			}
			e, err := cpu.New(g, ks.o)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			copy(e.Input(0), c.Input)
			for run := 0; run < 2; run++ { // a second run must give the same answer
				if err := e.Run(context.Background(), 1); err != nil {
					t.Fatal(err)
				}
				for i, want := range c.Outputs {
					if d := maxDiff(e.Output(i), want); d > 1e-4 {
						t.Errorf("run %d output %s: max abs diff %g", run, c.OutputNames[i], d)
					}
				}
			}
		})
	}
}

// convCase is one convolution the GEMM and depthwise paths must get right.
type convCase struct {
	h, w, cin, cout, k, stride, pad, dil, groups int
	depthwise                                    bool
	act                                          model.Activation
	residual                                     bool
}

func (c convCase) String() string {
	kind := "conv"
	if c.depthwise {
		kind = "dw"
	}
	return fmt.Sprintf("%s/%dx%dx%d-%d/k=%d/s=%d/p=%d/d=%d/g=%d/%s/res=%v", kind, c.h, c.w, c.cin, c.cout, c.k, c.stride, c.pad, c.dil, c.groups, c.act, c.residual)
}

var convCases = []convCase{
	{h: 9, w: 11, cin: 3, cout: 16, k: 3, stride: 2, pad: 1, dil: 1, groups: 1, act: model.ActHardSwish},
	{h: 8, w: 8, cin: 24, cout: 72, k: 1, stride: 1, dil: 1, groups: 1, act: model.ActRelu},
	{h: 7, w: 5, cin: 40, cout: 18, k: 1, stride: 1, dil: 1, groups: 1, act: model.ActNone, residual: true},
	{h: 6, w: 6, cin: 16, cout: 4, k: 1, stride: 2, dil: 1, groups: 1, act: model.ActSigmoid},
	{h: 10, w: 9, cin: 8, cout: 33, k: 3, stride: 1, pad: 2, dil: 2, groups: 1, act: model.ActRelu6},
	{h: 6, w: 7, cin: 12, cout: 12, k: 3, stride: 1, pad: 1, dil: 1, groups: 3, act: model.ActLeakyRelu},
	{h: 1, w: 1, cin: 96, cout: 24, k: 1, stride: 1, dil: 1, groups: 1, act: model.ActHardSigmoid},
	{h: 13, w: 17, cin: 72, cout: 72, k: 3, stride: 1, pad: 1, dil: 1, depthwise: true, act: model.ActRelu},
	{h: 13, w: 17, cin: 22, cout: 22, k: 5, stride: 2, pad: 2, dil: 1, depthwise: true, act: model.ActHardSwish},
	{h: 9, w: 12, cin: 40, cout: 40, k: 3, stride: 2, pad: 0, dil: 1, depthwise: true, act: model.ActNone, residual: false},
	{h: 8, w: 8, cin: 16, cout: 16, k: 3, stride: 1, pad: 2, dil: 2, depthwise: true, act: model.ActSiLU, residual: true},
	{h: 4, w: 30, cin: 8, cout: 8, k: 5, stride: 1, pad: 2, dil: 1, depthwise: true, act: model.ActRelu6},
}

// convGraph builds a one-node graph for c with random weights.
func convGraph(c convCase, rng *rand.Rand) (*model.Graph, [][]float32) {
	rnd := func(s model.Shape) *model.Tensor {
		t := model.NewTensor(model.Float32, s)
		for i := range t.F32 {
			t.F32[i] = rng.Float32()*2 - 1
		}
		return t
	}
	x := &model.Value{Name: "x", DType: model.Float32, Shape: model.Shape{1, c.h, c.w, c.cin}}
	n := &model.Node{Name: c.String(), Op: model.OpConv, Act: c.act, Alpha: 0.1}
	if c.act == model.ActHardSwish || c.act == model.ActHardSigmoid {
		n.Alpha = 1.0 / 6
	}
	var w *model.Tensor
	if c.depthwise {
		n.Op = model.OpDepthwiseConv
		w = rnd(model.Shape{c.k, c.k, c.cin, c.cout / c.cin})
	} else {
		w = rnd(model.Shape{c.k, c.k, c.cin / c.groups, c.cout})
		// store as FP16 half the time: the engine must read both
		if c.k == 1 {
			w.F16, w.F32 = w.Float16s(), nil
		}
	}
	wv := &model.Value{Name: "w", DType: model.Float32, Shape: w.Shape, Const: w}
	b := rnd(model.Shape{c.cout})
	n.In = []*model.Value{x, wv, {Name: "b", DType: model.Float32, Shape: b.Shape, Const: b}}
	n.Conv = model.ConvParams{StrideH: c.stride, StrideW: c.stride, DilationH: c.dil, DilationW: c.dil,
		Pads: [4]int{c.pad, c.pad, c.pad, c.pad}, Groups: c.groups}
	inputs := []*model.Value{x}
	data := [][]float32{rnd(x.Shape).F32}
	if c.residual {
		oh := (c.h+2*c.pad-(c.k-1)*c.dil-1)/c.stride + 1
		ow := (c.w+2*c.pad-(c.k-1)*c.dil-1)/c.stride + 1
		z := &model.Value{Name: "z", DType: model.Float32, Shape: model.Shape{1, oh, ow, c.cout}}
		n.In = append(n.In, z)
		inputs = append(inputs, z)
		data = append(data, rnd(z.Shape).F32)
	}
	out := &model.Value{Name: "y", Producer: n}
	n.Out = []*model.Value{out}
	return &model.Graph{Inputs: inputs, Outputs: []*model.Value{out}, Nodes: []*model.Node{n}}, data
}

func TestConvolutions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range convCases {
		g, inputs := convGraph(c, rng)
		if err := g.InferShapes(nil); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		want := reference(t, g, inputs...)[0]
		for _, ks := range kernelSets {
			t.Run(ks.name+"/"+c.String(), func(t *testing.T) {
				e, err := cpu.New(g, ks.o)
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				for i, in := range inputs {
					copy(e.Input(i), in)
				}
				if err := e.Run(context.Background(), 1); err != nil {
					t.Fatal(err)
				}
				if d := maxDiff(e.Output(0), want); d > 1e-4 {
					t.Errorf("max abs diff %g", d)
				}
			})
		}
	}
}

// TestNoAllocations: a frame allocates nothing once the engine is built.
func TestNoAllocations(t *testing.T) {
	c := onnxcase.Build(3)
	g, err := model.ParseONNX(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Prepare(model.PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	e, err := cpu.New(g, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	copy(e.Input(0), c.Input)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(20, func() {
		if err := e.Run(ctx, 1); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

func TestRunErrors(t *testing.T) {
	c := onnxcase.Build(4)
	g, err := model.ParseONNX(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Prepare(model.PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
	e, err := cpu.New(g, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Run(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v, want context.Canceled", err)
	}
	if err := e.Run(context.Background(), 2); err == nil {
		t.Error("run of 2 images on a batch of 1: no error")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := e.Run(context.Background(), 1); !errors.Is(err, cpu.ErrClosed) {
		t.Errorf("run after close: %v, want ErrClosed", err)
	}
}

func TestUnpreparedGraph(t *testing.T) {
	c := onnxcase.Build(5)
	g, err := model.ParseONNX(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cpu.New(g, cpu.Options{}); !errors.Is(err, model.ErrShape) {
		t.Errorf("engine of an unprepared graph: %v, want ErrShape", err)
	}
}
