// Package simclock simulates the clocks of a rig with known truth: every simulated
// source gets its own oscillator (offset, drift, frequency random walk), counter
// (quantisation, wrap-around, resets) and transport (delay distribution, drops), and the
// host and the GNSS receiver have theirs, so that the error of every estimate the sync
// packages make can be computed exactly against true time.
//
// True time is the reference timebase itself: nanoseconds since the Unix epoch, UTC.
// The simulators are deterministic for a given seed. They are not safe for concurrent
// use; give each goroutine its own.
package simclock

import (
	"math"
	"math/rand/v2"
)

// Oscillator is a simulated clock: its reading as a function of true time. The
// reading advances at rate 1 + DriftPPM·1e-6 + w(t), where w is a random walk of
// Wander ppb/√s; it reads Offset at true time Origin. With a random walk, Origin must
// be near the simulated times (the walk is kept as one knot per second from Origin).
type Oscillator struct {
	Origin   int64   // true time at which the reading is Offset (ns)
	Offset   int64   // reading at Origin (ns)
	DriftPPM float64 // constant frequency error, ppm (±100 for a cheap crystal)
	Wander   float64 // frequency random walk, ppb per √s (0: none; ~1 for a PC crystal)
	Seed     uint64  // seed of the random walk

	knots []knot // knots[i] at Origin + i·knotStep
	rng   *rand.Rand
}

// knotStep is the spacing of the random walk's knots in true time; after maxKnots
// (about 11.6 days from Origin) the walk stops and the frequency stays.
const (
	knotStep = int64(1e9)
	maxKnots = int64(1e6)
)

type knot struct {
	extra float64 // reading − Offset − (t − Origin), ns, at the knot
	freq  float64 // fractional frequency error from the knot on
}

func (o *Oscillator) grow(i int) {
	if o.knots == nil {
		o.knots = []knot{{freq: o.DriftPPM * 1e-6}}
		o.rng = rand.New(rand.NewPCG(o.Seed, 0x05c111))
	}
	for len(o.knots) <= i {
		k := o.knots[len(o.knots)-1]
		next := knot{extra: k.extra + k.freq*float64(knotStep), freq: k.freq}
		if o.Wander > 0 {
			next.freq += o.rng.NormFloat64() * o.Wander * 1e-9 // per √(1 s) step
		}
		o.knots = append(o.knots, next)
	}
}

// Read returns the exact reading at true time t (ns).
func (o *Oscillator) Read(t int64) int64 {
	d := t - o.Origin
	if o.Wander == 0 {
		return o.Offset + d + int64(math.Round(float64(d)*o.DriftPPM*1e-6))
	}
	if d < 0 {
		o.grow(0)
		return o.Offset + d + int64(math.Round(float64(d)*o.knots[0].freq))
	}
	i := int(min(d/knotStep, maxKnots))
	o.grow(i)
	k := o.knots[i]
	r := d - int64(i)*knotStep
	return o.Offset + d + int64(math.Round(k.extra+k.freq*float64(r)))
}

// Freq returns the fractional frequency error at true time t.
func (o *Oscillator) Freq(t int64) float64 {
	d := t - o.Origin
	if o.Wander == 0 {
		return o.DriftPPM * 1e-6
	}
	if d < 0 {
		d = 0
	}
	i := int(min(d/knotStep, maxKnots))
	o.grow(i)
	return o.knots[i].freq
}

// True returns the true time at which the oscillator reads r (the inverse of Read,
// to within a nanosecond).
func (o *Oscillator) True(r int64) int64 {
	// Newton on a map whose slope is within 1e-3 of 1: two or three steps suffice
	t := o.Origin + (r - o.Offset)
	for range 6 {
		e := o.Read(t) - r
		if e == 0 {
			break
		}
		t -= int64(math.Round(float64(e) / (1 + o.Freq(t))))
	}
	return t
}
