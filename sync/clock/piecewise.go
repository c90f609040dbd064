package clock

import (
	"math"
	"sort"
)

// Segment is one straight piece of a map from one clock to another: for x ≥ X the map
// is y = Y + round((x − X)·Rate). It is also how an estimator states a clock line.
type Segment struct {
	X    int64   // start, in the source clock (ns)
	Y    int64   // value at X, in the target clock (ns)
	Rate float64 // dy/dx, > 0
}

// At evaluates the segment's line at x (also for x < X), saturating at the int64 range.
func (s Segment) At(x int64) int64 {
	dx, ok := sub(x, s.X)
	var d float64
	if ok {
		d = float64(dx) * s.Rate
	} else if x > s.X {
		d = math.Inf(1)
	} else {
		d = math.Inf(-1)
	}
	return addF(s.Y, d)
}

// sub returns a−b and whether it did not overflow.
func sub(a, b int64) (int64, bool) {
	d := a - b
	if (a >= 0) != (b >= 0) && (d >= 0) != (a >= 0) {
		return 0, false
	}
	return d, true
}

// addF returns y + round(d), saturating at the int64 range.
func addF(y int64, d float64) int64 {
	r := math.Round(d)
	switch {
	case r != r: // NaN
		return y
	case r >= 9.2e18:
		return math.MaxInt64
	case r <= -9.2e18:
		return math.MinInt64
	}
	di := int64(r)
	s := y + di
	if (di > 0 && s < y) || (di < 0 && s > y) {
		if di > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// Piecewise is a monotone piecewise-linear map from one clock to another, built by
// steering towards estimates without ever going backwards: corrections are slewed
// (the rate is bent for a while) or, forward only, stepped. Every segment starts at or
// above the previous one's value at its start, and every rate is positive, so a later
// x never maps to an earlier y. It keeps the most recent segments (MaxSegments); an x
// older than the oldest is extrapolated from it, still monotonically.
//
// A Piecewise is not safe for concurrent use; Reference clocks publish immutable
// clones (Clone) for lock-free readers.
type Piecewise struct {
	segs []Segment
	max  int
}

// DefaultMaxSegments is the number of segments a Piecewise keeps when asked for fewer than 2.
const DefaultMaxSegments = 64

// NewPiecewise returns a map made of first alone, keeping at most max segments.
func NewPiecewise(first Segment, max int) *Piecewise {
	if max < 2 {
		max = DefaultMaxSegments
	}
	first.Rate = sane(first.Rate)
	return &Piecewise{segs: []Segment{first}, max: max}
}

func sane(r float64) float64 {
	if !(r > 0.5 && r < 2) { // NaN included
		return 1
	}
	return r
}

// At maps x. It is monotone in x.
func (p *Piecewise) At(x int64) int64 {
	s := p.segs
	i := len(s) - 1
	// most queries are recent: look at the newest few before searching
	for j := 0; j < 3 && i > 0 && x < s[i].X; j++ {
		i--
	}
	if x < s[i].X {
		// first segment whose X > x, minus one
		i = sort.Search(len(s), func(k int) bool { return s[k].X > x }) - 1
		if i < 0 {
			i = 0
		}
	}
	return s[i].At(x)
}

// Clone returns an independent copy.
func (p *Piecewise) Clone() *Piecewise {
	return &Piecewise{segs: append(make([]Segment, 0, len(p.segs)+2), p.segs...), max: p.max}
}

// Steer is how a Piecewise follows an estimate.
type Steer struct {
	// StepAbove: a forward correction larger than this is stepped (0: never step).
	StepAbove int64
	// SlewTime: the x-span over which a small correction is slewed (default 1e8 = 100 ms).
	SlewTime int64
	// MaxSlew: the largest fractional rate change a slew may use, in (0, 0.5] (default 0.05).
	MaxSlew float64
}

// Correction says what Steer did.
type Correction struct {
	Err     int64 // target minus map at `at`, before the correction (ns)
	Stepped bool  // the map jumped forward by Err at `at`
	Until   int64 // x at which the map meets the target again
}

// Steer makes the map follow target from x = at on: segments starting after at are
// discarded (the caller guarantees no x ≥ at has been mapped yet, except at itself),
// then the map either steps forward to the target, or bends its rate so that it meets
// the target line at Until and follows it afterwards.
func (p *Piecewise) Steer(at int64, target Segment, st Steer) Correction {
	if st.SlewTime <= 0 {
		st.SlewTime = 1e8
	}
	if !(st.MaxSlew > 0 && st.MaxSlew <= 0.5) {
		st.MaxSlew = 0.05
	}
	target.Rate = sane(target.Rate)
	// never start before the oldest kept segment, nor on it: it anchors the history
	if f := p.segs[0].X; at <= f {
		at = f + 1
	}
	cur := p.At(at)
	goal := target.At(at)
	e, ok := sub(goal, cur)
	if !ok {
		if goal > cur {
			e = math.MaxInt64
		} else {
			e = math.MinInt64 + 1
		}
	}
	p.truncate(at)
	c := Correction{Err: e, Until: at}
	if e == 0 {
		p.push(Segment{X: at, Y: cur, Rate: target.Rate})
		return c
	}
	if st.StepAbove > 0 && e > st.StepAbove {
		p.push(Segment{X: at, Y: goal, Rate: target.Rate})
		c.Stepped = true
		return c
	}
	// slew: bend the rate by at most MaxSlew (relative), for at least SlewTime
	fe := float64(e)
	d := math.Max(float64(st.SlewTime), math.Abs(fe)/(st.MaxSlew*target.Rate))
	if d > 1e17 { // a correction this large cannot be slewed in any useful time
		d = 1e17
	}
	di := int64(d)
	s1 := Segment{X: at, Y: cur, Rate: target.Rate + fe/d}
	if !(s1.Rate > 0) {
		s1.Rate = target.Rate * (1 - st.MaxSlew)
	}
	end := at + di
	if end < at { // overflow
		end = math.MaxInt64
	}
	p.push(s1)
	y2 := target.At(end)
	if v := s1.At(end); y2 < v {
		y2 = v
	}
	if end != math.MaxInt64 {
		p.push(Segment{X: end, Y: y2, Rate: target.Rate})
	}
	c.Until = end
	return c
}

// truncate drops the segments that start at or after at (keeping the oldest one, the
// history anchor).
func (p *Piecewise) truncate(at int64) {
	n := len(p.segs)
	for n > 1 && p.segs[n-1].X >= at {
		n--
	}
	p.segs = p.segs[:n]
}

func (p *Piecewise) push(s Segment) {
	s.Rate = sane(s.Rate)
	if n := len(p.segs); n > 0 {
		if v := p.segs[n-1].At(s.X); s.Y < v {
			s.Y = v // continuity from below is the invariant; rounding may not break it
		}
	}
	p.segs = append(p.segs, s)
	if len(p.segs) > 2*p.max {
		k := len(p.segs) - p.max
		p.segs = append(p.segs[:0], p.segs[k:]...)
	}
}
