package cpu

import (
	"roadlog/detect/model"
)

const chunk = 1 << 14 // elements per task of elementwise work

// actStep is a standalone activation.
type actStep struct {
	x, out      []float32
	act         model.Activation
	alpha, beta float32
}

func newActStep(e *Engine, n *model.Node) step {
	if n.In[0].DType != model.Float32 || n.In[0].IsConst() {
		return nil
	}
	return &actStep{x: e.views[n.In[0]].F32, out: e.views[n.Out[0]].F32, act: n.Act, alpha: n.Alpha, beta: n.Beta}
}

func (s *actStep) run(e *Engine) error {
	e.pool.run(s, (len(s.out)+chunk-1)/chunk)
	return nil
}

func (s *actStep) do(_, i int) {
	lo, hi := i*chunk, min((i+1)*chunk, len(s.out))
	o := s.out[lo:hi]
	copy(o, s.x[lo:hi])
	applyAct(o, s.act, s.alpha, s.beta)
}

// broadcast kinds of binaryStep
const (
	bcSame    = 1 // b has a's shape
	bcScalar  = 2 // b is one value
	bcChannel = 3 // b varies along the last axis only
	bcImage   = 4 // a [N,H,W,C], b [N,1,1,C]: per image and channel (squeeze-excitation)
)

// binaryStep is a float elementwise op whose second operand broadcasts in one of the
// common ways; other cases go to the reference kernel.
type binaryStep struct {
	a, b, out   []float32
	op          model.Op
	kind        int
	c, hw       int // channels; pixels per image (bcImage)
	act         model.Activation
	alpha, beta float32
}

func newBinaryStep(e *Engine, n *model.Node) step {
	va, vb := n.In[0], n.In[1]
	if va.DType != model.Float32 || !n.Out[0].Shape.Equal(va.Shape) && !n.Out[0].Shape.Equal(vb.Shape) {
		return nil
	}
	commutative := n.Op == model.OpAdd || n.Op == model.OpMul || n.Op == model.OpMaximum || n.Op == model.OpMinimum
	if !n.Out[0].Shape.Equal(va.Shape) {
		if !commutative {
			return nil
		}
		va, vb = vb, va
	}
	s := &binaryStep{op: n.Op, act: n.Act, alpha: n.Alpha, beta: n.Beta, out: e.views[n.Out[0]].F32}
	data := func(v *model.Value) []float32 {
		if v.IsConst() {
			return v.Const.Float32s()
		}
		return e.views[v].F32
	}
	if va.IsConst() {
		return nil
	}
	s.a, s.b = data(va), data(vb)
	as, bs := va.Shape, vb.Shape
	switch {
	case as.Equal(bs):
		s.kind = bcSame
	case bs.Size() == 1:
		s.kind = bcScalar
	case len(as) > 0 && bs.Size() == as[len(as)-1] && (len(bs) == 0 || bs[len(bs)-1] == as[len(as)-1]):
		s.kind, s.c = bcChannel, as[len(as)-1]
	case len(as) == 4 && len(bs) == 4 && bs[0] == as[0] && bs[1] == 1 && bs[2] == 1 && bs[3] == as[3]:
		s.kind, s.c, s.hw = bcImage, as[3], as[1]*as[2]
	default:
		return nil
	}
	return s
}

func (s *binaryStep) run(e *Engine) error {
	e.pool.run(s, (len(s.out)+chunk-1)/chunk)
	return nil
}

func (s *binaryStep) do(_, i int) {
	lo, hi := i*chunk, min((i+1)*chunk, len(s.out))
	o, a := s.out[lo:hi], s.a[lo:hi]
	switch s.kind {
	case bcSame:
		binVec(s.op, o, a, s.b[lo:hi])
	case bcScalar:
		binScalar(s.op, o, a, s.b[0])
	case bcChannel, bcImage:
		// walk whole channel rows; lo is a multiple of chunk, not of c
		for p := lo; p < hi; {
			c0 := p % s.c
			n := min(s.c-c0, hi-p)
			bo := c0
			if s.kind == bcImage {
				bo = (p/(s.c*s.hw))*s.c + c0
			}
			binVec(s.op, s.out[p:p+n], s.a[p:p+n], s.b[bo:bo+n])
			p += n
		}
	}
	applyAct(o, s.act, s.alpha, s.beta)
}

func binVec(op model.Op, o, a, b []float32) {
	b = b[:len(o)]
	a = a[:len(o)]
	switch op {
	case model.OpAdd:
		for i := range o {
			o[i] = a[i] + b[i]
		}
	case model.OpSub:
		for i := range o {
			o[i] = a[i] - b[i]
		}
	case model.OpMul:
		for i := range o {
			o[i] = a[i] * b[i]
		}
	case model.OpDiv:
		for i := range o {
			o[i] = a[i] / b[i]
		}
	case model.OpMaximum:
		for i := range o {
			o[i] = max(a[i], b[i])
		}
	case model.OpMinimum:
		for i := range o {
			o[i] = min(a[i], b[i])
		}
	}
}

func binScalar(op model.Op, o, a []float32, b float32) {
	a = a[:len(o)]
	switch op {
	case model.OpAdd:
		for i := range o {
			o[i] = a[i] + b
		}
	case model.OpSub:
		for i := range o {
			o[i] = a[i] - b
		}
	case model.OpMul:
		for i := range o {
			o[i] = a[i] * b
		}
	case model.OpDiv:
		for i := range o {
			o[i] = a[i] / b
		}
	case model.OpMaximum:
		for i := range o {
			o[i] = max(a[i], b)
		}
	case model.OpMinimum:
		for i := range o {
			o[i] = min(a[i], b)
		}
	}
}

// meanStep is a mean over the pixels of NHWC images (axes 1 and 2), accumulated in
// float64 per task and reduced at the end.
type meanStep struct {
	x, out   []float32
	n, hw, c int
	tasks    int
	part     [][]float64 // per task and image: channel sums
}

func newMeanStep(e *Engine, n *model.Node) step {
	xs := n.In[0].Shape
	if len(xs) != 4 || len(n.Axes) != 2 || n.Axes[0] != 1 || n.Axes[1] != 2 || n.In[0].IsConst() {
		return nil
	}
	s := &meanStep{x: e.views[n.In[0]].F32, out: e.views[n.Out[0]].F32, n: xs[0], hw: xs[1] * xs[2], c: xs[3]}
	s.tasks = max(1, min(e.threads*2, s.hw/64))
	for t := 0; t < s.tasks; t++ {
		s.part = append(s.part, make([]float64, s.n*s.c))
	}
	return s
}

func (s *meanStep) run(e *Engine) error {
	e.pool.run(s, s.tasks)
	inv := 1 / float64(s.hw)
	for i := range s.out {
		var sum float64
		for t := range s.part {
			sum += s.part[t][i]
		}
		s.out[i] = float32(sum * inv)
	}
	return nil
}

func (s *meanStep) do(_, t int) {
	acc := s.part[t]
	clear(acc)
	p0, p1 := t*s.hw/s.tasks, (t+1)*s.hw/s.tasks
	for b := 0; b < s.n; b++ {
		a := acc[b*s.c : (b+1)*s.c]
		for p := p0; p < p1; p++ {
			row := s.x[(b*s.hw+p)*s.c:][:len(a)]
			for ch, v := range row {
				a[ch] += float64(v)
			}
		}
	}
}

// resizeStep is OpResize on NHWC with the source coordinates of every output row and
// column computed at build time.
type resizeStep struct {
	x, out      []float32
	n, h, w, c  int
	oh, ow      int
	bilinear    bool
	y0, y1      []int
	fy          []float32
	x0, x1      []int
	fx          []float32
	rowsPerTask int
}

func newResizeStep(e *Engine, n *model.Node) step {
	xs, os := n.In[0].Shape, n.Out[0].Shape
	r := n.Resize
	s := &resizeStep{x: e.views[n.In[0]].F32, out: e.views[n.Out[0]].F32,
		n: xs[0], h: xs[1], w: xs[2], c: xs[3], oh: os[1], ow: os[2], bilinear: r.Mode == model.ResizeBilinear}
	axis := func(size, osize int, ratio float64) (i0, i1 []int, f []float32) {
		for o := 0; o < osize; o++ {
			x := model.ResizeCoord(r.Coord, o, size, osize, ratio)
			if s.bilinear {
				a, b, fr := model.BilinearTaps(x, size)
				i0, i1, f = append(i0, a), append(i1, b), append(f, float32(fr))
			} else {
				a := model.NearestIndex(r.Nearest, x, size)
				i0, i1, f = append(i0, a), append(i1, a), append(f, 0)
			}
		}
		return i0, i1, f
	}
	s.y0, s.y1, s.fy = axis(s.h, s.oh, r.RatioH)
	s.x0, s.x1, s.fx = axis(s.w, s.ow, r.RatioW)
	s.rowsPerTask = max(1, s.n*s.oh/(4*e.threads))
	return s
}

func (s *resizeStep) run(e *Engine) error {
	rows := s.n * s.oh
	e.pool.run(s, (rows+s.rowsPerTask-1)/s.rowsPerTask)
	return nil
}

func (s *resizeStep) do(_, i int) {
	c := s.c
	for r := i * s.rowsPerTask; r < min((i+1)*s.rowsPerTask, s.n*s.oh); r++ {
		b, oy := r/s.oh, r%s.oh
		top := s.x[(b*s.h+s.y0[oy])*s.w*c:][:s.w*c]
		bot := s.x[(b*s.h+s.y1[oy])*s.w*c:][:s.w*c]
		fy := s.fy[oy]
		orow := s.out[r*s.ow*c:][:s.ow*c]
		for ox := 0; ox < s.ow; ox++ {
			o := orow[ox*c : ox*c+c]
			x0, x1 := s.x0[ox]*c, s.x1[ox]*c
			if !s.bilinear {
				copy(o, top[x0:x0+c])
				continue
			}
			fx := s.fx[ox]
			tl, tr := top[x0:x0+c], top[x1:x1+c]
			bl, br := bot[x0:x0+c], bot[x1:x1+c]
			for ch := range o {
				t := tl[ch] + (tr[ch]-tl[ch])*fx
				u := bl[ch] + (br[ch]-bl[ch])*fx
				o[ch] = t + (u-t)*fy
			}
		}
	}
}

// poolStep is OpMaxPool/OpAvgPool on NHWC, a channel vector at a time.
type poolStep struct {
	x, out      []float32
	n, h, w, c  int
	oh, ow      int
	p           model.ConvParams
	isMax       bool
	rowsPerTask int
}

func newPoolStep(e *Engine, n *model.Node) step {
	xs, os := n.In[0].Shape, n.Out[0].Shape
	if n.In[0].IsConst() {
		return nil
	}
	s := &poolStep{x: e.views[n.In[0]].F32, out: e.views[n.Out[0]].F32, n: xs[0], h: xs[1], w: xs[2], c: xs[3],
		oh: os[1], ow: os[2], p: n.Conv, isMax: n.Op == model.OpMaxPool}
	s.rowsPerTask = max(1, s.n*s.oh/(4*e.threads))
	return s
}

func (s *poolStep) run(e *Engine) error {
	rows := s.n * s.oh
	e.pool.run(s, (rows+s.rowsPerTask-1)/s.rowsPerTask)
	return nil
}

func (s *poolStep) do(_, i int) {
	p, c := &s.p, s.c
	for r := i * s.rowsPerTask; r < min((i+1)*s.rowsPerTask, s.n*s.oh); r++ {
		b, oy := r/s.oh, r%s.oh
		iy0 := oy*p.StrideH - p.Pads[0]
		ky0, ky1 := validTaps(iy0, p.DilationH, p.KH, s.h)
		for ox := 0; ox < s.ow; ox++ {
			ix0 := ox*p.StrideW - p.Pads[1]
			kx0, kx1 := validTaps(ix0, p.DilationW, p.KW, s.w)
			o := s.out[(r*s.ow+ox)*c:][:c]
			first := true
			for ky := ky0; ky < ky1; ky++ {
				for kx := kx0; kx < kx1; kx++ {
					in := s.x[((b*s.h+iy0+ky*p.DilationH)*s.w+ix0+kx*p.DilationW)*c:][:c]
					switch {
					case first:
						copy(o, in)
						first = false
					case s.isMax:
						for j, v := range in {
							o[j] = max(o[j], v)
						}
					default:
						for j, v := range in {
							o[j] += v
						}
					}
				}
			}
			if first { // window entirely in the padding
				clear(o)
				continue
			}
			if !s.isMax {
				cnt := (ky1 - ky0) * (kx1 - kx0)
				if p.CountIncludePad {
					cnt = countWithPad(iy0, ix0, p, s.h, s.w)
				}
				inv := 1 / float32(cnt)
				for j := range o {
					o[j] *= inv
				}
			}
		}
	}
}

// countWithPad counts window cells inside the input or its padding (ONNX
// count_include_pad), as the reference kernel does.
func countWithPad(iy0, ix0 int, p *model.ConvParams, h, w int) int {
	n := 0
	for ky := 0; ky < p.KH; ky++ {
		iy := iy0 + ky*p.DilationH
		for kx := 0; kx < p.KW; kx++ {
			ix := ix0 + kx*p.DilationW
			if iy < h+p.Pads[2] && ix < w+p.Pads[3] {
				n++
			}
		}
	}
	return n
}

// compareStep is Equal/Greater/Less of two float tensors of one shape (a bool output).
type compareStep struct {
	a, b []float32
	out  []int32
	op   model.Op
}

func newCompareStep(e *Engine, n *model.Node) step {
	a, b := n.In[0], n.In[1]
	if a.DType != model.Float32 || a.IsConst() || b.IsConst() || !a.Shape.Equal(b.Shape) {
		return nil
	}
	return &compareStep{a: e.views[a].F32, b: e.views[b].F32, out: e.views[n.Out[0]].I32, op: n.Op}
}

func (s *compareStep) run(e *Engine) error {
	e.pool.run(s, (len(s.out)+chunk-1)/chunk)
	return nil
}

func (s *compareStep) do(_, i int) {
	lo, hi := i*chunk, min((i+1)*chunk, len(s.out))
	o, a, b := s.out[lo:hi], s.a[lo:hi], s.b[lo:hi]
	for j := range o {
		var r bool
		switch s.op {
		case model.OpEqual:
			r = a[j] == b[j]
		case model.OpGreater:
			r = a[j] > b[j]
		default:
			r = a[j] < b[j]
		}
		o[j] = 0
		if r {
			o[j] = 1
		}
	}
}

// castStep is Cast from int32/bool to float32.
type castStep struct {
	x   []int32
	out []float32
}

func newCastStep(e *Engine, n *model.Node) step {
	if n.In[0].DType == model.Float32 || n.To != model.Float32 || n.In[0].IsConst() {
		return nil
	}
	return &castStep{x: e.views[n.In[0]].I32, out: e.views[n.Out[0]].F32}
}

func (s *castStep) run(e *Engine) error {
	e.pool.run(s, (len(s.out)+chunk-1)/chunk)
	return nil
}

func (s *castStep) do(_, i int) {
	lo, hi := i*chunk, min((i+1)*chunk, len(s.out))
	o, x := s.out[lo:hi], s.x[lo:hi]
	for j, v := range x {
		o[j] = float32(v)
	}
}
