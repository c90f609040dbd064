package gpu

import (
	"context"
	"testing"
	"time"
)

// TestReferenceTensors runs the network in FP32 on the reference input tensors and
// compares the heat map and box sizes with the independent TF.js run (≤ 1e-3 and
// ≤ 1e-2, as the CPU engine).
func TestReferenceTensors(t *testing.T) {
	for _, lib := range libraries(t) {
		t.Run(lib.name, func(t *testing.T) {
			cases := refCases
			if lib.name == "twin" {
				cases = cases[:1] // the twin computes with plain loops
			}
			e, err := New(centerNetGraph(t, 1), Options{Library: lib.path, Precision: FP32})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			t.Logf("%s: %s", e.Name(), e.Stats())
			ops, err := e.Pipeline(0).Profile(1, 1)
			if err != nil || len(ops) != len(e.p.ops) {
				t.Fatalf("profile: %d ops, %v", len(ops), err)
			}
			for _, o := range ops {
				if o.Ms < 0 || o.Kind == "" {
					t.Fatalf("profile entry %+v", o)
				}
			}
			for _, c := range cases {
				copy(e.Input(0), refInput(t, c))
				start := time.Now()
				if err := e.Run(context.Background(), 1); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: run %v", c.stem, time.Since(start))
				if d, at := maxAbs(e.Output(0), refTensor(t, c.stem, "keypoints.bin")); d > 1e-3 {
					t.Errorf("%s keypoints: max abs diff %g at %d > 1e-3", c.stem, d, at)
				} else {
					t.Logf("%s keypoints: max abs diff %.3g", c.stem, d)
				}
				if d, at := maxAbs(e.Output(1), refTensor(t, c.stem, "wh.bin")); d > 1e-2 {
					t.Errorf("%s wh: max abs diff %g at %d > 1e-2", c.stem, d, at)
				} else {
					t.Logf("%s wh: max abs diff %.3g", c.stem, d)
				}
			}
		})
	}
}
