package devclock

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"roadlog/schema"
	"roadlog/sync/simclock"
)

const t0 = int64(1796026500) * 1e9

// truth is a perfect reference timebase: the simulated host clock inverted.
type truth struct{ host *simclock.Oscillator }

func (t truth) Ref(h int64) int64 { return t.host.True(h) }

type devCase struct {
	name    string
	seconds int64
	rateHz  int64
	drift   float64 // device ppm
	tick    int64   // ns per tick
	wrap    uint64
	delay   simclock.Delay
	resets  []int64 // s after start
	bar     float64 // p99 bar, ns (0: reported only)
	seed    uint64
}

var devCases = []devCase{
	{name: "drift=50ppm/jitter=exp5ms/100Hz", seconds: 300, rateHz: 100, drift: 50, tick: 1000, wrap: 1 << 32,
		delay: simclock.Delay{Min: 1e6, Jitter: 5e6, Shape: simclock.Exponential}, bar: 100e3, seed: 1},
	{name: "drift=-50ppm/jitter=uniform5ms/100Hz", seconds: 300, rateHz: 100, drift: -50, tick: 1000, wrap: 1 << 32,
		delay: simclock.Delay{Min: 1e6, Jitter: 5e6, Shape: simclock.Uniform}, bar: 100e3, seed: 2},
	{name: "drift=50ppm/usb-bulk/1kHz", seconds: 120, rateHz: 1000, drift: 50, tick: 1, wrap: 0,
		delay: simclock.USBBulk(), bar: 100e3, seed: 3},
	{name: "drift=100ppm/network+spikes/200Hz", seconds: 300, rateHz: 200, drift: 100, tick: 1000, wrap: 1 << 32,
		delay: simclock.Delay{Min: 100e3, Jitter: 5e6, Shape: simclock.Exponential, SpikeP: 0.005, Spike: 50e6}, bar: 100e3, seed: 4},
	{name: "drift=50ppm/jitter=exp5ms/reset+wrap16", seconds: 300, rateHz: 100, drift: 50, tick: 1000, wrap: 1 << 16,
		delay: simclock.Delay{Min: 1e6, Jitter: 5e6, Shape: simclock.Exponential}, resets: []int64{150}, bar: 100e3, seed: 5},
	{name: "slcan-ms/wrap=60000/serial/10Hz", seconds: 300, rateHz: 10, drift: 30, tick: 1e6, wrap: 60000,
		delay: simclock.Serial(115200, 30, 2e6), seed: 6},
}

type devResult struct {
	p50, p99, max float64 // |error| after convergence, ns
	coverage      float64 // share of checked samples whose error is within the stated uncertainty
	monotone      bool
	events        []*schema.Event
	rows          []*schema.SyncRow
	samples       int
}

func (tc devCase) device() *simclock.Device {
	host := &simclock.Oscillator{Origin: t0, Offset: 7000e9, DriftPPM: -20, Wander: 1, Seed: tc.seed}
	d := &simclock.Device{Clock: simclock.Oscillator{Origin: t0, Offset: 123456789e6, DriftPPM: tc.drift, Wander: 1, Seed: tc.seed + 100},
		Tick: tc.tick, Wrap: tc.wrap, Host: host, Delay: tc.delay, Drop: 0.01, Seed: tc.seed}
	for _, r := range tc.resets {
		d.Resets = append(d.Resets, t0+r*1e9)
	}
	return d
}

func (tc devCase) config() Config {
	return Config{Name: "dev", TickNS: float64(tc.tick), Wrap: tc.wrap, Latency: time.Duration(tc.delay.Min)}
}

func runDev(tc devCase) devResult {
	d := tc.device()
	c := New(tc.config(), truth{d.Host})
	res := devResult{monotone: true}
	sink := schema.SinkFunc(func(s schema.Sample) {
		switch v := s.(type) {
		case *schema.Event:
			res.events = append(res.events, v)
		case *schema.SyncRow:
			res.rows = append(res.rows, v)
		}
	})
	var errs []float64
	var covered, checked int
	last := int64(math.MinInt64)
	step := 1e9 / tc.rateHz
	settle := func(t int64) bool { // after convergence: 30 s from the start and from any reset
		if t < t0+30e9 {
			return false
		}
		for _, r := range tc.resets {
			if t >= t0+r*1e9 && t < t0+r*1e9+30e9 {
				return false
			}
		}
		return true
	}
	n := tc.seconds * tc.rateHz
	var nextTick int64
	for i := int64(0); i < n; i++ {
		t := t0 + i*step
		dev, h, ok := d.Stamp(t)
		if !ok {
			continue
		}
		r := c.Observe(dev, h)
		res.samples++
		if r < last {
			res.monotone = false
		}
		last = r
		if settle(t) {
			e := math.Abs(float64(r - t))
			errs = append(errs, e)
			if i%50 == 0 {
				checked++
				if e <= c.Estimate(h).Uncertainty {
					covered++
				}
			}
		}
		if h >= nextTick {
			c.Tick(h, sink)
			nextTick = max(nextTick+1e9, h)
		}
	}
	slices.Sort(errs)
	res.p50, res.p99, res.max = errs[len(errs)/2], errs[len(errs)*99/100], errs[len(errs)-1]
	res.coverage = float64(covered) / float64(max(checked, 1))
	return res
}

// TestDeviceBars maps simulated device clocks and checks the error against truth.
func TestDeviceBars(t *testing.T) {
	t.Logf("%-42s %9s %9s %9s %8s", "case", "p50_us", "p99_us", "max_us", "covered")
	for _, tc := range devCases {
		r := runDev(tc)
		t.Logf("%-42s %9.1f %9.1f %9.1f %7.0f%%", tc.name, r.p50/1e3, r.p99/1e3, r.max/1e3, 100*r.coverage)
		if !r.monotone {
			t.Errorf("%s: output went backwards", tc.name)
		}
		if tc.bar > 0 && r.p99 > tc.bar {
			t.Errorf("%s: p99 %.1f µs, want ≤ %.1f µs", tc.name, r.p99/1e3, tc.bar/1e3)
		}
		steps := 0
		for _, e := range r.events {
			if e.Code == schema.EvSyncStep {
				steps++
			}
		}
		if steps != len(tc.resets) {
			t.Errorf("%s: %d step events, want %d", tc.name, steps, len(tc.resets))
		}
		if len(r.rows) < int(tc.seconds)-2 {
			t.Errorf("%s: %d sync rows for %d s", tc.name, len(r.rows), tc.seconds)
		}
		if st := r.rows[len(r.rows)-1].State; st != schema.SyncLocked {
			t.Errorf("%s: final state %s", tc.name, st)
		}
	}
}

// BenchmarkObserve reports the cost of mapping one sample.
func BenchmarkObserve(b *testing.B) {
	for _, tc := range devCases[:3] {
		b.Run(fmt.Sprintf("case=%s", tc.name), func(b *testing.B) {
			d := tc.device()
			type s struct{ dev, host int64 }
			var in []s
			step := 1e9 / tc.rateHz
			for i := int64(0); len(in) < 200000; i++ {
				if dev, h, ok := d.Stamp(t0 + i*step); ok {
					in = append(in, s{dev, h})
				}
			}
			c := New(tc.config(), fixedTB(0))
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				x := in[i%len(in)]
				if i > 0 && i%len(in) == 0 {
					c = New(tc.config(), fixedTB(0))
				}
				c.Observe(x.dev, x.host)
				i++
			}
		})
	}
}

type fixedTB int64

func (f fixedTB) Ref(h int64) int64 { return h + int64(f) }
