package devclock_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"roadlog/schema"
	"roadlog/sync/devclock"
	"roadlog/sync/reference"
	"roadlog/sync/simclock"
)

// TestChain runs the whole chain on simulated truth: a reference timebase disciplined
// by GNSS PPS on a drifting host clock, and a device clock (50 ppm, 5 ms delay
// jitter) mapped onto it; the device samples' reference times are checked against
// the true instants they were taken.
func TestChain(t *testing.T) {
	const t0 = int64(1796026500) * 1e9
	host := &simclock.Oscillator{Origin: t0, Offset: 4000e9, DriftPPM: 30, Wander: 1, Seed: 11}
	gnss := &simclock.GNSS{Host: host, PPSJitter: 100, Sentence: simclock.Delay{Min: 80e6, Jitter: 200e6}, Seed: 12}
	dev := &simclock.Device{Clock: simclock.Oscillator{Origin: t0, Offset: 99e9, DriftPPM: 50, Wander: 1, Seed: 13},
		Tick: 1000, Wrap: 1 << 32, Host: host, Delay: simclock.Delay{Min: 1e6, Jitter: 5e6, Shape: simclock.Exponential}, Seed: 14}
	now := host.Read(t0 - 1e9)
	ref := reference.New(reference.Config{EdgeJitter: 100, Start: offsetTB(t0 - 1e9 - now + 40e6), Now: func() int64 { return now }})
	dc := devclock.New(devclock.Config{Name: "imu", TickNS: 1000, Wrap: 1 << 32, Latency: time.Millisecond}, ref)
	var errs []float64
	var rows []*schema.SyncRow
	sink := schema.SinkFunc(func(s schema.Sample) {
		if r, ok := s.(*schema.SyncRow); ok {
			rows = append(rows, r)
		}
	})
	// events in host order: each second's edge and sentence, and 100 device samples
	type ev struct {
		h     int64
		kind  int
		a     int64
		tTrue int64
		seq   uint64
	}
	var pending []ev
	for s := int64(0); s < 240; s++ {
		p, pOK, n, nOK := gnss.Second(t0/1e9 + s)
		if pOK {
			pending = append(pending, ev{h: p.Host, kind: 0, seq: p.Seq})
		}
		if nOK {
			pending = append(pending, ev{h: n.Host, kind: 1, a: n.UTC})
		}
		for k := int64(0); k < 100; k++ {
			tt := t0 + s*1e9 + k*1e7
			if d, h, ok := dev.Stamp(tt); ok {
				pending = append(pending, ev{h: h, kind: 2, a: d, tTrue: tt})
			}
		}
		slices.SortStableFunc(pending, func(x, y ev) int { return int(x.h - y.h) })
		// process what cannot be overtaken any more: up to the start of the next second
		limit := host.Read(t0 + (s+1)*1e9)
		i := 0
		for ; i < len(pending) && pending[i].h < limit; i++ {
			e := pending[i]
			now = max(now, e.h)
			switch e.kind {
			case 0:
				ref.Edge(reference.Edge{Host: e.h, Seq: e.seq})
			case 1:
				ref.UTC(reference.UTCTime{Host: e.h, UTC: e.a})
			case 2:
				got := dc.Observe(e.a, e.h)
				if e.tTrue > t0+60e9 {
					errs = append(errs, math.Abs(float64(got-e.tTrue)))
				}
			}
		}
		pending = append(pending[:0], pending[i:]...)
		ref.Tick(now, sink)
		dc.Tick(now, sink)
	}
	slices.Sort(errs)
	p50, p99 := errs[len(errs)/2], errs[len(errs)*99/100]
	t.Logf("device on a PPS-disciplined reference: p50 %.1f µs, p99 %.1f µs over %d samples", p50/1e3, p99/1e3, len(errs))
	if p99 > 100e3 {
		t.Errorf("p99 %.1f µs", p99/1e3)
	}
	var sources = map[string]schema.SyncState{}
	for _, r := range rows {
		sources[r.Source] = r.State
	}
	if sources["reference"] != schema.SyncLocked || sources["imu"] != schema.SyncLocked {
		t.Errorf("final states %v", sources)
	}
}

type offsetTB int64

func (o offsetTB) Ref(h int64) int64 { return h + int64(o) }
