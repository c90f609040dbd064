package reference

import (
	"encoding/binary"
	"math"
	"testing"

	"roadlog/schema"
	"roadlog/sync/simclock"
)

func hasEvent(evs []*schema.Event, code schema.EventCode, cat string) bool {
	for _, e := range evs {
		if e.Code == code && (cat == "" || e.Category == cat) {
			return true
		}
	}
	return false
}

// TestDegraded: missing inputs leave the clock in a stated state, with an event saying why.
func TestDegraded(t *testing.T) {
	cases := []struct {
		name  string
		tc    simCase
		state schema.SyncState
		code  schema.EventCode
		cat   string
	}{
		{"pps without nmea", simCase{seconds: 30, jitter: 100, drift: 20, noNMEA: true, seed: 7}, schema.SyncFreeRun, schema.EvPPSMissing, "no_time"},
		{"nmea without pps", simCase{seconds: 30, jitter: 100, drift: 20, noPPS: true, seed: 8}, schema.SyncFreeRun, schema.EvPPSMissing, "no_pps"},
		{"gnss lost for good", simCase{seconds: 200, jitter: 100, drift: 20, wander: 20, maxHold: 20000, seed: 9,
			outage: simclock.Interval{From: (t0 + 20) * 1e9, To: (t0 + 10000) * 1e9}}, schema.SyncFreeRun, schema.EvSyncState, "free_run"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := simulate(c.tc)
			if !r.monotone {
				t.Error("reference time went backwards")
			}
			if len(r.rows) == 0 {
				t.Fatal("no sync rows")
			}
			if got := r.rows[len(r.rows)-1].State; got != c.state {
				t.Errorf("final state %s, want %s", got, c.state)
			}
			if !hasEvent(r.events, c.code, c.cat) {
				t.Errorf("no %s/%s event in %d events", c.code, c.cat, len(r.events))
			}
		})
	}
}

// TestEdgesGoingBackwards: edges whose host time runs backwards or comes at odd
// intervals are rejected and counted; the lock survives.
func TestEdgesGoingBackwards(t *testing.T) {
	now := int64(1e12)
	c := New(Config{EdgeJitter: 100, Start: fixed(t0*1e9 - now), Now: func() int64 { return now }})
	var evs []*schema.Event
	sink := schema.SinkFunc(func(s schema.Sample) {
		if e, ok := s.(*schema.Event); ok {
			evs = append(evs, e)
		}
	})
	last := int64(math.MinInt64)
	for s := int64(0); s < 40; s++ {
		now = 1e12 + s*1e9
		c.Edge(Edge{Host: now, Seq: uint64(s + 1)})
		switch s {
		case 20:
			c.Edge(Edge{Host: now - 5e8}) // backwards
			c.Edge(Edge{Host: now + 3e8}) // spurious glitch
		case 25:
			c.Edge(Edge{Host: -1})
		}
		now += 2e8
		c.UTC(UTCTime{Host: now, UTC: (t0 + s) * 1e9})
		for k := int64(0); k < 5; k++ {
			r := c.Ref(now - 1e8 + k*1e7)
			if r < last {
				t.Fatalf("second %d: reference went backwards", s)
			}
			last = r
		}
		c.Tick(now, sink)
	}
	if st := c.Status(now).State; st != schema.SyncLocked {
		t.Errorf("state %s, want locked", st)
	}
	if !hasEvent(evs, schema.EvSourceStats, "sync_inputs") {
		t.Error("rejected edges were not reported")
	}
	if got := c.Ref(1e12+30e9) - (t0+30)*1e9; got < -1000 || got > 1000 {
		t.Errorf("error at an edge %d ns", got)
	}
}

// fuzzOps drives a clock with operations decoded from data: 10 bytes each, an opcode
// and a value. Queries only ask for host times up to now and in order, as a stream does.
func fuzzOps(t *testing.T, data []byte) {
	now := int64(1e12)
	c := New(Config{Start: fixed(t0*1e9 - now), Now: func() int64 { return now }})
	last, lastH := int64(math.MinInt64), int64(math.MinInt64)
	for len(data) >= 10 {
		op, v := data[0], int64(binary.LittleEndian.Uint64(data[1:9]))
		small := int64(data[9])
		data = data[10:]
		switch op % 8 {
		case 0: // time passes
			now += (v & (1<<34 - 1))
		case 1: // a plausible edge
			c.Edge(Edge{Host: now - small*1e5, Seq: uint64(v)})
		case 2: // garbage edge
			c.Edge(Edge{Host: v})
		case 3: // a sentence
			c.UTC(UTCTime{Host: now, UTC: (t0 + v%100000) * 1e9})
		case 4: // garbage sentence
			c.UTC(UTCTime{Host: v, UTC: v ^ 0x5a5a})
		case 5: // a measurement
			c.Measure(Measurement{Host: now, Ref: v, Sigma: float64(small)})
		case 6:
			c.Tick(now, schema.SinkFunc(func(schema.Sample) {}))
		case 7: // a query from a stream
			h := now - small*1e6
			if h < lastH {
				h = lastH
			}
			r := c.Ref(h)
			if r < last {
				t.Fatalf("Ref(%d) = %d after Ref(%d) = %d: backwards", h, r, lastH, last)
			}
			last, lastH = r, h
		}
	}
}

func FuzzReference(f *testing.F) {
	// seeds: a clean run (edge, sentence, queries each second), and one with garbage
	var clean, dirty []byte
	put := func(b []byte, op byte, v int64, small byte) []byte {
		b = append(b, op)
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
		return append(b, small)
	}
	for s := int64(0); s < 12; s++ {
		clean = put(clean, 0, 1e9, 0)
		clean = put(clean, 1, s+1, 0)
		clean = put(clean, 0, 2e8, 0)
		clean = put(clean, 3, s, 0)
		clean = put(clean, 7, 0, 50)
		clean = put(clean, 6, 0, 0)
		dirty = put(dirty, 0, 999_990_000, 0)
		dirty = put(dirty, 1, s+1, byte(s))
		dirty = put(dirty, 2, -s*1e17, 0)
		dirty = put(dirty, 0, 2e8, 0)
		dirty = put(dirty, 3, s+s%3, 0)
		dirty = put(dirty, 4, math.MaxInt64-s, 0)
		dirty = put(dirty, 5, (t0+s)*1e9-5e11, 30)
		dirty = put(dirty, 7, 0, 200)
	}
	f.Add(clean)
	f.Add(dirty)
	f.Fuzz(fuzzOps)
}
