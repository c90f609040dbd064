package simclock

import (
	"math"
	"math/rand/v2"
)

// Interval is a span of true time [From, To).
type Interval struct{ From, To int64 }

// Contains reports whether t lies in the interval.
func (i Interval) Contains(t int64) bool { return t >= i.From && t < i.To }

// GNSS is a simulated receiver: a PPS edge at the start of every UTC second, stamped
// by the host (with jitter and interrupt latency), and one time sentence (RMC/ZDA) per
// second dating an edge, which arrives either after that edge (most receivers) or
// before it (receivers that announce the coming edge).
type GNSS struct {
	Host        *Oscillator // the host's monotonic clock
	PPSJitter   int64       // ns: 1σ of the edge's host stamp (interrupt jitter)
	EdgeLatency int64       // ns: constant latency of the edge's host stamp
	Sentence    Delay       // true time from the edge to the sentence's arrival (After), or from the sentence's arrival to the edge (Before)
	Before      bool        // the sentence dating second s arrives before the edge of s
	Outages     []Interval  // true time with neither edges nor sentences
	NoPPS       bool        // sentences only
	NoNMEA      bool        // edges only
	Seed        uint64

	rng *rand.Rand
	seq uint64
}

// Pulse is a PPS assert edge as the host saw it.
type Pulse struct {
	True int64  // the UTC second the edge marks (ns)
	Host int64  // host monotonic stamp
	Seq  uint64 // the kernel's assert sequence (counts every edge it saw)
}

// Sentence is a time sentence as the host received it.
type Sentence struct {
	Host int64 // host monotonic arrival
	UTC  int64 // the time it states (ns)
}

// Second simulates UTC second s (s·1e9 ns since the epoch): its edge, if any, and the
// sentence dating it, if any. Calls must come in increasing s.
func (g *GNSS) Second(s int64) (p Pulse, pOK bool, n Sentence, nOK bool) {
	if g.rng == nil {
		g.rng = rand.New(rand.NewPCG(g.Seed, 0x6e55))
	}
	t := s * 1e9
	j := int64(math.Round(g.rng.NormFloat64() * float64(g.PPSJitter)))
	d := g.Sentence.Sample(g.rng)
	for _, o := range g.Outages {
		if o.Contains(t) {
			return
		}
	}
	if !g.NoPPS {
		g.seq++
		p = Pulse{True: t, Host: g.Host.Read(t+j) + g.EdgeLatency, Seq: g.seq}
		pOK = true
	}
	if !g.NoNMEA {
		at := t + d
		if g.Before {
			at = t - d
		}
		n = Sentence{Host: g.Host.Read(at), UTC: t}
		nOK = true
	}
	return
}
