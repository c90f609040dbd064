// Package gpu runs a prepared detect/model graph on an NVIDIA GPU through
// libroadlog_gpu.so, a small C library built from the CUDA sources in cuda/ with nvcc
// (`make gpu`) and loaded at run time with purego, so that roadlog stays a static,
// cgo-free binary that cross-compiles to a Jetson.
//
// The Go side plans the program once (plan.go): which library op runs each node, the
// graph-level fusions (concat inputs written straight into their slice, an activation
// after a concat moved into its producers, a squeeze-excitation block turned into one
// op whose channel scale the next convolutions apply while loading), and where every
// activation lives in one arena. The library converts the weights to FP16 (or keeps
// FP32), runs fused implicit-GEMM convolutions on tensor cores (or cuBLAS / cuDNN, for
// comparison), depthwise/resize/elementwise kernels of its own, replays the whole
// network as a CUDA graph per batch size on one stream per pipeline, and does the
// detector's pre-processing (8-bit pixels or JPEG through nvJPEG) and peak finding on
// the device so that only peaks cross back.
//
// When the library, a GPU or an op is missing, New fails with an error that says which
// (ErrNoLibrary, ErrNoDevice, ErrDriver, model.ErrUnsupported, ...); NewDetector then
// logs it and builds the CPU engine for the whole model.
package gpu

import (
	"context"
	"fmt"
	"sync"
	"unsafe"

	"roadlog/detect/centernet"
	"roadlog/detect/model"
)

// Precision is the element type of activations and weights on the device.
type Precision int

// Precisions. FP16 accumulates in FP32 where it matters (convolutions, means, the
// squeeze-excitation) and writes the graph outputs as FP32 straight from the
// accumulators.
const (
	FP16 Precision = 0
	FP32 Precision = 1
)

func (p Precision) String() string {
	if p == FP32 {
		return "fp32"
	}
	return "fp16"
}

// ConvBackend chooses who computes convolutions.
type ConvBackend int

// Convolution back ends.
const (
	// ConvAuto times every convolution on the first run with each back end that can run
	// it (the library's fused kernels, cuBLAS, cuDNN) and keeps the fastest.
	ConvAuto   ConvBackend = 0
	ConvOwn    ConvBackend = 1 // fused implicit-GEMM kernels of the library (tensor cores in FP16)
	ConvCUBLAS ConvBackend = 2 // cuBLAS GEMM for 1x1 convolutions, epilogue kernel after
	ConvCuDNN  ConvBackend = 3 // cuDNN, with bias+ReLU fused by cuDNN where it can
)

// rl returns the library's RL_CONV_* number.
func (c ConvBackend) rl() int32 {
	switch c {
	case ConvOwn:
		return 0
	case ConvCUBLAS:
		return 1
	case ConvCuDNN:
		return 2
	}
	return 3
}

func (c ConvBackend) String() string {
	switch c {
	case ConvOwn:
		return "own"
	case ConvCUBLAS:
		return "cublas"
	case ConvCuDNN:
		return "cudnn"
	}
	return "auto"
}

// Options configure an engine. The zero value is the fast configuration: FP16, the
// fastest convolution back end per layer, graph-level fusions, CUDA graphs, one
// pipeline.
type Options struct {
	// Library is the path of libroadlog_gpu.so; empty searches $ROADLOG_GPU_LIB, the
	// executable's folder, ../lib beside it, then the dynamic loader's path.
	Library string
	// Device is the CUDA device index.
	Device int
	// Precision of activations and weights.
	Precision Precision
	// Pipelines is the number of independent streams (each with its own arena and CUDA
	// graphs) that goroutines may drive concurrently (default 1).
	Pipelines int
	// Conv chooses the convolution back end.
	Conv ConvBackend
	// Unfused turns off the fusions (graph-level and conv epilogues): for measuring them.
	Unfused bool
	// NoGraph launches op by op instead of replaying a CUDA graph: for measuring graphs.
	NoGraph bool
	// Sync uses pageable host buffers, blocking copies and a wait after every op: the
	// naive way, for measuring streams and asynchronous copies.
	Sync bool
	// DepthwiseF32 makes FP16 depthwise convolutions multiply and add in float32
	// instead of adding each kernel row in half2: for measuring that.
	DepthwiseF32 bool
}

// Engine runs one graph on the GPU. Its detect.Engine methods use pipeline 0; Pipeline
// gives the others. Close may be called from any goroutine once runs have returned.
type Engine struct {
	l     *lib
	h     uintptr
	p     *plan
	o     Options
	name  string
	pipes []*Pipeline

	mu     sync.Mutex // guards closed
	closed bool
}

// Probe loads the library and describes device o.Device (name, compute capability,
// memory, driver and library versions), or says why it cannot.
func Probe(o Options) (string, error) {
	l, err := openLib(o.Library)
	if err != nil {
		return "", err
	}
	var b errBuf
	ptr, n := b.ptr()
	if err := status("rl_probe", l.probe(int32(o.Device), ptr, n), &b); err != nil {
		return "", fmt.Errorf("probe gpu: %w", err)
	}
	return b.String(), nil
}

// New builds an engine for g, which must be prepared (model.Graph.Prepare). It fails
// with model.ErrUnsupported (naming the node) when g has an op the GPU path lacks, and
// with ErrNoLibrary, ErrABI, ErrNoDevice, ErrDriver or ErrOutOfMemory when the GPU
// cannot run it.
func New(g *model.Graph, o Options) (*Engine, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("build gpu engine: %w", err)
	}
	dt := int32(rlF16)
	if o.Precision == FP32 {
		dt = rlF32
	}
	return newEngine(g, o, planOptions{dtype: dt, fuse: !o.Unfused})
}

// newEngine plans g with po and builds the engine.
func newEngine(g *model.Graph, o Options, po planOptions) (*Engine, error) {
	p, err := newPlan(g, po)
	if err != nil {
		return nil, fmt.Errorf("build gpu engine: %w", err)
	}
	l, err := openLib(o.Library)
	if err != nil {
		return nil, fmt.Errorf("build gpu engine: %w", err)
	}
	e := &Engine{l: l, p: p, o: o}
	if err := e.build(); err != nil {
		if e.h != 0 {
			l.destroy(e.h)
		}
		return nil, fmt.Errorf("build gpu engine: %w", err)
	}
	return e, nil
}

// build describes the plan to the library.
func (e *Engine) build() error {
	p, o, l := e.p, e.o, e.l
	cfg := rlConfig{Device: int32(o.Device), MaxBatch: int32(p.batch), Precision: p.dtype,
		Pipelines: int32(max(o.Pipelines, 1)), Conv: o.Conv.rl(), ArenaBytes: p.arena,
		InputOffset: p.input.tensor().Offset, InH: int32(p.inShape[1]), InW: int32(p.inShape[2]), InC: int32(p.inShape[3])}
	if o.Unfused {
		cfg.Flags |= cfgUnfused
	}
	if o.NoGraph {
		cfg.Flags |= cfgNoGraph
	}
	if o.Sync {
		cfg.Flags |= cfgSync
	}
	if o.DepthwiseF32 {
		cfg.Flags |= cfgDWF32
	}
	if p.batched {
		cfg.BatchedRun = 1
	}
	var b errBuf
	ptr, n := b.ptr()
	if err := status("rl_create", l.create(&cfg, &e.h, ptr, n), &b); err != nil {
		return err
	}
	for i, op := range p.ops {
		ptr, n := b.ptr()
		st := l.addOp(e.h, &op.op, first(op.w[0]), first(op.w[1]), first(op.w[2]), first(op.w[3]), ptr, n)
		if err := status("rl_add_op", st, &b); err != nil {
			return fmt.Errorf("op %d (node %q): %w", i, op.name, err)
		}
	}
	for _, t := range p.outputs {
		ten := t.tensor()
		ptr, n := b.ptr()
		if err := status("rl_add_output", l.addOutput(e.h, &ten, ptr, n), &b); err != nil {
			return err
		}
	}
	ptr, n = b.ptr()
	if err := status("rl_finalize", l.finalize(e.h, ptr, n), &b); err != nil {
		return err
	}
	for i := 0; i < int(cfg.Pipelines); i++ {
		e.pipes = append(e.pipes, newPipeline(e, int32(i)))
	}
	ptr, n = b.ptr()
	if l.info(e.h, ptr, n) >= 0 {
		e.name = b.String()
	}
	return nil
}

func first(w []float32) *float32 {
	if len(w) == 0 {
		return nil
	}
	return &w[0]
}

// Name describes the engine, e.g. "gpu NVIDIA H200 fp16 own graph ×1".
func (e *Engine) Name() string { return e.name }

// Options returns the options the engine was built with.
func (e *Engine) Options() Options { return e.o }

// Stats says what the planner fused.
func (e *Engine) Stats() string {
	s := e.p.stats
	return fmt.Sprintf("%d nodes → %d ops; %d concat inputs in place, %d activations pushed, %d squeeze-excitations as one op (%d consumers scale on load), %d output casts, arena %.1f MiB",
		s.Nodes, s.Ops, s.ConcatSlices, s.ActsPushed, s.SE, s.ScaledInputs, s.OutputCasts, float64(e.p.arena)/(1<<20))
}

// ArenaBytes is the activation memory of one pipeline.
func (e *Engine) ArenaBytes() int64 { return e.p.arena }

// Pipelines returns the engine's pipelines.
func (e *Engine) Pipelines() []*Pipeline { return e.pipes }

// Pipeline returns pipeline i.
func (e *Engine) Pipeline(i int) *Pipeline { return e.pipes[i] }

// Batch is the graph's batch: the most images one run takes.
func (e *Engine) Batch() int { return e.p.batch }

// Input returns pipeline 0's input buffer (NHWC float32, Batch images).
func (e *Engine) Input(i int) []float32 { return e.pipes[0].Input(i) }

// Output returns output i of pipeline 0's last run (copied from the device on first use).
func (e *Engine) Output(i int) []float32 { return e.pipes[0].Output(i) }

// OutputShape returns graph output i's shape.
func (e *Engine) OutputShape(i int) model.Shape { return e.p.outShapes[i] }

// Run runs pipeline 0 on its first n images.
func (e *Engine) Run(ctx context.Context, n int) error { return e.pipes[0].Run(ctx, n) }

// Close releases the device memory, streams and library handles. It is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.l.destroy(e.h)
	for _, p := range e.pipes {
		p.in, p.outs = nil, nil
	}
	return nil
}

func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// Pipeline is one stream of an engine with its own arena, host buffers and CUDA
// graphs. One goroutine uses a pipeline at a time; different pipelines run
// concurrently.
type Pipeline struct {
	e       *Engine
	i       int32
	in      []float32
	outs    [][]float32
	fetched []bool
	n       int // images of the last run
	err     error

	imgs     []rlImage // staged images for the next run
	staged   int
	stage    int64 // where the image being staged starts in the staging buffer, then its end
	reserved int64 // end of the last reservation

	peaks [][]centernet.Peak
	b     errBuf
}

func newPipeline(e *Engine, i int32) *Pipeline {
	p := &Pipeline{e: e, i: i, imgs: make([]rlImage, e.p.batch)}
	in := int(e.p.input.elems())
	p.in = unsafe.Slice((*float32)(e.l.hostInput(e.h, i)), in)
	for k, t := range e.p.outputs {
		p.outs = append(p.outs, unsafe.Slice((*float32)(e.l.hostOutput(e.h, i, int32(k))), int(t.elems())))
	}
	p.fetched = make([]bool, len(p.outs))
	return p
}

// Name describes the engine.
func (p *Pipeline) Name() string { return p.e.name }

// Batch is the most images one run takes.
func (p *Pipeline) Batch() int { return p.e.p.batch }

// Input returns the host input buffer (NHWC float32, Batch images).
func (p *Pipeline) Input(int) []float32 { return p.in }

// OutputShape returns graph output i's shape.
func (p *Pipeline) OutputShape(i int) model.Shape { return p.e.p.outShapes[i] }

// Output returns graph output i of the last run, copied from the device on first use
// (a failed copy is reported by the next Run).
func (p *Pipeline) Output(i int) []float32 {
	if !p.fetched[i] && p.err == nil {
		ptr, n := p.b.ptr()
		p.err = status("rl_fetch", p.e.l.fetch(p.e.h, p.i, int32(i), int32(max(p.n, 1)), ptr, n), &p.b)
		p.fetched[i] = p.err == nil
	}
	return p.outs[i]
}

// Run computes the network for the first n images: the ones staged with SetImage or
// SetJPEG, or else the host Input. It waits for the device.
func (p *Pipeline) Run(ctx context.Context, n int) error {
	if err := p.launch(ctx, n); err != nil {
		return err
	}
	ptr, k := p.b.ptr()
	if err := status("rl_wait", p.e.l.wait(p.e.h, p.i, ptr, k), &p.b); err != nil {
		return fmt.Errorf("run gpu engine: %w", err)
	}
	return nil
}

// launch enqueues pre-processing (when images are staged) and the network.
func (p *Pipeline) launch(ctx context.Context, n int) error {
	if p.e.isClosed() {
		return fmt.Errorf("run gpu engine: %w", ErrClosed)
	}
	if n < 1 || n > p.e.p.batch {
		return fmt.Errorf("run gpu engine: %d images for a batch of %d", n, p.e.p.batch)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run gpu engine: %w", err)
	}
	if err := p.err; err != nil {
		p.err = nil
		return fmt.Errorf("run gpu engine: an earlier copy failed: %w", err)
	}
	src := int32(srcHost)
	if p.staged > 0 {
		if p.staged < n {
			return fmt.Errorf("run gpu engine: images staged for %d of %d slots", p.staged, n)
		}
		ptr, k := p.b.ptr()
		err := status("rl_preprocess", p.e.l.preprocess(p.e.h, p.i, int32(n), &p.imgs[0], ptr, k), &p.b)
		p.staged, p.stage = 0, 0
		if err != nil {
			return fmt.Errorf("run gpu engine: %w", err)
		}
		src = srcImages
	}
	ptr, k := p.b.ptr()
	if err := status("rl_run", p.e.l.run(p.e.h, p.i, int32(n), src, ptr, k), &p.b); err != nil {
		return fmt.Errorf("run gpu engine: %w", err)
	}
	p.n = n
	clear(p.fetched)
	return nil
}

// RunAgain reruns the network on the input tensor already on the device (benchmarks:
// the network alone, no upload).
func (p *Pipeline) RunAgain(n int) error {
	ptr, k := p.b.ptr()
	if err := status("rl_run", p.e.l.run(p.e.h, p.i, int32(n), srcDevice, ptr, k), &p.b); err != nil {
		return fmt.Errorf("run gpu engine: %w", err)
	}
	p.n = n
	clear(p.fetched)
	return nil
}

// Wait waits for the pipeline's queued work.
func (p *Pipeline) Wait() error {
	ptr, k := p.b.ptr()
	return status("rl_wait", p.e.l.wait(p.e.h, p.i, ptr, k), &p.b)
}

// Close closes the whole engine.
func (p *Pipeline) Close() error { return p.e.Close() }

// readView copies a tensor of the last run from the arena (tests).
func (p *Pipeline) readView(t *tview) ([]float32, error) {
	ten := t.tensor()
	n := int64(ten.Dims[0])
	if t.batched {
		n = int64(p.n)
	}
	// the span the view covers
	last := (n-1)*int64(ten.Strides[0]) + int64(ten.Dims[1]-1)*int64(ten.Strides[1]) +
		int64(ten.Dims[2]-1)*int64(ten.Strides[2]) + int64(ten.Dims[3]-1)*int64(ten.Strides[3]) + 1
	es := elemSize(t.dtype)
	raw := make([]byte, last*es)
	ptr, k := p.b.ptr()
	if err := status("rl_read", p.e.l.read(p.e.h, p.i, ten.Offset, int64(len(raw)), unsafe.Pointer(&raw[0]), ptr, k), &p.b); err != nil {
		return nil, err
	}
	out := make([]float32, 0, n*int64(ten.Dims[1]*ten.Dims[2]*ten.Dims[3]))
	for b := int64(0); b < n; b++ {
		for y := int64(0); y < int64(ten.Dims[1]); y++ {
			for x := int64(0); x < int64(ten.Dims[2]); x++ {
				for c := int64(0); c < int64(ten.Dims[3]); c++ {
					i := b*int64(ten.Strides[0]) + y*int64(ten.Strides[1]) + x*int64(ten.Strides[2]) + c*int64(ten.Strides[3])
					if es == 2 {
						out = append(out, model.HalfToFloat(uint16(raw[2*i])|uint16(raw[2*i+1])<<8))
					} else {
						out = append(out, *(*float32)(unsafe.Pointer(&raw[4*i])))
					}
				}
			}
		}
	}
	return out, nil
}

// OpTime is one op's share of a profiled run.
type OpTime struct {
	Index int
	Node  string  // the IR node it comes from
	Kind  string  // conv, depthwise, ...
	Out   string  // output dims and type, e.g. "8x128x128x64 f16"
	Ms    float64 // mean milliseconds
}

var opKinds = map[int32]string{opConv: "conv", opDW: "depthwise", opBinary: "binary", opUnary: "unary", opMean: "mean",
	opSE: "squeeze-excite", opScale: "scale", opResize: "resize", opPool: "pool", opCopy: "copy"}

// Profile runs the network reps times op by op (no graph) on n images and returns
// every op's mean time: where the time goes.
func (p *Pipeline) Profile(n, reps int) ([]OpTime, error) {
	ops := p.e.p.ops
	ms := make([]float32, len(ops))
	ptr, k := p.b.ptr()
	if err := status("rl_profile", p.e.l.profile(p.e.h, p.i, int32(n), int32(reps), &ms[0], ptr, k), &p.b); err != nil {
		return nil, fmt.Errorf("profile gpu engine: %w", err)
	}
	out := make([]OpTime, len(ops))
	for i, op := range ops {
		d := op.op.Y.Dims
		dt := "f32"
		if op.op.Y.DType == rlF16 {
			dt = "f16"
		}
		nb := d[0]
		if op.op.Y.Batched != 0 {
			nb = int32(n)
		}
		kind := opKinds[op.op.Kind]
		if op.op.Kind == opConv || op.op.Kind == opDW {
			kind += fmt.Sprintf(" %dx%d/%d cin %d", op.op.KH, op.op.KW, op.op.SH, op.op.X.Dims[3])
		}
		out[i] = OpTime{Index: i, Node: op.name, Kind: kind, Out: fmt.Sprintf("%dx%dx%dx%d %s", nb, d[1], d[2], d[3], dt), Ms: float64(ms[i])}
	}
	return out, nil
}
