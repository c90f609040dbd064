// Package reference builds a drive's reference timebase: the map from the host's
// monotonic clock to UTC, disciplined by GNSS PPS edges labelled with the UTC second
// from the receiver's time sentences (RMC/ZDA), or by direct (host, reference) pairs
// such as a PTP hardware clock's. A two-state Kalman servo tracks the offset and
// frequency of UTC against the host clock; the published map follows the servo by
// slewing (or, forward only, stepping) so that a later host time never maps to an
// earlier reference time. Without edges the map coasts on the last frequency estimate
// (holdover) with an uncertainty that grows as the filter's model says.
//
// States (schema.SyncState): free_run until the first labelled edge (the Start
// timebase, the host's wall clock by default), converging until the servo is tight,
// locked, holdover when edges stop, free_run again once the holdover uncertainty
// passes Config.MaxHoldover, fault while every input is rejected. Every change is an
// EvSyncState event; steps are EvSyncStep events; PPS without time sentences and time
// sentences without PPS are EvPPSMissing events.
package reference

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/internal/outbox"
)

// Edge is a PPS assert edge as the host saw it (from /dev/ppsN: PPS_FETCH's assert
// time converted to CLOCK_MONOTONIC, and its sequence number).
type Edge struct {
	Host int64  // host monotonic time of the assert edge, ns
	Seq  uint64 // the kernel's assert sequence number (0: unknown)
}

// UTCTime is a time a GNSS receiver stated in a sentence with a date (RMC, ZDA), with
// the host time at which the sentence arrived. Only valid fixes belong here (RMC
// status A); sentences whose time has a fraction of a second date no edge and are
// ignored.
type UTCTime struct {
	Host int64 // host monotonic time when the sentence arrived (its end), ns
	UTC  int64 // the stated time, ns since the Unix epoch (UTC)
}

// Measurement is a direct pair of the host clock and the reference, such as a PTP
// hardware clock read between two host clock reads.
type Measurement struct {
	Host  int64   // host monotonic time, ns
	Ref   int64   // reference time at Host, ns since the Unix epoch
	Sigma float64 // ns, 1σ of the pair (0: Config.EdgeJitter)
}

// Convention says which edge a receiver's time sentence dates.
type Convention uint8

// Conventions.
const (
	// SentAfter: the sentence stating second S arrives after the edge that starts S
	// (u-blox, MediaTek, SiRF NMEA; most receivers).
	SentAfter Convention = 0
	// SentBefore: the sentence stating second S arrives before the edge that starts
	// S, announcing it (some timing receivers, e.g. u-blox TIM-TP style messages).
	SentBefore Convention = 1
)

// Config configures a Clock. Zero values take the defaults named.
type Config struct {
	Name           string         // SyncRow.Source and event source (default "reference")
	Convention     Convention     // which edge a time sentence dates (default SentAfter)
	EdgeJitter     time.Duration  // 1σ of an edge's host stamp (default 1 µs)
	EdgeLatency    time.Duration  // constant latency of an edge's host stamp, subtracted (default 0)
	MaxSentenceLag time.Duration  // longest time between an edge and the sentence dating it (default 990 ms)
	FreqWander     float64        // random walk of the host clock's frequency, ppb/√s (default 1)
	LockSigma      time.Duration  // locked once the servo's 1σ is below this (default max(1 µs, 2·EdgeJitter))
	LockEdges      int            // …and this many edges in a row were accepted (default 4)
	Gate           float64        // innovations beyond Gate σ are rejected (default 6)
	StepAbove      time.Duration  // forward corrections larger than this step (default 1 ms); backward ones always slew
	SlewTime       time.Duration  // small corrections are slewed over this (default 100 ms)
	MaxSlew        float64        // largest relative rate change of a slew (default 0.05)
	HoldoverAfter  time.Duration  // no accepted edge for this long: holdover (default 2.5 s)
	MaxHoldover    time.Duration  // holdover becomes free_run when the uncertainty passes this (default 10 ms)
	RowInterval    time.Duration  // sync rows every (default 1 s)
	Start          clock.Timebase // the map before the first lock (default clock.NewSystem())
	Now            func() int64   // the host clock (default clock.HostNow); simulations inject theirs
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name = "reference"
	}
	if c.EdgeJitter <= 0 {
		c.EdgeJitter = time.Microsecond
	}
	if c.MaxSentenceLag <= 0 {
		c.MaxSentenceLag = 990 * time.Millisecond
	}
	if c.FreqWander <= 0 {
		c.FreqWander = 1
	}
	if c.LockSigma <= 0 {
		c.LockSigma = max(time.Microsecond, 2*c.EdgeJitter)
	}
	if c.LockEdges <= 0 {
		c.LockEdges = 4
	}
	if c.Gate <= 0 {
		c.Gate = 6
	}
	if c.StepAbove <= 0 {
		c.StepAbove = time.Millisecond
	}
	if c.SlewTime <= 0 {
		c.SlewTime = 100 * time.Millisecond
	}
	if !(c.MaxSlew > 0 && c.MaxSlew <= 0.5) {
		c.MaxSlew = 0.05
	}
	if c.HoldoverAfter <= 0 {
		c.HoldoverAfter = 2500 * time.Millisecond
	}
	if c.MaxHoldover <= 0 {
		c.MaxHoldover = 10 * time.Millisecond
	}
	if c.RowInterval <= 0 {
		c.RowInterval = time.Second
	}
	if c.Now == nil {
		c.Now = clock.HostNow
	}
	if c.Start == nil {
		c.Start = clock.NewSystem()
	}
}

// maxSegments is how much of the map's history a Clock keeps: two segments per
// edge, so about two minutes of host time map exactly as they did when stamped.
const maxSegments = 256

// Clock is the reference timebase. It implements clock.Timebase; Ref is lock-free and
// safe for concurrent use with the inputs (Edge, UTC, Measure, Tick).
type Clock struct {
	cfg  Config
	snap atomic.Pointer[clock.Piecewise]

	mu    sync.Mutex // guards everything below
	m     *clock.Piecewise
	sv    servo
	state schema.SyncState
	lbl   labeller

	lastAccepted int64     // host time of the last accepted measurement
	consec       int       // measurements accepted in a row
	rejected     []float64 // innovations of the last measurements rejected in a row
	rejectRun    int       // measurements rejected in a row
	resid        [16]float64
	nresid       int
	samples      int32
	nextRow      int64
	slewUntil    int64   // host time the running slew ends
	k            float64 // scale of the stated measurement variance (≥ 1)
	rEff         float64 // measurement variance in use, ns²
	out          outbox.Box
	stats        counters
}

// New returns a reference clock in free_run, mapping as cfg.Start does.
func New(cfg Config) *Clock {
	cfg.defaults()
	c := &Clock{cfg: cfg, state: schema.SyncFreeRun, k: 1}
	now := cfg.Now()
	c.m = clock.NewPiecewise(clock.Segment{X: now, Y: cfg.Start.Ref(now), Rate: 1}, maxSegments)
	c.snap.Store(c.m.Clone())
	c.lbl.c = c
	return c
}

// Ref maps a host monotonic time to the reference. For host times up to the host
// clock's now it never maps a later host time to an earlier reference time, across
// every correction the servo makes.
func (c *Clock) Ref(host int64) int64 { return c.snap.Load().At(host) }

// Status is a snapshot of the estimate.
type Status struct {
	State       schema.SyncState
	Offset      int64   // host minus reference at Host, ns
	DriftPPM    float64 // frequency of the host clock against the reference, ppm (negative: host fast)
	Jitter      float64 // RMS of recent innovations, ns
	Uncertainty float64 // bound (3σ + slew remainder) on the map's error at Host, ns
	Samples     int32   // measurements in the estimate
	Host        int64   // host time of the snapshot
}

// Status returns the estimate at host time host.
func (c *Clock) Status(host int64) Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status(host)
}

// Uncertainty returns the bound on the map's error at host time host, ns.
func (c *Clock) Uncertainty(host int64) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uncertainty(host)
}

func (c *Clock) status(host int64) Status {
	ref := c.m.At(host)
	s := Status{State: c.state, Offset: host - ref, Samples: c.samples, Host: host,
		Uncertainty: c.uncertainty(host), Jitter: c.jitter()}
	if c.sv.ok {
		s.DriftPPM = -c.sv.f * 1e-3
	}
	return s
}

func (c *Clock) uncertainty(host int64) float64 {
	if !c.sv.ok {
		return math.Inf(1)
	}
	x, y, rate := c.sv.line()
	est := clock.Segment{X: x, Y: y, Rate: rate}.At(host)
	return 3*c.sv.sigma(host) + math.Abs(float64(est-c.m.At(host)))
}

func (c *Clock) jitter() float64 {
	n := min(c.nresid, len(c.resid))
	if n == 0 {
		return math.NaN()
	}
	var s float64
	for _, r := range c.resid[:n] {
		s += r * r
	}
	return math.Sqrt(s / float64(n))
}

// Edge takes a PPS assert edge.
func (c *Clock) Edge(e Edge) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lbl.edge(e.Host-int64(c.cfg.EdgeLatency), e.Seq)
}

// UTC takes a time sentence.
func (c *Clock) UTC(t UTCTime) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lbl.sentence(t)
}

// Measure takes a direct (host, reference) pair.
func (c *Clock) Measure(m Measurement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Host <= 0 || m.Ref <= 0 || m.Host <= c.sv.h0 && c.sv.ok {
		c.stats.badMeasures++
		return
	}
	r := m.Sigma * m.Sigma
	if !(r > 0) {
		j := float64(c.cfg.EdgeJitter)
		r = j * j
	}
	c.measure(m.Host, m.Ref, r)
}

// measure folds one labelled (host, reference) pair into the servo and steers the map.
func (c *Clock) measure(h, ref int64, r float64) {
	if !c.sv.ok {
		c.sv.r = r
		c.sv.qPhase = 1
		c.sv.qFreq = c.cfg.FreqWander * c.cfg.FreqWander
		c.sv.f0Var = 2e5 * 2e5 // 200 ppm
		c.sv.init(h, ref, 0)
		c.accept(h, 0)
		return
	}
	if h <= c.sv.h0 {
		c.stats.badMeasures++
		return
	}
	// the noise actually seen: the stated variance times a scale k that tracks the
	// normalised squared innovations (1 on average when the variance is right; each
	// clipped to 100 so that one outlier cannot blow k up). It keeps a receiver whose
	// edges jitter more than configured from being gated out for good.
	r *= c.k
	nu, v := c.sv.innovation(h, ref, r)
	if c.samples >= 3 {
		ratio := math.Min(nu*nu/v, 100)
		c.k = math.Min(math.Max(c.k*(1+(ratio-1)/16), 1), 1e8)
	}
	c.rEff = r
	if math.Abs(nu) > c.cfg.Gate*math.Sqrt(v) {
		c.stats.gated++
		c.rejectRun++
		c.rejected = append(c.rejected, nu)
		if len(c.rejected) > 3 {
			c.rejected = c.rejected[1:]
		}
		if len(c.rejected) == 3 && consistent(c.rejected, math.Max(20*math.Sqrt(r), 1e4)) {
			// the reference moved against the host clock and stayed there: restart the servo
			f := c.sv.f
			c.sv.init(h, ref, f)
			c.emit(schema.EvSyncStep, schema.SevWarn, h, "reference moved against the host clock; servo restarted", nu*1e-9, "servo_restart")
			c.consec = 0
			c.rejected = c.rejected[:0]
			c.accept(h, nu)
			return
		}
		if c.consec > 0 {
			c.consec = 0
		}
		if c.rejectRun >= 5 && c.lastAccepted < h-int64(c.cfg.HoldoverAfter) {
			c.setState(schema.SyncFault, h)
		}
		return
	}
	c.rejected = c.rejected[:0]
	c.sv.update(h, ref, r)
	c.accept(h, nu)
}

func consistent(v []float64, spread float64) bool {
	lo, hi := v[0], v[0]
	for _, x := range v[1:] {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return hi-lo <= spread
}

// accept records an accepted measurement at host time h and steers the map.
func (c *Clock) accept(h int64, nu float64) {
	c.lastAccepted = h
	c.consec++
	c.samples++
	c.resid[c.nresid%len(c.resid)] = nu
	c.nresid++
	c.steer(h)
	c.rejectRun = 0
	sig := c.sv.sigma(h)
	x, y, rate := c.sv.line()
	gap := math.Abs(float64(clock.Segment{X: x, Y: y, Rate: rate}.At(h) - c.m.At(h)))
	lock := math.Max(float64(c.cfg.LockSigma), 2*math.Sqrt(c.rEff))
	if c.consec >= c.cfg.LockEdges && sig <= lock && gap <= lock {
		c.setState(schema.SyncLocked, h)
	} else if c.state != schema.SyncLocked || c.consec == 1 {
		c.setState(schema.SyncConverging, h)
	}
}

// steer makes the published map follow the servo from now on.
func (c *Clock) steer(h int64) {
	at := max(c.cfg.Now(), h)
	x, y, rate := c.sv.line()
	corr := c.m.Steer(at, clock.Segment{X: x, Y: y, Rate: rate}, clock.Steer{
		StepAbove: int64(c.cfg.StepAbove), SlewTime: int64(c.cfg.SlewTime), MaxSlew: c.cfg.MaxSlew})
	switch {
	case corr.Stepped:
		c.emit(schema.EvSyncStep, schema.SevWarn, at, "reference stepped forward", float64(corr.Err)*1e-9, "step")
	case -corr.Err > int64(c.cfg.StepAbove) && at >= c.slewUntil:
		c.emit(schema.EvSyncStep, schema.SevWarn, at, "reference is ahead of the servo: slewing back instead of stepping",
			float64(corr.Err)*1e-9, "slew")
	}
	if corr.Err != 0 && !corr.Stepped {
		c.slewUntil = corr.Until
	}
	c.snap.Store(c.m.Clone())
}

// setState changes the state and records the change.
func (c *Clock) setState(s schema.SyncState, host int64) {
	if s == c.state {
		return
	}
	msg := c.state.String() + "→" + s.String()
	c.state = s
	c.emit(schema.EvSyncState, sevOf(s), host, msg, math.NaN(), s.String())
}

func sevOf(s schema.SyncState) schema.Severity {
	switch s {
	case schema.SyncHoldover, schema.SyncFreeRun:
		return schema.SevWarn
	case schema.SyncFault:
		return schema.SevError
	}
	return schema.SevInfo
}

func (c *Clock) emit(code schema.EventCode, sev schema.Severity, host int64, msg string, value float64, cat string) {
	e := schema.NewEvent(c.m.At(host), code, sev, c.cfg.Name, msg)
	e.Value = value
	e.Category = cat
	c.out.Push(e)
}

// Tick advances the clock's own timers to host time now (holdover, rows, warnings)
// and publishes pending events and due sync rows to sink (nil: kept for later, up to
// a bound). Call it at least once per RowInterval; Run does.
func (c *Clock) Tick(now int64, sink schema.Sink) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case schema.SyncLocked, schema.SyncConverging:
		if now-c.lastAccepted > int64(c.cfg.HoldoverAfter) {
			c.consec = 0
			c.setState(schema.SyncHoldover, now)
		}
	case schema.SyncFault:
		if now-c.lastAccepted > int64(c.cfg.HoldoverAfter) && c.rejectRun == 0 {
			c.setState(schema.SyncHoldover, now)
		}
	}
	if c.state == schema.SyncHoldover && c.uncertainty(now) > float64(c.cfg.MaxHoldover) {
		c.setState(schema.SyncFreeRun, now)
	}
	c.stats.flush(c, now)
	if now >= c.nextRow {
		s := c.status(now)
		c.out.Push(&schema.SyncRow{T: c.m.At(now), Source: c.cfg.Name, State: s.State, Offset: s.Offset,
			DriftPPM: s.DriftPPM, Jitter: s.Jitter, Uncertainty: s.Uncertainty, Samples: s.Samples})
		iv := int64(c.cfg.RowInterval)
		c.nextRow = now - now%iv + iv
	}
	if sink != nil {
		c.out.Drain(sink, c.cfg.Name, c.m.At(now))
	}
}

// Run ticks the clock every 100 ms with the host clock and publishes its events and
// sync rows to sink, until ctx ends. It returns ctx's error.
func (c *Clock) Run(ctx context.Context, sink schema.Sink) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.Tick(c.cfg.Now(), sink)
			return ctx.Err()
		case <-t.C:
			c.Tick(c.cfg.Now(), sink)
		}
	}
}
