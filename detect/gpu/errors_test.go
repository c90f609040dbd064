package gpu

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/gpu/gputest"
	"roadlog/detect/internal/onnxcase"
	"roadlog/detect/model"
)

// TestLayout: the binding and the library agree on every struct of the ABI (Open checks
// it; this says which number differs if not).
func TestLayout(t *testing.T) {
	for _, lib := range libraries(t) {
		l, err := openLib(lib.path)
		if err != nil {
			t.Fatalf("%s: %v", lib.name, err)
		}
		want := layoutNumbers()
		got := make([]int64, len(want))
		l.layout(&got[0], int32(len(got)))
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: layout number %d: library %d, Go %d", lib.name, i, got[i], want[i])
			}
		}
	}
}

// TestLibraryErrors: a missing library, another ABI, a device that is not there, a
// model the GPU path lacks an op of, and memory that runs out all fail with an error
// that says which; auto falls back to the CPU and says why.
func TestLibraryErrors(t *testing.T) {
	g := centerNetGraph(t, 1)
	t.Run("missing", func(t *testing.T) {
		_, err := New(g, Options{Library: filepath.Join(t.TempDir(), LibraryName)})
		if !errors.Is(err, ErrNoLibrary) {
			t.Fatalf("got %v, want ErrNoLibrary", err)
		}
	})
	twinPath := buildTwin(t)
	t.Run("abi", func(t *testing.T) {
		_, err := New(g, Options{Library: filepath.Join(filepath.Dir(twinPath), gputest.NameABI99)})
		if !errors.Is(err, ErrABI) || !strings.Contains(err.Error(), "99") {
			t.Fatalf("got %v, want ErrABI naming version 99", err)
		}
	})
	for _, lib := range libraries(t) {
		t.Run(lib.name+"/no-device", func(t *testing.T) {
			_, err := New(g, Options{Library: lib.path, Device: 99})
			if !errors.Is(err, ErrNoDevice) {
				t.Fatalf("got %v, want ErrNoDevice", err)
			}
		})
		t.Run(lib.name+"/out-of-memory", func(t *testing.T) {
			big := centerNetGraph(t, 256)
			// every tensor kept: tens of GiB per pipeline
			_, err := newEngine(big, Options{Library: lib.path, Precision: FP32, Pipelines: 16}, planOptions{dtype: rlF32, fuse: true, keep: true})
			if !errors.Is(err, ErrOutOfMemory) {
				t.Fatalf("got %v, want ErrOutOfMemory", err)
			}
			t.Logf("%v", err)
			// and the device is still usable
			e, err := New(g, Options{Library: lib.path})
			if err != nil {
				t.Fatalf("after running out of memory: %v", err)
			}
			e.Close()
		})
		t.Run(lib.name+"/closed", func(t *testing.T) {
			e, err := New(g, Options{Library: lib.path})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if err := e.Run(context.Background(), 1); !errors.Is(err, ErrClosed) {
				t.Fatalf("Run after Close: %v, want ErrClosed", err)
			}
		})
		t.Run(lib.name+"/bad-jpeg", func(t *testing.T) {
			e, err := New(g, Options{Library: lib.path})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			p := e.Pipeline(0)
			if err := p.SetJPEG(0, []byte("\xff\xd8\xff\xe0 this is not a JPEG"), 640, 480, 512, 384, 0, 64, true); err != nil {
				t.Fatal(err)
			}
			thr := make([]float32, 80)
			_, err = p.RunPeaks(context.Background(), 1, thr, 100)
			want := ErrDecode
			if lib.name == "twin" {
				want = ErrUnsupportedFeature
			}
			if !errors.Is(err, want) {
				t.Fatalf("got %v, want %v", err, want)
			}
			t.Logf("%v", err)
		})
	}
	t.Run("unsupported-op", func(t *testing.T) {
		// the graph's own decode (TopK, Gather, integer arithmetic) has no GPU kernels
		full, err := centernet.LoadDefault()
		if err != nil {
			t.Fatal(err)
		}
		if err := full.Prepare(model.PrepareOptions{Outputs: []string{centernet.KeypointsName, centernet.WHName, centernet.DetectionsName}}); err != nil {
			t.Fatal(err)
		}
		_, err = New(full, Options{Library: twinPath})
		var ue *model.UnsupportedOpError
		if !errors.Is(err, model.ErrUnsupported) || !errors.As(err, &ue) || ue.Node == "" {
			t.Fatalf("got %v, want an UnsupportedOpError naming the node", err)
		}
		t.Logf("%v", err)
		// an ONNX model with pad, transpose and softmax
		c := onnxcase.Build(1)
		og, err := model.ParseONNX(c.Model)
		if err != nil {
			t.Fatal(err)
		}
		if err := og.Prepare(model.PrepareOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := New(og, Options{Library: twinPath}); !errors.Is(err, model.ErrUnsupported) {
			t.Fatalf("ONNX case: got %v, want ErrUnsupported", err)
		}
	})
}

// TestAutoFallback: with device auto a GPU that cannot run is logged and the CPU engine
// runs the whole model; with device gpu it is an error.
func TestAutoFallback(t *testing.T) {
	missing := filepath.Join(t.TempDir(), LibraryName)
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }
	d, err := NewDetector(centernet.Config{}, DetectorOptions{Device: DeviceAuto, GPU: Options{Library: missing}, Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.Engine().(*cpu.Engine); !ok {
		t.Fatalf("engine %s, want the CPU engine", d.Engine().Name())
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "CPU engine") || !strings.Contains(logged[0], "not installed") {
		t.Fatalf("logged %q", logged)
	}
	if _, err := NewDetector(centernet.Config{}, DetectorOptions{Device: DeviceGPU, GPU: Options{Library: missing}}); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("device gpu: got %v, want ErrNoLibrary", err)
	}
	if _, err := NewDetector(centernet.Config{}, DetectorOptions{Device: "tpu"}); !errors.Is(err, ErrDevice) {
		t.Fatalf("device tpu: got %v, want ErrDevice", err)
	}
}

// TestPeakOverflow: an image with more candidate peaks than the device holds is decoded
// from the heat map on the host instead, with the same result.
func TestPeakOverflow(t *testing.T) {
	for _, lib := range libraries(t) {
		t.Run(lib.name, func(t *testing.T) {
			e, err := New(centerNetGraph(t, 1), Options{Library: lib.path, Precision: FP32})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			copy(e.Input(0), refInput(t, refCases[0]))
			p := e.Pipeline(0)
			low := make([]float32, 80) // every class at threshold 0: thousands of peaks
			pk, err := p.RunPeaks(context.Background(), 1, low, 100)
			if err != nil {
				t.Fatal(err)
			}
			if pk[0] != nil {
				t.Fatalf("%d peaks, want the overflow mark (nil)", len(pk[0]))
			}
			thr := make([]float32, 80)
			for i := range thr {
				thr[i] = 0.2
			}
			pk, err = p.RunPeaks(context.Background(), 1, thr, 100)
			if err != nil || pk[0] == nil {
				t.Fatalf("peaks %v, err %v", pk, err)
			}
			// the host decode of the same heat map gives the same peaks
			kp := e.Output(0)
			n := 0
			for _, v := range kp {
				if v > 0.2 {
					n++
				}
			}
			if len(pk[0]) == 0 || len(pk[0]) > n {
				t.Fatalf("%d peaks of %d cells above 0.2", len(pk[0]), n)
			}
			for k := 1; k < len(pk[0]); k++ {
				a, b := pk[0][k-1], pk[0][k]
				if a.Score < b.Score || (a.Score == b.Score && a.Index > b.Index) {
					t.Fatalf("peaks out of order at %d: %+v then %+v", k, a, b)
				}
			}
			want := hostPeaks(kp, e.Output(1), e.OutputShape(0), thr, 100)
			if len(pk[0]) != len(want) {
				t.Fatalf("%d peaks on the device, %d decoded on the host", len(pk[0]), len(want))
			}
			for k := range want {
				if pk[0][k] != want[k] {
					t.Fatalf("peak %d: device %+v, host %+v", k, pk[0][k], want[k])
				}
			}
		})
	}
}

// hostPeaks decodes one image's peaks as the device does: cells above their class
// threshold that no 3x3 neighbour of the same class exceeds, best first (equal scores:
// lower index first), cut to topK, with the box distances at each peak's cell.
func hostPeaks(kp, wh []float32, shape model.Shape, thr []float32, topK int) []centernet.Peak {
	h, w, c := shape[1], shape[2], shape[3]
	var out []centernet.Peak
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < c; ch++ {
				i := (y*w+x)*c + ch
				v := kp[i]
				if !(v > thr[ch]) {
					continue
				}
				peak := true
				for yy := max(y-1, 0); yy <= min(y+1, h-1) && peak; yy++ {
					for xx := max(x-1, 0); xx <= min(x+1, w-1); xx++ {
						if kp[(yy*w+xx)*c+ch] > v {
							peak = false
							break
						}
					}
				}
				if peak {
					cell := i / c
					out = append(out, centernet.Peak{Index: int32(i), Score: v, WH: [4]float32(wh[4*cell : 4*cell+4])})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b centernet.Peak) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.Index, b.Index))
	})
	return out[:min(len(out), topK)]
}
