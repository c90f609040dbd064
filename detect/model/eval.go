package model

import (
	"fmt"
	"math"
)

// maxRank is the highest tensor rank the kernels handle.
const maxRank = 8

// Eval computes node n with the straightforward reference kernels of this package:
// in are the node's input tensors (Float32 ones in F32; F16 constants are converted,
// which allocates), out the output tensors with DType, Shape and buffers already sized.
// It is what constant folding uses, what engines may call for ops they do not
// accelerate, and the oracle of engine tests. Apart from converting F16 inputs it does
// not allocate.
func Eval(n *Node, in []*Tensor, out []*Tensor) error {
	if len(out) < len(n.Out) {
		return fmt.Errorf("eval %s: %d output tensors for %d outputs", n.Op, len(out), len(n.Out))
	}
	switch {
	case n.Op.binary():
		return evalBinary(n, in[0], in[1], out[0])
	}
	switch n.Op {
	case OpConv, OpDepthwiseConv:
		return evalConv(n, in, out[0])
	case OpActivation:
		x, o := f32(in[0]), out[0].F32
		for i, v := range x {
			o[i] = n.Act.Apply(v, n.Alpha, n.Beta)
		}
	case OpNeg, OpExp, OpSqrt, OpAbs:
		return evalUnary(n, in[0], out[0])
	case OpMean:
		return evalMean(n, in[0], out[0])
	case OpMaxPool, OpAvgPool:
		return evalPool(n, in[0], out[0])
	case OpConcat:
		return evalConcat(n, in, out[0])
	case OpResize:
		return evalResize(n, in[0], out[0])
	case OpReshape, OpSqueeze, OpExpandDims, OpFlatten:
		copyData(out[0], in[0])
	case OpTranspose:
		return evalTranspose(n.Perm, in[0], out[0])
	case OpPad:
		return evalPad(n, in[0], out[0])
	case OpSlice:
		return evalSlice(n, in[0], out[0])
	case OpCast:
		evalCast(in[0], out[0])
	case OpGather:
		return evalGather(n, in[0], in[1], out[0])
	case OpTopK:
		return evalTopK(n, in[0], out[0], out[1])
	case OpShape:
		for i, d := range in[0].Shape {
			out[0].I32[i] = int32(d)
		}
	case OpMatMul:
		return evalMatMul(n, in, out[0])
	case OpSoftmax:
		return evalSoftmax(n, in[0], out[0])
	default:
		return &UnsupportedOpError{Op: n.Op.String(), Node: n.Name, Detail: "no reference kernel"}
	}
	return nil
}

func f32(t *Tensor) []float32 {
	if t.F32 == nil && t.F16 != nil {
		return t.Float32s()
	}
	return t.F32
}

func copyData(dst, src *Tensor) {
	if dst.DType == Float32 {
		copy(dst.F32, f32(src))
	} else {
		copy(dst.I32, src.I32)
	}
}

// strides returns row-major element strides of s.
func strides(s Shape) (st [maxRank]int) {
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

// bcastStrides returns the strides with which an input of shape in is read for an
// output of shape out under NumPy broadcasting (0 along broadcast axes).
func bcastStrides(in, out Shape) (st [maxRank]int, ok bool) {
	r, ri := len(out), len(in)
	if ri > r || r > maxRank {
		return st, false
	}
	s := strides(in)
	for i := 0; i < r; i++ {
		j := i - (r - ri)
		if j < 0 {
			continue
		}
		switch in[j] {
		case out[i]:
			st[i] = s[j]
		case 1:
			st[i] = 0
		default:
			return st, false
		}
	}
	return st, true
}

// BroadcastShape returns the NumPy broadcast of a and b.
func BroadcastShape(a, b Shape) (Shape, bool) {
	r := max(len(a), len(b))
	out := make(Shape, r)
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, false
		}
	}
	return out, true
}

// odometer walks the multi-index of shape, advancing two flat offsets with strides.
type odometer struct {
	rank       int
	shape      [maxRank]int
	idx        [maxRank]int
	sa, sb     [maxRank]int
	offA, offB int
}

func (o *odometer) next() {
	for d := o.rank - 1; d >= 0; d-- {
		o.idx[d]++
		o.offA += o.sa[d]
		o.offB += o.sb[d]
		if o.idx[d] < o.shape[d] {
			return
		}
		o.offA -= o.sa[d] * o.shape[d]
		o.offB -= o.sb[d] * o.shape[d]
		o.idx[d] = 0
	}
}

func newOdometer(shape Shape, sa, sb [maxRank]int) odometer {
	o := odometer{rank: len(shape), sa: sa, sb: sb}
	copy(o.shape[:], shape)
	return o
}

func evalBinary(n *Node, a, b, out *Tensor) error {
	sa, ok1 := bcastStrides(a.Shape, out.Shape)
	sb, ok2 := bcastStrides(b.Shape, out.Shape)
	if !ok1 || !ok2 {
		return shapeErrf(n, "cannot broadcast %v and %v to %v", a.Shape, b.Shape, out.Shape)
	}
	o := newOdometer(out.Shape, sa, sb)
	size := out.Shape.Size()
	if a.DType == Float32 {
		x, y := f32(a), f32(b)
		if out.DType == Float32 {
			r := out.F32
			for i := 0; i < size; i++ {
				r[i] = n.Act.Apply(binF(n.Op, x[o.offA], y[o.offB]), n.Alpha, n.Beta)
				o.next()
			}
			return nil
		}
		r := out.I32
		for i := 0; i < size; i++ {
			r[i] = cmpF(n.Op, x[o.offA], y[o.offB])
			o.next()
		}
		return nil
	}
	x, y, r := a.I32, b.I32, out.I32
	for i := 0; i < size; i++ {
		v, err := binI(n.Op, x[o.offA], y[o.offB])
		if err != nil {
			return &NodeError{Op: n.Op.String(), Node: n.Name, Err: err}
		}
		r[i] = v
		o.next()
	}
	return nil
}

func binF(op Op, x, y float32) float32 {
	switch op {
	case OpAdd:
		return x + y
	case OpSub:
		return x - y
	case OpMul:
		return x * y
	case OpDiv:
		return x / y
	case OpFloorDiv:
		return float32(math.Floor(float64(x) / float64(y)))
	case OpFloorMod:
		m := float32(math.Mod(float64(x), float64(y)))
		if m != 0 && (m < 0) != (y < 0) {
			m += y
		}
		return m
	case OpMaximum:
		return max(x, y)
	case OpMinimum:
		return min(x, y)
	case OpPow:
		return float32(math.Pow(float64(x), float64(y)))
	}
	return 0
}

func cmpF(op Op, x, y float32) int32 {
	var r bool
	switch op {
	case OpEqual:
		r = x == y
	case OpGreater:
		r = x > y
	case OpLess:
		r = x < y
	}
	if r {
		return 1
	}
	return 0
}

// errDivZero is an integer division by zero at run time.
var errDivZero = fmt.Errorf("%w: integer division by zero", ErrShape)

func binI(op Op, x, y int32) (int32, error) {
	switch op {
	case OpAdd:
		return x + y, nil
	case OpSub:
		return x - y, nil
	case OpMul:
		return x * y, nil
	case OpDiv, OpFloorDiv, OpFloorMod:
		if y == 0 {
			return 0, errDivZero
		}
		q, m := x/y, x%y
		if m != 0 && (m < 0) != (y < 0) {
			q--
			m += y
		}
		switch op {
		case OpDiv:
			return x / y, nil
		case OpFloorDiv:
			return q, nil
		}
		return m, nil
	case OpMaximum:
		return max(x, y), nil
	case OpMinimum:
		return min(x, y), nil
	case OpPow:
		return int32(math.Pow(float64(x), float64(y))), nil
	case OpEqual:
		return b2i(x == y), nil
	case OpGreater:
		return b2i(x > y), nil
	case OpLess:
		return b2i(x < y), nil
	}
	return 0, nil
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func evalUnary(n *Node, in, out *Tensor) error {
	if in.DType != Float32 {
		for i, v := range in.I32 {
			switch n.Op {
			case OpNeg:
				out.I32[i] = -v
			case OpAbs:
				out.I32[i] = max(v, -v)
			default:
				return shapeErrf(n, "%s of %s", n.Op, in.DType)
			}
		}
		return nil
	}
	x := f32(in)
	for i, v := range x {
		var r float32
		switch n.Op {
		case OpNeg:
			r = -v
		case OpExp:
			r = float32(math.Exp(float64(v)))
		case OpSqrt:
			r = float32(math.Sqrt(float64(v)))
		case OpAbs:
			r = float32(math.Abs(float64(v)))
		}
		out.F32[i] = r
	}
	return nil
}

// convOut returns the output size of a window op along one axis.
func convOut(in, k, stride, dil, padBefore, padAfter int, ceil bool) int {
	ek := (k-1)*dil + 1
	num := in + padBefore + padAfter - ek
	if num < 0 {
		return 0
	}
	if ceil {
		o := (num+stride-1)/stride + 1
		// the last window must start inside the input or the leading padding
		if (o-1)*stride >= in+padBefore {
			o--
		}
		return o
	}
	return num/stride + 1
}

func evalConv(n *Node, in []*Tensor, out *Tensor) error {
	x, w := f32(in[0]), f32(in[1])
	var b, z []float32
	if len(in) > 2 && in[2] != nil {
		b = f32(in[2])
	}
	if len(in) > 3 && in[3] != nil {
		z = f32(in[3])
	}
	xs, ws, os := in[0].Shape, in[1].Shape, out.Shape
	N, H, W, C := xs[0], xs[1], xs[2], xs[3]
	OH, OW, OC := os[1], os[2], os[3]
	p := n.Conv
	var cinG, coutG, mult int
	if n.Op == OpDepthwiseConv {
		mult = ws[3]
	} else {
		cinG = ws[2]
		coutG = OC / max(p.Groups, 1)
	}
	o := out.F32
	for bi := 0; bi < N; bi++ {
		for oy := 0; oy < OH; oy++ {
			for ox := 0; ox < OW; ox++ {
				for oc := 0; oc < OC; oc++ {
					var acc float64
					if b != nil {
						acc = float64(b[oc])
					}
					for ky := 0; ky < p.KH; ky++ {
						iy := oy*p.StrideH - p.Pads[0] + ky*p.DilationH
						if iy < 0 || iy >= H {
							continue
						}
						for kx := 0; kx < p.KW; kx++ {
							ix := ox*p.StrideW - p.Pads[1] + kx*p.DilationW
							if ix < 0 || ix >= W {
								continue
							}
							base := ((bi*H+iy)*W + ix) * C
							if n.Op == OpDepthwiseConv {
								c, m := oc/mult, oc%mult
								acc += float64(x[base+c]) * float64(w[((ky*p.KW+kx)*C+c)*mult+m])
								continue
							}
							g := oc / coutG
							wb := (ky*p.KW + kx) * cinG * OC
							for ci := 0; ci < cinG; ci++ {
								acc += float64(x[base+g*cinG+ci]) * float64(w[wb+ci*OC+oc])
							}
						}
					}
					oi := ((bi*OH+oy)*OW+ox)*OC + oc
					r := float32(acc)
					if z != nil {
						r += z[oi]
					}
					o[oi] = n.Act.Apply(r, n.Alpha, n.Beta)
				}
			}
		}
	}
	return nil
}

func evalMean(n *Node, in, out *Tensor) error {
	// out shape with kept dims: iterate input, accumulate into output index
	x := f32(in)
	var keep Shape
	var kbuf [maxRank]int
	keep = kbuf[:len(in.Shape)]
	copy(keep, in.Shape)
	count := 1
	for _, a := range n.Axes {
		count *= in.Shape[a]
		keep[a] = 1
	}
	so, _ := bcastStrides(keep, in.Shape)
	o := newOdometer(in.Shape, so, so)
	for i := range out.F32 {
		out.F32[i] = 0
	}
	// accumulate in float64 through a second pass per output element would need
	// scratch; sums of float32 in order are what the reference runtimes do.
	for i := range x {
		out.F32[o.offA] += x[i]
		o.next()
	}
	inv := 1 / float32(count)
	for i := range out.F32 {
		out.F32[i] *= inv
	}
	return nil
}

func evalPool(n *Node, in, out *Tensor) error {
	x := f32(in)
	xs, os := in.Shape, out.Shape
	N, H, W, C := xs[0], xs[1], xs[2], xs[3]
	OH, OW := os[1], os[2]
	p := n.Conv
	for b := 0; b < N; b++ {
		for oy := 0; oy < OH; oy++ {
			for ox := 0; ox < OW; ox++ {
				for c := 0; c < C; c++ {
					acc := float32(0)
					if n.Op == OpMaxPool {
						acc = float32(math.Inf(-1))
					}
					cnt := 0
					for ky := 0; ky < p.KH; ky++ {
						iy := oy*p.StrideH - p.Pads[0] + ky*p.DilationH
						for kx := 0; kx < p.KW; kx++ {
							ix := ox*p.StrideW - p.Pads[1] + kx*p.DilationW
							if iy < 0 || iy >= H || ix < 0 || ix >= W {
								if p.CountIncludePad && iy < H+p.Pads[2] && ix < W+p.Pads[3] {
									cnt++
								}
								continue
							}
							v := x[((b*H+iy)*W+ix)*C+c]
							if n.Op == OpMaxPool {
								acc = max(acc, v)
							} else {
								acc += v
							}
							cnt++
						}
					}
					if n.Op == OpAvgPool && cnt > 0 {
						acc /= float32(cnt)
					}
					out.F32[((b*OH+oy)*OW+ox)*C+c] = acc
				}
			}
		}
	}
	return nil
}

func evalConcat(n *Node, in []*Tensor, out *Tensor) error {
	axis := n.Axis
	outer := 1
	for _, d := range out.Shape[:axis] {
		outer *= d
	}
	inner := 1
	for _, d := range out.Shape[axis+1:] {
		inner *= d
	}
	rowOut := out.Shape[axis] * inner
	off := 0
	for _, t := range in {
		row := t.Shape[axis] * inner
		for o := 0; o < outer; o++ {
			if out.DType == Float32 {
				copy(out.F32[o*rowOut+off:o*rowOut+off+row], f32(t)[o*row:(o+1)*row])
			} else {
				copy(out.I32[o*rowOut+off:o*rowOut+off+row], t.I32[o*row:(o+1)*row])
			}
		}
		off += row
	}
	return nil
}

// ResizeCoord maps output coordinate o of an axis to the input coordinate.
func ResizeCoord(mode CoordMode, o, inSize, outSize int, ratio float64) float64 {
	switch mode {
	case CoordHalfPixel:
		return (float64(o)+0.5)*ratio - 0.5
	case CoordPytorchHalfPixel:
		if outSize <= 1 {
			return 0
		}
		return (float64(o)+0.5)*ratio - 0.5
	case CoordAlignCorners:
		if outSize <= 1 {
			return 0
		}
		return float64(o) * float64(inSize-1) / float64(outSize-1)
	case CoordTFHalfPixelNN:
		return (float64(o) + 0.5) * ratio
	}
	return float64(o) * ratio
}

// NearestIndex rounds an input coordinate for nearest resize and clamps it.
func NearestIndex(r NearestRound, x float64, size int) int {
	var i float64
	switch r {
	case RoundPreferCeil:
		i = math.Floor(x + 0.5)
	case RoundFloor:
		i = math.Floor(x)
	case RoundCeil:
		i = math.Ceil(x)
	default: // prefer floor: round half down
		i = math.Ceil(x - 0.5)
	}
	return min(max(int(i), 0), size-1)
}

// BilinearTaps returns the two input indices and the weight of the upper one for
// input coordinate x (TF and ONNX agree: clamp into the input).
func BilinearTaps(x float64, size int) (i0, i1 int, frac float64) {
	if x < 0 {
		x = 0
	}
	f := math.Floor(x)
	i0 = min(int(f), size-1)
	i1 = min(i0+1, size-1)
	frac = x - f
	if i0 == size-1 {
		frac = 0
	}
	return i0, i1, frac
}

func evalResize(n *Node, in, out *Tensor) error {
	x := f32(in)
	xs, os := in.Shape, out.Shape
	N, H, W, C := xs[0], xs[1], xs[2], xs[3]
	OH, OW := os[1], os[2]
	r := n.Resize
	for b := 0; b < N; b++ {
		for oy := 0; oy < OH; oy++ {
			sy := ResizeCoord(r.Coord, oy, H, OH, r.RatioH)
			for ox := 0; ox < OW; ox++ {
				sx := ResizeCoord(r.Coord, ox, W, OW, r.RatioW)
				dst := out.F32[((b*OH+oy)*OW+ox)*C:][:C]
				if r.Mode == ResizeNearest {
					iy, ix := NearestIndex(r.Nearest, sy, H), NearestIndex(r.Nearest, sx, W)
					copy(dst, x[((b*H+iy)*W+ix)*C:][:C])
					continue
				}
				y0, y1, dy := BilinearTaps(sy, H)
				x0, x1, dx := BilinearTaps(sx, W)
				tl, tr := x[((b*H+y0)*W+x0)*C:], x[((b*H+y0)*W+x1)*C:]
				bl, br := x[((b*H+y1)*W+x0)*C:], x[((b*H+y1)*W+x1)*C:]
				for c := 0; c < C; c++ {
					top := float64(tl[c]) + (float64(tr[c])-float64(tl[c]))*dx
					bot := float64(bl[c]) + (float64(br[c])-float64(bl[c]))*dx
					dst[c] = float32(top + (bot-top)*dy)
				}
			}
		}
	}
	return nil
}

func evalTranspose(perm []int, in, out *Tensor) error {
	r := len(in.Shape)
	si := strides(in.Shape)
	var sp [maxRank]int
	for i := 0; i < r; i++ {
		sp[i] = si[perm[i]]
	}
	o := newOdometer(out.Shape, sp, sp)
	size := out.Shape.Size()
	if out.DType == Float32 {
		x := f32(in)
		for i := 0; i < size; i++ {
			out.F32[i] = x[o.offA]
			o.next()
		}
		return nil
	}
	for i := 0; i < size; i++ {
		out.I32[i] = in.I32[o.offA]
		o.next()
	}
	return nil
}

// padSource maps output index i of an axis to an input index, or -1 for a constant fill.
func padSource(fill PadFill, i, begin, size int) int {
	j := i - begin
	if j >= 0 && j < size {
		return j
	}
	switch fill {
	case FillEdge:
		return min(max(j, 0), size-1)
	case FillReflect:
		if size == 1 {
			return 0
		}
		period := 2 * (size - 1)
		j %= period
		if j < 0 {
			j += period
		}
		if j >= size {
			j = period - j
		}
		return j
	case FillSymmetric:
		period := 2 * size
		j %= period
		if j < 0 {
			j += period
		}
		if j >= size {
			j = period - 1 - j
		}
		return j
	}
	return -1
}

func evalPad(n *Node, in, out *Tensor) error {
	r := len(in.Shape)
	si := strides(in.Shape)
	var idx [maxRank]int
	size := out.Shape.Size()
	x := f32(in)
	for i := 0; i < size; i++ {
		src := 0
		for d := 0; d < r; d++ {
			s := padSource(n.Pad.Mode, idx[d], n.Pad.Begin[d], in.Shape[d])
			if s < 0 {
				src = -1
				break
			}
			src += s * si[d]
		}
		if out.DType == Float32 {
			if src < 0 {
				out.F32[i] = n.Pad.Value
			} else {
				out.F32[i] = x[src]
			}
		} else {
			if src < 0 {
				out.I32[i] = int32(n.Pad.Value)
			} else {
				out.I32[i] = in.I32[src]
			}
		}
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < out.Shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return nil
}

func evalSlice(n *Node, in, out *Tensor) error {
	s := n.Slice
	r := len(in.Shape)
	si := strides(in.Shape)
	var cnt, st [maxRank]int
	base := 0
	for d := 0; d < r; d++ {
		cnt[d] = s.Count[d]
		st[d] = si[d] * s.Step[d]
		base += s.Start[d] * si[d]
	}
	o := odometer{rank: r, shape: cnt, sa: st, sb: st, offA: base}
	size := out.Shape.Size()
	if out.DType == Float32 {
		x := f32(in)
		for i := 0; i < size; i++ {
			out.F32[i] = x[o.offA]
			o.next()
		}
		return nil
	}
	for i := 0; i < size; i++ {
		out.I32[i] = in.I32[o.offA]
		o.next()
	}
	return nil
}

func evalCast(in, out *Tensor) {
	switch {
	case in.DType == Float32 && out.DType == Float32:
		copy(out.F32, f32(in))
	case in.DType == Float32:
		for i, v := range f32(in) {
			if out.DType == Bool {
				out.I32[i] = b2i(v != 0)
			} else {
				out.I32[i] = saturate32(float64(v))
			}
		}
	case out.DType == Float32:
		for i, v := range in.I32 {
			out.F32[i] = float32(v)
		}
	default:
		for i, v := range in.I32 {
			if out.DType == Bool {
				out.I32[i] = b2i(v != 0)
			} else {
				out.I32[i] = v
			}
		}
	}
}

func saturate32(v float64) int32 {
	switch {
	case v != v:
		return 0
	case v >= math.MaxInt32:
		return math.MaxInt32
	case v <= math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}

func evalGather(n *Node, data, idx, out *Tensor) error {
	axis := n.Axis
	outer := 1
	for _, d := range data.Shape[:axis] {
		outer *= d
	}
	inner := 1
	for _, d := range data.Shape[axis+1:] {
		inner *= d
	}
	dim := data.Shape[axis]
	ni := len(idx.I32)
	for o := 0; o < outer; o++ {
		for j, ix := range idx.I32 {
			k := int(ix)
			if k < 0 {
				k += dim
			}
			if k < 0 || k >= dim {
				return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf("%w: index %d out of range [0,%d)", ErrShape, ix, dim)}
			}
			src := (o*dim + k) * inner
			dst := (o*ni + j) * inner
			if out.DType == Float32 {
				copy(out.F32[dst:dst+inner], f32(data)[src:src+inner])
			} else {
				copy(out.I32[dst:dst+inner], data.I32[src:src+inner])
			}
		}
	}
	return nil
}

// topkLess orders candidates for the min-heap: the root is the worst kept candidate
// (smallest value; among equal values the larger index).
func topkLess(va float32, ia int32, vb float32, ib int32) bool {
	if va != vb {
		return va < vb
	}
	return ia > ib
}

func evalTopK(n *Node, in, vals, idx *Tensor) error {
	x := f32(in)
	last := in.Shape[len(in.Shape)-1]
	k := n.K
	if k > last {
		return shapeErrf(n, "k=%d exceeds axis size %d", k, last)
	}
	rows := len(x) / max(last, 1)
	for r := 0; r < rows; r++ {
		row := x[r*last : (r+1)*last]
		hv := vals.F32[r*k : (r+1)*k]
		hi := idx.I32[r*k : (r+1)*k]
		TopK(row, hv, hi)
	}
	return nil
}

// TopK writes the len(vals) largest elements of x into vals (descending; equal values
// by lower index first) and their indices into idx, without allocating.
func TopK(x []float32, vals []float32, idx []int32) {
	k := len(vals)
	if k == 0 {
		return
	}
	// min-heap of size k on (vals, idx)
	for i := 0; i < k; i++ {
		vals[i], idx[i] = x[i], int32(i)
		siftUp(vals, idx, i)
	}
	for i := k; i < len(x); i++ {
		v := x[i]
		if !topkLess(vals[0], idx[0], v, int32(i)) {
			continue
		}
		vals[0], idx[0] = v, int32(i)
		siftDown(vals, idx, 0, k)
	}
	// heap sort: repeatedly move the worst to the end → descending order
	for end := k - 1; end > 0; end-- {
		vals[0], vals[end] = vals[end], vals[0]
		idx[0], idx[end] = idx[end], idx[0]
		siftDown(vals, idx, 0, end)
	}
}

func siftUp(v []float32, ix []int32, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !topkLess(v[i], ix[i], v[p], ix[p]) {
			return
		}
		v[i], v[p] = v[p], v[i]
		ix[i], ix[p] = ix[p], ix[i]
		i = p
	}
}

func siftDown(v []float32, ix []int32, i, n int) {
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && topkLess(v[r], ix[r], v[l], ix[l]) {
			m = r
		}
		if !topkLess(v[m], ix[m], v[i], ix[i]) {
			return
		}
		v[i], v[m] = v[m], v[i]
		ix[i], ix[m] = ix[m], ix[i]
		i = m
	}
}

func evalMatMul(n *Node, in []*Tensor, out *Tensor) error {
	a, b := f32(in[0]), f32(in[1])
	var bias []float32
	if len(in) > 2 && in[2] != nil {
		bias = f32(in[2])
	}
	K, N := in[1].Shape[0], in[1].Shape[1]
	M := len(a) / K
	for i := 0; i < M; i++ {
		for j := 0; j < N; j++ {
			var acc float64
			if bias != nil {
				acc = float64(bias[j])
			}
			for k := 0; k < K; k++ {
				acc += float64(a[i*K+k]) * float64(b[k*N+j])
			}
			out.F32[i*N+j] = n.Act.Apply(float32(acc), n.Alpha, n.Beta)
		}
	}
	return nil
}

func evalSoftmax(n *Node, in, out *Tensor) error {
	x := f32(in)
	axis := n.Axis
	inner := 1
	for _, d := range in.Shape[axis+1:] {
		inner *= d
	}
	dim := in.Shape[axis]
	outer := len(x) / max(dim*inner, 1)
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*dim*inner + i
			m := float32(math.Inf(-1))
			for d := 0; d < dim; d++ {
				m = max(m, x[base+d*inner])
			}
			var sum float64
			for d := 0; d < dim; d++ {
				e := math.Exp(float64(x[base+d*inner] - m))
				out.F32[base+d*inner] = float32(e)
				sum += e
			}
			for d := 0; d < dim; d++ {
				out.F32[base+d*inner] = float32(float64(out.F32[base+d*inner]) / sum)
			}
		}
	}
	return nil
}
