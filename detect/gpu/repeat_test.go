package gpu

import (
	"context"
	"math"
	"testing"
)

// TestRunsAreBitIdentical runs one batch of 8 different images three times on the
// fixed convolution back ends re-runs use (own kernels, cuDNN) and wants the same bits
// every time: no atomics in reductions (split-K partial sums and channel means are
// added in a fixed order), cuDNN algorithms chosen by heuristics among deterministic
// ones, so a re-run of a drive gives identical tables. The CPU twin (one
// image, FP32: it is slow) only keeps the test itself honest in CI.
func TestRunsAreBitIdentical(t *testing.T) {
	for _, lib := range libraries(t) {
		for _, c := range []config{{"fp16-own", Options{Conv: ConvOwn}}, {"fp32-own", Options{Precision: FP32, Conv: ConvOwn}},
			{"fp16-cudnn", Options{Conv: ConvCuDNN}}} {
			batch := 8
			if lib.name == "twin" {
				if c.o.Precision != FP32 || c.o.Conv != ConvOwn {
					continue
				}
				batch = 1
			}
			t.Run(c.name+"/"+lib.name, func(t *testing.T) {
				c.o.Library = lib.path
				e, err := New(centerNetGraph(t, batch), c.o)
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				in := e.Input(0)
				for j := 0; j < batch; j++ { // image j: a reference input, its brightness scaled
					ref := refInput(t, refCases[j%len(refCases)])
					for k, v := range ref {
						in[j*len(ref)+k] = v * (1 - 0.05*float32(j/len(refCases)))
					}
				}
				var first [][]float32
				for run := 0; run < 3; run++ {
					if err := e.Run(context.Background(), batch); err != nil {
						t.Fatal(err)
					}
					for i := range e.p.outShapes {
						out := e.Output(i)
						if run == 0 {
							first = append(first, append([]float32(nil), out...))
							continue
						}
						for k, v := range out {
							if math.Float32bits(v) != math.Float32bits(first[i][k]) {
								t.Fatalf("run %d output %d element %d: %g, first run %g", run, i, k, v, first[i][k])
							}
						}
					}
				}
			})
		}
	}
}
