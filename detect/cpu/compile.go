package cpu

import (
	"fmt"

	"roadlog/detect/model"
)

// compile turns node n into a step (nil for nodes that need no work, like Reshape).
func (e *Engine) compile(n *model.Node) (step, error) {
	switch n.Op {
	case model.OpConv, model.OpMatMul:
		if n.In[0].DType == model.Float32 && n.In[1].IsConst() {
			return newConvStep(e, n), nil
		}
	case model.OpDepthwiseConv:
		if n.In[1].IsConst() && n.In[1].Shape[3] == 1 && len(n.In) > 2 && n.In[2].IsConst() {
			return newDWStep(e, n), nil
		}
	case model.OpReshape:
		if e.views[n.Out[0]] != nil && e.views[n.In[0]] != nil && sameMemory(e.views[n.In[0]], e.views[n.Out[0]]) {
			return nil, nil
		}
	case model.OpActivation:
		if s := newActStep(e, n); s != nil {
			return s, nil
		}
	case model.OpAdd, model.OpSub, model.OpMul, model.OpDiv, model.OpMaximum, model.OpMinimum:
		if s := newBinaryStep(e, n); s != nil {
			return s, nil
		}
	case model.OpMean:
		if s := newMeanStep(e, n); s != nil {
			return s, nil
		}
	case model.OpEqual, model.OpGreater, model.OpLess:
		if s := newCompareStep(e, n); s != nil {
			return s, nil
		}
	case model.OpCast:
		if s := newCastStep(e, n); s != nil {
			return s, nil
		}
	case model.OpMaxPool, model.OpAvgPool:
		if s := newPoolStep(e, n); s != nil {
			return s, nil
		}
	case model.OpResize:
		if s := newResizeStep(e, n); s != nil {
			return s, nil
		}
	}
	return newEvalStep(e, n)
}

func sameMemory(a, b *model.Tensor) bool {
	switch {
	case len(a.F32) > 0 && len(b.F32) > 0:
		return &a.F32[0] == &b.F32[0]
	case len(a.I32) > 0 && len(b.I32) > 0:
		return &a.I32[0] == &b.I32[0]
	}
	return false
}

// evalStep runs a node with the reference kernels of detect/model on arena tensors (ops
// that are rare or cheap: integer arithmetic, TopK, Gather, Slice, Pad, …).
type evalStep struct {
	n       *model.Node
	in, out []*model.Tensor
}

func newEvalStep(e *Engine, n *model.Node) (step, error) {
	s := &evalStep{n: n}
	for _, v := range n.In {
		if v.IsConst() {
			t := *v.Const
			if t.DType == model.Float32 {
				t.F32, t.F16 = v.Const.Float32s(), nil // convert FP16 once, here
			}
			s.in = append(s.in, &t)
			continue
		}
		t := e.views[v]
		if t == nil {
			return nil, fmt.Errorf("compile node %q (%s): input %s has no buffer", n.Name, n.Op, v.Name)
		}
		s.in = append(s.in, t)
	}
	for _, v := range n.Out {
		s.out = append(s.out, e.views[v])
	}
	return s, nil
}

func (s *evalStep) run(*Engine) error {
	if err := model.Eval(s.n, s.in, s.out); err != nil {
		return fmt.Errorf("run node %q (%s): %w", s.n.Name, s.n.Op, err)
	}
	return nil
}
