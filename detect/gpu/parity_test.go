package gpu

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"roadlog/detect/model"
)

// config is one engine configuration under test.
type config struct {
	name string
	o    Options
}

func configs(lib testLib) []config {
	cs := []config{
		{"fp32", Options{Precision: FP32}},
		{"fp16", Options{}},
		{"fp16-own", Options{Conv: ConvOwn}},
		{"fp32-own", Options{Precision: FP32, Conv: ConvOwn}},
		{"fp32-unfused", Options{Precision: FP32, Unfused: true}},
		{"fp16-unfused", Options{Unfused: true}},
	}
	if lib.name == "cuda" {
		cs = append(cs,
			config{"fp16-cublas", Options{Conv: ConvCUBLAS}},
			config{"fp32-cublas", Options{Precision: FP32, Conv: ConvCUBLAS}},
			config{"fp16-cudnn", Options{Conv: ConvCuDNN}},
			config{"fp32-cudnn", Options{Precision: FP32, Conv: ConvCuDNN}},
			config{"fp16-nograph", Options{NoGraph: true}},
			config{"fp16-sync", Options{Sync: true}},
		)
	}
	for i := range cs {
		cs[i].o.Library = lib.path
	}
	return cs
}

// TestNodeParity compares every tensor the engine materialises with the reference
// kernels (model.Eval) on a reference image, for every configuration: where a kernel
// is wrong this names the first op that differs. Tolerances: FP32 1e-3 relative to the
// tensor's largest magnitude, FP16 3e-2.
func TestNodeParity(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the reference kernels take seconds")
	}
	g := centerNetGraph(t, 1)
	input := refInput(t, refCases[0])
	start := time.Now()
	ref := reference(t, g, input)
	t.Logf("reference forward pass: %v", time.Since(start))
	for _, lib := range libraries(t) {
		for _, c := range configs(lib) {
			if lib.name == "twin" && (c.o.Unfused || c.o.Conv != ConvAuto) {
				continue // the twin computes fused and unfused alike, and has no back ends
			}
			t.Run(lib.name+"/"+c.name, func(t *testing.T) {
				po := planOptions{dtype: rlF16, fuse: !c.o.Unfused, keep: true}
				if c.o.Precision == FP32 {
					po.dtype = rlF32
				}
				e, err := newEngine(g, c.o, po)
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				t.Logf("%s: %s", e.Name(), e.Stats())
				copy(e.Input(0), input)
				if err := e.Run(context.Background(), 1); err != nil {
					t.Fatal(err)
				}
				tol := 1e-3
				if c.o.Precision == FP16 {
					tol = 3e-2
				}
				if c.o.Precision == FP16 && c.o.Unfused {
					// the raw accumulator is rounded to FP16 before bias and residual are added
					tol = 6e-2
				}
				checkViews(t, e, g, ref, tol)
			})
		}
	}
}

// checkViews compares the engine's tensors with the reference values, in node order.
func checkViews(t *testing.T, e *Engine, g *model.Graph, ref map[*model.Value][]float32, tol float64) {
	t.Helper()
	type bad struct {
		i    int
		name string
		rel  float64
	}
	var worst []bad
	p := e.pipes[0]
	for i, n := range g.Nodes {
		v := n.Out[0]
		view := e.p.views[v]
		if view == nil || view.b == nil || e.p.acted[v] {
			continue
		}
		got, err := p.readView(view)
		if err != nil {
			t.Fatalf("read %s: %v", v.Name, err)
		}
		want := ref[v]
		if len(got) != len(want) {
			t.Fatalf("node %d %s: %d values, reference %d", i, v.Name, len(got), len(want))
		}
		scale := 0.0
		for _, w := range want {
			scale = math.Max(scale, math.Abs(float64(w)))
		}
		d, at := maxAbs(got, want)
		rel := d / math.Max(scale, 1e-6)
		if rel > tol || math.IsNaN(rel) {
			worst = append(worst, bad{i, fmt.Sprintf("%s %s at %d: got %g want %g (max |ref| %.3g)", n.Op, v.Name, at, got[at], want[at], scale), rel})
		}
	}
	for k, w := range worst { // in node order
		if k < 12 {
			t.Errorf("node %d: relative error %.3g > %g: %s", w.i, w.rel, tol, w.name)
		}
	}
}
