package model

import (
	"fmt"
	"math"
)

// Fuse rewrites the graph into fewer, larger nodes, repeating until nothing changes:
//
//   - Sub and Div by a constant become Add and Mul; constants move to the second operand
//     of commutative ops.
//   - Activation patterns become one OpActivation: relu6(x+3)·c → HardSigmoid,
//     x·relu6(x+3)·c (c ≈ 1/6, kept exactly) (in the orders TF and PyTorch export it) → HardSwish,
//     x·sigmoid(x) → SiLU, Clip(0,6) → Relu6.
//   - Convolution (OpConv, OpDepthwiseConv, OpMatMul) + per-channel Add (bias,
//     batch-norm shift) + per-channel Mul (batch-norm scale, folded into the weights) +
//     residual Add of a same-shape tensor (convolutions only) + activation become one
//     node. Afterwards every convolution and matrix product has a bias input.
//   - Transpose pairs that cancel and chains of Reshape collapse.
//
// Values keep the name of the last node of a fused chain, so a cut made before Fuse
// still names the same outputs. Call RemoveDead afterwards (Prepare does).
func (g *Graph) Fuse() error {
	for round := 0; ; round++ {
		if round > 10000 {
			return fmt.Errorf("fuse graph: %w: does not converge", ErrFormat)
		}
		changed, err := g.fuseOnce()
		if err != nil {
			return fmt.Errorf("fuse graph: %w", err)
		}
		if !changed {
			g.RemoveDead()
			for _, n := range g.Nodes {
				switch n.Op {
				case OpConv, OpDepthwiseConv, OpMatMul:
					ensureBias(n)
				}
			}
			// a fused residual may come from a node listed later
			return g.sortTopo()
		}
		g.RemoveDead()
	}
}

func (g *Graph) fuseOnce() (bool, error) {
	cons := g.consumers()
	for _, n := range g.Nodes {
		if canonicalize(n) {
			return true, nil
		}
	}
	for _, n := range g.Nodes {
		if fuseActivationPattern(n) {
			return true, nil
		}
	}
	for _, n := range g.Nodes {
		ok, err := g.fuseIntoConv(n, cons)
		if err != nil || ok {
			return ok, err
		}
	}
	for _, n := range g.Nodes {
		if g.collapseLayout(n) {
			return true, nil
		}
	}
	return false, nil
}

// constScalar returns the value of a one-element float constant.
func constScalar(v *Value) (float32, bool) {
	if !v.IsConst() || v.DType != Float32 || v.Const.Len() != 1 {
		return 0, false
	}
	return v.Const.Float32s()[0], true
}

// near reports whether a model constant a stands for b (FP16 rounding included).
func near(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-3*math.Abs(float64(b)) }

func newConst(name string, t *Tensor) *Value {
	return &Value{Name: name, DType: t.DType, Shape: t.Shape.Clone(), Const: t}
}

// canonicalize moves constants second and turns Sub/Div by a float constant into Add/Mul.
func canonicalize(n *Node) bool {
	if !n.Op.binary() || len(n.In) != 2 {
		return false
	}
	a, b := n.In[0], n.In[1]
	switch n.Op {
	case OpAdd, OpMul, OpMaximum, OpMinimum, OpEqual:
		if a.IsConst() && !b.IsConst() {
			n.In[0], n.In[1] = b, a
			return true
		}
	case OpSub, OpDiv:
		if !b.IsConst() || b.DType != Float32 || a.IsConst() {
			return false
		}
		src := b.Const.Float32s()
		t := &Tensor{DType: Float32, Shape: b.Shape.Clone(), F32: make([]float32, len(src))}
		for i, v := range src {
			if n.Op == OpSub {
				t.F32[i] = -v
			} else {
				t.F32[i] = 1 / v
			}
		}
		if n.Op == OpSub {
			n.Op = OpAdd
		} else {
			n.Op = OpMul
		}
		n.In[1] = newConst(b.Name+"/canon", t)
		return true
	}
	return false
}

// producerOf returns v's producer if it has op o (and, for activations, act a).
func producerOf(v *Value, o Op) *Node {
	if v == nil || v.Producer == nil || v.Producer.Op != o {
		return nil
	}
	return v.Producer
}

// relu6Plus3 returns x when v = relu6(x + 3).
func relu6Plus3(v *Value) *Value {
	r := producerOf(v, OpActivation)
	if r == nil || r.Act != ActRelu6 {
		return nil
	}
	a := producerOf(r.In[0], OpAdd)
	if a == nil || a.Act != ActNone {
		return nil
	}
	if c, ok := constScalar(a.In[1]); ok && near(c, 3) {
		return a.In[0]
	}
	return nil
}

// mulBy returns x and c when v = x · c for a scalar constant c ≈ want.
func mulBy(v *Value, want float32) (*Value, float32) {
	m := producerOf(v, OpMul)
	if m == nil || m.Act != ActNone {
		return nil, 0
	}
	if c, ok := constScalar(m.In[1]); ok && near(c, want) {
		return m.In[0], c
	}
	return nil, 0
}

func setActivation(n *Node, act Activation, x *Value, alpha, beta float32) {
	n.Op = OpActivation
	n.Act, n.Alpha, n.Beta = act, alpha, beta
	n.In = []*Value{x}
}

func fuseActivationPattern(n *Node) bool {
	switch n.Op {
	case OpActivation:
		if n.Act == ActClip && n.Alpha == 0 && n.Beta == 6 {
			n.Act = ActRelu6
			return true
		}
		return false
	case OpMul:
	default:
		return false
	}
	if n.Act != ActNone || n.In[0].DType != Float32 {
		return false
	}
	a, b := n.In[0], n.In[1]
	// relu6(x+3) · c, c ≈ 1/6 → HardSigmoid
	if c, ok := constScalar(b); ok && near(c, 1.0/6) {
		if x := relu6Plus3(a); x != nil {
			setActivation(n, ActHardSigmoid, x, c, 0)
			return true
		}
		// (x · relu6(x+3)) · c → HardSwish
		if m := producerOf(a, OpMul); m != nil && m.Act == ActNone {
			for i := range 2 {
				if x := relu6Plus3(m.In[1-i]); x != nil && x == m.In[i] {
					setActivation(n, ActHardSwish, x, c, 0)
					return true
				}
			}
		}
	}
	for i := range 2 {
		p, q := n.In[i], n.In[1-i]
		// (x · c) · relu6(x+3) → HardSwish (TF's MobileNetV3)
		if x := relu6Plus3(q); x != nil {
			if y, c := mulBy(p, 1.0/6); y == x {
				setActivation(n, ActHardSwish, x, c, 0)
				return true
			}
		}
		// x · hardsigmoid(x) → HardSwish
		if h := producerOf(q, OpActivation); h != nil && h.Act == ActHardSigmoid && h.In[0] == p {
			setActivation(n, ActHardSwish, p, h.Alpha, 0)
			return true
		}
		// x · sigmoid(x) → SiLU
		if s := producerOf(q, OpActivation); s != nil && s.Act == ActSigmoid && s.In[0] == p {
			setActivation(n, ActSiLU, p, 0, 0)
			return true
		}
	}
	return false
}

// perChannel returns the constant's values broadcast to c channels when its shape is
// all ones except a last dimension of c or 1 (rank ≤ the output's).
func perChannel(v *Value, c, outRank int) ([]float32, bool) {
	if !v.IsConst() || v.DType != Float32 || len(v.Shape) > outRank {
		return nil, false
	}
	s := v.Shape
	for i := 0; i < len(s)-1; i++ {
		if s[i] != 1 {
			return nil, false
		}
	}
	vals := v.Const.Float32s()
	out := make([]float32, c)
	switch len(vals) {
	case 1:
		for i := range out {
			out[i] = vals[0]
		}
	case c:
		copy(out, vals)
	default:
		return nil, false
	}
	return out, true
}

// fuseIntoConv folds the single consumer of a convolution's output into it.
func (g *Graph) fuseIntoConv(n *Node, cons map[*Value][]*Node) (bool, error) {
	switch n.Op {
	case OpConv, OpDepthwiseConv, OpMatMul:
	default:
		return false, nil
	}
	out := n.Out[0]
	users := cons[out]
	if len(users) != 1 || g.isOutput(out) || n.Act != ActNone || !out.Shape.Known() {
		return false, nil
	}
	c := users[0]
	if len(c.Out) != 1 || !c.Out[0].Shape.Equal(out.Shape) {
		return false, nil
	}
	oc := out.Shape[len(out.Shape)-1]
	switch c.Op {
	case OpActivation:
		n.Act, n.Alpha, n.Beta = c.Act, c.Alpha, c.Beta
	case OpAdd:
		if c.Act != ActNone {
			return false, nil
		}
		other := c.In[1]
		if c.In[1] == out {
			other = c.In[0]
		}
		if other == out {
			return false, nil
		}
		k, ok := perChannel(other, oc, len(out.Shape))
		if !ok {
			// a residual: the other operand, of the same shape, is added after the bias
			if other.IsConst() || !other.Shape.Equal(out.Shape) || n.Op == OpMatMul || len(n.In) > 3 {
				return false, nil
			}
			ensureBias(n)
			n.In = append(n.In, other)
			break
		}
		bias := make([]float32, oc)
		if len(n.In) > 2 && n.In[2] != nil {
			copy(bias, n.In[2].Const.Float32s())
		}
		for i := range bias {
			bias[i] += k[i]
		}
		b := newConst(n.Name+"/bias", &Tensor{DType: Float32, Shape: Shape{oc}, F32: bias})
		if len(n.In) > 2 {
			n.In[2] = b
		} else {
			n.In = append(n.In, b)
		}
	case OpMul:
		if c.Act != ActNone || c.In[0] != out || !n.In[1].IsConst() {
			return false, nil
		}
		k, ok := perChannel(c.In[1], oc, len(out.Shape))
		if !ok {
			return false, nil
		}
		w := n.In[1]
		src := w.Const.Float32s()
		nw := make([]float32, len(src))
		for i, v := range src {
			nw[i] = v * k[i%oc] // output channel is the last weight axis (HWIO, [KH,KW,C,M] flat C·M, [K,N])
		}
		n.In[1] = newConst(w.Name+"/scaled", &Tensor{DType: Float32, Shape: w.Shape.Clone(), F32: nw})
		if len(n.In) > 2 && n.In[2] != nil {
			bs := n.In[2].Const.Float32s()
			nb := make([]float32, oc)
			for i := range nb {
				nb[i] = bs[i] * k[i]
			}
			n.In[2] = newConst(n.Name+"/bias", &Tensor{DType: Float32, Shape: Shape{oc}, F32: nb})
		}
	default:
		return false, nil
	}
	// n takes over c's output (and its name); c disappears
	n.Out[0] = c.Out[0]
	c.Out[0].Producer = n
	g.removeNodes(map[*Node]bool{c: true})
	return true, nil
}

// ensureBias gives a convolution or matrix product a (zero) bias input if it has none.
func ensureBias(n *Node) {
	if len(n.In) > 2 && n.In[2] != nil {
		return
	}
	oc := n.In[1].Shape[len(n.In[1].Shape)-1]
	if n.Op == OpDepthwiseConv {
		oc *= n.In[1].Shape[2]
	}
	b := newConst(n.Name+"/bias", &Tensor{DType: Float32, Shape: Shape{oc}, F32: make([]float32, oc)})
	n.In = append(n.In[:2], b)
}

// collapseLayout removes Transpose pairs that cancel and merges Reshape chains.
func (g *Graph) collapseLayout(n *Node) bool {
	switch n.Op {
	case OpTranspose:
		p := producerOf(n.In[0], OpTranspose)
		if p == nil || len(p.Perm) != len(n.Perm) {
			return false
		}
		for i, q := range n.Perm {
			if p.Perm[q] != i {
				return false
			}
		}
		src := p.In[0]
		if g.isOutput(n.Out[0]) && src.Shape.Equal(n.Out[0].Shape) {
			// keep the node: the graph output must keep its own value
			n.Op = OpReshape
			n.NewShape = n.Out[0].Shape.Clone()
			n.Perm = nil
			n.In[0] = src
			return true
		}
		g.replaceUses(n.Out[0], src)
		g.removeNodes(map[*Node]bool{n: true})
		return true
	case OpReshape:
		if p := producerOf(n.In[0], OpReshape); p != nil {
			n.In[0] = p.In[0]
			return true
		}
		if n.In[0].Shape.Equal(n.Out[0].Shape) && !g.isOutput(n.Out[0]) && !n.In[0].IsConst() {
			g.replaceUses(n.Out[0], n.In[0])
			g.removeNodes(map[*Node]bool{n: true})
			return true
		}
	}
	return false
}
