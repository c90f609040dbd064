package cpu

import (
	"fmt"
	"slices"

	"roadlog/detect/model"
)

// maxArena caps the activation memory of one engine (elements; 16 GiB).
const maxArena = 1 << 32

// buffer is a span of the arena shared by values that alias (Reshape, in-place ops).
type buffer struct {
	size      int // elements
	def, last int // first node writing it, last node reading it (-1: before the graph; len(nodes): kept to the end)
	integer   bool
	offset    int
	parent    *buffer
	pinned    bool // graph input or output: never shared in place
}

func (b *buffer) root() *buffer {
	for b.parent != nil {
		b = b.parent
	}
	return b
}

// plan assigns every non-constant value a view into one float and one int arena. Values
// whose lifetimes do not overlap share memory; Reshape outputs alias their input, and
// elementwise ops write in place over an input that dies there.
func (e *Engine) plan() error {
	g := e.g
	nodes := g.Nodes
	end := len(nodes)
	bufs := map[*model.Value]*buffer{}
	newBuf := func(v *model.Value, def int) *buffer {
		b := &buffer{size: v.Shape.Size(), def: def, last: def, integer: v.DType != model.Float32}
		bufs[v] = b
		return b
	}
	lastUse := map[*model.Value]int{}
	for i, n := range nodes {
		for _, v := range n.In {
			lastUse[v] = i
		}
	}
	for _, v := range g.Outputs {
		lastUse[v] = end
	}
	touch := func(b *buffer, i int) {
		r := b.root()
		r.def = min(r.def, i)
		r.last = max(r.last, i)
	}
	for _, v := range g.Inputs {
		b := newBuf(v, -1)
		b.pinned = true
		touch(b, end) // inputs keep their contents across runs

	}
	for i, n := range nodes {
		for k, v := range n.Out {
			if v.Shape.Size() < 0 {
				return fmt.Errorf("plan arena: value %s has no static shape", v.Name)
			}
			var b *buffer
			if src := aliasSource(n, bufs, i); k == 0 && src != nil {
				b = &buffer{parent: bufs[src].root()}
				bufs[v] = b
			} else {
				b = newBuf(v, i)
			}
			touch(b, i)
			if u, ok := lastUse[v]; ok {
				touch(b, u)
			}
		}
	}
	for _, v := range g.Outputs {
		if b := bufs[v]; b != nil {
			b.root().pinned = true
		}
	}
	// place roots: largest first, lowest offset that overlaps nothing alive at once
	var roots []*buffer
	seen := map[*buffer]bool{}
	for _, b := range bufs {
		r := b.root()
		if !seen[r] {
			seen[r] = true
			roots = append(roots, r)
		}
	}
	slices.SortStableFunc(roots, func(a, b *buffer) int {
		if a.size != b.size {
			return b.size - a.size
		}
		return a.def - b.def
	})
	var placed [2][]*buffer
	var total [2]int
	for _, r := range roots {
		kind := 0
		if r.integer {
			kind = 1
		}
		size := (r.size + 15) &^ 15 // 64-byte granules
		off := 0
		for {
			moved := false
			for _, p := range placed[kind] {
				if p.def > r.last || r.def > p.last {
					continue // lifetimes apart
				}
				psize := (p.size + 15) &^ 15
				if off < p.offset+psize && p.offset < off+size {
					off = p.offset + psize
					moved = true
				}
			}
			if !moved {
				break
			}
		}
		r.offset = off
		placed[kind] = append(placed[kind], r)
		total[kind] = max(total[kind], off+size)
	}
	if total[0]+total[1] > maxArena {
		return fmt.Errorf("plan arena: %w: the graph needs %d MiB of activations (limit %d MiB)",
			model.ErrUnsupported, 4*(total[0]+total[1])>>20, 4*maxArena>>20)
	}
	e.arena = make([]float32, total[0]+16)
	e.iarena = make([]int32, total[1]+16)
	e.views = map[*model.Value]*model.Tensor{}
	for v, b := range bufs {
		r := b.root()
		t := &model.Tensor{DType: v.DType, Shape: v.Shape}
		n := v.Shape.Size()
		if v.DType == model.Float32 {
			t.F32 = e.arena[r.offset : r.offset+n : r.offset+n]
		} else {
			t.I32 = e.iarena[r.offset : r.offset+n : r.offset+n]
		}
		e.views[v] = t
	}
	return nil
}

// aliasSource returns the input whose buffer n's output may share: Reshape always (same
// elements), elementwise ops when the input has the output's shape and type and is read
// for the last time here.
func aliasSource(n *model.Node, bufs map[*model.Value]*buffer, i int) *model.Value {
	out := n.Out[0]
	switch n.Op {
	case model.OpReshape:
		if b := bufs[n.In[0]]; b != nil && n.In[0].DType == out.DType {
			return n.In[0]
		}
		return nil
	case model.OpActivation, model.OpAdd, model.OpSub, model.OpMul, model.OpDiv, model.OpMaximum, model.OpMinimum:
	default:
		return nil
	}
	for k, v := range n.In {
		b := bufs[v]
		if b == nil || v.DType != out.DType || !v.Shape.Equal(out.Shape) || b.root().last > i || b.root().pinned {
			continue
		}
		// the other operand must not be the same buffer (x·x is fine in place, but keep it simple)
		if len(n.In) == 2 && bufs[n.In[1-k]] != nil && bufs[n.In[1-k]].root() == b.root() {
			continue
		}
		return v
	}
	return nil
}
