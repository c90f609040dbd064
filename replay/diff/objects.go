package diff

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"roadlog/replay"
	"roadlog/schema"
)

// groups reads a run's objects a frame-set instant at a time.
type groups struct {
	r    *replay.Reader
	next *schema.Object
	done bool
}

func openGroups(d *replay.Drive, run string) (*groups, error) {
	r, err := d.NewReader(replay.Options{Tables: []schema.TableName{schema.TableObjects}, Run: run})
	if err != nil {
		return nil, fmt.Errorf("compare: read objects of %s: %w", run, err)
	}
	g := &groups{r: r}
	if err := g.advance(); err != nil {
		r.Close()
		return nil, err
	}
	return g, nil
}

func (g *groups) advance() error {
	for {
		s, err := g.r.Next()
		if errors.Is(err, io.EOF) {
			g.done, g.next = true, nil
			return nil
		}
		if err != nil {
			return err
		}
		if o, ok := s.(*schema.Object); ok {
			g.next = o
			return nil
		}
	}
}

// take returns every object at the next instant.
func (g *groups) take() (int64, []*schema.Object, error) {
	t := g.next.T
	var out []*schema.Object
	for !g.done && g.next.T == t {
		out = append(out, g.next)
		if err := g.advance(); err != nil {
			return t, out, err
		}
	}
	return t, out, nil
}

type classAcc struct{ a, b, matched int }

// compareObjects streams both runs' objects, an instant at a time, and matches them
// per camera frame.
func compareObjects(d *replay.Drive, a, b string, inCommon map[int64]bool, opt Options) (ObjectDiff, error) {
	var od ObjectDiff
	ga, err := openGroups(d, a)
	if err != nil {
		return od, err
	}
	defer ga.r.Close()
	gb, err := openGroups(d, b)
	if err != nil {
		return od, err
	}
	defer gb.r.Close()
	classes := map[string]*classAcc{}
	class := func(label string) *classAcc {
		c := classes[label]
		if c == nil {
			c = &classAcc{}
			classes[label] = c
		}
		return c
	}
	var dist, ttc acc
	var iouSum float64
	frames := map[uint8]bool{}
	for !ga.done || !gb.done {
		var t int64
		var oa, ob []*schema.Object
		switch {
		case gb.done || (!ga.done && ga.next.T < gb.next.T):
			t, oa, err = ga.take()
		case ga.done || gb.next.T < ga.next.T:
			t, ob, err = gb.take()
		default:
			t, oa, err = ga.take()
			if err == nil {
				_, ob, err = gb.take()
			}
		}
		if err != nil {
			return od, err
		}
		if !inCommon[t] {
			continue
		}
		clear(frames)
		for _, o := range oa {
			frames[o.Camera] = true
		}
		for _, o := range ob {
			frames[o.Camera] = true
		}
		od.Frames += len(frames)
		for _, o := range oa {
			class(o.Label).a++
		}
		for _, o := range ob {
			class(o.Label).b++
		}
		od.A += len(oa)
		od.B += len(ob)
		for _, m := range match(oa, ob, opt) {
			od.Matched++
			iouSum += m.iou
			class(m.a.Label).matched++
			if finite32(m.a.Distance) && finite32(m.b.Distance) {
				dist.add(float64(m.b.Distance - m.a.Distance))
			}
			if finite32(m.a.TTC) && finite32(m.b.TTC) {
				ttc.add(float64(m.b.TTC - m.a.TTC))
			}
		}
	}
	od.Precision, od.Recall = ratio(od.Matched, od.B), ratio(od.Matched, od.A)
	od.MeanIoU = Num(math.NaN())
	if od.Matched > 0 {
		od.MeanIoU = Num(iouSum / float64(od.Matched))
	}
	od.Distance, od.TTC = dist.stats(), ttc.stats()
	od.PerClass = map[string]ClassStats{}
	for label, c := range classes {
		od.PerClass[label] = ClassStats{A: c.a, B: c.b, Matched: c.matched, Precision: ratio(c.matched, c.b), Recall: ratio(c.matched, c.a)}
	}
	return od, nil
}

type matched struct {
	a, b *schema.Object
	iou  float64
}

// match pairs the objects of one instant camera by camera: greedily, highest
// overlap first, each object at most once, overlaps below the threshold never.
func match(a, b []*schema.Object, opt Options) []matched {
	type cand struct {
		i, j int
		iou  float64
	}
	var cs []cand
	for i, x := range a {
		for j, y := range b {
			if x.Camera != y.Camera || (!opt.AnyClass && x.Class != y.Class) {
				continue
			}
			if v := iou(x, y); v >= opt.IoU {
				cs = append(cs, cand{i, j, v})
			}
		}
	}
	sort.SliceStable(cs, func(p, q int) bool { return cs[p].iou > cs[q].iou })
	usedA, usedB := make([]bool, len(a)), make([]bool, len(b))
	var out []matched
	for _, c := range cs {
		if usedA[c.i] || usedB[c.j] {
			continue
		}
		usedA[c.i], usedB[c.j] = true, true
		out = append(out, matched{a[c.i], b[c.j], c.iou})
	}
	return out
}

// iou is the intersection over union of two boxes.
func iou(a, b *schema.Object) float64 {
	ix := math.Min(float64(a.X2), float64(b.X2)) - math.Max(float64(a.X1), float64(b.X1))
	iy := math.Min(float64(a.Y2), float64(b.Y2)) - math.Max(float64(a.Y1), float64(b.Y1))
	if !(ix > 0 && iy > 0) {
		return 0
	}
	in := ix * iy
	u := float64(a.X2-a.X1)*float64(a.Y2-a.Y1) + float64(b.X2-b.X1)*float64(b.Y2-b.Y1) - in
	if !(u > 0) {
		return 0
	}
	return in / u
}
