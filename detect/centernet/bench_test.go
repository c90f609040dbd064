package centernet_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/model"
	"roadlog/internal/shared"
)

// benchImage is the image both engines run (a KITTI frame; the reference folder has its
// exact 512×512 input tensor).
const (
	benchStem  = "000008"
	benchImage = "testdata/images/kitti/image_2/000008.png"
)

// BenchmarkCenterNet measures the pure-Go engine per 512×512 image and, in the same run,
// TF.js's WASM backend (XNNPACK) on the same model: ns/op and allocs/op are the Go
// engine's on the whole graph (heat map, boxes and the graph's own top-100 decode, what
// TF.js runs as "infer3"), cpu-ns/op the CPU time it used across its threads;
// wasm-ns/op is TF.js's median over as many runs (one thread); wasm/go is the wall-time
// speed-up. Run with -benchtime 20x, on an otherwise quiet machine if there is one.
func BenchmarkCenterNet(b *testing.B) {
	input := readF32(b, filepath.Join(shared.Path(b, "testdata/reference/centernet"), benchStem, "input_512.bin"))
	g, err := centernet.LoadDefault()
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Prepare(model.PrepareOptions{Outputs: []string{centernet.KeypointsName, centernet.WHName, centernet.DetectionsName}}); err != nil {
		b.Fatal(err)
	}
	e, err := cpu.New(g, cpu.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	copy(e.Input(0), input)
	ctx := context.Background()
	if err := e.Run(ctx, 1); err != nil { // warm-up
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := e.Run(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
	goNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.StopTimer()
	// CPU time summed over the engine's threads: steadier than wall time on a shared machine
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if b.N < 3 {
		return // the probing run; the peer runs with the real count
	}
	wasm, err := wasmInferMs(b, b.N)
	if err != nil {
		b.Logf("TF.js WASM peer not run: %v", err)
		return
	}
	b.ReportMetric(wasm*1e6, "wasm-ns/op")
	b.ReportMetric(wasm*1e6/goNs, "wasm/go")
}

// cpuTime is the process's user+system CPU time in ns.
func cpuTime() int64 {
	var r syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &r) != nil {
		return 0
	}
	return r.Utime.Nano() + r.Stime.Nano()
}

// BenchmarkDetect measures whole images through the default detector (pre-processing,
// network, decode and NMS), per image.
func BenchmarkDetect(b *testing.B) {
	f, err := os.Open(shared.Path(b, benchImage))
	if err != nil {
		b.Fatal(err)
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range []struct {
		name string
		cfg  centernet.Config
	}{{"fit=letterbox", centernet.Config{}}, {"fit=stretch", centernet.Config{Fit: centernet.FitStretch}}} {
		b.Run(m.name, func(b *testing.B) {
			d, err := centernet.NewCPU(m.cfg, cpu.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			imgs := []image.Image{img}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Detect(context.Background(), imgs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// wasmInferMs runs the shared TF.js timing script with the WASM backend on the benchmark
// image and returns its median inference time ("infer3": execute all three outputs and
// read them back). npm installs TF.js into <repo>/.cache/tfjs-ref the first time.
func wasmInferMs(tb testing.TB, runs int) (float64, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return 0, err
	}
	dir, err := tfjsDir(tb)
	if err != nil {
		return 0, err
	}
	model := filepath.Join(shared.Path(tb, "models/centernet"), "centernet.json")
	cmd := exec.Command(node, "timing.js", "wasm", model, strconv.Itoa(max(runs, 3)), shared.Path(tb, benchImage))
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, errors.Join(err, errors.New(errb.String()))
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var line struct {
			Infer3 struct {
				All []float64 `json:"all"`
			} `json:"infer3"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && len(line.Infer3.All) > 0 {
			all := line.Infer3.All
			sort.Float64s(all)
			return all[len(all)/2], nil
		}
	}
	return 0, errors.New("no timing line from timing.js: " + out.String())
}

// tfjsDir copies the shared TF.js scripts into <repo>/.cache/tfjs-ref (git-ignored) and
// runs npm install there once.
func tfjsDir(tb testing.TB) (string, error) {
	src := shared.Path(tb, "bench/tfjs-ref")
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".cache", "tfjs-ref")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f.Name()))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name()), b, 0o644); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@tensorflow", "tfjs-backend-wasm")); errors.Is(err, fs.ErrNotExist) {
		npm, err := exec.LookPath("npm")
		if err != nil {
			return "", err
		}
		cmd := exec.Command(npm, "install", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", errors.Join(err, errors.New(string(out)))
		}
	}
	return dir, nil
}

func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("go.mod not found")
		}
		d = p
	}
}
