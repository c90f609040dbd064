// Package cpu runs a prepared detect/model graph on the CPU in pure Go: NHWC, FP32
// arithmetic on weights stored as FP16 or FP32, all cores, convolutions as GEMM with
// weights packed once at build time, direct depthwise kernels, and one arena planned at
// build time so that a frame allocates nothing. The innermost loops are AVX2+FMA
// assembly on amd64 CPUs that have it, with pure-Go equivalents chosen at run time
// otherwise (or with Options.PureGo).
package cpu

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"roadlog/detect/model"
)

// Options configure an engine.
type Options struct {
	// Threads is the number of goroutines that compute (0: runtime.GOMAXPROCS).
	Threads int
	// PureGo selects the portable kernels even where assembly ones would run.
	PureGo bool
}

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("engine closed")

// Engine runs one graph. Its methods are not safe for concurrent use: one goroutine owns
// it (Close may be called from another once Run has returned).
type Engine struct {
	g       *model.Graph
	kern    kernelSet
	pool    *pool
	threads int

	arena  []float32
	iarena []int32
	views  map[*model.Value]*model.Tensor // every non-constant value's arena view
	steps  []step

	inputs  []*model.Tensor
	outputs []*model.Tensor

	mu     sync.Mutex // guards closed
	closed bool
}

// step is one compiled node.
type step interface {
	run(e *Engine) error
}

// New builds an engine for g, which must be prepared (model.Graph.Prepare): static
// shapes, resolved parameters. The engine keeps g's constants (packed copies of the
// weights) but not g itself.
func New(g *model.Graph, o Options) (*Engine, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("build cpu engine: %w", err)
	}
	e := &Engine{g: g, kern: goKernels}
	if k, ok := asmKernels(); ok && !o.PureGo {
		e.kern = k
	}
	e.threads = o.Threads
	if e.threads <= 0 {
		e.threads = runtime.GOMAXPROCS(0)
	}
	if err := e.plan(); err != nil {
		return nil, fmt.Errorf("build cpu engine: %w", err)
	}
	for _, n := range g.Nodes {
		s, err := e.compile(n)
		if err != nil {
			return nil, fmt.Errorf("build cpu engine: %w", err)
		}
		if s != nil {
			e.steps = append(e.steps, s)
		}
	}
	for _, v := range g.Inputs {
		e.inputs = append(e.inputs, e.views[v])
	}
	for _, v := range g.Outputs {
		t := e.views[v]
		if t == nil { // a constant output
			t = &model.Tensor{DType: v.DType, Shape: v.Shape, F32: v.Const.Float32s(), I32: v.Const.I32}
		}
		e.outputs = append(e.outputs, t)
	}
	e.pool = newPool(e.threads)
	return e, nil
}

// Name describes the engine, e.g. "cpu avx2+fma ×2".
func (e *Engine) Name() string { return fmt.Sprintf("cpu %s ×%d", e.kern.name, e.threads) }

// Graph returns the graph the engine runs.
func (e *Engine) Graph() *model.Graph { return e.g }

// ArenaBytes is the size of the preallocated activation memory.
func (e *Engine) ArenaBytes() int { return 4 * (len(e.arena) + len(e.iarena)) }

// NumInputs and NumOutputs count the graph's inputs and outputs.
func (e *Engine) NumInputs() int  { return len(e.inputs) }
func (e *Engine) NumOutputs() int { return len(e.outputs) }

// Input returns graph input i's buffer (NHWC, row-major) for the caller to fill before Run.
func (e *Engine) Input(i int) []float32 { return e.inputs[i].F32 }

// InputShape returns graph input i's shape.
func (e *Engine) InputShape(i int) model.Shape { return e.inputs[i].Shape }

// Output returns graph output i as computed by the last Run (float outputs; nil for
// integer ones, see OutputTensor). It stays valid until the next Run.
func (e *Engine) Output(i int) []float32 { return e.outputs[i].F32 }

// OutputShape returns graph output i's shape.
func (e *Engine) OutputShape(i int) model.Shape { return e.outputs[i].Shape }

// OutputTensor returns graph output i with its type (int outputs in I32).
func (e *Engine) OutputTensor(i int) *model.Tensor { return e.outputs[i] }

// Batch is the graph's input batch size (the first dimension of input 0).
func (e *Engine) Batch() int {
	if len(e.inputs) == 0 || len(e.inputs[0].Shape) == 0 {
		return 1
	}
	return e.inputs[0].Shape[0]
}

// Run computes the graph on the inputs' current contents; ctx is checked between nodes.
// n (the number of valid images, for detect.Engine) is checked but the whole batch is
// computed.
func (e *Engine) Run(ctx context.Context, n int) error {
	if n < 0 || n > e.Batch() {
		return fmt.Errorf("run cpu engine: %d images for a batch of %d", n, e.Batch())
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return fmt.Errorf("run cpu engine: %w", ErrClosed)
	}
	for _, s := range e.steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("run cpu engine: %w", err)
		}
		if err := s.run(e); err != nil {
			return fmt.Errorf("run cpu engine: %w", err)
		}
	}
	return nil
}

// Close stops the engine's worker goroutines. It is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.pool.close()
	return nil
}
