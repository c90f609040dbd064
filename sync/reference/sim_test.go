package reference

import (
	"math"
	"slices"
	"sort"
	"testing"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/simclock"
)

// t0 is the simulations' first UTC second (2026-11-30T08:15:00Z).
const t0 = int64(1796026500)

// simCase is one simulated run of a reference clock against a GNSS receiver.
type simCase struct {
	name      string
	seconds   int64
	jitter    int64   // PPS jitter, ns (1σ)
	drift     float64 // host clock drift, ppm
	wander    float64 // host frequency random walk, ppb/√s
	before    bool    // receiver sends the time before the edge
	startErr  int64   // the host's wall clock minus UTC at start, ns
	outage    simclock.Interval
	noPPS     bool
	noNMEA    bool
	maxConvS  float64 // bar: convergence within (s)
	maxP99    float64 // bar: p99 error after convergence (ns)
	seed      uint64
	maxHold   time.Duration // Config.MaxHoldover (0: default)
	cfgJitter time.Duration // Config.EdgeJitter (0: the true jitter; −1: left at its default)
}

type simResult struct {
	convergence   float64 // s from the first edge to locked (NaN: never)
	p50, p99, max float64 // |error| after convergence, ns (outside outages)
	holdErr       float64 // |error| at the end of the outage, ns
	holdBound     float64 // the clock's uncertainty there, ns
	states        map[schema.SyncState]bool
	events        []*schema.Event
	rows          []*schema.SyncRow
	monotone      bool
}

type fixed int64

func (f fixed) Ref(h int64) int64 { return h + int64(f) }

// simulate runs a case: every 10 ms of true time a sample is stamped with the host
// clock and mapped; edges and sentences arrive in host-time order.
func simulate(tc simCase) simResult {
	host := &simclock.Oscillator{Origin: t0 * 1e9, Offset: 5000e9, DriftPPM: tc.drift, Wander: tc.wander, Seed: tc.seed}
	g := &simclock.GNSS{Host: host, PPSJitter: tc.jitter, Before: tc.before, NoPPS: tc.noPPS, NoNMEA: tc.noNMEA, Seed: tc.seed,
		Sentence: simclock.Delay{Min: 60e6, Jitter: 300e6}}
	if tc.outage.To > 0 {
		g.Outages = []simclock.Interval{tc.outage}
	}
	var now int64
	start := host.Read(t0*1e9 - 2e9)
	now = start
	cj := time.Duration(max(tc.jitter, 1))
	switch {
	case tc.cfgJitter < 0:
		cj = 0
	case tc.cfgJitter > 0:
		cj = tc.cfgJitter
	}
	c := New(Config{EdgeJitter: cj, Convention: Convention(b2i(tc.before)),
		FreqWander: tc.wander, MaxHoldover: tc.maxHold,
		Start: fixed(t0*1e9 - 2e9 + tc.startErr - start), Now: func() int64 { return now }})
	res := simResult{convergence: math.NaN(), states: map[schema.SyncState]bool{}, monotone: true}
	sink := schema.SinkFunc(func(s schema.Sample) {
		switch v := s.(type) {
		case *schema.Event:
			res.events = append(res.events, v)
		case *schema.SyncRow:
			res.rows = append(res.rows, v)
		}
	})
	type ev struct {
		host int64
		kind int // 0 edge, 1 sentence, 2 sample
		e    Edge
		u    UTCTime
		t    int64
	}
	var errs []float64
	var firstEdge, lockedAt int64 = -1, -1
	last := int64(math.MinInt64)
	for s := t0 - 1; s < t0+tc.seconds; s++ {
		var evs []ev
		p, pOK, n, nOK := g.Second(s)
		if pOK {
			evs = append(evs, ev{host: p.Host, kind: 0, e: Edge{Host: p.Host, Seq: p.Seq}})
		}
		if nOK {
			evs = append(evs, ev{host: n.Host, kind: 1, u: UTCTime{Host: n.Host, UTC: n.UTC}})
		}
		for k := int64(0); k < 100; k++ {
			t := s*1e9 + k*1e7 + 3e6
			evs = append(evs, ev{host: host.Read(t), kind: 2, t: t})
		}
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].host < evs[j].host })
		for _, e := range evs {
			if e.host > now {
				now = e.host
			}
			switch e.kind {
			case 0:
				if firstEdge < 0 {
					firstEdge = s * 1e9
				}
				c.Edge(e.e)
			case 1:
				c.UTC(e.u)
			case 2:
				r := c.Ref(e.host)
				if r < last {
					res.monotone = false
				}
				last = r
				st := c.Status(e.host).State
				res.states[st] = true
				if st == schema.SyncLocked && lockedAt < 0 {
					lockedAt = e.t
					res.convergence = float64(lockedAt-firstEdge) * 1e-9
				}
				inOut := tc.outage.To > 0 && e.t >= tc.outage.From && e.t < tc.outage.To+10e9
				if lockedAt >= 0 && !inOut {
					errs = append(errs, math.Abs(float64(r-e.t)))
				}
				if tc.outage.To > 0 && e.t < tc.outage.To && e.t+1e7 >= tc.outage.To {
					res.holdErr = math.Abs(float64(r - e.t))
					res.holdBound = c.Uncertainty(e.host)
				}
			}
		}
		c.Tick(now, sink)
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		res.p50 = errs[len(errs)/2]
		res.p99 = errs[len(errs)*99/100]
		res.max = errs[len(errs)-1]
	}
	return res
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var simCases = []simCase{
	{name: "after/jitter=100ns/slew-back", seconds: 300, jitter: 100, drift: 37, wander: 1, startErr: 250e6, maxConvS: 30, maxP99: 1000, seed: 1},
	{name: "after/jitter=100ns/step-forward", seconds: 300, jitter: 100, drift: -80, wander: 1, startErr: -3e9, maxConvS: 30, maxP99: 1000, seed: 2},
	{name: "before/jitter=100ns", seconds: 300, jitter: 100, drift: 12, wander: 1, startErr: 2e6, maxConvS: 30, maxP99: 1000, seed: 3},
	{name: "after/jitter=100ns/holdover=60s", seconds: 400, jitter: 100, drift: 95, wander: 1, startErr: 1e6, maxConvS: 30, maxP99: 1000, seed: 4,
		outage: simclock.Interval{From: (t0 + 200) * 1e9, To: (t0 + 260) * 1e9}},
	{name: "after/jitter=1us", seconds: 300, jitter: 1000, drift: 50, wander: 1, startErr: 1e6, maxConvS: 60, maxP99: 5000, seed: 5},
	{name: "after/jitter=20us/configured=1us", seconds: 300, jitter: 20000, drift: 50, wander: 1, startErr: 1e6, maxConvS: 60, maxP99: 50000, seed: 6, cfgJitter: -1},
}

// TestReferenceBars checks the reference timebase against simulation truth: p99 error
// after convergence within the bar, convergence time, holdover error within the
// clock's own uncertainty, and monotone output throughout.
func TestReferenceBars(t *testing.T) {
	t.Logf("%-36s %8s %9s %9s %9s %12s %12s", "case", "conv_s", "p50_ns", "p99_ns", "max_ns", "hold_err_ns", "hold_bound")
	for _, tc := range simCases {
		r := simulate(tc)
		t.Logf("%-36s %8.1f %9.0f %9.0f %9.0f %12.0f %12.0f", tc.name, r.convergence, r.p50, r.p99, r.max, r.holdErr, r.holdBound)
		if !r.monotone {
			t.Errorf("%s: reference time went backwards", tc.name)
		}
		if !(r.convergence <= tc.maxConvS) {
			t.Errorf("%s: converged after %.1f s, want ≤ %.0f s", tc.name, r.convergence, tc.maxConvS)
		}
		if r.p99 > tc.maxP99 {
			t.Errorf("%s: p99 error %.0f ns, want ≤ %.0f ns", tc.name, r.p99, tc.maxP99)
		}
		if tc.outage.To > 0 {
			if !r.states[schema.SyncHoldover] {
				t.Errorf("%s: never in holdover", tc.name)
			}
			if !(r.holdErr <= r.holdBound) {
				t.Errorf("%s: holdover error %.0f ns beyond the stated uncertainty %.0f ns", tc.name, r.holdErr, r.holdBound)
			}
		}
	}
}

var _ clock.Timebase = (*Clock)(nil)
