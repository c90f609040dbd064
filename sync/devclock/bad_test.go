package devclock

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"roadlog/schema"
)

// TestGarbageAndJumps feeds a clean device stream spoiled by garbage time stamps and a
// counter that jumps backwards (a reset without wrap-around): the good samples keep
// their accuracy, the jump is an EvSyncStep event, the output never goes backwards.
func TestGarbageAndJumps(t *testing.T) {
	tc := devCases[0]
	tc.wrap = 0
	d := tc.device()
	d.Resets = []int64{t0 + 100e9}
	c := New(Config{Name: "dev", TickNS: 1000, Latency: time.Duration(tc.delay.Min)}, truth{d.Host})
	rng := rand.New(rand.NewPCG(9, 9))
	var evs []*schema.Event
	sink := schema.SinkFunc(func(s schema.Sample) {
		if e, ok := s.(*schema.Event); ok {
			evs = append(evs, e)
		}
	})
	last := int64(math.MinInt64)
	var worst float64
	for i := int64(0); i < 200*100; i++ {
		tt := t0 + i*1e7
		dev, h, ok := d.Stamp(tt)
		if !ok {
			continue
		}
		garbage := rng.Float64() < 0.01
		if garbage {
			dev = int64(rng.Uint64())
		}
		r := c.Observe(dev, h)
		if r < last {
			t.Fatalf("sample %d: output went backwards", i)
		}
		last = r
		settled := tt > t0+30e9 && (tt < t0+100e9 || tt > t0+130e9)
		if settled && !garbage {
			worst = math.Max(worst, math.Abs(float64(r-tt)))
		}
		if i%100 == 0 {
			c.Tick(h, sink)
		}
	}
	if worst > 200e3 {
		t.Errorf("worst error of a good sample %.0f µs", worst/1e3)
	}
	if !hasEvent(evs, schema.EvSyncStep) {
		t.Error("the counter reset was not reported")
	}
	if !hasEvent(evs, schema.EvSourceStats) {
		t.Error("garbage samples were not counted")
	}
}

func hasEvent(evs []*schema.Event, code schema.EventCode) bool {
	for _, e := range evs {
		if e.Code == code {
			return true
		}
	}
	return false
}

// TestPassthrough maps kernel stamps, converts CLOCK_REALTIME ones, and keeps a
// stream whose stamps go backwards monotone.
func TestPassthrough(t *testing.T) {
	p := NewPassthrough("can0", 10*time.Microsecond, fixedTB(1000))
	p.Realtime = true
	p.RealtimeOffset = func() int64 { return 5e9 }
	if got := p.Observe(5e9 + 7); got != 1007 {
		t.Errorf("realtime stamp mapped to %d, want 1007", got)
	}
	if got := p.Observe(5e9 + 3); got != 1007 {
		t.Errorf("backwards stamp mapped to %d, want the last output 1007", got)
	}
	var rows []*schema.SyncRow
	var evs []*schema.Event
	p.Tick(10, schema.SinkFunc(func(s schema.Sample) {
		switch v := s.(type) {
		case *schema.SyncRow:
			rows = append(rows, v)
		case *schema.Event:
			evs = append(evs, v)
		}
	}))
	if len(rows) != 1 || rows[0].State != schema.SyncPassthrough || rows[0].Uncertainty != 10e3 {
		t.Errorf("rows %+v", rows)
	}
	if !hasEvent(evs, schema.EvSourceStats) {
		t.Error("clamped stamp not reported")
	}
}

// fuzzDevice feeds (counter, host) pairs decoded from data: 12 bytes each.
func fuzzDevice(t *testing.T, wrap uint64, data []byte) {
	c := New(Config{Name: "f", TickNS: 1000, Wrap: wrap, Window: 2 * time.Second, Bins: 8}, fixedTB(0))
	host := int64(1e12)
	last := int64(math.MinInt64)
	for len(data) >= 12 {
		raw := int64(binary.LittleEndian.Uint64(data))
		host += int64(binary.LittleEndian.Uint32(data[8:])) // arrivals never go backwards
		data = data[12:]
		if wrap > 0 && raw >= 0 {
			raw %= int64(wrap)
		}
		r := c.Observe(raw, host)
		if r < last {
			t.Fatalf("output went backwards: %d after %d", r, last)
		}
		last = r
		c.Tick(host, nil)
	}
	c.Estimate(host)
}

func FuzzDeviceClock(f *testing.F) {
	tc := devCases[4]
	d := tc.device()
	var clean []byte
	var prev int64
	for i := int64(0); i < 64; i++ {
		dev, h, ok := d.Stamp(t0 + i*1e7)
		if !ok {
			continue
		}
		if prev == 0 {
			prev = h - 1e7
		}
		clean = binary.LittleEndian.AppendUint64(clean, uint64(dev))
		clean = binary.LittleEndian.AppendUint32(clean, uint32(h-prev))
		prev = h
	}
	f.Add(uint64(1<<16), clean)
	f.Add(uint64(0), clean)
	f.Add(uint64(60000), []byte("\xff\xff\xff\xff\xff\xff\xff\x7f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, wrap uint64, data []byte) { fuzzDevice(t, wrap%(1<<40), data) })
}
