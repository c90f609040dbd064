// Package model is roadlog's graph intermediate representation (IR) for detection
// networks, with importers for TensorFlow.js graph models and ONNX models and the passes
// that turn an imported graph into something an engine runs as-is: cutting at named
// outputs, shape inference with constant folding, fusion of convolution + bias +
// batch-norm + activation, and dead-node removal.
//
// The IR is deliberately small and explicit so that more than one engine can run it
// (detect/cpu in pure Go, the CUDA engine of detect/gpu):
//
//   - Layout is NHWC for every rank-4 activation tensor, whatever the source format was
//     (the ONNX importer rewrites NCHW graphs and inserts Transpose only where an op
//     needs the original order).
//   - After Prepare every Value has a static Shape and DType, every Node's parameters are
//     resolved to numbers (paddings in pixels, resize ratios, slice bounds, reshape
//     targets), Nodes are in topological order, and only the ops listed in this file
//     remain (see the Op constants for what each reads).
//   - Weights are constants (Value.Const). Float weights keep the precision they were
//     stored in: FP16-quantised sources stay FP16 (Tensor.F16) and Tensor.Float32s gives
//     FP32; Graph.HalfWeights rounds every float weight to FP16 for engines that want it.
//   - Convolutions carry their bias and a fused activation; batch-norm and per-channel
//     scale/shift are folded into the weights by Fuse.
package model

import (
	"fmt"
	"strings"
)

// DType is the element type of a tensor as the graph sees it.
type DType uint8

// Element types. Float weights may be stored as FP16 (Tensor.F16) but are Float32 to the
// graph; 64-bit integers of a source model are narrowed to Int32 on import (shape
// arithmetic, indices), saturating at the int32 range.
const (
	Float32 DType = 1
	Int32   DType = 2
	Bool    DType = 3 // stored as int32 0/1
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Int32:
		return "int32"
	case Bool:
		return "bool"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Shape is a tensor's dimensions, outermost first. Before shape inference a dimension
// may be -1 (unknown).
type Shape []int

// maxElements bounds tensor sizes the IR accepts (beyond it a shape counts as unknown).
const maxElements = 1 << 40

// Size is the number of elements (1 for a scalar); -1 when a dimension is unknown or the
// product is beyond any real tensor.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		if d < 0 || (d > 0 && n > maxElements/d) {
			return -1
		}
		n *= d
	}
	return n
}

// Known reports whether every dimension is known.
func (s Shape) Known() bool { return s != nil && s.Size() >= 0 }

// Equal reports whether s and t have the same rank and dimensions.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s.
func (s Shape) Clone() Shape {
	if s == nil {
		return nil
	}
	return append(Shape{}, s...)
}

func (s Shape) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		if d < 0 {
			b.WriteByte('?')
		} else {
			fmt.Fprint(&b, d)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// Tensor is a constant's (or an engine buffer's) data. Exactly one of F32, F16 and I32
// holds the values: F32 or F16 for Float32, I32 for Int32 and Bool.
type Tensor struct {
	DType DType
	Shape Shape
	F32   []float32 // Float32 values at full precision
	F16   []uint16  // Float32 values stored as IEEE 754 binary16
	I32   []int32   // Int32 values, Bool as 0/1
}

// NewTensor returns a zeroed tensor of the given type and shape (float data in F32).
func NewTensor(dt DType, shape Shape) *Tensor {
	t := &Tensor{DType: dt, Shape: shape.Clone()}
	n := shape.Size()
	if n < 0 {
		n = 0
	}
	if dt == Float32 {
		t.F32 = make([]float32, n)
	} else {
		t.I32 = make([]int32, n)
	}
	return t
}

// Len is the number of stored elements.
func (t *Tensor) Len() int {
	switch {
	case t.F32 != nil:
		return len(t.F32)
	case t.F16 != nil:
		return len(t.F16)
	}
	return len(t.I32)
}

// Half reports whether the tensor's float values are stored as FP16.
func (t *Tensor) Half() bool { return t.F16 != nil }

// Float32s returns the float values at FP32: F32 itself, or a new slice converted from
// F16. It returns nil for integer tensors.
func (t *Tensor) Float32s() []float32 {
	if t.F32 != nil {
		return t.F32
	}
	if t.F16 != nil {
		out := make([]float32, len(t.F16))
		for i, h := range t.F16 {
			out[i] = HalfToFloat(h)
		}
		return out
	}
	return nil
}

// Float16s returns the float values as FP16: F16 itself, or a new slice rounded to
// nearest even from F32. It returns nil for integer tensors.
func (t *Tensor) Float16s() []uint16 {
	if t.F16 != nil {
		return t.F16
	}
	if t.F32 != nil {
		out := make([]uint16, len(t.F32))
		for i, f := range t.F32 {
			out[i] = FloatToHalf(f)
		}
		return out
	}
	return nil
}

// Ints returns integer (or float, truncated) values as int.
func (t *Tensor) Ints() []int {
	if t.DType != Float32 {
		out := make([]int, len(t.I32))
		for i, v := range t.I32 {
			out[i] = int(v)
		}
		return out
	}
	f := t.Float32s()
	out := make([]int, len(f))
	for i, v := range f {
		out[i] = int(v)
	}
	return out
}

// Value is an edge of the graph: a graph input, a constant, or a node's output.
type Value struct {
	Name     string
	DType    DType
	Shape    Shape   // static after InferShapes
	Const    *Tensor // non-nil for constants (weights, folded values)
	Producer *Node   // nil for graph inputs and constants
}

// IsConst reports whether v is a constant.
func (v *Value) IsConst() bool { return v != nil && v.Const != nil }

func (v *Value) String() string {
	if v == nil {
		return "<nil>"
	}
	return v.Name + ":" + v.DType.String() + v.Shape.String()
}

// Op is an IR operation. The comment of each constant says which inputs it takes, which
// Node fields it reads, and what it outputs; tensors are NHWC where rank 4.
type Op uint16

// IR operations. The numbers are stable.
const (
	// OpConv: In = x [N,H,W,Cin], w [KH,KW,Cin/Groups,Cout] (HWIO), b [Cout] (always
	// present after Fuse), optional residual z [N,OH,OW,Cout]. Reads Conv (kernel,
	// strides, dilations, resolved Pads, Groups) and Act/Alpha/Beta.
	// Out = act(conv(x, w) + b + z) [N,OH,OW,Cout].
	OpConv Op = 1
	// OpDepthwiseConv: In = x [N,H,W,C], w [KH,KW,C,M], b [C*M], optional residual z;
	// output channel c*M+m. Reads Conv and Act/Alpha/Beta. Out [N,OH,OW,C*M].
	OpDepthwiseConv Op = 2
	// OpAdd … OpMinimum: elementwise binary with NumPy broadcasting; Out = act(a op b)
	// for Float32 (Act is None unless fused), Int32 arithmetic for Int32.
	OpAdd      Op = 10
	OpSub      Op = 11
	OpMul      Op = 12
	OpDiv      Op = 13
	OpFloorDiv Op = 14
	OpFloorMod Op = 15
	OpMaximum  Op = 16
	OpMinimum  Op = 17
	OpPow      Op = 18
	// OpEqual, OpGreater, OpLess: elementwise comparison with broadcasting; Out is Bool.
	OpEqual   Op = 20
	OpGreater Op = 21
	OpLess    Op = 22
	// OpActivation: Out = Act(x) elementwise (Act, Alpha, Beta).
	OpActivation Op = 30
	// OpNeg, OpExp, OpSqrt, OpAbs: elementwise unary.
	OpNeg  Op = 31
	OpExp  Op = 32
	OpSqrt Op = 33
	OpAbs  Op = 34
	// OpMean: mean over Axes (sorted, non-negative), KeepDims.
	OpMean Op = 40
	// OpMaxPool, OpAvgPool: In = x [N,H,W,C]; reads Conv (kernel, strides, Pads,
	// CountIncludePad, CeilMode). Padding never counts for MaxPool.
	OpMaxPool Op = 41
	OpAvgPool Op = 42
	// OpConcat: In = tensors of equal rank, concatenated along Axis (non-negative).
	OpConcat Op = 50
	// OpResize: In = x [N,H,W,C]; Out [N,OH,OW,C] (OH, OW from Out[0].Shape); reads Resize.
	OpResize Op = 51
	// OpReshape: In = x; Out has Shape with the same number of elements (row-major
	// reinterpretation, no data movement). The optional second input of a source
	// model is consumed by InferShapes.
	OpReshape Op = 52
	// OpTranspose: In = x; Out[i] dim = x dim Perm[i].
	OpTranspose Op = 53
	// OpPad: In = x; reads Pad (per-axis begin/end, mode, value).
	OpPad Op = 54
	// OpSlice: In = x; reads Slice (per-axis start, stop, step; all resolved and
	// clamped so that element i of axis a is x[Start[a] + i*Step[a]]).
	OpSlice Op = 55
	// OpCast: In = x; Out has DType To (float→int truncates toward zero; ≠0 → true).
	OpCast Op = 56
	// OpGather: In = data, indices (Int32); gathers along Axis; negative indices count
	// from the end; out-of-range indices are an error at run time.
	OpGather Op = 57
	// OpTopK: In = x; top K along the last axis, descending, ties by lower index first.
	// Out = values, indices (Int32).
	OpTopK Op = 58
	// OpShape: In = x; Out = x's shape as Int32 [rank]. Folded to a constant by
	// InferShapes; never left for an engine.
	OpShape Op = 59
	// OpSqueeze, OpExpandDims, OpFlatten: rewritten to OpReshape by InferShapes. Squeeze
	// removes Axes (all 1-dims when empty), ExpandDims inserts 1-dims at Axes (indices of
	// the output), Flatten makes [prod(dims<Axis), prod(dims>=Axis)].
	OpSqueeze    Op = 60
	OpExpandDims Op = 61
	OpFlatten    Op = 62
	// OpMatMul: In = a [...,M,K], b [K,N] (constant), optional bias [N]; Out = act(a·b+bias).
	OpMatMul Op = 70
	// OpSoftmax: softmax along Axis.
	OpSoftmax Op = 71
)

var opNames = map[Op]string{
	OpConv: "Conv", OpDepthwiseConv: "DepthwiseConv",
	OpAdd: "Add", OpSub: "Sub", OpMul: "Mul", OpDiv: "Div", OpFloorDiv: "FloorDiv",
	OpFloorMod: "FloorMod", OpMaximum: "Maximum", OpMinimum: "Minimum", OpPow: "Pow",
	OpEqual: "Equal", OpGreater: "Greater", OpLess: "Less",
	OpActivation: "Activation", OpNeg: "Neg", OpExp: "Exp", OpSqrt: "Sqrt", OpAbs: "Abs",
	OpMean: "Mean", OpMaxPool: "MaxPool", OpAvgPool: "AvgPool", OpConcat: "Concat",
	OpResize: "Resize", OpReshape: "Reshape", OpTranspose: "Transpose", OpPad: "Pad",
	OpSlice: "Slice", OpCast: "Cast", OpGather: "Gather", OpTopK: "TopK", OpShape: "Shape",
	OpSqueeze: "Squeeze", OpExpandDims: "ExpandDims", OpFlatten: "Flatten",
	OpMatMul: "MatMul", OpSoftmax: "Softmax",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint16(o))
}

// binary reports whether o is an elementwise binary op.
func (o Op) binary() bool { return o >= OpAdd && o <= OpLess }

// Activation is an elementwise activation, standalone (OpActivation) or fused into the
// op that produces the value.
type Activation uint8

// Activations. Alpha and Beta of the node parameterise some of them.
const (
	ActNone        Activation = 0
	ActRelu        Activation = 1
	ActRelu6       Activation = 2 // min(max(x, 0), 6)
	ActLeakyRelu   Activation = 3 // x < 0 ? Alpha·x : x
	ActSigmoid     Activation = 4
	ActHardSwish   Activation = 5 // x·relu6(x+3)·Alpha (Alpha = 1/6, or the model's rounded constant)
	ActHardSigmoid Activation = 6 // relu6(x+3)·Alpha (Alpha as for HardSwish)
	ActSiLU        Activation = 7 // x·sigmoid(x)
	ActTanh        Activation = 8
	ActClip        Activation = 9 // min(max(x, Alpha), Beta)
)

var actNames = [...]string{"None", "Relu", "Relu6", "LeakyRelu", "Sigmoid", "HardSwish", "HardSigmoid", "SiLU", "Tanh", "Clip"}

func (a Activation) String() string {
	if int(a) < len(actNames) {
		return actNames[a]
	}
	return fmt.Sprintf("act(%d)", uint8(a))
}

// PadMode says how a convolution's or pool's padding is chosen.
type PadMode uint8

// Padding modes. InferShapes resolves all of them into ConvParams.Pads.
const (
	PadExplicit  PadMode = 0 // Pads as given
	PadSame      PadMode = 1 // TF SAME / ONNX SAME_UPPER: output = ceil(in/stride), extra at bottom/right
	PadSameLower PadMode = 2 // ONNX SAME_LOWER: extra at top/left
	PadValid     PadMode = 3 // no padding
)

// ConvParams are the window parameters of OpConv, OpDepthwiseConv, OpMaxPool and OpAvgPool.
type ConvParams struct {
	KH, KW               int
	StrideH, StrideW     int
	DilationH, DilationW int
	Mode                 PadMode
	Pads                 [4]int // top, left, bottom, right (resolved by InferShapes)
	Groups               int    // OpConv: input channel groups (1 = dense)
	CountIncludePad      bool   // OpAvgPool: padded cells count in the divisor
	CeilMode             bool   // pools: output size rounds up
}

// ResizeMode is OpResize's interpolation.
type ResizeMode uint8

// Resize modes.
const (
	ResizeNearest  ResizeMode = 1
	ResizeBilinear ResizeMode = 2
)

// CoordMode maps an output coordinate to an input coordinate (ONNX
// coordinate_transformation_mode names; TF's flags map onto them).
type CoordMode uint8

// Coordinate modes. r is the input/output size ratio of the axis (ResizeParams.RatioH/W).
const (
	CoordAsymmetric       CoordMode = 1 // in = out·r (TF default)
	CoordHalfPixel        CoordMode = 2 // in = (out+0.5)·r − 0.5 (TF half_pixel_centers)
	CoordAlignCorners     CoordMode = 3 // in = out·(in_size−1)/(out_size−1)
	CoordPytorchHalfPixel CoordMode = 4 // as HalfPixel, but 0 when out_size is 1
	CoordTFHalfPixelNN    CoordMode = 5 // in = (out+0.5)·r (TF nearest with half_pixel_centers)
)

// NearestRound is how OpResize's nearest mode rounds the input coordinate.
type NearestRound uint8

// Rounding for nearest resize.
const (
	RoundPreferFloor NearestRound = 1 // ONNX default: round half down
	RoundPreferCeil  NearestRound = 2
	RoundFloor       NearestRound = 3 // TF without half_pixel_centers
	RoundCeil        NearestRound = 4
)

// ResizeParams parameterise OpResize.
type ResizeParams struct {
	Mode           ResizeMode
	Coord          CoordMode
	Nearest        NearestRound
	RatioH, RatioW float64 // input/output size ratio used by the coordinate transform (set by InferShapes when 0)
	// ScaleH/ScaleW (source model's output/input scale) and SizeH/SizeW (explicit output
	// size) say how the output size is chosen; InferShapes sets Out[0].Shape from them.
	ScaleH, ScaleW float64
	SizeH, SizeW   int
}

// PadParams parameterise OpPad: Begin[a], End[a] elements added on axis a.
type PadParams struct {
	Begin, End []int
	Mode       PadFill
	Value      float32
}

// PadFill is how OpPad fills.
type PadFill uint8

// Pad fills.
const (
	FillConstant  PadFill = 0
	FillReflect   PadFill = 1 // mirror without repeating the edge
	FillEdge      PadFill = 2
	FillSymmetric PadFill = 3 // mirror repeating the edge
)

// SliceParams parameterise OpSlice (resolved per axis of the input).
type SliceParams struct {
	Start, Step, Count []int
	// Raw source form, resolved by InferShapes: Begin/End/Strides per listed Axes, with
	// TF StridedSlice masks.
	Begin, End, Strides, Axes                                 []int
	BeginMask, EndMask, ShrinkMask, NewAxisMask, EllipsisMask int
}

// Node is one operation of the graph.
type Node struct {
	Name string // the source model's node name (used in errors)
	Op   Op
	In   []*Value
	Out  []*Value

	// Parameters; each Op's comment says which it reads.
	Act      Activation
	Alpha    float32 // LeakyRelu slope, HardSwish/HardSigmoid scale, Clip minimum
	Beta     float32 // Clip maximum
	Conv     ConvParams
	Axis     int
	Axes     []int
	KeepDims bool
	Perm     []int
	Resize   ResizeParams
	Pad      PadParams
	Slice    SliceParams
	K        int   // OpTopK
	To       DType // OpCast
	NewShape Shape // OpReshape target before InferShapes (0 = copy input dim, -1 = infer)

	// In[nData:] (when bind is set) are parameter tensors that the source model computes
	// at run time (shape arithmetic). InferShapes waits until they fold to constants,
	// calls bind to turn them into the fields above, and drops them from In.
	bind  func(n *Node, params []*Tensor) error
	nData int
}

func (n *Node) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q (", n.Op, n.Name)
	for i, v := range n.In {
		if i > 0 {
			b.WriteString(", ")
		}
		if v.IsConst() {
			b.WriteString("const ")
		}
		b.WriteString(v.String())
	}
	b.WriteString(") -> ")
	for i, v := range n.Out {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.String())
	}
	if n.Act != ActNone {
		fmt.Fprintf(&b, " act=%s", n.Act)
	}
	return b.String()
}

// Graph is a network: inputs, outputs and the nodes between them in topological order.
type Graph struct {
	Name    string
	Format  string // "tfjs" or "onnx"
	Inputs  []*Value
	Outputs []*Value
	Nodes   []*Node

	aliases map[string]*Value // source names that resolve to another value (Identity)
}

// Value returns the graph input, constant or node output named name, or nil.
func (g *Graph) Value(name string) *Value {
	if v, ok := g.aliases[name]; ok {
		return v
	}
	for _, v := range g.Inputs {
		if v.Name == name {
			return v
		}
	}
	for _, n := range g.Nodes {
		for _, v := range n.Out {
			if v.Name == name {
				return v
			}
		}
		for _, v := range n.In {
			if v.Name == name {
				return v
			}
		}
	}
	return nil
}

// Stats counts nodes per op and the multiply-accumulates of convolutions and matrix
// products (known shapes only).
type Stats struct {
	Nodes   map[Op]int
	MACs    int64
	Weights int // float weight elements
}

// Stats returns the graph's statistics.
func (g *Graph) Stats() Stats {
	s := Stats{Nodes: map[Op]int{}}
	seen := map[*Value]bool{}
	for _, n := range g.Nodes {
		s.Nodes[n.Op]++
		for _, v := range n.In {
			if v.IsConst() && v.DType == Float32 && !seen[v] {
				seen[v] = true
				s.Weights += v.Const.Len()
			}
		}
		if len(n.Out) == 0 || !n.Out[0].Shape.Known() {
			continue
		}
		out := int64(n.Out[0].Shape.Size())
		switch n.Op {
		case OpConv:
			w := n.In[1].Shape
			s.MACs += out * int64(w[0]*w[1]*w[2])
		case OpDepthwiseConv:
			w := n.In[1].Shape
			s.MACs += out * int64(w[0]*w[1])
		case OpMatMul:
			s.MACs += out * int64(n.In[1].Shape[0])
		}
	}
	return s
}
