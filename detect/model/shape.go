package model

import (
	"fmt"
	"math"
	"slices"
)

// InferShapes gives every value a static shape and type, folds every node whose inputs
// are all constants (and every OpShape) into a constant, resolves parameters the source
// computes at run time, SAME paddings and resize ratios, and rewrites Squeeze,
// ExpandDims and Flatten into Reshape. inputs overrides graph input shapes (e.g. a batch
// size); unknown dimensions left after that are an error.
func (g *Graph) InferShapes(inputs map[string]Shape) error {
	for name, s := range inputs {
		found := false
		for _, v := range g.Inputs {
			if v.Name == name {
				if len(v.Shape) != 0 && len(v.Shape) != len(s) {
					return fmt.Errorf("infer shapes: input %s: %w: rank of %v differs from model's %v", name, ErrShape, s, v.Shape)
				}
				for i, d := range v.Shape {
					if d >= 0 && d != s[i] && i != 0 {
						return fmt.Errorf("infer shapes: input %s: %w: %v does not fit model's %v", name, ErrShape, s, v.Shape)
					}
				}
				v.Shape = s.Clone()
				found = true
			}
		}
		if !found {
			return fmt.Errorf("infer shapes: input %q: %w", name, ErrNotFound)
		}
	}
	for _, v := range g.Inputs {
		if !v.Shape.Known() {
			return fmt.Errorf("infer shapes: input %s: %w: shape %v has unknown dimensions; give it", v.Name, ErrShape, v.Shape)
		}
	}
	if err := g.sortTopo(); err != nil {
		return fmt.Errorf("infer shapes: %w", err)
	}
	folded := map[*Node]bool{}
	for _, n := range g.Nodes {
		if err := inferNode(n); err != nil {
			return fmt.Errorf("infer shapes: %w", err)
		}
		if foldable(n) {
			if err := fold(n); err != nil {
				return fmt.Errorf("fold constants: %w", err)
			}
			folded[n] = true
		}
	}
	g.removeNodes(folded)
	return nil
}

// FoldConstants evaluates every node whose inputs are all constants and replaces its
// outputs by constants. InferShapes already does this; FoldConstants is for graphs
// changed afterwards.
func (g *Graph) FoldConstants() error {
	folded := map[*Node]bool{}
	for _, n := range g.Nodes {
		if foldable(n) {
			if err := fold(n); err != nil {
				return fmt.Errorf("fold constants: %w", err)
			}
			folded[n] = true
		}
	}
	g.removeNodes(folded)
	return nil
}

func foldable(n *Node) bool {
	if n.Op == OpShape {
		return true
	}
	for _, v := range n.In {
		if !v.IsConst() {
			return false
		}
	}
	return true
}

// maxFold caps the elements of a constant that folding may create.
const maxFold = 1 << 24

func fold(n *Node) error {
	outs := make([]*Tensor, len(n.Out))
	for i, v := range n.Out {
		if !v.Shape.Known() {
			return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf("%w: output shape unknown", ErrShape)}
		}
		if v.Shape.Size() > maxFold {
			return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf("%w: constant of %v elements is too large to fold", ErrUnsupported, v.Shape)}
		}
		outs[i] = NewTensor(v.DType, v.Shape)
	}
	ins := make([]*Tensor, len(n.In))
	for i, v := range n.In {
		if n.Op == OpShape {
			ins[i] = &Tensor{DType: v.DType, Shape: v.Shape}
			continue
		}
		ins[i] = v.Const
	}
	if err := Eval(n, ins, outs); err != nil {
		return err
	}
	for i, v := range n.Out {
		v.Const = outs[i]
		v.Producer = nil
	}
	return nil
}

func nerr(n *Node, format string, a ...any) error {
	return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf(format, a...)}
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(n *Node, a, rank int) (int, error) {
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, shapeErrf(n, "axis %d out of range for rank %d", a, rank)
	}
	return a, nil
}

func inferNode(n *Node) error {
	for _, v := range n.In {
		if !v.Shape.Known() {
			return shapeErrf(n, "input %s has unknown shape %v", v.Name, v.Shape)
		}
	}
	if n.bind != nil {
		params := make([]*Tensor, 0, len(n.In)-n.nData)
		for _, v := range n.In[n.nData:] {
			if v == nil {
				params = append(params, nil)
				continue
			}
			if !v.IsConst() {
				return nerr(n, "%w: parameter input %s is computed at run time (dynamic shapes are not supported)", ErrUnsupported, v.Name)
			}
			params = append(params, v.Const)
		}
		if err := n.bind(n, params); err != nil {
			return &NodeError{Op: n.Op.String(), Node: n.Name, Err: err}
		}
		n.In = n.In[:n.nData]
		n.bind = nil
	}
	if len(n.In) == 0 {
		return shapeErrf(n, "no inputs")
	}
	x := n.In[0]
	out := n.Out[0]
	switch {
	case n.Op.binary():
		if len(n.In) != 2 {
			return shapeErrf(n, "%d inputs, want 2", len(n.In))
		}
		a, b := n.In[0], n.In[1]
		if (a.DType == Float32) != (b.DType == Float32) {
			return shapeErrf(n, "operand types %s and %s differ", a.DType, b.DType)
		}
		s, ok := BroadcastShape(a.Shape, b.Shape)
		if !ok {
			return shapeErrf(n, "cannot broadcast %v and %v", a.Shape, b.Shape)
		}
		out.Shape = s
		out.DType = a.DType
		if n.Op >= OpEqual {
			out.DType = Bool
		}
		return nil
	}
	switch n.Op {
	case OpConv, OpDepthwiseConv:
		return inferConv(n)
	case OpActivation, OpNeg, OpExp, OpSqrt, OpAbs, OpSoftmax:
		if n.Op == OpSoftmax {
			a, err := normAxis(n, n.Axis, len(x.Shape))
			if err != nil {
				return err
			}
			n.Axis = a
		}
		if (n.Op == OpActivation || n.Op == OpExp || n.Op == OpSqrt || n.Op == OpSoftmax) && x.DType != Float32 {
			return shapeErrf(n, "needs float input, got %s", x.DType)
		}
		out.Shape, out.DType = x.Shape.Clone(), x.DType
	case OpMean: // the output holds the same elements with or without KeepDims
		if x.DType != Float32 {
			return shapeErrf(n, "needs float input, got %s", x.DType)
		}
		axes := make([]int, 0, len(n.Axes))
		for _, a := range n.Axes {
			a, err := normAxis(n, a, len(x.Shape))
			if err != nil {
				return err
			}
			if !slices.Contains(axes, a) {
				axes = append(axes, a)
			}
		}
		slices.Sort(axes)
		n.Axes = axes
		var s Shape
		for i, d := range x.Shape {
			if slices.Contains(axes, i) {
				if n.KeepDims {
					s = append(s, 1)
				}
				continue
			}
			s = append(s, d)
		}
		if s == nil {
			s = Shape{}
		}
		out.Shape, out.DType = s, Float32
	case OpMaxPool, OpAvgPool:
		if len(x.Shape) != 4 {
			return shapeErrf(n, "input %v is not NHWC", x.Shape)
		}
		p := &n.Conv
		defaults(p)
		oh, ow, err := window(n, x.Shape[1], x.Shape[2])
		if err != nil {
			return err
		}
		out.Shape, out.DType = Shape{x.Shape[0], oh, ow, x.Shape[3]}, x.DType
	case OpConcat:
		r := len(x.Shape)
		a, err := normAxis(n, n.Axis, r)
		if err != nil {
			return err
		}
		n.Axis = a
		s := x.Shape.Clone()
		s[a] = 0
		for _, v := range n.In {
			if len(v.Shape) != r || v.DType != x.DType {
				return shapeErrf(n, "input %s %s%v does not match %s%v", v.Name, v.DType, v.Shape, x.DType, x.Shape)
			}
			for i := range r {
				if i != a && v.Shape[i] != x.Shape[i] {
					return shapeErrf(n, "input %s %v does not match %v outside axis %d", v.Name, v.Shape, x.Shape, a)
				}
			}
			s[a] += v.Shape[a]
		}
		out.Shape, out.DType = s, x.DType
	case OpResize:
		return inferResize(n)
	case OpReshape:
		return inferReshape(n, n.NewShape)
	case OpSqueeze:
		var s Shape
		for i, d := range x.Shape {
			drop := false
			if len(n.Axes) == 0 {
				drop = d == 1
			} else {
				for _, a := range n.Axes {
					a, err := normAxis(n, a, len(x.Shape))
					if err != nil {
						return err
					}
					if a == i {
						if d != 1 {
							return shapeErrf(n, "cannot squeeze axis %d of %v", i, x.Shape)
						}
						drop = true
					}
				}
			}
			if !drop {
				s = append(s, d)
			}
		}
		return toReshape(n, s)
	case OpExpandDims:
		r := len(x.Shape) + len(n.Axes)
		ins := make([]bool, r)
		for _, a := range n.Axes {
			a, err := normAxis(n, a, r)
			if err != nil {
				return err
			}
			ins[a] = true
		}
		s := make(Shape, 0, r)
		j := 0
		for i := 0; i < r; i++ {
			if ins[i] {
				s = append(s, 1)
				continue
			}
			if j >= len(x.Shape) {
				return shapeErrf(n, "axes %v do not fit rank %d", n.Axes, len(x.Shape))
			}
			s = append(s, x.Shape[j])
			j++
		}
		return toReshape(n, s)
	case OpFlatten:
		a := n.Axis
		if a < 0 {
			a += len(x.Shape)
		}
		if a < 0 || a > len(x.Shape) {
			return shapeErrf(n, "axis %d out of range for %v", n.Axis, x.Shape)
		}
		outer := Shape(x.Shape[:a]).Size()
		return toReshape(n, Shape{outer, x.Shape.Size() / max(outer, 1)})
	case OpTranspose:
		r := len(x.Shape)
		if n.Perm == nil {
			for i := r - 1; i >= 0; i-- {
				n.Perm = append(n.Perm, i)
			}
		}
		if len(n.Perm) != r {
			return shapeErrf(n, "perm %v for rank %d", n.Perm, r)
		}
		s := make(Shape, r)
		seen := make([]bool, r)
		for i, p := range n.Perm {
			if p < 0 || p >= r || seen[p] {
				return shapeErrf(n, "bad perm %v", n.Perm)
			}
			seen[p] = true
			s[i] = x.Shape[p]
		}
		out.Shape, out.DType = s, x.DType
	case OpPad:
		r := len(x.Shape)
		if len(n.Pad.Begin) != r || len(n.Pad.End) != r {
			return shapeErrf(n, "pads %v/%v for rank %d", n.Pad.Begin, n.Pad.End, r)
		}
		s := x.Shape.Clone()
		for i := range s {
			s[i] += n.Pad.Begin[i] + n.Pad.End[i]
			if s[i] < 0 || (n.Pad.Mode == FillReflect && (n.Pad.Begin[i] >= x.Shape[i] || n.Pad.End[i] >= x.Shape[i])) {
				return shapeErrf(n, "pads %v/%v do not fit %v", n.Pad.Begin, n.Pad.End, x.Shape)
			}
		}
		out.Shape, out.DType = s, x.DType
	case OpSlice:
		return inferSlice(n)
	case OpCast:
		out.Shape, out.DType = x.Shape.Clone(), n.To
	case OpGather:
		if len(n.In) != 2 {
			return shapeErrf(n, "%d inputs, want 2", len(n.In))
		}
		a, err := normAxis(n, n.Axis, len(x.Shape))
		if err != nil {
			return err
		}
		n.Axis = a
		if n.In[1].DType == Float32 {
			return shapeErrf(n, "indices are float")
		}
		s := append(append(x.Shape[:a:a].Clone(), n.In[1].Shape...), x.Shape[a+1:]...)
		out.Shape, out.DType = s, x.DType
	case OpTopK:
		if len(x.Shape) == 0 || x.DType != Float32 {
			return shapeErrf(n, "needs a float tensor, got %s%v", x.DType, x.Shape)
		}
		last := x.Shape[len(x.Shape)-1]
		if n.K <= 0 || n.K > last {
			return shapeErrf(n, "k=%d for last axis %d", n.K, last)
		}
		s := x.Shape.Clone()
		s[len(s)-1] = n.K
		n.Out[0].Shape, n.Out[0].DType = s, Float32
		n.Out[1].Shape, n.Out[1].DType = s.Clone(), Int32
	case OpShape:
		out.Shape, out.DType = Shape{len(x.Shape)}, Int32
	case OpMatMul:
		if len(n.In) < 2 {
			return shapeErrf(n, "%d inputs", len(n.In))
		}
		b := n.In[1].Shape
		if len(b) != 2 || len(x.Shape) < 1 || x.Shape[len(x.Shape)-1] != b[0] {
			return shapeErrf(n, "cannot multiply %v by %v", x.Shape, b)
		}
		if len(n.In) > 2 && n.In[2].Shape.Size() != b[1] {
			return shapeErrf(n, "bias %v for %d columns", n.In[2].Shape, b[1])
		}
		s := x.Shape.Clone()
		s[len(s)-1] = b[1]
		out.Shape, out.DType = s, Float32
	default:
		return &UnsupportedOpError{Op: n.Op.String(), Node: n.Name, Detail: "no shape rule"}
	}
	return nil
}

// toReshape turns n into an OpReshape to s.
func toReshape(n *Node, s Shape) error {
	n.Op = OpReshape
	n.Axes = nil
	if s == nil {
		s = Shape{}
	}
	return inferReshape(n, s)
}

func inferReshape(n *Node, target Shape) error {
	x := n.In[0]
	if target == nil {
		return shapeErrf(n, "no target shape")
	}
	s := target.Clone()
	infer := -1
	prod := 1
	for i, d := range s {
		switch {
		case d == 0:
			if i >= len(x.Shape) {
				return shapeErrf(n, "target %v copies dim %d of %v", target, i, x.Shape)
			}
			s[i] = x.Shape[i]
		case d == -1:
			if infer >= 0 {
				return shapeErrf(n, "target %v has two -1", target)
			}
			infer = i
			continue
		case d < 0:
			return shapeErrf(n, "bad target %v", target)
		}
		prod *= s[i]
	}
	size := x.Shape.Size()
	if infer >= 0 {
		if prod == 0 || size%prod != 0 {
			return shapeErrf(n, "cannot reshape %v to %v", x.Shape, target)
		}
		s[infer] = size / prod
	} else if prod != size {
		return shapeErrf(n, "cannot reshape %v (%d elements) to %v", x.Shape, size, target)
	}
	n.NewShape = s
	n.Out[0].Shape, n.Out[0].DType = s.Clone(), x.DType
	return nil
}

func defaults(p *ConvParams) {
	if p.StrideH == 0 {
		p.StrideH = 1
	}
	if p.StrideW == 0 {
		p.StrideW = 1
	}
	if p.DilationH == 0 {
		p.DilationH = 1
	}
	if p.DilationW == 0 {
		p.DilationW = 1
	}
	if p.Groups == 0 {
		p.Groups = 1
	}
}

// samePads splits the padding TF's SAME (and ONNX SAME_UPPER/LOWER) need on one axis.
func samePads(in, k, stride, dil int, lower bool) (before, after int) {
	ek := (k-1)*dil + 1
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+ek-in, 0)
	before = total / 2
	after = total - before
	if lower {
		before, after = after, before
	}
	return before, after
}

// window resolves the padding of a window op and returns its output size.
func window(n *Node, h, w int) (oh, ow int, err error) {
	p := &n.Conv
	if p.KH <= 0 || p.KW <= 0 {
		return 0, 0, shapeErrf(n, "kernel %dx%d", p.KH, p.KW)
	}
	switch p.Mode {
	case PadSame, PadSameLower:
		lower := p.Mode == PadSameLower
		p.Pads[0], p.Pads[2] = samePads(h, p.KH, p.StrideH, p.DilationH, lower)
		p.Pads[1], p.Pads[3] = samePads(w, p.KW, p.StrideW, p.DilationW, lower)
	case PadValid:
		p.Pads = [4]int{}
	}
	p.Mode = PadExplicit
	for _, v := range p.Pads {
		if v < 0 {
			return 0, 0, shapeErrf(n, "negative padding %v", p.Pads)
		}
	}
	oh = convOut(h, p.KH, p.StrideH, p.DilationH, p.Pads[0], p.Pads[2], p.CeilMode)
	ow = convOut(w, p.KW, p.StrideW, p.DilationW, p.Pads[1], p.Pads[3], p.CeilMode)
	if oh <= 0 || ow <= 0 {
		return 0, 0, shapeErrf(n, "window %dx%d does not fit input %dx%d", p.KH, p.KW, h, w)
	}
	return oh, ow, nil
}

func inferConv(n *Node) error {
	if len(n.In) < 2 {
		return shapeErrf(n, "%d inputs, want x and weights", len(n.In))
	}
	x, w := n.In[0], n.In[1]
	if len(x.Shape) != 4 || x.DType != Float32 {
		return shapeErrf(n, "input %s%v is not float NHWC", x.DType, x.Shape)
	}
	if len(w.Shape) != 4 {
		return shapeErrf(n, "weights %v are not [KH,KW,Cin,Cout]", w.Shape)
	}
	p := &n.Conv
	defaults(p)
	p.KH, p.KW = w.Shape[0], w.Shape[1]
	c := x.Shape[3]
	var oc int
	if n.Op == OpDepthwiseConv {
		if w.Shape[2] != c {
			return shapeErrf(n, "depthwise weights %v for %d input channels", w.Shape, c)
		}
		oc = c * w.Shape[3]
		p.Groups = c
	} else {
		if w.Shape[2]*p.Groups != c {
			return shapeErrf(n, "weights %v with %d groups for %d input channels", w.Shape, p.Groups, c)
		}
		oc = w.Shape[3]
		if oc%p.Groups != 0 {
			return shapeErrf(n, "%d output channels not divisible by %d groups", oc, p.Groups)
		}
	}
	if len(n.In) > 2 && n.In[2] != nil && n.In[2].Shape.Size() != oc {
		return shapeErrf(n, "bias %v for %d output channels", n.In[2].Shape, oc)
	}
	oh, ow, err := window(n, x.Shape[1], x.Shape[2])
	if err != nil {
		return err
	}
	s := Shape{x.Shape[0], oh, ow, oc}
	if len(n.In) > 3 && !n.In[3].Shape.Equal(s) {
		return shapeErrf(n, "residual %v for output %v", n.In[3].Shape, s)
	}
	n.Out[0].Shape, n.Out[0].DType = s, Float32
	return nil
}

func inferResize(n *Node) error {
	x := n.In[0]
	if len(x.Shape) != 4 || x.DType != Float32 {
		return shapeErrf(n, "input %s%v is not float NHWC", x.DType, x.Shape)
	}
	r := &n.Resize
	h, w := x.Shape[1], x.Shape[2]
	oh, ow := r.SizeH, r.SizeW
	if oh == 0 {
		if r.ScaleH <= 0 || r.ScaleW <= 0 {
			return shapeErrf(n, "neither output size nor scales")
		}
		oh = int(math.Floor(float64(h) * r.ScaleH))
		ow = int(math.Floor(float64(w) * r.ScaleW))
	}
	if oh <= 0 || ow <= 0 {
		return shapeErrf(n, "output size %dx%d", oh, ow)
	}
	if r.RatioH == 0 {
		if r.ScaleH > 0 && r.SizeH == 0 {
			r.RatioH, r.RatioW = 1/r.ScaleH, 1/r.ScaleW
		} else {
			r.RatioH, r.RatioW = float64(h)/float64(oh), float64(w)/float64(ow)
		}
	}
	if r.Mode == 0 {
		r.Mode = ResizeNearest
	}
	if r.Coord == 0 {
		r.Coord = CoordAsymmetric
	}
	if r.Nearest == 0 {
		r.Nearest = RoundPreferFloor
	}
	r.SizeH, r.SizeW = oh, ow
	n.Out[0].Shape, n.Out[0].DType = Shape{x.Shape[0], oh, ow, x.Shape[3]}, Float32
	return nil
}

// inferSlice resolves TF StridedSlice (masks) or ONNX Slice (axes) bounds to per-axis
// Start/Step/Count.
func inferSlice(n *Node) error {
	x := n.In[0]
	s := &n.Slice
	r := len(x.Shape)
	s.Start, s.Step, s.Count = make([]int, r), make([]int, r), make([]int, r)
	for i := range r {
		s.Step[i], s.Count[i] = 1, x.Shape[i]
	}
	var outShape Shape
	clampRange := func(a, begin, end, step int, beginDefault, endDefault bool) error {
		dim := x.Shape[a]
		if step == 0 {
			return shapeErrf(n, "step 0 on axis %d", a)
		}
		if beginDefault {
			if step > 0 {
				begin = 0
			} else {
				begin = dim - 1
			}
		} else {
			if begin < 0 {
				begin += dim
			}
			if step > 0 {
				begin = min(max(begin, 0), dim)
			} else {
				begin = min(max(begin, -1), dim-1)
			}
		}
		if endDefault {
			if step > 0 {
				end = dim
			} else {
				end = -1
			}
		} else {
			if end < 0 && end > math.MinInt32 {
				end += dim
			}
			if step > 0 {
				end = min(max(end, 0), dim)
			} else {
				end = min(max(end, -1), dim-1)
			}
		}
		cnt := 0
		if step > 0 && end > begin {
			cnt = (end - begin + step - 1) / step
		} else if step < 0 && begin > end {
			cnt = (begin - end - step - 1) / -step
		}
		s.Start[a], s.Step[a], s.Count[a] = begin, step, cnt
		if cnt == 0 {
			s.Start[a] = 0
		}
		return nil
	}
	if s.Axes != nil { // ONNX form
		for i, a := range s.Axes {
			a, err := normAxis(n, a, r)
			if err != nil {
				return err
			}
			step := 1
			if i < len(s.Strides) {
				step = s.Strides[i]
			}
			if err := clampRange(a, s.Begin[i], s.End[i], step, false, s.End[i] >= math.MaxInt32 || (step < 0 && s.End[i] <= math.MinInt32)); err != nil {
				return err
			}
		}
		outShape = Shape(s.Count).Clone()
	} else { // TF StridedSlice
		if s.EllipsisMask != 0 {
			return &UnsupportedOpError{Op: "StridedSlice", Node: n.Name, Detail: "ellipsis_mask"}
		}
		a := 0
		for i := range s.Begin {
			bit := 1 << i
			if s.NewAxisMask&bit != 0 {
				outShape = append(outShape, 1)
				continue
			}
			if a >= r {
				return shapeErrf(n, "slice spec of %d axes for rank %d", len(s.Begin), r)
			}
			step := 1
			if i < len(s.Strides) {
				step = s.Strides[i]
			}
			if s.ShrinkMask&bit != 0 {
				b := s.Begin[i]
				if b < 0 {
					b += x.Shape[a]
				}
				if b < 0 || b >= x.Shape[a] {
					return shapeErrf(n, "index %d out of range on axis %d of %v", s.Begin[i], a, x.Shape)
				}
				s.Start[a], s.Step[a], s.Count[a] = b, 1, 1
				a++
				continue
			}
			if err := clampRange(a, s.Begin[i], s.End[i], step, s.BeginMask&bit != 0, s.EndMask&bit != 0); err != nil {
				return err
			}
			outShape = append(outShape, s.Count[a])
			a++
		}
		for ; a < r; a++ {
			outShape = append(outShape, x.Shape[a])
		}
		if outShape == nil {
			outShape = Shape{}
		}
	}
	n.Out[0].Shape, n.Out[0].DType = outShape, x.DType
	return nil
}
