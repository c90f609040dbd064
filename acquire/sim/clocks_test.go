package sim

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/reference"
)

// wallClock is the host's wall clock of a test: the machine's monotonic clock moved to
// a fixed date.
type wallClock int64

func (w wallClock) Ref(h int64) int64 { return h + int64(w) }

// clockRun is what a rig with Clocks published.
type clockRun struct {
	mu      sync.Mutex
	samples []schema.Sample
	sync    []*schema.SyncRow
	events  []*schema.Event
}

func (c *clockRun) Publish(s schema.Sample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch v := s.(type) {
	case *schema.SyncRow:
		c.sync = append(c.sync, v)
	case *schema.Event:
		c.events = append(c.events, v)
	default:
		c.samples = append(c.samples, s)
	}
}

// source names a sample's clock the way its sync rows do.
func source(s schema.Sample) string {
	switch v := s.(type) {
	case *schema.IMU:
		return "imu/" + v.Sensor
	case *schema.CAN:
		return "can/" + v.Bus
	case *schema.GNSS:
		return "gnss/" + v.Receiver
	case *schema.VideoFrame:
		return "cam" + string(rune('0'+v.Camera))
	}
	return ""
}

// TestClocksAgainstTruth runs the simulated rig on its own clocks for 70 s of
// simulated time — through the scenario's GNSS outage (50–56 s) — with a reference
// clock disciplined by its PPS edges and time sentences, and checks every source's t
// against the truth its decoded Clocks compute: the reference within 1 µs of UTC
// while locked, holdover during the outage, the IMU's envelope mapping within 100 µs,
// kernel stamps passed through within the reference's error, GNSS epochs at their
// time of fix, frames at their trigger; every source publishes sync rows.
func TestClocksAgainstTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("70 s of simulated drive")
	}
	wall := wallClock(int64(1_796_026_500e9) + 3e6 - clock.HostNow())
	clk := NewClocks(11, wall)
	ref := reference.New(reference.Config{Start: wall, Now: clk.HostNow, EdgeJitter: time.Duration(clk.PPSJitter)})
	rig, err := New(Config{Cameras: 4, Width: 32, Height: 32, StaticFrames: true, NoTruth: true, Duration: 70 * time.Second,
		Seed: 3, Clocks: clk, Discipline: ref})
	if err != nil {
		t.Fatal(err)
	}
	run := &clockRun{}
	// as the recorder's wiring does: valid fixes date the PPS edges
	sink := schema.SinkFunc(func(s schema.Sample) {
		if g, ok := s.(*schema.GNSS); ok && g.TDevice != 0 && g.Quality != schema.FixInvalid {
			ref.UTC(reference.UTCTime{Host: g.THost, UTC: g.TDevice})
		}
		run.Publish(s)
	})
	if err := rig.Run(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	// the truth, from the clocks as a drive stores them
	b, err := json.Marshal(clk)
	if err != nil {
		t.Fatal(err)
	}
	var truth Clocks
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	var t0 int64 = math.MaxInt64
	for _, r := range run.sync {
		t0 = min(t0, r.T)
	}
	errs := map[string][]float64{}
	last := map[string]int64{}
	for _, s := range run.samples {
		name := source(s)
		tr, ok := truth.Truth(s)
		if name == "" || !ok {
			continue
		}
		st := schema.TimeOf(s)
		if st < last[name] {
			t.Fatalf("%s: t went backwards", name)
		}
		last[name] = st
		if st > t0+30e9 { // after convergence
			errs[name] = append(errs[name], float64(st-tr))
		}
	}
	var lockedAt int64
	states := map[int64]schema.SyncState{}
	rows := map[string]int{}
	for _, r := range run.sync {
		rows[r.Source]++
		if r.Source != "reference" {
			continue
		}
		states[(r.T-t0)/1e9] = r.State
		if r.State == schema.SyncLocked && lockedAt == 0 {
			lockedAt = r.T
		}
		if tr, _ := truth.Truth(r); r.State == schema.SyncLocked {
			errs["reference"] = append(errs["reference"], float64(r.T-tr))
		}
	}
	bars := map[string]float64{"reference": 1e3, "imu/sim": 100e3, "can/pt": 2e3, "can/chassis": 1.2e6, "gnss/sim": 0,
		"cam0": 400e3, "cam1": 400e3, "cam2": 400e3, "cam3": 400e3}
	names := make([]string, 0, len(bars))
	for n := range bars {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("reference locked %.1f s after the first sample", float64(lockedAt-t0)/1e9)
	t.Logf("%-12s %6s %6s %12s %12s %12s", "source", "rows", "n", "p50_ns", "p99_ns", "max_ns")
	for _, n := range names {
		e := errs[n]
		if len(e) == 0 || rows[n] < 60 {
			t.Errorf("%s: %d errors measured, %d sync rows", n, len(e), rows[n])
			continue
		}
		p50, p99, mx := quantiles(e)
		t.Logf("%-12s %6d %6d %12.0f %12.0f %12.0f", n, rows[n], len(e), p50, p99, mx)
		if p99 > bars[n] {
			t.Errorf("%s: p99 |error| %.0f ns, want ≤ %.0f", n, p99, bars[n])
		}
	}
	if lockedAt == 0 || lockedAt-t0 > 30e9 {
		t.Errorf("reference locked %.1f s after the start", float64(lockedAt-t0)/1e9)
	}
	if states[54] != schema.SyncHoldover || states[66] != schema.SyncLocked {
		t.Errorf("reference at 54 s %s (want holdover: GNSS outage), at 66 s %s (want locked)", states[54], states[66])
	}
}

// quantiles returns the median, 99th percentile and maximum of |e|.
func quantiles(e []float64) (p50, p99, mx float64) {
	a := make([]float64, len(e))
	for i, x := range e {
		a[i] = math.Abs(x)
	}
	slices.Sort(a)
	return a[len(a)/2], a[len(a)*99/100], a[len(a)-1]
}

// BenchmarkRigClocks reports the cost of one simulated second of the rig without
// cameras (1 kHz IMU, two CAN buses, 10 Hz GNSS), with every t true time beside every
// source on its own clock, transport and estimator with the reference disciplined.
func BenchmarkRigClocks(b *testing.B) {
	for _, mode := range []string{"ideal", "sim"} {
		b.Run("clocks="+mode, func(b *testing.B) {
			discard := schema.SinkFunc(func(schema.Sample) {})
			for b.Loop() {
				cfg := Config{Cameras: -1, NoTruth: true, Duration: 10 * time.Second, Seed: 1}
				var ref *reference.Clock
				if mode == "sim" {
					wall := wallClock(int64(1_796_026_500e9) - clock.HostNow())
					cfg.Clocks = NewClocks(1, wall)
					ref = reference.New(reference.Config{Start: wall, Now: cfg.Clocks.HostNow, EdgeJitter: 100})
					cfg.Discipline = ref
				}
				rig, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				sink := discard
				if ref != nil {
					sink = schema.SinkFunc(func(s schema.Sample) {
						if g, ok := s.(*schema.GNSS); ok && g.Quality != schema.FixInvalid {
							ref.UTC(reference.UTCTime{Host: g.THost, UTC: g.TDevice})
						}
					})
				}
				if err := rig.Run(context.Background(), sink); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/sim_s")
		})
	}
}
