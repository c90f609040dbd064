package devclock

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/simclock"
)

// disciplined is a perfect reference that says how uncertain it is.
type disciplined struct {
	truth
	unc func(h int64) float64
}

func (d disciplined) Uncertainty(h int64) float64 { return d.unc(h) }

// stampCase is one kind of time stamp a source's samples carry, with its simulated truth.
type stampCase struct {
	name string
	cfg  StampsConfig
	// setup returns, for the host clock h, what the source does with a sample taken at
	// true time t: the reference time Stamps gives it and its host arrival (ok false:
	// the sample was lost).
	setup  func(h *simclock.Oscillator) func(s *Stamps, t int64) (ref, host int64, ok bool)
	refUnc float64          // the reference's stated uncertainty (0: it states none)
	state  schema.SyncState // of the rows after convergence
	bar    float64          // p99 |error| after 30 s, ns
}

const simRealtime = int64(1_700_000_000e9) // CLOCK_REALTIME − CLOCK_MONOTONIC of the simulated host

var stampCases = []stampCase{
	{name: "kind=counter/50ppm/exp5ms",
		cfg: StampsConfig{Counter: Config{TickNS: 1000, Wrap: 1 << 32, Latency: time.Millisecond}},
		setup: func(h *simclock.Oscillator) func(*Stamps, int64) (int64, int64, bool) {
			d := &simclock.Device{Clock: simclock.Oscillator{Origin: t0, Offset: 123456789e6, DriftPPM: 50, Wander: 1, Seed: 1},
				Tick: 1000, Wrap: 1 << 32, Host: h, Delay: simclock.Delay{Min: 1e6, Jitter: 5e6, Shape: simclock.Exponential},
				Drop: 0.01, Seed: 1}
			return func(s *Stamps, t int64) (int64, int64, bool) {
				raw, hh, ok := d.Stamp(t)
				if !ok {
					return 0, 0, false
				}
				return s.Counter(raw, hh), hh, true
			}
		}, state: schema.SyncLocked, bar: 100e3},
	{name: "kind=monotonic",
		setup: func(h *simclock.Oscillator) func(*Stamps, int64) (int64, int64, bool) {
			return func(s *Stamps, t int64) (int64, int64, bool) {
				st := h.Read(t)
				return s.Monotonic(st), st + 3e6, true
			}
		}, state: schema.SyncPassthrough, bar: 1},
	{name: "kind=realtime",
		cfg: StampsConfig{RealtimeOffset: func() int64 { return simRealtime }},
		setup: func(h *simclock.Oscillator) func(*Stamps, int64) (int64, int64, bool) {
			return func(s *Stamps, t int64) (int64, int64, bool) {
				st := h.Read(t)
				return s.Realtime(st + simRealtime), st + 1e5, true
			}
		}, state: schema.SyncPassthrough, bar: 1},
	{name: "kind=arrival/latency=2ms/jitter=1ms",
		cfg: StampsConfig{Latency: 2 * time.Millisecond, Jitter: time.Millisecond},
		setup: func(h *simclock.Oscillator) func(*Stamps, int64) (int64, int64, bool) {
			rng := rand.New(rand.NewPCG(3, 3))
			return func(s *Stamps, t int64) (int64, int64, bool) {
				a := h.Read(t + 2e6 + rng.Int64N(1e6))
				return s.Arrival(a), a, true
			}
		}, state: schema.SyncPassthrough, bar: 1e6},
	{name: "kind=utc/reference-disciplined",
		setup: func(h *simclock.Oscillator) func(*Stamps, int64) (int64, int64, bool) {
			d := &simclock.Device{Host: h, Delay: simclock.Serial(115200, 70, 40e6), Seed: 5}
			return func(s *Stamps, t int64) (int64, int64, bool) {
				_, hh, _ := d.Stamp(t)
				return s.UTC(t, hh), hh, true
			}
		}, refUnc: 500, state: schema.SyncPassthrough, bar: 1},
	{name: "kind=utc/reference-free-running/latency=30ms",
		cfg: StampsConfig{Counter: Config{Latency: 30 * time.Millisecond}},
		setup: func(h *simclock.Oscillator) func(*Stamps, int64) (int64, int64, bool) {
			d := &simclock.Device{Host: h, Delay: simclock.Delay{Min: 30e6, Jitter: 5e6, Shape: simclock.Exponential}, Seed: 6}
			return func(s *Stamps, t int64) (int64, int64, bool) {
				_, hh, _ := d.Stamp(t)
				return s.UTC(t, hh), hh, true
			}
		}, state: schema.SyncLocked, bar: 100e3},
}

// TestStampsKinds maps each kind of time stamp through Stamps and checks the error
// against truth, the monotone output, and the sync rows under the source's name.
func TestStampsKinds(t *testing.T) {
	t.Logf("%-46s %10s %10s %6s", "case", "p50_ns", "p99_ns", "rows")
	for i, tc := range stampCases {
		host := &simclock.Oscillator{Origin: t0, Offset: 7000e9, DriftPPM: -20, Wander: 1, Seed: uint64(i + 1)}
		var tb clock.Timebase = truth{host}
		if tc.refUnc > 0 {
			tb = disciplined{truth{host}, func(int64) float64 { return tc.refUnc }}
		}
		tc.cfg.Name = "src"
		s := NewStamps(tc.cfg, tb)
		stamp := tc.setup(host)
		var rows []*schema.SyncRow
		sink := schema.SinkFunc(func(x schema.Sample) {
			if r, ok := x.(*schema.SyncRow); ok {
				rows = append(rows, r)
			}
		})
		var errs []float64
		last := int64(math.MinInt64)
		for k := int64(0); k < 60*100; k++ {
			tt := t0 + k*1e7
			r, h, ok := stamp(s, tt)
			if !ok {
				continue
			}
			if r < last {
				t.Fatalf("%s: sample %d went backwards", tc.name, k)
			}
			last = r
			s.Tick(h, sink)
			if tt >= t0+30e9 {
				errs = append(errs, math.Abs(float64(r-tt)))
			}
		}
		slices.Sort(errs)
		p50, p99 := errs[len(errs)/2], errs[len(errs)*99/100]
		t.Logf("%-46s %10.0f %10.0f %6d", tc.name, p50, p99, len(rows))
		if p99 > tc.bar {
			t.Errorf("%s: p99 %.0f ns, want ≤ %.0f", tc.name, p99, tc.bar)
		}
		if len(rows) < 58 || len(rows) > 61 {
			t.Errorf("%s: %d sync rows in 60 s", tc.name, len(rows))
		}
		for _, r := range rows {
			if r.Source != "src" {
				t.Fatalf("%s: row of source %q", tc.name, r.Source)
			}
		}
		if st := rows[len(rows)-1].State; st != tc.state {
			t.Errorf("%s: final state %s, want %s", tc.name, st, tc.state)
		}
	}
}

// TestStampsUTCSwitch: UTC stamps are taken as they stand while the reference is
// disciplined and mapped as a device clock while it is not; each switch is an event,
// the rows say which, and the stream stays monotone (the samples held back at the
// switch are counted).
func TestStampsUTCSwitch(t *testing.T) {
	host := &simclock.Oscillator{Origin: t0, Offset: 7000e9, DriftPPM: 30, Wander: 1, Seed: 7}
	d := &simclock.Device{Host: host, Delay: simclock.Delay{Min: 250e6, Jitter: 20e6}, Seed: 7} // later than the next fix
	// disciplined from 20 s to 40 s of true time
	on := func(h int64) bool { tt := host.True(h); return tt >= t0+20e9 && tt < t0+40e9 }
	tb := disciplined{truth{host}, func(h int64) float64 {
		if on(h) {
			return 1e3
		}
		return math.Inf(1)
	}}
	s := NewStamps(StampsConfig{Name: "gnss"}, tb)
	var rows []*schema.SyncRow
	var evs []*schema.Event
	sink := schema.SinkFunc(func(x schema.Sample) {
		switch v := x.(type) {
		case *schema.SyncRow:
			rows = append(rows, v)
		case *schema.Event:
			evs = append(evs, v)
		}
	})
	last := int64(math.MinInt64)
	for k := int64(0); k < 600; k++ { // 60 s at 10 Hz
		tt := t0 + k*1e8
		_, h, _ := d.Stamp(tt)
		r := s.UTC(tt, h)
		if r < last {
			t.Fatalf("sample %d went backwards", k)
		}
		last = r
		if on(h) && r-tt > 0 && tt > t0+21e9 {
			t.Fatalf("sample %d: disciplined, yet %d ns off its UTC stamp", k, r-tt)
		}
		s.Tick(h, sink)
	}
	var switches []string
	var clamped int64
	for _, e := range evs {
		switch e.Code {
		case schema.EvSyncState:
			if e.Source == "gnss" && len(e.Message) > 15 && e.Message[:15] == "UTC time stamps" {
				switches = append(switches, e.Category)
			}
		case schema.EvSourceStats:
			clamped += e.Count
		}
	}
	if len(switches) != 2 || switches[0] != "passthrough" {
		t.Errorf("switch events %v, want to passthrough and back", switches)
	}
	if clamped == 0 {
		t.Error("the switch to UTC stamps (earlier than the envelope's) held nothing back")
	}
	var direct, env int
	for _, r := range rows {
		if r.State == schema.SyncPassthrough {
			direct++
			if r.Offset != 0 || r.Uncertainty != 1e3 {
				t.Errorf("direct row %+v", r)
			}
		} else {
			env++
		}
	}
	if direct < 18 || env < 35 {
		t.Errorf("%d rows with UTC taken as it stands, %d mapped by the envelope", direct, env)
	}
}

// TestStampsRowsOfActiveModel: a source that changes its kind of stamp publishes one
// row per interval, from the model in use.
func TestStampsRowsOfActiveModel(t *testing.T) {
	host := &simclock.Oscillator{Origin: t0, Offset: 7000e9}
	s := NewStamps(StampsConfig{Name: "cam0", Jitter: 5 * time.Millisecond}, truth{host})
	var rows []*schema.SyncRow
	sink := schema.SinkFunc(func(x schema.Sample) {
		if r, ok := x.(*schema.SyncRow); ok {
			rows = append(rows, r)
		}
	})
	for k := int64(0); k < 20*30; k++ {
		h := host.Read(t0 + k*33_333_333)
		if k < 10*30 {
			s.Monotonic(h)
		} else {
			s.Arrival(h + 2e6)
		}
		s.Tick(h+2e6, sink)
	}
	if len(rows) < 19 || len(rows) > 21 {
		t.Fatalf("%d rows in 20 s", len(rows))
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].T-rows[i-1].T < 900e6 {
			t.Fatalf("rows %d and %d %d ns apart", i-1, i, rows[i].T-rows[i-1].T)
		}
	}
	if u := rows[len(rows)-1].Uncertainty; u != 5e6 {
		t.Errorf("last row's uncertainty %.0f, want the arrival model's 5 ms", u)
	}
	if u := rows[2].Uncertainty; u != 100e3 {
		t.Errorf("early row's uncertainty %.0f, want the kernel stamps' 100 µs", u)
	}
}

// BenchmarkStamps reports the cost of stamping one sample (and calling Tick with it,
// as sources do) for each kind, beside the bare envelope model.
func BenchmarkStamps(b *testing.B) {
	host := &simclock.Oscillator{Origin: t0, Offset: 7000e9, DriftPPM: -20}
	d := &simclock.Device{Clock: simclock.Oscillator{Origin: t0, Offset: 5e15, DriftPPM: 50}, Tick: 1000, Wrap: 1 << 32,
		Host: host, Delay: simclock.USBBulk(), Seed: 1}
	type s struct{ dev, host int64 }
	in := make([]s, 0, 200000)
	for i := int64(0); len(in) < cap(in); i++ {
		if dev, h, ok := d.Stamp(t0 + i*1e6); ok {
			in = append(in, s{dev, h})
		}
	}
	sink := schema.SinkFunc(func(schema.Sample) {})
	cfg := StampsConfig{Name: "imu", Counter: Config{TickNS: 1000, Wrap: 1 << 32, Latency: 125 * time.Microsecond}}
	for _, k := range []string{"bare-clock", "counter", "monotonic", "realtime", "arrival", "utc"} {
		b.Run(fmt.Sprintf("kind=%s", k), func(b *testing.B) {
			st := NewStamps(cfg, fixedTB(0))
			c := New(cfg.Counter, fixedTB(0))
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				x := in[i%len(in)]
				if i > 0 && i%len(in) == 0 {
					st, c = NewStamps(cfg, fixedTB(0)), New(cfg.Counter, fixedTB(0))
				}
				switch k {
				case "bare-clock":
					c.Observe(x.dev, x.host)
				case "counter":
					st.Counter(x.dev, x.host)
				case "monotonic":
					st.Monotonic(x.host)
				case "realtime":
					st.Realtime(x.host)
				case "arrival":
					st.Arrival(x.host)
				case "utc":
					st.UTC(x.dev*1000, x.host)
				}
				if k != "bare-clock" {
					st.Tick(x.host, sink)
				}
				i++
			}
		})
	}
}
