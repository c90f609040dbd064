package gpu

import (
	"slices"

	"roadlog/detect/model"
)

// emitConv emits a convolution or depthwise convolution with its bias, residual,
// activation and, when a squeeze-excitation was fused into it, its input scale.
func (pl *planner) emitConv(n *model.Node, op rlOp) error {
	var x, s *tview
	if grp := pl.scaled[n.In[0]]; grp != nil {
		x, s = pl.p.views[grp.x], grp.scale
		op.Flags |= opfScale
	} else {
		var err error
		if x, err = pl.view(n, n.In[0]); err != nil {
			return err
		}
	}
	op.Kind = opConv
	if n.Op == model.OpDepthwiseConv {
		op.Kind = opDW
		op.Mult = int32(n.In[1].Shape[3])
	}
	op.setWindow(n.Conv)
	out := n.Out[0]
	var z *tview
	if len(n.In) > 3 && n.In[3] != nil {
		var err error
		if z, err = pl.view(n, n.In[3]); err != nil {
			return err
		}
		op.Flags |= opfResidual
	}
	var y *tview
	if pl.outs[out] && len(pl.cons[out]) == 0 && pl.slices[out] == nil {
		// a graph output nothing else reads: written as float32 straight from the accumulators
		y = pl.newView(out, rlF32, true)
	} else {
		y = pl.outView(out)
	}
	pl.add(n, op, x, z, s, y, n.In[1].Const.Float32s(), bias(n, out.Shape[3]))
	return nil
}

// setWindow copies a convolution's or pool's kernel, strides, dilations and pads.
func (op *rlOp) setWindow(c model.ConvParams) {
	op.KH, op.KW = int32(c.KH), int32(c.KW)
	op.SH, op.SW = int32(max(c.StrideH, 1)), int32(max(c.StrideW, 1))
	op.DH, op.DW = int32(max(c.DilationH, 1)), int32(max(c.DilationW, 1))
	op.PadT, op.PadL, op.PadB, op.PadR = int32(c.Pads[0]), int32(c.Pads[1]), int32(c.Pads[2]), int32(c.Pads[3])
}

// bias returns node n's constant bias (its third input), or c zeros when it has none.
func bias(n *model.Node, c int) []float32 {
	if len(n.In) > 2 && n.In[2] != nil {
		return n.In[2].Const.Float32s()
	}
	return make([]float32, c)
}

// broadcast returns t viewed with dims d, reading broadcast dimensions with stride 0.
func broadcast(t *tview, d [4]int32) *tview {
	b := *t
	for i := range d {
		if t.dims[i] != d[i] {
			b.strides[i] = 0
		}
	}
	b.dims = d
	return &b
}

// emitBinary emits an elementwise binary op with broadcasting, or a squeeze-excitation
// product that no consumer could take.
func (pl *planner) emitBinary(n *model.Node, op rlOp) error {
	out := n.Out[0]
	if grp := pl.seOut[out]; grp != nil {
		op.Kind = opScale
		pl.add(n, op, pl.p.views[grp.x], nil, grp.scale, pl.outView(out))
		return nil
	}
	a, b := n.In[0], n.In[1]
	if a.IsConst() { // commutative (check refused Sub and Div)
		a, b = b, a
	}
	d, _ := dims4(out.Shape)
	x, err := pl.view(n, a)
	if err != nil {
		return err
	}
	op.Kind = opBinary
	op.Sub = map[model.Op]int32{model.OpAdd: binAdd, model.OpSub: binSub, model.OpMul: binMul, model.OpDiv: binDiv,
		model.OpMaximum: binMax, model.OpMinimum: binMin}[n.Op]
	var z *tview
	var w []float32
	if b.IsConst() {
		bd, _ := dims4(b.Shape)
		z = broadcast(&tview{dims: bd, strides: denseStrides(bd), dtype: rlF32}, d)
		w = b.Const.Float32s()
		op.Flags |= opfConstZ
	} else if z, err = pl.view(n, b); err != nil {
		return err
	} else {
		z = broadcast(z, d)
	}
	pl.add(n, op, broadcast(x, d), z, nil, pl.outView(out), w)
	return nil
}

// emitSE emits a squeeze-excitation block as one op computing the per-image channel
// scale [N][C] (float32).
func (pl *planner) emitSE(n *model.Node, grp *seGroup, x *tview) error {
	f1, f2 := grp.fc1, grp.fc2
	c := int32(x.dims[3])
	hidden := int32(f1.Out[0].Shape[3])
	op := rlOp{Kind: opSE, Act: int32(f1.Act), Alpha: f1.Alpha, Beta: f1.Beta, Act2: int32(f2.Act), Alpha2: f2.Alpha,
		Beta2: f2.Beta, Hidden: hidden, Scratch: -1}
	d := [4]int32{x.dims[0], 1, 1, c}
	sc := &tview{dims: d, strides: denseStrides(d), dtype: rlF32, batched: x.batched}
	sc.b = pl.newBuf(sc.elems() * 4)
	grp.scale = sc
	p := pl.add(n, op, x, nil, nil, sc, f1.In[1].Const.Float32s(), bias(f1, int(hidden)), f2.In[1].Const.Float32s(), bias(f2, int(c)))
	p.scratch = pl.newBuf(int64(d[0]) * int64(c+hidden) * 4) // channel sums (zeroed after use), then the hidden layer
	p.scratch.pinned = true
	return nil
}

// emitOutputs makes every graph output a dense float32 tensor, casting where needed.
func (pl *planner) emitOutputs() error {
	for _, v := range pl.g.Outputs {
		t := pl.p.views[v]
		if t == nil {
			return &model.UnsupportedOpError{Op: "output", Node: v.Name, Detail: "GPU engine: the output is not computed on the device"}
		}
		if t.dtype == rlF32 && t.dense() && !slices.Contains(pl.p.outputs, t) {
			t.b.pinned = true
			pl.p.outputs = append(pl.p.outputs, t)
			pl.p.outShapes = append(pl.p.outShapes, v.Shape.Clone())
			continue
		}
		o := &tview{dims: t.dims, strides: denseStrides(t.dims), dtype: rlF32, batched: t.batched}
		o.b = pl.newBuf(o.elems() * 4)
		o.b.pinned = true
		pl.p.ops = append(pl.p.ops, &pop{op: rlOp{Kind: opCopy, Scratch: -1}, name: v.Name + " (output)", x: t, y: o})
		pl.p.outputs = append(pl.p.outputs, o)
		pl.p.outShapes = append(pl.p.outShapes, v.Shape.Clone())
		pl.p.stats.OutputCasts++
	}
	return nil
}

// arenaAlign is the alignment of every buffer in the arena (bytes).
const arenaAlign = 256

// place gives every buffer an arena offset: buffers whose lifetimes (first op writing
// to last op reading) do not overlap share memory, largest first.
func (pl *planner) place() {
	end := len(pl.p.ops)
	touch := func(b *buf, i int) {
		if b != nil {
			b.def, b.last = min(b.def, i), max(b.last, i)
		}
	}
	for i, p := range pl.p.ops {
		for _, t := range []*tview{p.x, p.z, p.s, p.y} {
			if t != nil {
				touch(t.b, i)
			}
		}
		touch(p.scratch, i)
	}
	var live []*buf
	for _, b := range pl.bufs {
		if b.pinned {
			b.def, b.last = -1, end
		}
		if b.def <= b.last {
			live = append(live, b)
		}
	}
	slices.SortStableFunc(live, func(a, b *buf) int {
		switch {
		case a.bytes != b.bytes:
			if a.bytes > b.bytes {
				return -1
			}
			return 1
		}
		return a.def - b.def
	})
	var placed []*buf
	var total int64
	for _, b := range live {
		size := (b.bytes + arenaAlign - 1) &^ (arenaAlign - 1)
		off := int64(0)
		for moved := true; moved; {
			moved = false
			for _, p := range placed {
				if p.def > b.last || b.def > p.last {
					continue
				}
				psize := (p.bytes + arenaAlign - 1) &^ (arenaAlign - 1)
				if off < p.offset+psize && p.offset < off+size {
					off = p.offset + psize
					moved = true
				}
			}
		}
		b.offset = off
		placed = append(placed, b)
		total = max(total, off+size)
	}
	pl.p.arena = total + arenaAlign
	for _, p := range pl.p.ops {
		p.op.X, p.op.Z, p.op.S, p.op.Y = p.x.tensor(), p.z.tensor(), p.s.tensor(), p.y.tensor()
		p.op.Scratch = -1
		if p.scratch != nil {
			p.op.Scratch = p.scratch.offset
		}
	}
}
