package cpu

import (
	"unsafe"

	"roadlog/detect/model"
)

// dwStep is OpDepthwiseConv with channel multiplier 1: the kernel runs whole 8-channel
// blocks over each output row (interior pixels in one call, border pixels one by one with
// their own tap lists); channels beyond the last full block are done in Go. Work is
// split by output rows.
type dwStep struct {
	x, out, z   []float32
	w, bias     []float32 // weights [KH][KW][C]
	n, h, wd    int
	c           int
	oh, ow      int
	p           model.ConvParams
	c8          int // channels in whole 8-blocks
	act         model.Activation
	alpha, beta float32
	ep          epilogue
	post        bool
	taps        [][]([2]int64) // per worker
	args        []dwArgs       // per worker
	kern        *kernelSet
	rowsPerTask int
}

func newDWStep(e *Engine, n *model.Node) *dwStep {
	xs, os := n.In[0].Shape, n.Out[0].Shape
	s := &dwStep{
		x: e.views[n.In[0]].F32, out: e.views[n.Out[0]].F32,
		w: n.In[1].Const.Float32s(), bias: n.In[2].Const.Float32s(),
		n: xs[0], h: xs[1], wd: xs[2], c: xs[3], oh: os[1], ow: os[2], p: n.Conv,
		act: n.Act, alpha: n.Alpha, beta: n.Beta, kern: &e.kern,
	}
	if len(n.In) > 3 {
		s.z = e.views[n.In[3]].F32
	}
	s.c8 = s.c / 8 * 8
	if s.z != nil {
		s.ep, _ = newEpilogue(model.ActNone, 0, 0)
		s.post = true
	} else {
		s.ep, s.post = newEpilogue(s.act, s.alpha, s.beta)
	}
	for t := 0; t < e.threads; t++ {
		s.taps = append(s.taps, make([][2]int64, s.p.KH*s.p.KW))
		s.args = append(s.args, dwArgs{})
	}
	rows := s.n * s.oh
	s.rowsPerTask = max(1, rows/(8*e.threads))
	return s
}

func (s *dwStep) run(e *Engine) error {
	rows := s.n * s.oh
	e.pool.run(s, (rows+s.rowsPerTask-1)/s.rowsPerTask)
	return nil
}

func (s *dwStep) do(wk, i int) {
	r0 := i * s.rowsPerTask
	r1 := min(r0+s.rowsPerTask, s.n*s.oh)
	for r := r0; r < r1; r++ {
		s.row(wk, r/s.oh, r%s.oh)
	}
}

// row computes output row oy of image b.
func (s *dwStep) row(wk, b, oy int) {
	p := &s.p
	c := s.c
	iy0 := oy*p.StrideH - p.Pads[0]
	ky0, ky1 := validTaps(iy0, p.DilationH, p.KH, s.h)
	// interior columns: every horizontal tap inside
	ox0 := ceilDiv(p.Pads[1], p.StrideW)
	ox1 := (s.wd-1-(p.KW-1)*p.DilationW+p.Pads[1])/p.StrideW + 1
	if s.wd-1-(p.KW-1)*p.DilationW+p.Pads[1] < 0 {
		ox1 = 0
	}
	ox0, ox1 = min(max(ox0, 0), s.ow), min(max(ox1, 0), s.ow)
	if ox1 < ox0 {
		ox1 = ox0
	}
	orow := s.out[(b*s.oh+oy)*s.ow*c : (b*s.oh+oy+1)*s.ow*c]
	if s.c8 > 0 && ky1 > ky0 {
		if ox1 > ox0 {
			s.call(wk, b, iy0, ky0, ky1, ox0, ox1, 0, p.KW, orow)
		}
		for ox := 0; ox < s.ow; ox++ {
			if ox >= ox0 && ox < ox1 {
				continue
			}
			ix0 := ox*p.StrideW - p.Pads[1]
			kx0, kx1 := validTaps(ix0, p.DilationW, p.KW, s.wd)
			if kx1 > kx0 {
				s.call(wk, b, iy0, ky0, ky1, ox, ox+1, kx0, kx1, orow)
			}
		}
	}
	// pixels with no tap inside and channels past the last 8-block, in Go
	for ox := 0; ox < s.ow; ox++ {
		ix0 := ox*p.StrideW - p.Pads[1]
		kx0, kx1 := validTaps(ix0, p.DilationW, p.KW, s.wd)
		cs := s.c8
		if ky1 <= ky0 || kx1 <= kx0 {
			cs = 0
		}
		if cs == c {
			continue
		}
		o := orow[ox*c : ox*c+c]
		for ch := cs; ch < c; ch++ {
			acc := s.bias[ch]
			for ky := ky0; ky < ky1; ky++ {
				iy := iy0 + ky*p.DilationH
				for kx := kx0; kx < kx1; kx++ {
					ix := ix0 + kx*p.DilationW
					acc += s.x[((b*s.h+iy)*s.wd+ix)*c+ch] * s.w[(ky*p.KW+kx)*c+ch]
				}
			}
			o[ch] = s.ep.apply(acc)
		}
	}
	if s.post {
		if s.z != nil {
			z := s.z[(b*s.oh+oy)*s.ow*c:][:len(orow)]
			for j := range orow {
				orow[j] += z[j]
			}
		}
		applyAct(orow, s.act, s.alpha, s.beta)
	}
}

// call runs the kernel over output pixels ox0..ox1 of the row with taps ky0..ky1 × kx0..kx1.
func (s *dwStep) call(wk, b, iy0, ky0, ky1, ox0, ox1, kx0, kx1 int, orow []float32) {
	p := &s.p
	c := s.c
	taps := s.taps[wk][:0]
	ix0 := ox0*p.StrideW - p.Pads[1]
	first := ((b*s.h+iy0+ky0*p.DilationH)*s.wd + ix0 + kx0*p.DilationW) * c
	for ky := ky0; ky < ky1; ky++ {
		for kx := kx0; kx < kx1; kx++ {
			at := ((b*s.h+iy0+ky*p.DilationH)*s.wd + ix0 + kx*p.DilationW) * c
			taps = append(taps, [2]int64{int64(4 * (at - first)), int64(4 * (ky*p.KW + kx) * c)})
		}
	}
	a := &s.args[wk]
	a.in = unsafe.Pointer(&s.x[first])
	a.w = unsafe.Pointer(&s.w[0])
	a.bias = unsafe.Pointer(&s.bias[0])
	a.out = unsafe.Pointer(&orow[ox0*c])
	a.npix = ox1 - ox0
	a.cbytes = s.c8 * 4
	a.taps = unsafe.Pointer(&taps[0])
	a.tapsEnd = uintptr(a.taps) + uintptr(16*len(taps))
	a.ntaps = len(taps)
	a.inPix = p.StrideW * c * 4
	a.outPix = c * 4
	a.ep = s.ep
	if s.kern.dw16 == nil {
		s.kern.dw(a)
		return
	}
	c16 := s.c8 / 16 * 16
	if c16 > 0 {
		a.cbytes = c16 * 4
		s.kern.dw16(a)
	}
	if c16 < s.c8 { // one more 8-channel block
		a.in = unsafe.Add(a.in, c16*4)
		a.w = unsafe.Add(a.w, c16*4)
		a.bias = unsafe.Add(a.bias, c16*4)
		a.out = unsafe.Add(a.out, c16*4)
		a.cbytes = 32
		s.kern.dw(a)
	}
}

// validTaps returns the taps k0..k1 of a window starting at i0 (dilation d, k taps)
// that fall inside 0..size-1.
func validTaps(i0, d, k, size int) (k0, k1 int) {
	k0 = 0
	if i0 < 0 {
		k0 = ceilDiv(-i0, d)
	}
	k1 = k
	if last := i0 + (k-1)*d; last >= size {
		k1 = k - ceilDiv(last-size+1, d)
	}
	if k1 < k0 {
		k1 = k0
	}
	return k0, k1
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
