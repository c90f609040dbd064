package gpu

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/internal/shared"
)

// The benchmarks need the CUDA library (ROADLOG_GPU_LIB); the CPU twin is no GPU.
//
//	ROADLOG_GPU_LIB=bin/libroadlog_gpu.so go test ./detect/gpu -run XXX -bench . -benchtime 200x
//
// BenchmarkNetwork runs PyTorch on the same model first (../shared/bench/torch_centernet.py,
// FP32/FP16, batch 1/8, eager and CUDA-graph replay) and reports our rate against it;
// then each technique on and off. BenchmarkEndToEnd measures JPEG bytes of 8 cameras to
// boxes.

func cudaLib(b *testing.B) string {
	p := os.Getenv("ROADLOG_GPU_LIB")
	if p == "" {
		b.Skip("ROADLOG_GPU_LIB is not set: the benchmarks need the CUDA library (make gpu)")
	}
	if _, err := Probe(Options{Library: p}); err != nil {
		b.Skipf("CUDA library %s not usable: %v", p, err)
	}
	return p
}

// torchRates are PyTorch's images per second by "float16/8/graph" and the like (best of
// NCHW and channels_last).
var torch struct {
	once  sync.Once
	rates map[string]float64
	err   error
	out   string
}

var torchLine = regexp.MustCompile(`torch (float\d+) batch (\d+) channels_last=(\w+): eager ([\d.]+) ms \((\d+) img/s\), cuda-graph ([\d.]+) ms \((\d+) img/s\)`)

func torchPeer(b *testing.B) (map[string]float64, error) {
	torch.once.Do(func() {
		py, err := exec.LookPath("python3")
		if err != nil {
			torch.err = err
			return
		}
		script := shared.Path(b, "bench/torch_centernet.py")
		mdir := shared.Path(b, "models/centernet")
		cmd := exec.Command(py, script, mdir, "--bench")
		cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			torch.err = fmt.Errorf("%w: %s", err, out.String())
			return
		}
		torch.out = out.String()
		torch.rates = map[string]float64{}
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			m := torchLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			eager, _ := strconv.ParseFloat(m[5], 64)
			graph, _ := strconv.ParseFloat(m[7], 64)
			gms, _ := strconv.ParseFloat(m[6], 64)
			for k, v := range map[string]float64{"eager": eager, "graph": graph} {
				key := m[1] + "/" + m[2] + "/" + k
				torch.rates[key] = max(torch.rates[key], v)
			}
			key := m[1] + "/" + m[2] + "/graph-ms"
			if old, ok := torch.rates[key]; !ok || gms < old {
				torch.rates[key] = gms
			}
		}
	})
	return torch.rates, torch.err
}

// netVariant is one engine configuration of BenchmarkNetwork.
type netVariant struct {
	name  string
	o     Options
	batch int
	runs  int // runs per iteration (8 x batch 1)
	torch string
}

var netVariants = []netVariant{
	{"fp16/b8/fused-graph", Options{}, 8, 1, "float16/8/graph"},
	{"fp16/b8/own-graph", Options{Conv: ConvOwn}, 8, 1, ""},
	{"fp16/b1/own-graph", Options{Conv: ConvOwn}, 1, 1, ""},
	{"fp16/b1/fused-graph", Options{}, 1, 1, "float16/1/graph"},
	{"fp16/8xb1/fused-graph", Options{}, 1, 8, ""},
	{"fp32/b8/fused-graph", Options{Precision: FP32}, 8, 1, "float32/8/graph"},
	{"fp32/b1/fused-graph", Options{Precision: FP32}, 1, 1, "float32/1/graph"},
	{"fp16/b8/unfused-graph", Options{Unfused: true}, 8, 1, ""},
	{"fp16/b8/fused-launches", Options{NoGraph: true}, 8, 1, "float16/8/eager"},
	{"fp16/b1/fused-launches", Options{NoGraph: true}, 1, 1, "float16/1/eager"},
	{"fp16/b8/cublas-graph", Options{Conv: ConvCUBLAS}, 8, 1, ""},
	{"fp16/b8/cudnn-graph", Options{Conv: ConvCuDNN}, 8, 1, ""},
	{"fp32/b8/cudnn-graph", Options{Precision: FP32, Conv: ConvCuDNN}, 8, 1, ""},
	// batch 32: four frame sets of 8 cameras, as offline re-runs batch them
	{"fp16/b32/fused-graph", Options{}, 32, 1, ""},
	{"fp16/b32/own-graph", Options{Conv: ConvOwn}, 32, 1, ""},
	{"fp16/b32/cudnn-graph", Options{Conv: ConvCuDNN}, 32, 1, ""},
	{"fp32/b32/fused-graph", Options{Precision: FP32}, 32, 1, ""},
	{"fp16/b8/dwf32-graph", Options{DepthwiseF32: true}, 8, 1, ""},
	{"fp16/b32/dwf32-graph", Options{DepthwiseF32: true}, 32, 1, ""},
}

type benchResult struct {
	imgs, p50, p99 float64 // images/s, ms per iteration
}

// BenchmarkNetwork measures the network alone (input already on the device, outputs
// left there) per configuration, side by side with PyTorch's CUDA-graph replay.
func BenchmarkNetwork(b *testing.B) {
	lib := cudaLib(b)
	var rates map[string]float64
	terr := fmt.Errorf("ROADLOG_NO_TORCH is set")
	if os.Getenv("ROADLOG_NO_TORCH") == "" {
		rates, terr = torchPeer(b)
	}
	if terr != nil {
		b.Logf("PyTorch peer not run: %v", terr)
	} else {
		fmt.Print(torch.out)
	}
	input := refInput(b, refCases[0])
	results := map[string]benchResult{}
	engines := map[string]*Engine{}
	defer func() {
		for _, e := range engines {
			e.Close()
		}
	}()
	for _, v := range netVariants {
		b.Run(v.name, func(b *testing.B) {
			e := engines[v.name]
			if e == nil {
				o := v.o
				o.Library = lib
				var err error
				if e, err = New(centerNetGraph(b, v.batch), o); err != nil {
					b.Fatal(err)
				}
				engines[v.name] = e
				for j := 0; j < v.batch; j++ {
					copy(e.Input(0)[j*len(input):], input)
				}
				if err := e.Run(context.Background(), v.batch); err != nil { // upload, capture the graph
					b.Fatal(err)
				}
				for range 3 {
					if err := e.pipes[0].RunAgain(v.batch); err != nil {
						b.Fatal(err)
					}
				}
				if err := e.pipes[0].Wait(); err != nil {
					b.Fatal(err)
				}
				b.Logf("%s: %s", e.Name(), e.Stats())
			}
			p := e.pipes[0]
			lat := make([]float64, 0, b.N)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				for range v.runs {
					if err := p.RunAgain(v.batch); err != nil {
						b.Fatal(err)
					}
				}
				if err := p.Wait(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, float64(time.Since(t0).Nanoseconds())/1e6)
			}
			el := time.Since(start).Seconds()
			b.StopTimer()
			imgs := float64(b.N*v.batch*v.runs) / el
			p50, p99 := percentile(lat, 50), percentile(lat, 99)
			b.ReportMetric(imgs, "img/s")
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
			if r, ok := rates[v.torch]; ok && v.torch != "" {
				b.ReportMetric(r, "torch-img/s")
				b.ReportMetric(imgs/r, "x-torch")
			}
			results[v.name] = benchResult{imgs, p50, p99}
			if v.runs == 1 && (v.name == "fp16/b8/fused-graph" || v.name == "fp16/b1/fused-graph" || v.name == "fp32/b8/fused-graph") {
				printProfile(b, v.name, p, v.batch)
			}
		})
	}
	summary(results, rates)
}

// printProfile prints where one configuration's time goes, op by op (launched one by
// one with events between them, so the sum exceeds a graph replay's time).
func printProfile(b *testing.B, name string, p *Pipeline, n int) {
	ops, err := p.Profile(n, 20)
	if err != nil {
		b.Logf("profile %s: %v", name, err)
		return
	}
	byKind := map[string]float64{}
	total := 0.0
	for _, o := range ops {
		k, _, _ := strings.Cut(o.Kind, " ")
		byKind[k] += o.Ms
		total += o.Ms
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Ms > ops[j].Ms })
	fmt.Printf("\nprofile %s: %.3f ms in %d ops\n", name, total, len(ops))
	for k, v := range byKind {
		fmt.Printf("  %-16s %7.3f ms\n", k, v)
	}
	for _, o := range ops[:min(18, len(ops))] {
		fmt.Printf("  %3d %-28s %-22s %7.4f ms  %s\n", o.Index, o.Kind, o.Out, o.Ms, o.Node)
	}
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

// summary prints the technique table: each technique on against off.
func summary(r map[string]benchResult, torch map[string]float64) {
	ratio := func(a, b string) string {
		x, y := r[a].imgs, r[b].imgs
		if x == 0 || y == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2fx", x/y)
	}
	fmt.Println("\ntechnique                                on                       off                      on/off")
	rows := [][3]string{
		{"FP16 vs FP32 (batch 8)", "fp16/b8/fused-graph", "fp32/b8/fused-graph"},
		{"fused vs unfused (batch 8)", "fp16/b8/fused-graph", "fp16/b8/unfused-graph"},
		{"CUDA graph vs launches (batch 8)", "fp16/b8/fused-graph", "fp16/b8/fused-launches"},
		{"CUDA graph vs launches (batch 1)", "fp16/b1/fused-graph", "fp16/b1/fused-launches"},
		{"batch 8 vs 8x batch 1", "fp16/b8/fused-graph", "fp16/8xb1/fused-graph"},
		{"auto-tuned vs own convs (batch 8)", "fp16/b8/fused-graph", "fp16/b8/own-graph"},
		{"auto-tuned vs own convs (batch 1)", "fp16/b1/fused-graph", "fp16/b1/own-graph"},
		{"auto-tuned vs cuBLAS (batch 8)", "fp16/b8/fused-graph", "fp16/b8/cublas-graph"},
		{"auto-tuned vs cuDNN (batch 8)", "fp16/b8/fused-graph", "fp16/b8/cudnn-graph"},
		{"FP16 vs FP32 (batch 32)", "fp16/b32/fused-graph", "fp32/b32/fused-graph"},
		{"batch 32 vs 4x batch 8", "fp16/b32/fused-graph", "fp16/b8/fused-graph"},
		{"batch 32 vs 4x batch 8, own convs", "fp16/b32/own-graph", "fp16/b8/own-graph"},
		{"batch 32 vs 4x batch 8, cuDNN", "fp16/b32/cudnn-graph", "fp16/b8/cudnn-graph"},
		{"depthwise rows in half2 vs float32 (b8)", "fp16/b8/fused-graph", "fp16/b8/dwf32-graph"},
		{"depthwise rows in half2 vs float32 (b32)", "fp16/b32/fused-graph", "fp16/b32/dwf32-graph"},
	}
	for _, row := range rows {
		fmt.Printf("%-40s %-24s %-24s %s  (%.0f vs %.0f img/s)\n", row[0], row[1], row[2], ratio(row[1], row[2]), r[row[1]].imgs, r[row[2]].imgs)
	}
	fmt.Println()
	if t := torch["float16/8/graph"]; t > 0 {
		fmt.Printf("FP16 batch 8: %.0f img/s, PyTorch CUDA graph %.0f img/s: %.2fx (goal 1.5x)\n", r["fp16/b8/fused-graph"].imgs, t, r["fp16/b8/fused-graph"].imgs/t)
	}
	if t := torch["float16/8/eager"]; t > 0 {
		fmt.Printf("FP16 batch 8 vs PyTorch eager %.0f img/s: %.2fx\n", t, r["fp16/b8/fused-graph"].imgs/t)
	}
	if t := torch["float16/1/graph-ms"]; t > 0 {
		fmt.Printf("FP16 batch 1 latency p50 %.3f ms p99 %.3f ms, PyTorch CUDA graph %.2f ms (goal <= 1.0 ms)\n", r["fp16/b1/fused-graph"].p50, r["fp16/b1/fused-graph"].p99, t)
	}
	if t := torch["float32/8/graph"]; t > 0 {
		fmt.Printf("FP32 batch 8: %.0f img/s, PyTorch CUDA graph %.0f img/s: %.2fx\n", r["fp32/b8/fused-graph"].imgs, t, r["fp32/b8/fused-graph"].imgs/t)
	}
	fmt.Printf("FP16 / FP32: %s at batch 8, %s at batch 32 (goal 1.8x)\n\n", ratio("fp16/b8/fused-graph", "fp32/b8/fused-graph"),
		ratio("fp16/b32/fused-graph", "fp32/b32/fused-graph"))
}

// e2eVariant is one configuration of BenchmarkEndToEnd.
type e2eVariant struct {
	name      string
	o         Options
	pipelines int
	host      bool // decode the JPEGs with Go and upload pixels instead of nvJPEG
	// pictures: hand the decoded pictures back as luminance for the pipeline's looming:
	// "whole" every picture whole (Luma), "rects" the regions around the detections
	// that the pipeline aligns (DetectJPEGPictures, LumaRects)
	pictures string
}

// BenchmarkEndToEnd measures frame sets of 8 cameras from JPEG bytes to boxes (decode,
// pre-processing, network, peaks, NMS) with P pipelines driven by P goroutines:
// frames/s counts camera images, sets/s frame sets; p50/p99 are per frame set.
func BenchmarkEndToEnd(b *testing.B) {
	lib := cudaLib(b)
	var frames [][]byte
	for _, rel := range publicImages {
		if strings.HasSuffix(rel, ".jpg") {
			data, err := os.ReadFile(shared.Path(b, rel))
			if err != nil {
				b.Fatal(err)
			}
			frames = append(frames, data)
		}
	}
	frames = frames[:8]
	variants := []e2eVariant{
		{"nvjpeg/async/p=1", Options{}, 1, false, ""},
		{"nvjpeg/async/p=2", Options{}, 2, false, ""},
		{"nvjpeg/async/p=4", Options{}, 4, false, ""},
		{"nvjpeg+luma/async/p=4", Options{}, 4, false, "whole"},
		{"nvjpeg+rects/async/p=4", Options{}, 4, false, "rects"},
		{"nvjpeg/sync/p=1", Options{Sync: true}, 1, false, ""},
		{"godecode/async/p=4", Options{}, 4, true, ""},
	}
	res := map[string]benchResult{}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			o := v.o
			o.Library, o.Pipelines = lib, v.pipelines
			e, err := New(centerNetGraph(b, 8), o)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			dets := make([]*centernet.Detector, v.pipelines)
			for i := range dets {
				if dets[i], err = centernet.New(pipelineEngine{e.Pipeline(i)}, centernet.Config{Thresholds: detect.RoadThresholds()}); err != nil {
					b.Fatal(err)
				}
			}
			one := func(k int) error {
				d := dets[k]
				switch {
				case v.host:
					imgs, err := decodeAll(frames)
					if err != nil {
						return err
					}
					_, err = d.Detect(context.Background(), imgs)
					return err
				case v.pictures == "rects":
					_, _, err := d.DetectJPEGPictures(context.Background(), frames)
					return err
				}
				if _, err := d.DetectJPEG(context.Background(), frames); err != nil || v.pictures != "whole" {
					return err
				}
				for j, f := range frames {
					c, err := jpeg.DecodeConfig(bytes.NewReader(f))
					if err != nil {
						return err
					}
					if err := e.Pipeline(k).Luma(j, image.NewGray(image.Rect(0, 0, c.Width, c.Height))); err != nil {
						return err
					}
				}
				return nil
			}
			for k := range dets { // warm up: graphs, nvJPEG buffers
				for range 3 {
					if err := one(k); err != nil {
						b.Fatal(err)
					}
				}
			}
			var next atomic.Int64
			lats := make([][]float64, v.pipelines)
			errs := make(chan error, v.pipelines)
			b.ResetTimer()
			start := time.Now()
			for k := range dets {
				go func() {
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if err := one(k); err != nil {
							errs <- err
							return
						}
						lats[k] = append(lats[k], float64(time.Since(t0).Nanoseconds())/1e6)
					}
					errs <- nil
				}()
			}
			for range dets {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start).Seconds()
			b.StopTimer()
			var all []float64
			for _, l := range lats {
				all = append(all, l...)
			}
			sets := float64(b.N) / el
			b.ReportMetric(sets, "sets/s")
			b.ReportMetric(8*sets, "frames/s")
			b.ReportMetric(percentile(all, 50), "p50-ms")
			b.ReportMetric(percentile(all, 99), "p99-ms")
			res[v.name] = benchResult{8 * sets, percentile(all, 50), percentile(all, 99)}
		})
	}
	fmt.Println("\nend to end, JPEG bytes of 8 cameras -> boxes")
	for _, v := range variants {
		r := res[v.name]
		fmt.Printf("%-22s %7.0f frames/s %6.1f sets/s  p50 %.2f ms  p99 %.2f ms\n", v.name, r.imgs, r.imgs/8, r.p50, r.p99)
	}
	if a, l, r := res["nvjpeg/async/p=4"].imgs, res["nvjpeg+luma/async/p=4"].imgs, res["nvjpeg+rects/async/p=4"].imgs; a > 0 && l > 0 && r > 0 {
		fmt.Printf("handing the pictures back as luminance (looming): whole %.2fx, around the detections %.2fx the frame rate without\n", l/a, r/a)
	}
	if a, s := res["nvjpeg/async/p=4"].imgs, res["nvjpeg/sync/p=1"].imgs; a > 0 && s > 0 {
		fmt.Printf("streams+async (4 pipelines) vs synchronous: %.2fx (goal: >= 1000 frames/s end to end: %.0f)\n", a/s, a)
	}
}

func decodeAll(frames [][]byte) ([]image.Image, error) {
	imgs := make([]image.Image, len(frames))
	for i, f := range frames {
		img, _, err := image.Decode(bytes.NewReader(f))
		if err != nil {
			return nil, err
		}
		imgs[i] = img
	}
	return imgs, nil
}
