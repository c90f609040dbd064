package gpu

import (
	"fmt"
	"slices"

	"roadlog/detect/model"
)

// plan is what the library runs for one prepared graph: a list of ops whose tensors
// are views into one arena, decided once when the engine is built. Planning is pure Go
// (testable without a GPU); the library only executes.
type plan struct {
	dtype   int32 // compute element type of activations (rlF16 or rlF32)
	batch   int   // the graph's batch (max images per run)
	batched bool  // every activation has the batch first: runs of n < batch compute n
	ops     []*pop
	arena   int64 // bytes of activation memory per pipeline

	input     *tview
	inShape   model.Shape
	outputs   []*tview // float32, dense
	outShapes []model.Shape

	views map[*model.Value]*tview // every materialised value (tests compare them all)
	acted map[*model.Value]bool   // values stored with a later activation applied (pushed into their producer)
	stats planStats
}

// planStats counts what the fusion passes did.
type planStats struct {
	Ops          int // library ops
	Nodes        int // IR nodes
	ConcatSlices int // concat inputs written in place into their slice
	ActsPushed   int // activations after a concat moved into its producers
	SE           int // squeeze-excitation blocks run as one op
	ScaledInputs int // consumers that apply a squeeze-excitation scale while loading
	OutputCasts  int // float32 outputs needing their own copy
}

// pop is one library op with the views it reads and writes.
type pop struct {
	op         rlOp
	name       string // the IR node it comes from (errors)
	w          [4][]float32
	x, z, s, y *tview
	scratch    *buf // float sums the op zeroes after use (mean, squeeze-excitation)
}

// buf is one allocation in the arena, shared by the views into it.
type buf struct {
	bytes     int64
	def, last int
	pinned    bool // lives for the whole program (graph input/outputs, scratch)
	offset    int64
}

// tview is a strided NHWC view into a buf.
type tview struct {
	b       *buf
	off     int64 // elements from the start of b
	dims    [4]int32
	strides [4]int32
	dtype   int32
	batched bool
}

func elemSize(dt int32) int64 {
	if dt == rlF16 {
		return 2
	}
	return 4
}

// tensor is the view as the library takes it (after placement).
func (v *tview) tensor() rlTensor {
	if v == nil {
		return rlTensor{Offset: -1}
	}
	t := rlTensor{Offset: -1, Dims: v.dims, Strides: v.strides, DType: v.dtype}
	if v.b != nil {
		t.Offset = v.b.offset + v.off*elemSize(v.dtype)
	}
	if v.batched {
		t.Batched = 1
	}
	return t
}

func (v *tview) elems() int64 {
	return int64(v.dims[0]) * int64(v.dims[1]) * int64(v.dims[2]) * int64(v.dims[3])
}

// dense reports whether v covers its whole buffer contiguously.
func (v *tview) dense() bool {
	return v.b != nil && v.off == 0 && v.strides == denseStrides(v.dims) && v.elems()*elemSize(v.dtype) == v.b.bytes
}

// dims4 right-aligns a shape of rank ≤ 4 into N, H, W, C.
func dims4(s model.Shape) ([4]int32, bool) {
	var d [4]int32
	if len(s) > 4 {
		return d, false
	}
	for i := range d {
		d[i] = 1
	}
	for i, v := range s {
		d[4-len(s)+i] = int32(v)
	}
	return d, true
}

// slice is the part of v with dims d that starts at off along axis (1..3): where a
// concat input goes in the concat's output.
func (v *tview) slice(axis, off int, d [4]int32) *tview {
	var start [4]int32
	start[axis] = int32(off)
	el := int64(start[1])*int64(v.strides[1]) + int64(start[2])*int64(v.strides[2]) + int64(start[3])
	return &tview{b: v.b, off: v.off + el, dims: d, strides: v.strides, dtype: v.dtype, batched: v.batched}
}

func denseStrides(d [4]int32) [4]int32 {
	return [4]int32{d[1] * d[2] * d[3], d[2] * d[3], d[3], 1}
}

// planOptions are the planner's switches.
type planOptions struct {
	dtype int32
	fuse  bool // graph-level fusions: concat slices, activations into producers, squeeze-excitation
	keep  bool // no buffer sharing: every tensor survives the run (tests compare them all)
}

// planner builds a plan.
type planner struct {
	g    *model.Graph
	o    planOptions
	p    *plan
	cons map[*model.Value][]*model.Node
	outs map[*model.Value]bool
	bufs []*buf

	skip    map[*model.Node]bool        // nodes folded into others
	slices  map[*model.Value]*tview     // concat inputs written into their slice
	pushAct map[*model.Node]*model.Node // producer -> the activation node pushed into it
	se      map[*model.Node]*seGroup    // Mean node -> its squeeze-excitation group
	scaled  map[*model.Value]*seGroup   // SE product consumed with the scale fused
	seOut   map[*model.Value]*seGroup   // SE product value -> group
}

// seGroup is Mean → FC(act) → FC(act2) → Mul(x, s).
type seGroup struct {
	mean, fc1, fc2, mul *model.Node
	x                   *model.Value // the tensor being scaled
	scale               *tview       // [N][C] float32
	fused               bool         // consumers take the scale; the product is never stored
}

func unsupported(n *model.Node, detail string) error {
	return &model.UnsupportedOpError{Op: n.Op.String(), Node: n.Name, Detail: "GPU engine: " + detail}
}

// newPlan plans graph g (prepared: static shapes, NHWC, fused).
func newPlan(g *model.Graph, o planOptions) (*plan, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("plan gpu program: %w: %d graph inputs (the GPU engine takes one image input)", model.ErrUnsupported, len(g.Inputs))
	}
	in := g.Inputs[0]
	if len(in.Shape) != 4 || in.DType != model.Float32 || !in.Shape.Known() {
		return nil, fmt.Errorf("plan gpu program: %w: input %s (want float32 NHWC)", model.ErrUnsupported, in)
	}
	pl := &planner{g: g, o: o, cons: map[*model.Value][]*model.Node{}, outs: map[*model.Value]bool{},
		skip: map[*model.Node]bool{}, slices: map[*model.Value]*tview{}, pushAct: map[*model.Node]*model.Node{},
		se: map[*model.Node]*seGroup{}, scaled: map[*model.Value]*seGroup{}, seOut: map[*model.Value]*seGroup{}}
	pl.p = &plan{dtype: o.dtype, batch: in.Shape[0], views: map[*model.Value]*tview{}, acted: map[*model.Value]bool{}}
	for _, n := range g.Nodes {
		for _, v := range n.In {
			pl.cons[v] = append(pl.cons[v], n)
		}
	}
	for _, v := range g.Outputs {
		pl.outs[v] = true
	}
	if err := pl.check(); err != nil {
		return nil, fmt.Errorf("plan gpu program: %w", err)
	}
	pl.p.batched = pl.batchFirst()
	if o.fuse {
		pl.findSE()
		pl.findConcats()
	}
	// the network input
	iv := pl.newView(in, o.dtype, true)
	pl.p.input, pl.p.inShape = iv, in.Shape.Clone()
	for _, n := range g.Nodes {
		if pl.skip[n] {
			continue
		}
		if err := pl.emit(n); err != nil {
			return nil, fmt.Errorf("plan gpu program: %w", err)
		}
	}
	if err := pl.emitOutputs(); err != nil {
		return nil, fmt.Errorf("plan gpu program: %w", err)
	}
	pl.place()
	pl.p.stats.Ops = len(pl.p.ops)
	pl.p.stats.Nodes = len(g.Nodes)
	return pl.p, nil
}

// check refuses graphs with ops or types the library lacks, naming the node.
func (pl *planner) check() error {
	for _, n := range pl.g.Nodes {
		for _, v := range append(slices.Clone(n.In), n.Out...) {
			if v.DType != model.Float32 {
				return unsupported(n, fmt.Sprintf("%s values (only float32 tensors run on the GPU)", v.DType))
			}
			if !v.Shape.Known() || len(v.Shape) > 4 {
				return unsupported(n, fmt.Sprintf("tensor %s of rank %d (at most 4, static)", v.Name, len(v.Shape)))
			}
		}
		switch n.Op {
		case model.OpConv:
			if !n.In[1].IsConst() || (len(n.In) > 2 && !n.In[2].IsConst()) {
				return unsupported(n, "weights computed at run time")
			}
			if max(n.Conv.Groups, 1) != 1 || len(n.In[0].Shape) != 4 {
				return unsupported(n, fmt.Sprintf("grouped convolution (groups %d)", n.Conv.Groups))
			}
		case model.OpDepthwiseConv:
			if !n.In[1].IsConst() || (len(n.In) > 2 && !n.In[2].IsConst()) || len(n.In[0].Shape) != 4 {
				return unsupported(n, "weights computed at run time")
			}
		case model.OpMatMul:
			if !n.In[1].IsConst() || len(n.In[1].Shape) != 2 || (len(n.In) > 2 && !n.In[2].IsConst()) {
				return unsupported(n, "a matrix product with a non-constant right operand")
			}
		case model.OpAdd, model.OpSub, model.OpMul, model.OpDiv, model.OpMaximum, model.OpMinimum:
			if n.In[0].IsConst() && n.In[1].IsConst() {
				return unsupported(n, "two constant operands")
			}
			if n.In[0].IsConst() && (n.Op == model.OpSub || n.Op == model.OpDiv) {
				return unsupported(n, "a constant left operand")
			}
		case model.OpActivation, model.OpNeg, model.OpExp, model.OpSqrt, model.OpAbs:
		case model.OpMean:
			if len(n.In[0].Shape) != 4 || !slices.Equal(n.Axes, []int{1, 2}) {
				return unsupported(n, fmt.Sprintf("mean over axes %v (the GPU reduces H and W of NHWC)", n.Axes))
			}
		case model.OpMaxPool, model.OpAvgPool:
			if len(n.In[0].Shape) != 4 {
				return unsupported(n, "a pool of rank other than 4")
			}
		case model.OpConcat:
			if len(n.Out[0].Shape) != 4 || n.Axis < 1 || n.Axis > 3 {
				return unsupported(n, fmt.Sprintf("concat on axis %d of rank %d", n.Axis, len(n.Out[0].Shape)))
			}
			for _, v := range n.In {
				if v.IsConst() {
					return unsupported(n, "a constant concat input")
				}
			}
		case model.OpResize:
			if len(n.In[0].Shape) != 4 || (n.Resize.Mode != model.ResizeBilinear && n.Resize.Mode != model.ResizeNearest) {
				return unsupported(n, "resize mode")
			}
		case model.OpReshape:
			if slices.ContainsFunc(n.In, (*model.Value).IsConst) {
				return unsupported(n, "reshape of a constant")
			}
		default:
			return unsupported(n, "no kernel for this op")
		}
	}
	for _, v := range pl.g.Outputs {
		if v.IsConst() {
			return fmt.Errorf("%w: constant graph output %s", model.ErrUnsupported, v.Name)
		}
	}
	return nil
}

// batchFirst reports whether every activation is rank 4 with the batch first, so that a
// run of n images can compute just n.
func (pl *planner) batchFirst() bool {
	for _, n := range pl.g.Nodes {
		for _, v := range append(slices.Clone(n.In), n.Out...) {
			if v.IsConst() {
				continue
			}
			if len(v.Shape) != 4 || v.Shape[0] != pl.p.batch {
				return pl.p.batch == 1
			}
		}
	}
	return true
}

func (pl *planner) newBuf(bytes int64) *buf {
	b := &buf{bytes: bytes, def: 1 << 30, last: -1, pinned: pl.o.keep}
	pl.bufs = append(pl.bufs, b)
	return b
}

// newView gives value v a dense buffer of its own.
func (pl *planner) newView(v *model.Value, dt int32, pin bool) *tview {
	d, _ := dims4(v.Shape)
	t := &tview{dims: d, strides: denseStrides(d), dtype: dt, batched: pl.p.batched && len(v.Shape) == 4}
	t.b = pl.newBuf(t.elems() * elemSize(dt))
	t.b.pinned = pin || pl.o.keep
	pl.p.views[v] = t
	return t
}

// view returns the view of a materialised value.
func (pl *planner) view(n *model.Node, v *model.Value) (*tview, error) {
	if t := pl.p.views[v]; t != nil {
		return t, nil
	}
	return nil, unsupported(n, fmt.Sprintf("input %s is not on the device", v.Name))
}

// outView returns the view an op producing v writes: its concat slice or a new buffer.
func (pl *planner) outView(v *model.Value) *tview {
	if t := pl.slices[v]; t != nil {
		pl.p.views[v] = t
		return t
	}
	return pl.newView(v, pl.o.dtype, false)
}

// producerTakesView reports whether node n's op writes a strided output view (and may
// take a pushed activation): it can write into a concat slice.
func producerTakesView(n *model.Node) bool {
	switch n.Op {
	case model.OpConv, model.OpDepthwiseConv, model.OpAdd, model.OpSub, model.OpMul, model.OpDiv,
		model.OpMaximum, model.OpMinimum, model.OpActivation, model.OpNeg, model.OpExp, model.OpSqrt,
		model.OpAbs, model.OpResize, model.OpMaxPool, model.OpAvgPool:
		return len(n.Out[0].Shape) == 4
	}
	return false
}

// findConcats decides which concat inputs are written straight into their slice of
// the concat's buffer, and which activations after a concat move into its producers.
func (pl *planner) findConcats() {
	for _, n := range pl.g.Nodes {
		if n.Op != model.OpConcat || pl.outs[n.Out[0]] {
			continue
		}
		out := n.Out[0]
		whole := pl.newView(out, pl.o.dtype, false)
		off := 0
		all := true
		var producers []*model.Node
		for _, v := range n.In {
			d, _ := dims4(v.Shape)
			p := v.Producer
			ok := p != nil && !pl.skip[p] && len(pl.cons[v]) == 1 && !pl.outs[v] && producerTakesView(p) && pl.seOut[v] == nil && !slices.Contains(pl.g.Inputs, v)
			if ok {
				pl.slices[v] = whole.slice(n.Axis, off, d)
				producers = append(producers, p)
				pl.p.stats.ConcatSlices++
			} else {
				all = false
			}
			off += v.Shape[n.Axis]
		}
		// an activation that is the concat's only reader moves into the producers
		if !all {
			continue
		}
		c := pl.cons[out]
		if len(c) != 1 || c[0].Op != model.OpActivation ||
			slices.ContainsFunc(producers, func(p *model.Node) bool { return p.Act != model.ActNone }) {
			continue
		}
		act := c[0]
		for _, p := range producers {
			pl.pushAct[p] = act
			pl.p.acted[p.Out[0]] = true
		}
		pl.p.acted[out] = true
		pl.skip[n] = true
		pl.skip[act] = true
		pl.p.views[act.Out[0]] = whole
		pl.p.stats.ActsPushed++
	}
}

// findSE finds Mean → FC → FC → Mul(x, s) blocks over the Mean's own input x.
func (pl *planner) findSE() {
	single := func(v *model.Value) *model.Node {
		c := pl.cons[v]
		if len(c) != 1 || pl.outs[v] {
			return nil
		}
		return c[0]
	}
	fc := func(n *model.Node) bool {
		return n != nil && n.Op == model.OpConv && n.Conv.KH == 1 && n.Conv.KW == 1 && len(n.In) <= 3 &&
			len(n.In[0].Shape) == 4 && n.In[0].Shape[1] == 1 && n.In[0].Shape[2] == 1
	}
	for _, n := range pl.g.Nodes {
		if n.Op != model.OpMean || !n.KeepDims || len(n.In[0].Shape) != 4 {
			continue
		}
		x := n.In[0]
		f1 := single(n.Out[0])
		if !fc(f1) {
			continue
		}
		f2 := single(f1.Out[0])
		if !fc(f2) {
			continue
		}
		mul := single(f2.Out[0])
		if mul == nil || mul.Op != model.OpMul || mul.Act != model.ActNone || !mul.Out[0].Shape.Equal(x.Shape) {
			continue
		}
		if !((mul.In[0] == x && mul.In[1] == f2.Out[0]) || (mul.In[1] == x && mul.In[0] == f2.Out[0])) {
			continue
		}
		grp := &seGroup{mean: n, fc1: f1, fc2: f2, mul: mul, x: x}
		pl.se[n] = grp
		pl.skip[f1], pl.skip[f2] = true, true
		prod := mul.Out[0]
		pl.seOut[prod] = grp
		// the consumers apply the scale while loading when all of them can
		grp.fused = !pl.outs[prod] && len(pl.cons[prod]) > 0
		for _, c := range pl.cons[prod] {
			if (c.Op != model.OpConv && c.Op != model.OpDepthwiseConv) || c.In[0] != prod || slices.Contains(c.In[1:], prod) {
				grp.fused = false
			}
		}
		if grp.fused {
			pl.skip[mul] = true
			pl.scaled[prod] = grp
			pl.p.stats.ScaledInputs += len(pl.cons[prod])
		}
		pl.p.stats.SE++
	}
}

// act returns node n's activation, or the one pushed into it.
func (pl *planner) act(n *model.Node) (model.Activation, float32, float32) {
	if a := pl.pushAct[n]; a != nil {
		return a.Act, a.Alpha, a.Beta
	}
	return n.Act, n.Alpha, n.Beta
}

func (pl *planner) add(n *model.Node, op rlOp, x, z, s, y *tview, w ...[]float32) *pop {
	p := &pop{op: op, name: n.Name, x: x, z: z, s: s, y: y}
	copy(p.w[:], w)
	pl.p.ops = append(pl.p.ops, p)
	return p
}

// emit turns node n into library ops.
func (pl *planner) emit(n *model.Node) error {
	act, alpha, beta := pl.act(n)
	base := rlOp{Act: int32(act), Alpha: alpha, Beta: beta, Scratch: -1}
	switch n.Op {
	case model.OpConv, model.OpDepthwiseConv:
		return pl.emitConv(n, base)
	case model.OpMatMul:
		x, err := pl.view(n, n.In[0])
		if err != nil {
			return err
		}
		if x.off != 0 || x.strides != denseStrides(x.dims) {
			return unsupported(n, "a matrix product of a strided view")
		}
		// a [.., M, K] as M pixels of a 1x1 convolution
		k := int32(n.In[1].Shape[0])
		m := int32(x.elems() / int64(k))
		xv := &tview{b: x.b, dims: [4]int32{1, 1, m, k}, dtype: x.dtype}
		xv.strides = denseStrides(xv.dims)
		y := pl.newView(n.Out[0], pl.o.dtype, false)
		yv := &tview{b: y.b, dims: [4]int32{1, 1, m, int32(n.In[1].Shape[1])}, dtype: y.dtype}
		yv.strides = denseStrides(yv.dims)
		op := base
		op.Kind, op.KH, op.KW, op.SH, op.SW, op.DH, op.DW = opConv, 1, 1, 1, 1, 1, 1
		pl.add(n, op, xv, nil, nil, yv, n.In[1].Const.Float32s(), bias(n, n.In[1].Shape[1]))
		return nil
	case model.OpAdd, model.OpSub, model.OpMul, model.OpDiv, model.OpMaximum, model.OpMinimum:
		return pl.emitBinary(n, base)
	case model.OpActivation, model.OpNeg, model.OpExp, model.OpSqrt, model.OpAbs:
		x, err := pl.view(n, n.In[0])
		if err != nil {
			return err
		}
		op := base
		op.Kind = opUnary
		op.Sub = map[model.Op]int32{model.OpActivation: unNone, model.OpNeg: unNeg, model.OpExp: unExp, model.OpSqrt: unSqrt, model.OpAbs: unAbs}[n.Op]
		pl.add(n, op, x, nil, nil, pl.outView(n.Out[0]))
		return nil
	case model.OpMean:
		x, err := pl.view(n, n.In[0])
		if err != nil {
			return err
		}
		if grp := pl.se[n]; grp != nil {
			return pl.emitSE(n, grp, x)
		}
		op := base
		op.Kind = opMean
		y := pl.outView(n.Out[0])
		if len(n.Out[0].Shape) != 4 { // [N, C]: the same memory as [N, 1, 1, C]
			yv := *y
			yv.dims = [4]int32{x.dims[0], 1, 1, x.dims[3]}
			yv.strides = denseStrides(yv.dims)
			y = &yv
		}
		p := pl.add(n, op, x, nil, nil, y)
		p.scratch = pl.newBuf(int64(x.dims[0]) * int64(x.dims[3]) * 4)
		p.scratch.pinned = true // zeroed by the op after use: never shared
		return nil
	case model.OpMaxPool, model.OpAvgPool:
		x, err := pl.view(n, n.In[0])
		if err != nil {
			return err
		}
		op := base
		op.Kind, op.Sub = opPool, poolMax
		if n.Op == model.OpAvgPool {
			op.Sub = poolAvg
		}
		op.setWindow(n.Conv)
		if n.Conv.CountIncludePad {
			op.Flags |= opfCountPad
		}
		pl.add(n, op, x, nil, nil, pl.outView(n.Out[0]))
		return nil
	case model.OpConcat:
		out := pl.p.views[n.Out[0]]
		if out == nil {
			out = pl.newView(n.Out[0], pl.o.dtype, false)
		}
		off := 0
		for _, v := range n.In {
			if pl.slices[v] != nil {
				off += v.Shape[n.Axis]
				continue
			}
			x, err := pl.view(n, v)
			if err != nil {
				return err
			}
			d, _ := dims4(v.Shape)
			pl.add(n, rlOp{Kind: opCopy, Scratch: -1}, x, nil, nil, out.slice(n.Axis, off, d))
			off += v.Shape[n.Axis]
		}
		return nil
	case model.OpResize:
		x, err := pl.view(n, n.In[0])
		if err != nil {
			return err
		}
		op := base
		op.Kind, op.Sub = opResize, int32(n.Resize.Mode)
		op.Coord, op.Nearest = int32(n.Resize.Coord), int32(n.Resize.Nearest)
		op.RatioH, op.RatioW = n.Resize.RatioH, n.Resize.RatioW
		pl.add(n, op, x, nil, nil, pl.outView(n.Out[0]))
		return nil
	case model.OpReshape:
		x, err := pl.view(n, n.In[0])
		if err != nil {
			return err
		}
		d, _ := dims4(n.Out[0].Shape)
		if x.off != 0 || x.strides != denseStrides(x.dims) {
			// copy a strided view to a dense buffer first
			tmp := &tview{dims: x.dims, strides: denseStrides(x.dims), dtype: x.dtype, batched: x.batched}
			tmp.b = pl.newBuf(tmp.elems() * elemSize(tmp.dtype))
			pl.add(n, rlOp{Kind: opCopy, Scratch: -1}, x, nil, nil, tmp)
			x = tmp
		}
		pl.p.views[n.Out[0]] = &tview{b: x.b, off: x.off, dims: d, strides: denseStrides(d), dtype: x.dtype,
			batched: pl.p.batched && len(n.Out[0].Shape) == 4}
		return nil
	}
	return unsupported(n, "no kernel for this op")
}
