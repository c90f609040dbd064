package model

import (
	"fmt"
	"io"
	"sort"
)

// PrepareOptions select what Prepare produces.
type PrepareOptions struct {
	// Outputs cuts the graph at these tensor names, in this order (nil: the model's own
	// outputs).
	Outputs []string
	// Inputs overrides input shapes, e.g. {"tower_0/images": {8, 512, 512, 3}} for a
	// batch of 8; needed where the model leaves dimensions unknown.
	Inputs map[string]Shape
}

// Prepare runs the standard pipeline that turns an imported graph into what engines
// run: Cut, InferShapes (with constant folding), Fuse, RemoveDead and Validate.
func (g *Graph) Prepare(o PrepareOptions) error {
	if o.Outputs != nil {
		if err := g.Cut(o.Outputs...); err != nil {
			return fmt.Errorf("prepare graph: %w", err)
		}
	}
	g.RemoveDead()
	if err := g.InferShapes(o.Inputs); err != nil {
		return fmt.Errorf("prepare graph: %w", err)
	}
	if err := g.Fuse(); err != nil {
		return fmt.Errorf("prepare graph: %w", err)
	}
	if err := g.Validate(); err != nil {
		return fmt.Errorf("prepare graph: %w", err)
	}
	return nil
}

// WriteSummary writes one line per node and the op counts, MACs and weight count.
func (g *Graph) WriteSummary(w io.Writer) error {
	for _, v := range g.Inputs {
		if _, err := fmt.Fprintf(w, "input  %s\n", v); err != nil {
			return err
		}
	}
	for i, n := range g.Nodes {
		if _, err := fmt.Fprintf(w, "%4d %s\n", i, n); err != nil {
			return err
		}
	}
	for _, v := range g.Outputs {
		if _, err := fmt.Fprintf(w, "output %s\n", v); err != nil {
			return err
		}
	}
	s := g.Stats()
	ops := make([]Op, 0, len(s.Nodes))
	for o := range s.Nodes {
		ops = append(ops, o)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i] < ops[j] })
	for _, o := range ops {
		if _, err := fmt.Fprintf(w, "%s×%d ", o, s.Nodes[o]); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\nnodes %d, MACs %.3fG, weights %d\n", len(g.Nodes), float64(s.MACs)/1e9, s.Weights)
	return err
}
