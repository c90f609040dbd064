package cpu

import (
	"roadlog/detect/model"
)

// panel is a block of up to 32, 16 or 8 output channels of packed weights: w[k*nr+j] is
// B[k][col0+j], zero beyond width.
type panel struct {
	w     []float32
	bias  []float32 // nr entries
	nr    int       // 32, 16 or 8
	col0  int       // first output channel
	width int       // valid channels
	group int
}

// convStep is OpConv (and OpMatMul) as GEMM: rows are output pixels, columns output
// channels, K = KH·KW·Cin/groups. Work is split into tiles of rows × groups of panels.
type convStep struct {
	x, out, z   []float32
	n, h, w, c  int
	oh, ow, oc  int
	p           model.ConvParams
	groups      int
	cinG, coutG int
	k           int
	im2col      bool // KxK or padded: gather A rows into scratch
	direct      bool // A row m is input pixel m (1x1, stride 1)
	panels      []panel
	act         model.Activation
	alpha, beta float32
	ep          epilogue
	post        bool // activation or residual applied after the kernel
	m           int  // rows = N·OH·OW
	mt          int  // rows per tile
	tiles       int
	pgroup      int // panels per task
	pgroups     int
	scratch     [][]float32     // per worker: im2col rows
	edge        [][]float32     // per worker: 6×32 block for partial tiles
	rows        [][][6]*float32 // per worker: A row addresses of each 6-row group of a tile
	kern        *kernelSet
}

const tileRows = 72 // rows per GEMM tile (a multiple of 6)

func newConvStep(e *Engine, n *model.Node) *convStep {
	x, out := e.views[n.In[0]], e.views[n.Out[0]]
	s := &convStep{x: x.F32, out: out.F32, kern: &e.kern, act: n.Act, alpha: n.Alpha, beta: n.Beta}
	if n.Op == model.OpMatMul {
		// [..., M, K] · [K, N]: a 1×1 convolution over M pixels
		k, nn := n.In[1].Shape[0], n.In[1].Shape[1]
		m := n.In[0].Shape.Size() / k
		s.n, s.h, s.w, s.c = 1, 1, m, k
		s.oh, s.ow, s.oc = 1, m, nn
		s.p = model.ConvParams{KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 1}
	} else {
		xs, os := n.In[0].Shape, n.Out[0].Shape
		s.n, s.h, s.w, s.c = xs[0], xs[1], xs[2], xs[3]
		s.oh, s.ow, s.oc = os[1], os[2], os[3]
		s.p = n.Conv
	}
	if len(n.In) > 3 {
		s.z = e.views[n.In[3]].F32
	}
	s.groups = max(s.p.Groups, 1)
	s.cinG, s.coutG = s.c/s.groups, s.oc/s.groups
	s.k = s.p.KH * s.p.KW * s.cinG
	p := s.p
	one := p.KH == 1 && p.KW == 1 && p.Pads == [4]int{}
	s.direct = one && p.StrideH == 1 && p.StrideW == 1
	s.im2col = !one
	if s.z != nil {
		// the residual is added before the activation: the kernel only sums
		s.ep, _ = newEpilogue(model.ActNone, 0, 0)
		s.post = true
	} else {
		s.ep, s.post = newEpilogue(s.act, s.alpha, s.beta)
	}
	// pack weights [KH,KW,Cin/G,Cout] → per group panels of 16 (tail 8) columns
	w := n.In[1].Const.Float32s()
	var bias []float32
	if len(n.In) > 2 {
		bias = n.In[2].Const.Float32s()
	}
	for g := 0; g < s.groups; g++ {
		for c0 := 0; c0 < s.coutG; {
			width := min(16, s.coutG-c0)
			nr := 16
			switch {
			case e.kern.gemm32 != nil && s.coutG-c0 >= 32:
				width, nr = 32, 32
			case width <= 8:
				nr = 8
			}
			pn := panel{w: make([]float32, s.k*nr), bias: make([]float32, nr), nr: nr, col0: g*s.coutG + c0, width: width, group: g}
			for kk := 0; kk < s.k; kk++ {
				for j := 0; j < width; j++ {
					pn.w[kk*nr+j] = w[kk*s.oc+pn.col0+j]
				}
			}
			if bias != nil {
				copy(pn.bias, bias[pn.col0:pn.col0+width])
			}
			s.panels = append(s.panels, pn)
			c0 += width
		}
	}
	s.m = s.n * s.oh * s.ow
	s.mt = min(tileRows, (s.m+5)/6*6)
	s.tiles = (s.m + s.mt - 1) / s.mt
	s.pgroup = len(s.panels)
	for s.groups == 1 && s.pgroup > 1 && s.tiles*((len(s.panels)+s.pgroup-1)/s.pgroup) < 4*e.threads {
		s.pgroup = (s.pgroup + 1) / 2
	}
	s.pgroups = (len(s.panels) + s.pgroup - 1) / s.pgroup
	for t := 0; t < e.threads; t++ {
		if s.im2col {
			s.scratch = append(s.scratch, make([]float32, s.mt*s.k+16))
		}
		s.edge = append(s.edge, make([]float32, 6*32))
		s.rows = append(s.rows, make([][6]*float32, s.mt/6+1))
	}
	return s
}

func (s *convStep) run(e *Engine) error {
	e.pool.run(s, s.tiles*s.pgroups)
	return nil
}

// do computes tile i/pgroups for panel group i%pgroups.
func (s *convStep) do(wk, i int) {
	tile, pg := i/s.pgroups, i%s.pgroups
	r0 := tile * s.mt
	r1 := min(r0+s.mt, s.m)
	p0 := pg * s.pgroup
	p1 := min(p0+s.pgroup, len(s.panels))
	group := -1
	ptrs := s.rows[wk]
	edge := s.edge[wk]
	for pi := p0; pi < p1; pi++ {
		pn := &s.panels[pi]
		if pn.group != group {
			group = pn.group
			if s.im2col {
				s.gather(s.scratch[wk], r0, r1, group)
			}
			for r := r0; r < r1; r += 6 {
				rows := min(6, r1-r)
				a := &ptrs[(r-r0)/6]
				for j := 0; j < 6; j++ {
					a[j] = s.rowPtr(wk, r0, r+min(j, rows-1), group)
				}
			}
		}
		gemm := s.kern.gemm16
		switch pn.nr {
		case 8:
			gemm = s.kern.gemm8
		case 32:
			gemm = s.kern.gemm32
		}
		for r := r0; r < r1; r += 6 {
			rows := min(6, r1-r)
			a := &ptrs[(r-r0)/6]
			if rows == 6 && pn.width == pn.nr {
				gemm(s.k, a, &pn.w[0], &s.out[r*s.oc+pn.col0], s.oc*4, &pn.bias[0], &s.ep)
				continue
			}
			gemm(s.k, a, &pn.w[0], &edge[0], pn.nr*4, &pn.bias[0], &s.ep)
			for j := 0; j < rows; j++ {
				copy(s.out[(r+j)*s.oc+pn.col0:][:pn.width], edge[j*pn.nr:][:pn.width])
			}
		}
	}
	if s.post {
		c0 := s.panels[p0].col0
		last := &s.panels[p1-1]
		c1 := last.col0 + last.width
		if s.groups > 1 {
			c0, c1 = 0, s.oc // one task covers every panel of its rows
		}
		for r := r0; r < r1; r++ {
			seg := s.out[r*s.oc+c0 : r*s.oc+c1]
			if s.z != nil {
				z := s.z[r*s.oc+c0 : r*s.oc+c1]
				for j := range seg {
					seg[j] += z[j]
				}
			}
			applyAct(seg, s.act, s.alpha, s.beta)
		}
	}
}

// rowPtr returns the address of A's row m (for group g).
func (s *convStep) rowPtr(wk, r0, m, g int) *float32 {
	if s.im2col {
		return &s.scratch[wk][(m-r0)*s.k]
	}
	if s.direct {
		return &s.x[m*s.c+g*s.cinG]
	}
	// 1×1 with stride
	b := m / (s.oh * s.ow)
	rem := m % (s.oh * s.ow)
	oy, ox := rem/s.ow, rem%s.ow
	return &s.x[((b*s.h+oy*s.p.StrideH)*s.w+ox*s.p.StrideW)*s.c+g*s.cinG]
}

// gather writes the im2col rows r0..r1 of group g into buf: row m holds, for every tap
// (ky, kx) in order, the group's input channels (zeros where the tap is padding).
func (s *convStep) gather(buf []float32, r0, r1, g int) {
	p := s.p
	for m := r0; m < r1; m++ {
		b := m / (s.oh * s.ow)
		rem := m % (s.oh * s.ow)
		oy, ox := rem/s.ow, rem%s.ow
		row := buf[(m-r0)*s.k : (m-r0+1)*s.k]
		k := 0
		for ky := 0; ky < p.KH; ky++ {
			iy := oy*p.StrideH - p.Pads[0] + ky*p.DilationH
			for kx := 0; kx < p.KW; kx++ {
				ix := ox*p.StrideW - p.Pads[1] + kx*p.DilationW
				dst := row[k : k+s.cinG]
				k += s.cinG
				if iy < 0 || iy >= s.h || ix < 0 || ix >= s.w {
					clear(dst)
					continue
				}
				copy(dst, s.x[((b*s.h+iy)*s.w+ix)*s.c+g*s.cinG:])
			}
		}
	}
}

// applyAct applies an activation to x in place.
func applyAct(x []float32, act model.Activation, alpha, beta float32) {
	switch act {
	case model.ActNone:
	case model.ActRelu:
		for i, v := range x {
			x[i] = max(v, 0)
		}
	case model.ActRelu6:
		for i, v := range x {
			x[i] = min(max(v, 0), 6)
		}
	case model.ActClip:
		for i, v := range x {
			x[i] = min(max(v, alpha), beta)
		}
	case model.ActHardSwish:
		for i, v := range x {
			x[i] = v * min(max(v+3, 0), 6) * alpha
		}
	case model.ActHardSigmoid:
		for i, v := range x {
			x[i] = min(max(v+3, 0), 6) * alpha
		}
	case model.ActSigmoid:
		for i, v := range x {
			x[i] = sigmoidf(v)
		}
	case model.ActSiLU:
		for i, v := range x {
			x[i] = v * sigmoidf(v)
		}
	default:
		for i, v := range x {
			x[i] = act.Apply(v, alpha, beta)
		}
	}
}
