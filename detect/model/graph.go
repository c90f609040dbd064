package model

import (
	"fmt"
	"slices"
)

// consumers maps every value to the nodes that read it (a node reading a value twice
// appears twice).
func (g *Graph) consumers() map[*Value][]*Node {
	m := map[*Value][]*Node{}
	for _, n := range g.Nodes {
		for _, v := range n.In {
			m[v] = append(m[v], n)
		}
	}
	return m
}

// isOutput reports whether v is a graph output.
func (g *Graph) isOutput(v *Value) bool { return slices.Contains(g.Outputs, v) }

// replaceUses makes every reader of old (and the graph outputs) read nv instead.
func (g *Graph) replaceUses(old, nv *Value) {
	for _, n := range g.Nodes {
		for i, v := range n.In {
			if v == old {
				n.In[i] = nv
			}
		}
	}
	for i, v := range g.Outputs {
		if v == old {
			g.Outputs[i] = nv
		}
	}
	for k, v := range g.aliases {
		if v == old {
			g.aliases[k] = nv
		}
	}
}

// removeNodes drops the nodes for which drop is true, keeping order.
func (g *Graph) removeNodes(drop map[*Node]bool) {
	if len(drop) == 0 {
		return
	}
	g.Nodes = slices.DeleteFunc(g.Nodes, func(n *Node) bool { return drop[n] })
}

// Cut makes the named values the graph's outputs (in that order) and removes every node
// they do not depend on. Names are the source model's tensor names (TF.js "node" or
// "node:1", ONNX value names).
func (g *Graph) Cut(outputs ...string) error {
	outs := make([]*Value, 0, len(outputs))
	for _, name := range outputs {
		v := g.Value(name)
		if v == nil {
			return fmt.Errorf("cut graph at %q: %w", name, ErrNotFound)
		}
		outs = append(outs, v)
	}
	g.Outputs = outs
	g.RemoveDead()
	return nil
}

// RemoveDead removes the nodes no graph output depends on, and graph inputs nothing
// reads stay (an engine still expects them).
func (g *Graph) RemoveDead() {
	inGraph := map[*Node]bool{}
	for _, n := range g.Nodes {
		inGraph[n] = true
	}
	live := map[*Node]bool{}
	var stack []*Node
	mark := func(v *Value) {
		if p := v.Producer; p != nil && inGraph[p] && !live[p] {
			live[p] = true
			stack = append(stack, p)
		}
	}
	for _, v := range g.Outputs {
		mark(v)
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, v := range n.In {
			mark(v)
		}
	}
	drop := map[*Node]bool{}
	for _, n := range g.Nodes {
		if !live[n] {
			drop[n] = true
		}
	}
	g.removeNodes(drop)
	for k, v := range g.aliases {
		if v.Producer != nil && drop[v.Producer] {
			delete(g.aliases, k)
		}
	}
}

// sortTopo orders the nodes so that every node comes after the producers of its inputs.
func (g *Graph) sortTopo() error {
	done := map[*Node]bool{}
	state := map[*Node]uint8{} // 1 visiting, 2 done
	order := make([]*Node, 0, len(g.Nodes))
	in := map[*Node]bool{}
	for _, n := range g.Nodes {
		in[n] = true
	}
	var visit func(n *Node) error
	visit = func(n *Node) error {
		switch state[n] {
		case 1:
			return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf("%w: graph has a cycle", ErrFormat)}
		case 2:
			return nil
		}
		state[n] = 1
		for _, v := range n.In {
			if p := v.Producer; p != nil && in[p] {
				if err := visit(p); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		done[n] = true
		order = append(order, n)
		return nil
	}
	for _, n := range g.Nodes {
		if err := visit(n); err != nil {
			return err
		}
	}
	g.Nodes = order
	return nil
}

// Validate checks what an engine relies on: topological order, every node input
// available, static shapes and types everywhere, resolved parameters, and only ops that
// engines run (no Shape, Squeeze, ExpandDims or Flatten left).
func (g *Graph) Validate() error {
	avail := map[*Value]bool{}
	for _, v := range g.Inputs {
		avail[v] = true
		if !v.Shape.Known() {
			return fmt.Errorf("validate graph: input %s: %w: shape %v not static", v.Name, ErrShape, v.Shape)
		}
	}
	for _, n := range g.Nodes {
		for _, v := range n.In {
			if v.IsConst() {
				continue
			}
			if !avail[v] {
				return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf("%w: input %s not computed before use", ErrFormat, v.Name)}
			}
		}
		switch n.Op {
		case OpShape, OpSqueeze, OpExpandDims, OpFlatten:
			return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf("%w: op left unresolved (run InferShapes)", ErrShape)}
		}
		if n.bind != nil {
			return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf("%w: parameters not resolved (run InferShapes)", ErrShape)}
		}
		for _, v := range n.Out {
			if !v.Shape.Known() || v.DType == 0 {
				return &NodeError{Op: n.Op.String(), Node: n.Name, Err: fmt.Errorf("%w: output %s has no static shape", ErrShape, v.Name)}
			}
			avail[v] = true
		}
	}
	for _, v := range g.Outputs {
		if !avail[v] && !v.IsConst() {
			return fmt.Errorf("validate graph: output %s: %w: not computed", v.Name, ErrFormat)
		}
	}
	return nil
}

// HalfWeights stores every float constant as FP16 (rounding to nearest even), for
// engines that compute in FP16. Values already FP16 are untouched.
func (g *Graph) HalfWeights() {
	for _, n := range g.Nodes {
		for _, v := range n.In {
			if v.IsConst() && v.DType == Float32 && v.Const.F32 != nil {
				v.Const.F16 = v.Const.Float16s()
				v.Const.F32 = nil
			}
		}
	}
}
