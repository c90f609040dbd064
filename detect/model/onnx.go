package model

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"roadlog/detect/model/onnxpb"
)

// ONNXLimits cap what the ONNX importer accepts.
type ONNXLimits struct {
	MaxBytes int64 // size of the .onnx file (default 1 GiB)
}

// LoadONNX imports the ONNX model file name from fsys.
func LoadONNX(fsys fs.FS, name string, lim ONNXLimits) (*Graph, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = 1 << 30
	}
	b, err := readLimited(fsys, name, lim.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("load onnx model: %w", err)
	}
	g, err := parseONNX(name, b)
	if err != nil {
		return nil, fmt.Errorf("load onnx model: %w", err)
	}
	return g, nil
}

// ParseONNX imports an ONNX model (a serialised ModelProto). Rank-4 activations are
// rewritten from ONNX's NCHW to the IR's NHWC; graph inputs and outputs keep the layout
// the model declares, with Transpose nodes where the two meet.
func ParseONNX(data []byte) (*Graph, error) {
	g, err := parseONNX("model.onnx", data)
	if err != nil {
		return nil, fmt.Errorf("parse onnx model: %w", err)
	}
	return g, nil
}

func parseONNX(file string, data []byte) (*Graph, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, &FileError{File: file, Offset: -1, Err: fmt.Errorf("%w: %v", ErrFormat, err)}
	}
	return FromONNX(file, &m)
}

// FromONNX imports a decoded ONNX ModelProto; file names the source in errors.
func FromONNX(file string, m *onnxpb.ModelProto) (*Graph, error) {
	gp := m.GetGraph()
	if gp == nil || len(gp.GetNode()) == 0 {
		return nil, &FileError{File: file, Offset: -1, Where: "graph", Err: fmt.Errorf("%w: no nodes", ErrFormat)}
	}
	opset := int64(0)
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	if opset == 0 {
		opset = 13
	}
	b := &onnxBuilder{file: file, opset: opset, g: &Graph{Name: gp.GetName(), Format: "onnx", aliases: map[string]*Value{}},
		vals: map[string]onnxVal{}, toNHWC: map[*Value]*Value{}, toNCHW: map[*Value]*Value{}}
	for i, t := range gp.GetInitializer() {
		tt, err := onnxTensor(t)
		if err != nil {
			return nil, &FileError{File: file, Offset: -1, Where: fmt.Sprintf("graph.initializer[%d] %q", i, t.GetName()), Err: err}
		}
		b.vals[t.GetName()] = onnxVal{v: newConst(t.GetName(), tt), rank: len(tt.Shape)}
	}
	for i, in := range gp.GetInput() {
		if _, isInit := b.vals[in.GetName()]; isInit {
			continue // an initializer listed as input (old exporters)
		}
		tt := in.GetType().GetTensorType()
		if tt == nil {
			return nil, &FileError{File: file, Offset: -1, Where: fmt.Sprintf("graph.input[%d] %q", i, in.GetName()), Err: fmt.Errorf("%w: input is not a tensor", ErrUnsupported)}
		}
		dt, err := onnxDType(tt.GetElemType())
		if err != nil {
			return nil, &FileError{File: file, Offset: -1, Where: fmt.Sprintf("graph.input[%d] %q", i, in.GetName()), Err: err}
		}
		v := &Value{Name: in.GetName(), DType: dt}
		if sh := tt.GetShape(); sh != nil {
			v.Shape = Shape{}
			for _, d := range sh.GetDim() {
				if dv, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && dv.DimValue > 0 {
					v.Shape = append(v.Shape, clampInt(dv.DimValue))
				} else {
					v.Shape = append(v.Shape, -1)
				}
			}
		}
		b.g.Inputs = append(b.g.Inputs, v)
		rank := -1
		if v.Shape != nil {
			rank = len(v.Shape)
		}
		b.vals[v.Name] = onnxVal{v: v, rank: rank}
	}
	for i, n := range gp.GetNode() {
		if err := b.node(i, n); err != nil {
			return nil, err
		}
	}
	for i, o := range gp.GetOutput() {
		x, ok := b.vals[o.GetName()]
		if !ok {
			return nil, &FileError{File: file, Offset: -1, Where: fmt.Sprintf("graph.output[%d]", i), Err: fmt.Errorf("%w: output %q is computed by no node", ErrFormat, o.GetName())}
		}
		v := b.nchw(x, o.GetName())
		if x.nhwc {
			// the transpose back to NCHW carries the output's name
			x.v.Name, v.Name = o.GetName()+"/nhwc", o.GetName()
		}
		b.g.Outputs = append(b.g.Outputs, v)
	}
	if len(b.g.Outputs) == 0 {
		return nil, &FileError{File: file, Offset: -1, Where: "graph.output", Err: fmt.Errorf("%w: no outputs", ErrFormat)}
	}
	b.g.RemoveDead()
	return b.g, nil
}

// onnxVal is an ONNX tensor as the importer holds it: nhwc says v holds a rank-4 ONNX
// (NCHW) tensor in NHWC order; rank is the ONNX rank (-1: unknown at import).
type onnxVal struct {
	v    *Value
	nhwc bool
	rank int
}

type onnxBuilder struct {
	file   string
	opset  int64
	g      *Graph
	vals   map[string]onnxVal
	toNHWC map[*Value]*Value
	toNCHW map[*Value]*Value
}

var (
	permToNHWC = []int{0, 2, 3, 1}
	permToNCHW = []int{0, 3, 1, 2}
)

// nhwcAxis maps an NCHW axis to its NHWC position.
func nhwcAxis(a int) int { return [4]int{0, 3, 1, 2}[a] }

// transposeConst returns a constant transposed by perm.
func transposeConst(v *Value, perm []int, name string) (*Value, error) {
	t := v.Const
	if len(t.Shape) != len(perm) {
		return nil, fmt.Errorf("%w: constant %s of rank %d where rank %d is needed", ErrShape, v.Name, len(t.Shape), len(perm))
	}
	s := make(Shape, len(perm))
	for i, p := range perm {
		s[i] = t.Shape[p]
	}
	out := NewTensor(t.DType, s)
	src := *t
	if t.F16 != nil {
		src.F32, src.F16 = t.Float32s(), nil
	}
	if err := evalTranspose(perm, &src, out); err != nil {
		return nil, err
	}
	if t.F16 != nil {
		out.F16, out.F32 = out.Float16s(), nil
	}
	return newConst(name, out), nil
}

// nchw returns x in the ONNX layout, inserting (once) a Transpose when it is held NHWC.
func (b *onnxBuilder) nchw(x onnxVal, node string) *Value {
	if !x.nhwc {
		return x.v
	}
	if v, ok := b.toNCHW[x.v]; ok {
		return v
	}
	n := &Node{Name: node, Op: OpTranspose, In: []*Value{x.v}, Perm: permToNCHW}
	v := &Value{Name: x.v.Name + "/nchw", Producer: n}
	n.Out = []*Value{v}
	b.g.Nodes = append(b.g.Nodes, n)
	b.toNCHW[x.v] = v
	return v
}

// nhwc returns a rank-4 x in NHWC order.
func (b *onnxBuilder) nhwc(x onnxVal, node string) (*Value, error) {
	if x.nhwc {
		return x.v, nil
	}
	if x.rank >= 0 && x.rank != 4 {
		return nil, fmt.Errorf("%w: %s has rank %d, want 4 (NCHW)", ErrUnsupported, x.v.Name, x.rank)
	}
	if v, ok := b.toNHWC[x.v]; ok {
		return v, nil
	}
	if x.v.IsConst() {
		v, err := transposeConst(x.v, permToNHWC, x.v.Name+"/nhwc")
		if err != nil {
			return nil, err
		}
		b.toNHWC[x.v] = v
		return v, nil
	}
	n := &Node{Name: node, Op: OpTranspose, In: []*Value{x.v}, Perm: permToNHWC}
	v := &Value{Name: x.v.Name + "/nhwc", Producer: n}
	n.Out = []*Value{v}
	b.g.Nodes = append(b.g.Nodes, n)
	b.toNHWC[x.v] = v
	return v, nil
}

// attrs indexes a node's attributes.
type onnxAttrs map[string]*onnxpb.AttributeProto

func (a onnxAttrs) i(k string, def int) int {
	if p, ok := a[k]; ok {
		return clampInt(p.GetI())
	}
	return def
}

func (a onnxAttrs) f(k string, def float32) float32 {
	if p, ok := a[k]; ok {
		return p.GetF()
	}
	return def
}

func (a onnxAttrs) s(k, def string) string {
	if p, ok := a[k]; ok {
		return string(p.GetS())
	}
	return def
}

func (a onnxAttrs) ints(k string) []int {
	p, ok := a[k]
	if !ok {
		return nil
	}
	out := make([]int, len(p.GetInts()))
	for i, v := range p.GetInts() {
		out[i] = clampInt(v)
	}
	return out
}

func (b *onnxBuilder) node(idx int, np *onnxpb.NodeProto) error {
	name := np.GetName()
	if name == "" && len(np.GetOutput()) > 0 {
		name = np.GetOutput()[0]
	}
	op := np.GetOpType()
	if d := np.GetDomain(); d != "" && d != "ai.onnx" {
		return &UnsupportedOpError{Op: d + "." + op, Node: name, Detail: "operator domain"}
	}
	a := onnxAttrs{}
	for _, at := range np.GetAttribute() {
		a[at.GetName()] = at
	}
	var in []onnxVal
	for _, ref := range np.GetInput() {
		if ref == "" {
			in = append(in, onnxVal{})
			continue
		}
		x, ok := b.vals[ref]
		if !ok {
			return &NodeError{Op: op, Node: name, Err: fmt.Errorf("%w: input %q is not defined before node %d", ErrFormat, ref, idx)}
		}
		in = append(in, x)
	}
	outs := np.GetOutput()
	if len(outs) == 0 {
		return &NodeError{Op: op, Node: name, Err: fmt.Errorf("%w: node has no outputs", ErrFormat)}
	}
	bad := func(format string, args ...any) error {
		return &NodeError{Op: op, Node: name, Err: fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)}
	}
	unsupported := func(detail string) error { return &UnsupportedOpError{Op: op, Node: name, Detail: detail} }
	need := func(k int) error {
		if len(in) < k {
			return bad("%d inputs, want %d", len(in), k)
		}
		for i := 0; i < k; i++ {
			if in[i].v == nil {
				return bad("input %d is empty", i)
			}
		}
		return nil
	}
	// add appends a node with one output (ONNX output 0).
	add := func(o Op, ins []*Value, nhwc bool, rank int) *Node {
		n := &Node{Name: name, Op: o, In: ins}
		v := &Value{Name: outs[0], Producer: n}
		n.Out = []*Value{v}
		b.g.Nodes = append(b.g.Nodes, n)
		b.vals[outs[0]] = onnxVal{v: v, nhwc: nhwc, rank: rank}
		return n
	}
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return &NodeError{Op: op, Node: name, Err: err}
	}
	switch op {
	case "Identity", "Dropout":
		if err := need(1); err != nil {
			return err
		}
		b.vals[outs[0]] = in[0]
		return nil
	case "Constant":
		t, err := onnxConstAttr(a)
		if err != nil {
			return wrap(err)
		}
		b.vals[outs[0]] = onnxVal{v: newConst(outs[0], t), rank: len(t.Shape)}
		return nil
	case "Conv":
		return wrap(b.conv(name, in, outs[0], a, add))
	case "BatchNormalization":
		if err := need(5); err != nil {
			return err
		}
		scale, shift, err := bnConsts([]*Value{in[1].v, in[2].v, in[3].v, in[4].v}, a.f("epsilon", 1e-5))
		if err != nil {
			return wrap(err)
		}
		x := in[0]
		if !x.nhwc {
			if x.rank < 0 {
				return unsupported("input of unknown rank")
			}
			if x.rank == 4 {
				v, err := b.nhwc(x, name)
				if err != nil {
					return wrap(err)
				}
				x = onnxVal{v: v, nhwc: true, rank: 4}
			} else if x.rank != 2 {
				return unsupported(fmt.Sprintf("rank %d input", x.rank))
			}
		}
		m := &Node{Name: name, Op: OpMul, In: []*Value{x.v, newConst(name+"/bn_scale", scale)}}
		m.Out = []*Value{{Name: outs[0] + "/bn_scaled", Producer: m}}
		b.g.Nodes = append(b.g.Nodes, m)
		add(OpAdd, []*Value{m.Out[0], newConst(name+"/bn_shift", shift)}, x.nhwc, x.rank)
		return nil
	case "Relu", "Sigmoid", "Tanh", "LeakyRelu", "HardSwish", "HardSigmoid", "Clip", "Neg", "Exp", "Sqrt", "Abs":
		if err := need(1); err != nil {
			return err
		}
		x := in[0]
		switch op {
		case "Neg", "Exp", "Sqrt", "Abs":
			add(map[string]Op{"Neg": OpNeg, "Exp": OpExp, "Sqrt": OpSqrt, "Abs": OpAbs}[op], []*Value{x.v}, x.nhwc, x.rank)
			return nil
		case "HardSigmoid":
			// max(0, min(1, alpha·x + beta)) as Mul, Add and Clip
			alpha, beta := a.f("alpha", 0.2), a.f("beta", 0.5)
			m := &Node{Name: name, Op: OpMul, In: []*Value{x.v, scalarConst(name+"/alpha", alpha)}}
			m.Out = []*Value{{Name: outs[0] + "/scaled", Producer: m}}
			s := &Node{Name: name, Op: OpAdd, In: []*Value{m.Out[0], scalarConst(name+"/beta", beta)}}
			s.Out = []*Value{{Name: outs[0] + "/shifted", Producer: s}}
			b.g.Nodes = append(b.g.Nodes, m, s)
			n := add(OpActivation, []*Value{s.Out[0]}, x.nhwc, x.rank)
			n.Act, n.Alpha, n.Beta = ActClip, 0, 1
			return nil
		}
		n := add(OpActivation, []*Value{x.v}, x.nhwc, x.rank)
		switch op {
		case "Relu":
			n.Act = ActRelu
		case "Sigmoid":
			n.Act = ActSigmoid
		case "Tanh":
			n.Act = ActTanh
		case "LeakyRelu":
			n.Act, n.Alpha = ActLeakyRelu, a.f("alpha", 0.01)
		case "HardSwish":
			n.Act, n.Alpha = ActHardSwish, 1.0/6
		case "Clip":
			n.Act = ActClip
			n.Alpha, n.Beta = a.f("min", -math.MaxFloat32), a.f("max", math.MaxFloat32)
			if b.opset >= 11 {
				n.Alpha, n.Beta = -math.MaxFloat32, math.MaxFloat32
				hasMin := len(in) > 1 && in[1].v != nil
				hasMax := len(in) > 2 && in[2].v != nil
				if hasMin {
					n.In = append(n.In, in[1].v)
				}
				if hasMax {
					n.In = append(n.In, in[2].v)
				}
				n.nData, n.bind = 1, func(nd *Node, p []*Tensor) error {
					get := func(t *Tensor) (float32, error) {
						if f := t.Float32s(); len(f) == 1 {
							return f[0], nil
						}
						return 0, fmt.Errorf("%w: Clip bound is not one float", ErrUnsupported)
					}
					var err error
					if hasMin {
						if nd.Alpha, err = get(p[0]); err != nil {
							return err
						}
						p = p[1:]
					}
					if hasMax {
						nd.Beta, err = get(p[0])
					}
					return err
				}
			}
		}
		return nil
	case "Add", "Sub", "Mul", "Div", "Pow", "Equal", "Greater", "Less", "Max", "Min", "Sum":
		if err := need(2); err != nil {
			if op == "Max" || op == "Min" || op == "Sum" {
				if len(in) == 1 && in[0].v != nil {
					b.vals[outs[0]] = in[0]
					return nil
				}
			}
			return err
		}
		o := map[string]Op{"Add": OpAdd, "Sub": OpSub, "Mul": OpMul, "Div": OpDiv, "Pow": OpPow, "Equal": OpEqual,
			"Greater": OpGreater, "Less": OpLess, "Max": OpMaximum, "Min": OpMinimum, "Sum": OpAdd}[op]
		acc := in[0]
		for i := 1; i < len(in); i++ {
			x, y, nhwc, err := b.binaryOperands(acc, in[i], name)
			if err != nil {
				return wrap(err)
			}
			rank := max(acc.rank, in[i].rank)
			if acc.rank < 0 || in[i].rank < 0 {
				rank = -1
			}
			if i == len(in)-1 {
				add(o, []*Value{x, y}, nhwc, rank)
				continue
			}
			n := &Node{Name: name, Op: o, In: []*Value{x, y}}
			n.Out = []*Value{{Name: fmt.Sprintf("%s/%d", outs[0], i), Producer: n}}
			b.g.Nodes = append(b.g.Nodes, n)
			acc = onnxVal{v: n.Out[0], nhwc: nhwc, rank: rank}
		}
		return nil
	case "GlobalAveragePool", "GlobalMaxPool":
		if err := need(1); err != nil {
			return err
		}
		if op == "GlobalMaxPool" {
			return unsupported("")
		}
		x, err := b.nhwc(in[0], name)
		if err != nil {
			return wrap(err)
		}
		n := add(OpMean, []*Value{x}, true, 4)
		n.Axes, n.KeepDims = []int{1, 2}, true
		return nil
	case "ReduceMean":
		if err := need(1); err != nil {
			return err
		}
		keep := a.i("keepdims", 1) == 1
		axes := a.ints("axes")
		x := in[0]
		var params []*Value
		if b.opset >= 18 && len(in) > 1 && in[1].v != nil {
			params = append(params, in[1].v)
		}
		var n *Node
		if x.nhwc && keep {
			n = add(OpMean, append([]*Value{x.v}, params...), true, 4)
		} else {
			rank := x.rank
			if !keep {
				rank = -1
			}
			n = add(OpMean, append([]*Value{b.nchw(x, name)}, params...), false, rank)
		}
		n.KeepDims = keep
		nhwc := x.nhwc && keep
		setAxes := func(nd *Node, ax []int) error {
			if len(ax) == 0 { // all axes
				r := len(nd.In[0].Shape)
				ax = make([]int, r)
				for i := range ax {
					ax[i] = i
				}
			}
			nd.Axes = slices.Clone(ax)
			if nhwc {
				for i, v := range nd.Axes {
					if v < 0 {
						v += 4
					}
					if v < 0 || v > 3 {
						return fmt.Errorf("%w: axis %d", ErrShape, v)
					}
					nd.Axes[i] = nhwcAxis(v)
				}
			}
			return nil
		}
		n.nData, n.bind = 1, func(nd *Node, p []*Tensor) error {
			if len(p) > 0 {
				return setAxes(nd, p[0].Ints())
			}
			return setAxes(nd, axes)
		}
		return nil
	case "Concat":
		if err := need(1); err != nil {
			return err
		}
		axis := a.i("axis", 0)
		all := true
		for _, x := range in {
			all = all && x.nhwc
		}
		var ins []*Value
		for _, x := range in {
			if all {
				ins = append(ins, x.v)
			} else {
				ins = append(ins, b.nchw(x, name))
			}
		}
		n := add(OpConcat, ins, all, in[0].rank)
		if all {
			if axis < 0 {
				axis += 4
			}
			if axis < 0 || axis > 3 {
				return bad("axis %d", a.i("axis", 0))
			}
			axis = nhwcAxis(axis)
		}
		n.Axis = axis
		return nil
	case "MaxPool", "AveragePool":
		if err := need(1); err != nil {
			return err
		}
		if len(outs) > 1 && outs[1] != "" {
			return unsupported("indices output")
		}
		x, err := b.nhwc(in[0], name)
		if err != nil {
			return wrap(err)
		}
		o := OpMaxPool
		if op == "AveragePool" {
			o = OpAvgPool
		}
		n := add(o, []*Value{x}, true, 4)
		k := a.ints("kernel_shape")
		if len(k) != 2 {
			return unsupported(fmt.Sprintf("kernel_shape %v (2-D pools only)", k))
		}
		n.Conv.KH, n.Conv.KW = k[0], k[1]
		if err := onnxWindow(&n.Conv, a); err != nil {
			return wrap(err)
		}
		n.Conv.CeilMode = a.i("ceil_mode", 0) == 1
		n.Conv.CountIncludePad = a.i("count_include_pad", 0) == 1
		return nil
	case "Resize", "Upsample":
		return wrap(b.resize(op, name, in, a, add))
	case "Reshape":
		if err := need(2); err != nil {
			return err
		}
		rank := -1
		if in[1].v.IsConst() {
			rank = in[1].v.Const.Len()
		}
		n := add(OpReshape, []*Value{b.nchw(in[0], name), in[1].v}, false, rank)
		allowZero := a.i("allowzero", 0) == 1
		n.nData, n.bind = 1, func(nd *Node, p []*Tensor) error {
			s := p[0].Ints()
			if allowZero && slices.Contains(s, 0) {
				return fmt.Errorf("%w: allowzero with a zero dimension", ErrUnsupported)
			}
			nd.NewShape = Shape(s)
			return nil
		}
		return nil
	case "Flatten":
		if err := need(1); err != nil {
			return err
		}
		n := add(OpFlatten, []*Value{b.nchw(in[0], name)}, false, 2)
		n.Axis = a.i("axis", 1)
		return nil
	case "Transpose":
		if err := need(1); err != nil {
			return err
		}
		n := add(OpTranspose, []*Value{b.nchw(in[0], name)}, false, in[0].rank)
		n.Perm = a.ints("perm")
		return nil
	case "Squeeze", "Unsqueeze":
		if err := need(1); err != nil {
			return err
		}
		o := OpSqueeze
		if op == "Unsqueeze" {
			o = OpExpandDims
		}
		ins := []*Value{b.nchw(in[0], name)}
		if len(in) > 1 && in[1].v != nil {
			ins = append(ins, in[1].v)
		}
		rank := -1
		n := add(o, ins, false, rank)
		n.Axes = a.ints("axes")
		if len(ins) > 1 {
			n.nData, n.bind = 1, func(nd *Node, p []*Tensor) error { nd.Axes = p[0].Ints(); return nil }
		}
		return nil
	case "Pad":
		return wrap(b.pad(name, in, a, add))
	case "Shape":
		if err := need(1); err != nil {
			return err
		}
		if _, ok := a["start"]; ok {
			return unsupported("start/end attributes")
		}
		if _, ok := a["end"]; ok {
			return unsupported("start/end attributes")
		}
		add(OpShape, []*Value{b.nchw(in[0], name)}, false, 1)
		return nil
	case "Gather":
		if err := need(2); err != nil {
			return err
		}
		n := add(OpGather, []*Value{b.nchw(in[0], name), b.nchw(in[1], name)}, false, -1)
		n.Axis = a.i("axis", 0)
		return nil
	case "Cast":
		if err := need(1); err != nil {
			return err
		}
		dt, err := onnxDType(int32(a.i("to", 1)))
		if err != nil {
			return wrap(err)
		}
		n := add(OpCast, []*Value{in[0].v}, in[0].nhwc, in[0].rank)
		n.To = dt
		return nil
	case "Gemm", "MatMul":
		return wrap(b.gemm(op, name, in, a, add))
	case "Softmax":
		if err := need(1); err != nil {
			return err
		}
		n := add(OpSoftmax, []*Value{b.nchw(in[0], name)}, false, in[0].rank)
		def := -1
		if b.opset < 13 {
			def = 1
			if in[0].rank != 2 {
				return unsupported("opset < 13 softmax on rank ≠ 2 (flattening semantics)")
			}
		}
		n.Axis = a.i("axis", def)
		return nil
	case "Slice":
		return wrap(b.slice(name, in, a, add))
	case "TopK":
		if err := need(2); err != nil {
			return err
		}
		if a.i("largest", 1) != 1 {
			return unsupported("largest=0")
		}
		x := onnxVal{v: b.nchw(in[0], name), rank: in[0].rank}
		if ax := a.i("axis", -1); ax != -1 && (x.rank < 0 || ax != x.rank-1) {
			return unsupported("axis other than the last")
		}
		n := add(OpTopK, []*Value{x.v, in[1].v}, false, x.rank)
		if len(outs) > 1 {
			v := &Value{Name: outs[1], Producer: n}
			n.Out = append(n.Out, v)
			b.vals[outs[1]] = onnxVal{v: v, rank: x.rank}
		} else {
			n.Out = append(n.Out, &Value{Name: outs[0] + ":1", Producer: n})
		}
		n.nData, n.bind = 1, func(nd *Node, p []*Tensor) error {
			k := p[0].Ints()
			if len(k) != 1 {
				return fmt.Errorf("%w: k %v", ErrShape, k)
			}
			nd.K = k[0]
			return nil
		}
		return nil
	}
	return unsupported("")
}

// binaryOperands lines up two operands' layouts: both NHWC when one is and the other is
// a constant that can be broadcast into NHWC; otherwise both in the ONNX layout.
func (b *onnxBuilder) binaryOperands(x, y onnxVal, node string) (*Value, *Value, bool, error) {
	if x.nhwc == y.nhwc {
		return x.v, y.v, x.nhwc, nil
	}
	c, other := y, x
	if !x.nhwc {
		c, other = x, y
	}
	if c.v.IsConst() && len(c.v.Shape) <= 4 {
		// broadcast the constant up to rank 4, then move its channel axis last
		s := c.v.Const
		padded := *s
		padded.Shape = append(make(Shape, 4-len(s.Shape)), s.Shape...)
		for i := 0; i < 4-len(s.Shape); i++ {
			padded.Shape[i] = 1
		}
		pv := &Value{Name: c.v.Name, DType: s.DType, Shape: padded.Shape, Const: &padded}
		t, err := transposeConst(pv, permToNHWC, c.v.Name+"/nhwc")
		if err != nil {
			return nil, nil, false, err
		}
		if x.nhwc {
			return other.v, t, true, nil
		}
		return t, other.v, true, nil
	}
	return b.nchw(x, node), b.nchw(y, node), false, nil
}

func scalarConst(name string, f float32) *Value {
	return newConst(name, &Tensor{DType: Float32, Shape: Shape{}, F32: []float32{f}})
}

// onnxWindow reads strides, dilations, pads and auto_pad.
func onnxWindow(p *ConvParams, a onnxAttrs) error {
	p.StrideH, p.StrideW, p.DilationH, p.DilationW = 1, 1, 1, 1
	if s := a.ints("strides"); s != nil {
		if len(s) != 2 {
			return fmt.Errorf("%w: strides %v", ErrUnsupported, s)
		}
		p.StrideH, p.StrideW = s[0], s[1]
	}
	if d := a.ints("dilations"); d != nil {
		if len(d) != 2 {
			return fmt.Errorf("%w: dilations %v", ErrUnsupported, d)
		}
		p.DilationH, p.DilationW = d[0], d[1]
	}
	if p.StrideH <= 0 || p.StrideW <= 0 || p.DilationH <= 0 || p.DilationW <= 0 {
		return fmt.Errorf("%w: strides/dilations must be positive", ErrShape)
	}
	switch ap := a.s("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		p.Mode = PadExplicit
		if pads := a.ints("pads"); pads != nil {
			if len(pads) != 4 {
				return fmt.Errorf("%w: pads %v", ErrUnsupported, pads)
			}
			p.Pads = [4]int{pads[0], pads[1], pads[2], pads[3]}
		}
	case "SAME_UPPER":
		p.Mode = PadSame
	case "SAME_LOWER":
		p.Mode = PadSameLower
	case "VALID":
		p.Mode = PadValid
	default:
		return fmt.Errorf("%w: auto_pad %q", ErrUnsupported, ap)
	}
	return nil
}

func (b *onnxBuilder) conv(name string, in []onnxVal, out string, a onnxAttrs, add func(Op, []*Value, bool, int) *Node) error {
	if len(in) < 2 || in[0].v == nil || in[1].v == nil {
		return fmt.Errorf("%w: Conv needs x and W", ErrFormat)
	}
	w := in[1].v
	if !w.IsConst() {
		return &UnsupportedOpError{Op: "Conv", Node: name, Detail: "weights computed at run time"}
	}
	ws := w.Const.Shape
	if len(ws) != 4 {
		return &UnsupportedOpError{Op: "Conv", Node: name, Detail: fmt.Sprintf("weights %v (2-D convolutions only)", ws)}
	}
	x, err := b.nhwc(in[0], name)
	if err != nil {
		return err
	}
	group := a.i("group", 1)
	cout, cinG, kh, kw := ws[0], ws[1], ws[2], ws[3]
	if group <= 0 || cout%group != 0 {
		return fmt.Errorf("%w: %d output channels in %d groups", ErrShape, cout, group)
	}
	src := w.Const.Float32s()
	var n *Node
	if group > 1 && cinG == 1 {
		// depthwise: [Cout=C·M, 1, KH, KW] → [KH, KW, C, M]
		c, m := group, cout/group
		t := NewTensor(Float32, Shape{kh, kw, c, m})
		for o := 0; o < cout; o++ {
			for ky := 0; ky < kh; ky++ {
				for kx := 0; kx < kw; kx++ {
					t.F32[((ky*kw+kx)*c+o/m)*m+o%m] = src[(o*kh+ky)*kw+kx]
				}
			}
		}
		n = add(OpDepthwiseConv, []*Value{x, newConst(w.Name+"/hwcm", t)}, true, 4)
	} else {
		// [Cout, Cin/G, KH, KW] → [KH, KW, Cin/G, Cout]
		t := NewTensor(Float32, Shape{kh, kw, cinG, cout})
		for o := 0; o < cout; o++ {
			for ci := 0; ci < cinG; ci++ {
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						t.F32[((ky*kw+kx)*cinG+ci)*cout+o] = src[((o*cinG+ci)*kh+ky)*kw+kx]
					}
				}
			}
		}
		n = add(OpConv, []*Value{x, newConst(w.Name+"/hwio", t)}, true, 4)
		n.Conv.Groups = group
	}
	if w.Const.Half() { // keep FP16 weights FP16
		wt := n.In[1].Const
		wt.F16, wt.F32 = wt.Float16s(), nil
	}
	if len(in) > 2 && in[2].v != nil {
		if !in[2].v.IsConst() {
			return &UnsupportedOpError{Op: "Conv", Node: name, Detail: "bias computed at run time"}
		}
		n.In = append(n.In, in[2].v)
	}
	if k := a.ints("kernel_shape"); k != nil && (len(k) != 2 || k[0] != kh || k[1] != kw) {
		return fmt.Errorf("%w: kernel_shape %v for weights %v", ErrShape, k, ws)
	}
	return onnxWindow(&n.Conv, a)
}

func (b *onnxBuilder) resize(op, name string, in []onnxVal, a onnxAttrs, add func(Op, []*Value, bool, int) *Node) error {
	if len(in) < 1 || in[0].v == nil {
		return fmt.Errorf("%w: %s needs an input", ErrFormat, op)
	}
	x, err := b.nhwc(in[0], name)
	if err != nil {
		return err
	}
	var scales, sizes *Value
	switch {
	case op == "Upsample" && b.opset < 9:
	case op == "Upsample" || b.opset < 11:
		if len(in) > 1 {
			scales = in[1].v
		}
	default:
		if len(in) > 2 {
			scales = in[2].v
		}
		if len(in) > 3 {
			sizes = in[3].v
		}
	}
	n := add(OpResize, []*Value{x}, true, 4)
	r := &n.Resize
	switch mode := a.s("mode", "nearest"); mode {
	case "nearest":
		r.Mode = ResizeNearest
	case "linear", "bilinear":
		r.Mode = ResizeBilinear
	default:
		return &UnsupportedOpError{Op: op, Node: name, Detail: "mode " + mode}
	}
	if op == "Upsample" || b.opset < 11 {
		r.Coord, r.Nearest = CoordAsymmetric, RoundFloor
		if op == "Upsample" && b.opset < 9 {
			s := a["scales"].GetFloats()
			if len(s) != 4 || s[0] != 1 || s[1] != 1 {
				return fmt.Errorf("%w: scales %v", ErrUnsupported, s)
			}
			r.ScaleH, r.ScaleW = float64(s[2]), float64(s[3])
			return nil
		}
	} else {
		switch cm := a.s("coordinate_transformation_mode", "half_pixel"); cm {
		case "half_pixel":
			r.Coord = CoordHalfPixel
		case "pytorch_half_pixel":
			r.Coord = CoordPytorchHalfPixel
		case "align_corners":
			r.Coord = CoordAlignCorners
		case "asymmetric":
			r.Coord = CoordAsymmetric
		case "tf_half_pixel_for_nn":
			r.Coord = CoordTFHalfPixelNN
		default:
			return &UnsupportedOpError{Op: op, Node: name, Detail: "coordinate_transformation_mode " + cm}
		}
		switch nm := a.s("nearest_mode", "round_prefer_floor"); nm {
		case "round_prefer_floor":
			r.Nearest = RoundPreferFloor
		case "round_prefer_ceil":
			r.Nearest = RoundPreferCeil
		case "floor":
			r.Nearest = RoundFloor
		case "ceil":
			r.Nearest = RoundCeil
		default:
			return &UnsupportedOpError{Op: op, Node: name, Detail: "nearest_mode " + nm}
		}
	}
	var params []*Value
	hasScales, hasSizes := scales != nil, sizes != nil
	if hasScales {
		params = append(params, scales)
	}
	if hasSizes {
		params = append(params, sizes)
	}
	n.In = append(n.In, params...)
	n.nData, n.bind = 1, func(nd *Node, p []*Tensor) error {
		i := 0
		if hasScales {
			s := p[0].Float32s()
			i++
			if len(s) == 4 {
				if s[0] != 1 || s[1] != 1 {
					return fmt.Errorf("%w: scales %v resize batch or channels", ErrUnsupported, s)
				}
				nd.Resize.ScaleH, nd.Resize.ScaleW = float64(s[2]), float64(s[3])
			} else if len(s) != 0 {
				return fmt.Errorf("%w: scales %v", ErrShape, s)
			}
		}
		if hasSizes {
			s := p[i].Ints()
			if len(s) == 4 {
				if s[0] != nd.In[0].Shape[0] || s[1] != nd.In[0].Shape[3] {
					return fmt.Errorf("%w: sizes %v resize batch or channels", ErrUnsupported, s)
				}
				nd.Resize.SizeH, nd.Resize.SizeW = s[2], s[3]
				nd.Resize.ScaleH, nd.Resize.ScaleW = 0, 0
			} else if len(s) != 0 {
				return fmt.Errorf("%w: sizes %v", ErrShape, s)
			}
		}
		return nil
	}
	return nil
}

func (b *onnxBuilder) pad(name string, in []onnxVal, a onnxAttrs, add func(Op, []*Value, bool, int) *Node) error {
	if len(in) < 1 || in[0].v == nil {
		return fmt.Errorf("%w: Pad needs an input", ErrFormat)
	}
	x := in[0]
	n := add(OpPad, []*Value{x.v}, x.nhwc, x.rank)
	switch mode := a.s("mode", "constant"); mode {
	case "constant":
		n.Pad.Mode = FillConstant
	case "reflect":
		n.Pad.Mode = FillReflect
	case "edge":
		n.Pad.Mode = FillEdge
	default:
		return &UnsupportedOpError{Op: "Pad", Node: name, Detail: "mode " + mode}
	}
	nhwc := x.nhwc
	set := func(nd *Node, pads []int) error {
		r := len(pads) / 2
		if len(pads)%2 != 0 || r != len(nd.In[0].Shape) {
			return fmt.Errorf("%w: pads %v for rank %d", ErrShape, pads, len(nd.In[0].Shape))
		}
		begin, end := slices.Clone(pads[:r]), slices.Clone(pads[r:])
		if nhwc {
			for i, p := range permToNHWC {
				begin[i], end[i] = pads[p], pads[r+p]
			}
		}
		nd.Pad.Begin, nd.Pad.End = begin, end
		return nil
	}
	if b.opset < 11 {
		n.Pad.Value = a.f("value", 0)
		pads := a.ints("pads")
		n.nData, n.bind = 1, func(nd *Node, _ []*Tensor) error { return set(nd, pads) }
		return nil
	}
	if len(in) < 2 || in[1].v == nil {
		return fmt.Errorf("%w: Pad needs pads", ErrFormat)
	}
	if len(in) > 3 && in[3].v != nil {
		return &UnsupportedOpError{Op: "Pad", Node: name, Detail: "axes input"}
	}
	n.In = append(n.In, in[1].v)
	hasValue := len(in) > 2 && in[2].v != nil
	if hasValue {
		n.In = append(n.In, in[2].v)
	}
	n.nData, n.bind = 1, func(nd *Node, p []*Tensor) error {
		if hasValue {
			if f := p[1].Float32s(); len(f) > 0 {
				nd.Pad.Value = f[0]
			} else if len(p[1].I32) > 0 {
				nd.Pad.Value = float32(p[1].I32[0])
			}
		}
		return set(nd, p[0].Ints())
	}
	return nil
}

func (b *onnxBuilder) slice(name string, in []onnxVal, a onnxAttrs, add func(Op, []*Value, bool, int) *Node) error {
	if len(in) < 1 || in[0].v == nil {
		return fmt.Errorf("%w: Slice needs an input", ErrFormat)
	}
	x := b.nchw(in[0], name)
	n := add(OpSlice, []*Value{x}, false, in[0].rank)
	if b.opset < 10 {
		starts, ends, axes := a.ints("starts"), a.ints("ends"), a.ints("axes")
		n.nData, n.bind = 1, func(nd *Node, _ []*Tensor) error { return setSlice(nd, starts, ends, axes, nil) }
		return nil
	}
	if len(in) < 3 || in[1].v == nil || in[2].v == nil {
		return fmt.Errorf("%w: Slice needs starts and ends", ErrFormat)
	}
	present := []bool{true, true, len(in) > 3 && in[3].v != nil, len(in) > 4 && in[4].v != nil}
	for i := 1; i < len(in) && i <= 4; i++ {
		if in[i].v != nil {
			n.In = append(n.In, in[i].v)
		}
	}
	n.nData, n.bind = 1, func(nd *Node, p []*Tensor) error {
		var lists [4][]int
		j := 0
		for i := 0; i < 4; i++ {
			if present[i] {
				lists[i] = p[j].Ints()
				j++
			}
		}
		return setSlice(nd, lists[0], lists[1], lists[2], lists[3])
	}
	return nil
}

func setSlice(nd *Node, starts, ends, axes, steps []int) error {
	if len(starts) != len(ends) {
		return fmt.Errorf("%w: %d starts and %d ends", ErrShape, len(starts), len(ends))
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, i)
		}
	}
	if len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
		return fmt.Errorf("%w: slice lists of different lengths", ErrShape)
	}
	s := &nd.Slice
	s.Begin, s.End, s.Axes, s.Strides = starts, ends, axes, steps
	return nil
}

func (b *onnxBuilder) gemm(op, name string, in []onnxVal, a onnxAttrs, add func(Op, []*Value, bool, int) *Node) error {
	if len(in) < 2 || in[0].v == nil || in[1].v == nil {
		return fmt.Errorf("%w: %s needs two inputs", ErrFormat, op)
	}
	w := in[1].v
	if !w.IsConst() || len(w.Const.Shape) != 2 {
		return &UnsupportedOpError{Op: op, Node: name, Detail: "second operand is not a constant matrix"}
	}
	if a.i("transA", 0) != 0 {
		return &UnsupportedOpError{Op: op, Node: name, Detail: "transA"}
	}
	if a.i("transB", 0) != 0 {
		t, err := transposeConst(w, []int{1, 0}, w.Name+"/T")
		if err != nil {
			return err
		}
		w = t
	}
	alpha, beta := a.f("alpha", 1), a.f("beta", 1)
	if alpha != 1 {
		src := w.Const.Float32s()
		t := NewTensor(Float32, w.Shape)
		for i, v := range src {
			t.F32[i] = v * alpha
		}
		w = newConst(w.Name+"/alpha", t)
	}
	ins := []*Value{b.nchw(in[0], name), w}
	if op == "Gemm" && len(in) > 2 && in[2].v != nil {
		c := in[2].v
		if !c.IsConst() || c.Const.Len() != w.Shape[1] && c.Const.Len() != 1 {
			return &UnsupportedOpError{Op: op, Node: name, Detail: "bias C is not a constant row"}
		}
		src := c.Const.Float32s()
		t := NewTensor(Float32, Shape{w.Shape[1]})
		for i := range t.F32 {
			t.F32[i] = src[min(i, len(src)-1)] * beta
		}
		ins = append(ins, newConst(name+"/bias", t))
	}
	add(OpMatMul, ins, false, in[0].rank)
	return nil
}

func onnxDType(t int32) (DType, error) {
	switch onnxpb.TensorProto_DataType(t) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_BFLOAT16:
		return Float32, nil
	case onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8, onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16,
		onnxpb.TensorProto_INT32, onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		return Int32, nil
	case onnxpb.TensorProto_BOOL:
		return Bool, nil
	}
	return 0, fmt.Errorf("%w: tensor data type %d", ErrUnsupported, t)
}

// onnxTensor decodes a TensorProto (raw_data or the typed fields).
func onnxTensor(t *onnxpb.TensorProto) (*Tensor, error) {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("%w: external tensor data", ErrUnsupported)
	}
	dt, err := onnxDType(t.GetDataType())
	if err != nil {
		return nil, err
	}
	shape := Shape{}
	count := int64(1)
	for _, d := range t.GetDims() {
		if d < 0 || (d > 0 && count > (1<<31)/d) {
			return nil, fmt.Errorf("%w: dims %v", ErrFormat, t.GetDims())
		}
		count *= d
		shape = append(shape, int(d))
	}
	n := int(count)
	out := &Tensor{DType: dt, Shape: shape}
	raw := t.GetRawData()
	kind := onnxpb.TensorProto_DataType(t.GetDataType())
	esize := map[onnxpb.TensorProto_DataType]int{
		onnxpb.TensorProto_FLOAT: 4, onnxpb.TensorProto_FLOAT16: 2, onnxpb.TensorProto_DOUBLE: 8, onnxpb.TensorProto_BFLOAT16: 2,
		onnxpb.TensorProto_INT8: 1, onnxpb.TensorProto_UINT8: 1, onnxpb.TensorProto_INT16: 2, onnxpb.TensorProto_UINT16: 2,
		onnxpb.TensorProto_INT32: 4, onnxpb.TensorProto_INT64: 8, onnxpb.TensorProto_UINT32: 4, onnxpb.TensorProto_UINT64: 8,
		onnxpb.TensorProto_BOOL: 1,
	}[kind]
	if raw != nil {
		if len(raw) != n*esize {
			return nil, fmt.Errorf("%w: raw_data of %d bytes for %d elements of %d bytes", ErrFormat, len(raw), n, esize)
		}
		switch kind {
		case onnxpb.TensorProto_FLOAT:
			out.F32 = make([]float32, n)
			for i := range out.F32 {
				out.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		case onnxpb.TensorProto_FLOAT16:
			out.F16 = make([]uint16, n)
			for i := range out.F16 {
				out.F16[i] = binary.LittleEndian.Uint16(raw[2*i:])
			}
		case onnxpb.TensorProto_BFLOAT16:
			out.F32 = make([]float32, n)
			for i := range out.F32 {
				out.F32[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
			}
		case onnxpb.TensorProto_DOUBLE:
			out.F32 = make([]float32, n)
			for i := range out.F32 {
				out.F32[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
			}
		default:
			out.I32 = make([]int32, n)
			for i := range out.I32 {
				var v int64
				switch kind {
				case onnxpb.TensorProto_INT8:
					v = int64(int8(raw[i]))
				case onnxpb.TensorProto_UINT8, onnxpb.TensorProto_BOOL:
					v = int64(raw[i])
				case onnxpb.TensorProto_INT16:
					v = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
				case onnxpb.TensorProto_UINT16:
					v = int64(binary.LittleEndian.Uint16(raw[2*i:]))
				case onnxpb.TensorProto_INT32:
					v = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
				case onnxpb.TensorProto_UINT32:
					v = int64(binary.LittleEndian.Uint32(raw[4*i:]))
				case onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64:
					v = int64(binary.LittleEndian.Uint64(raw[8*i:]))
				}
				out.I32[i] = int32(max(min(v, math.MaxInt32), math.MinInt32))
				if kind == onnxpb.TensorProto_BOOL {
					out.I32[i] = b2i(v != 0)
				}
			}
		}
		return out, nil
	}
	fill := func(got int) error {
		if got != n {
			return fmt.Errorf("%w: %d values for %d elements", ErrFormat, got, n)
		}
		return nil
	}
	switch kind {
	case onnxpb.TensorProto_FLOAT:
		if err := fill(len(t.GetFloatData())); err != nil {
			return nil, err
		}
		out.F32 = slices.Clone(t.GetFloatData())
	case onnxpb.TensorProto_DOUBLE:
		if err := fill(len(t.GetDoubleData())); err != nil {
			return nil, err
		}
		out.F32 = make([]float32, n)
		for i, v := range t.GetDoubleData() {
			out.F32[i] = float32(v)
		}
	case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
		if err := fill(len(t.GetInt32Data())); err != nil {
			return nil, err
		}
		if kind == onnxpb.TensorProto_FLOAT16 {
			out.F16 = make([]uint16, n)
			for i, v := range t.GetInt32Data() {
				out.F16[i] = uint16(v)
			}
		} else {
			out.F32 = make([]float32, n)
			for i, v := range t.GetInt32Data() {
				out.F32[i] = math.Float32frombits(uint32(uint16(v)) << 16)
			}
		}
	case onnxpb.TensorProto_INT64:
		if err := fill(len(t.GetInt64Data())); err != nil {
			return nil, err
		}
		out.I32 = make([]int32, n)
		for i, v := range t.GetInt64Data() {
			out.I32[i] = int32(max(min(v, math.MaxInt32), math.MinInt32))
		}
	case onnxpb.TensorProto_UINT64, onnxpb.TensorProto_UINT32:
		if err := fill(len(t.GetUint64Data())); err != nil {
			return nil, err
		}
		out.I32 = make([]int32, n)
		for i, v := range t.GetUint64Data() {
			out.I32[i] = int32(min(v, math.MaxInt32))
		}
	default: // int32_data carries int8/16/32, uint8/16, bool
		if err := fill(len(t.GetInt32Data())); err != nil {
			return nil, err
		}
		out.I32 = slices.Clone(t.GetInt32Data())
		if kind == onnxpb.TensorProto_BOOL {
			for i, v := range out.I32 {
				out.I32[i] = b2i(v != 0)
			}
		}
	}
	return out, nil
}

// onnxConstAttr decodes a Constant node's value.
func onnxConstAttr(a onnxAttrs) (*Tensor, error) {
	if p, ok := a["value"]; ok {
		return onnxTensor(p.GetT())
	}
	if p, ok := a["value_float"]; ok {
		return &Tensor{DType: Float32, Shape: Shape{}, F32: []float32{p.GetF()}}, nil
	}
	if p, ok := a["value_floats"]; ok {
		return &Tensor{DType: Float32, Shape: Shape{len(p.GetFloats())}, F32: slices.Clone(p.GetFloats())}, nil
	}
	if p, ok := a["value_int"]; ok {
		return &Tensor{DType: Int32, Shape: Shape{}, I32: []int32{int32(clampInt(p.GetI()))}}, nil
	}
	if p, ok := a["value_ints"]; ok {
		t := &Tensor{DType: Int32, Shape: Shape{len(p.GetInts())}, I32: make([]int32, len(p.GetInts()))}
		for i, v := range p.GetInts() {
			t.I32[i] = int32(clampInt(v))
		}
		return t, nil
	}
	return nil, fmt.Errorf("%w: Constant without a supported value attribute", ErrUnsupported)
}
