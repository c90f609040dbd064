package devclock

import (
	"math"
	"strconv"
	"sync"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
)

// StampsConfig configures Stamps. Zero values take the defaults named.
type StampsConfig struct {
	Name string // SyncRow.Source and event source: the source's name (default "device")
	// Counter describes the device's own counter for Stamps.Counter (tick, wrap-around,
	// fixed transport latency, window); its Name is Name.
	Counter Config
	// Kernel is the error of the source's kernel time stamps against the instant of
	// measurement (V4L2 end of frame, interrupt latency), stated as their uncertainty
	// (default 100 µs).
	Kernel time.Duration
	// Latency is the fixed delay from a measurement to its arrival, taken off the host
	// arrival of samples that carry no time of their own (default 0).
	Latency time.Duration
	// Jitter is how much later than Latency such a sample may arrive, stated as its
	// uncertainty (default 1 ms).
	Jitter time.Duration
	// UTCWithin: UTC stamps (a GNSS fix's time) are taken as they are while the
	// reference's own uncertainty is below this (default 10 ms, the reference's
	// MaxHoldover); otherwise they are mapped as a device clock.
	UTCWithin time.Duration
	// RealtimeOffset returns CLOCK_REALTIME minus CLOCK_MONOTONIC now (default: read
	// both clocks). Simulations inject theirs.
	RealtimeOffset func() int64
	RowInterval    time.Duration // sync rows every (host time, default 1 s)
}

// tickEvery is how often (host time) Stamps.Tick does its work; calls in between
// return at once, so a source may call it for every sample.
const tickEvery = int64(100 * time.Millisecond)

// stampKind is the kind of time stamp a sample carried.
type stampKind uint8

const (
	kindNone stampKind = iota // no sample yet (not on disk)
	kindCounter
	kindMonotonic
	kindRealtime
	kindUTC
	kindArrival
)

// Stamps is the time stamping of one source: whatever a sample carries — the device's
// own counter, a kernel time stamp on CLOCK_MONOTONIC or CLOCK_REALTIME, the UTC of a
// GNSS fix, or nothing but its host arrival — it maps the sample onto the reference
// with the model made for that kind of stamp (Clock, Passthrough, or UTC taken as it
// stands while the reference is disciplined), keeps the source's stream of reference
// times monotone across models, and publishes the sync rows of the model in use and the
// events of every model under the source's name when ticked.
//
// A source owns one Stamps for its whole life (across restarts), calls the method of
// its stamp kind for every sample and Tick with the sample's host time (cheap when no
// work is due), and Flush when it stops. Stamps is safe for concurrent use.
type Stamps struct {
	cfg StampsConfig
	tb  clock.Timebase

	mu       sync.Mutex // guards everything below
	counter  *Clock
	mono     *Passthrough
	real     *Passthrough
	arrival  *Passthrough
	utc      *utcModel
	active   stampKind // kind of the latest sample
	lastOut  int64
	outOK    bool
	clamped  int64 // samples held back by a switch between models, since the last report
	nextTick int64
	ticked   bool
	rtOff    int64 // CLOCK_REALTIME − CLOCK_MONOTONIC as last read…
	rtAt     int64 // …at this realtime stamp
	rtStamp  int64 // the realtime stamp being mapped
	rtOK     bool
}

// realtimeEvery is how far apart (in realtime stamps) the offset between
// CLOCK_REALTIME and CLOCK_MONOTONIC is read again: reading both clocks for every
// frame of a busy CAN bus costs more than the frame; NTP slews them apart by
// microseconds a second (chrony's largest slews: 8 ms a second, 0.8 ms in 10 ms).
const realtimeEvery = int64(10 * time.Millisecond)

// NewStamps returns the time stamping of a source whose samples are mapped onto tb (a
// reference.Clock, or nil for clock.NewSystem()).
func NewStamps(cfg StampsConfig, tb clock.Timebase) *Stamps {
	if cfg.Name == "" {
		cfg.Name = "device"
	}
	if cfg.Kernel <= 0 {
		cfg.Kernel = 100 * time.Microsecond
	}
	if cfg.Jitter <= 0 {
		cfg.Jitter = time.Millisecond
	}
	if cfg.UTCWithin <= 0 {
		cfg.UTCWithin = 10 * time.Millisecond
	}
	if cfg.RowInterval <= 0 {
		cfg.RowInterval = time.Second
	}
	cfg.Counter.Name = cfg.Name
	if cfg.Counter.RowInterval <= 0 {
		cfg.Counter.RowInterval = cfg.RowInterval
	}
	if tb == nil {
		tb = clock.NewSystem()
	}
	return &Stamps{cfg: cfg, tb: tb}
}

// Name returns the source's name.
func (s *Stamps) Name() string { return s.cfg.Name }

// Counter maps a sample stamped raw by the device's own counter (Config.Counter) that
// arrived at host time host.
func (s *Stamps) Counter(raw, host int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counter == nil {
		s.counter = New(s.cfg.Counter, s.tb)
	}
	return s.out(kindCounter, s.counter.Observe(raw, host))
}

// Monotonic maps a sample the kernel stamped on CLOCK_MONOTONIC (V4L2 buffers, IIO
// with current_timestamp_clock set to monotonic).
func (s *Stamps) Monotonic(stamp int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mono == nil {
		s.mono = s.pass(s.cfg.Kernel, false)
	}
	return s.out(kindMonotonic, s.mono.Observe(stamp))
}

// Realtime maps a sample the kernel stamped on CLOCK_REALTIME (SocketCAN's software
// receive stamps, IIO's default clock).
func (s *Stamps) Realtime(stamp int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.real == nil {
		s.real = s.pass(s.cfg.Kernel, true)
		if s.cfg.RealtimeOffset == nil {
			s.real.RealtimeOffset = s.realtimeOffset
		}
	}
	s.rtStamp = stamp
	return s.out(kindRealtime, s.real.Observe(stamp))
}

// Arrival maps a sample that carries no time of its own by its host arrival less
// Latency.
func (s *Stamps) Arrival(host int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.arrival == nil {
		s.arrival = s.pass(s.cfg.Jitter, false)
	}
	return s.out(kindArrival, s.arrival.Observe(host-int64(s.cfg.Latency)))
}

// UTC maps a sample stamped with UTC by a GNSS-disciplined device (a receiver's fix
// time) that arrived at host time host. While the reference is disciplined (its
// uncertainty below UTCWithin) the stamp is the reference time; otherwise the stamps
// are a device clock mapped through their arrivals, whose fixed delay is unobservable
// (Counter.Latency states it). A stamp of 0 (no time known) is mapped by its arrival.
func (s *Stamps) UTC(utc, host int64) int64 {
	if utc == 0 {
		return s.Arrival(host)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.utc == nil {
		cfg := s.cfg.Counter
		cfg.TickNS, cfg.Wrap = 1, 0
		// a receiver's time of fix does not step by less than a second, while the
		// arrival of its sentences jitters by tens of ms at a few per second: a wide
		// window, and no step taken for a few sentences that arrive early
		if cfg.Window <= 0 {
			cfg.Window = time.Minute
		}
		if cfg.StepTolerance <= 0 {
			cfg.StepTolerance = 100 * time.Millisecond
		}
		s.utc = &utcModel{env: New(cfg, s.tb), tb: s.tb, within: float64(s.cfg.UTCWithin), name: s.cfg.Name,
			rowEvery: int64(s.cfg.RowInterval)}
	}
	return s.out(kindUTC, s.utc.observe(utc, host))
}

// realtimeOffset returns CLOCK_REALTIME − CLOCK_MONOTONIC, read again when the stamps
// moved realtimeEvery from where it was last read. s.mu is held.
func (s *Stamps) realtimeOffset() int64 {
	if d := s.rtStamp - s.rtAt; !s.rtOK || d >= realtimeEvery || d <= -realtimeEvery {
		s.rtOff, s.rtAt, s.rtOK = realtimeOffset(), s.rtStamp, true
	}
	return s.rtOff
}

func (s *Stamps) pass(unc time.Duration, realtime bool) *Passthrough {
	p := NewPassthrough(s.cfg.Name, unc, s.tb)
	p.Realtime = realtime
	p.RealtimeOffset = s.cfg.RealtimeOffset
	p.RowInterval = s.cfg.RowInterval
	return p
}

// out keeps the source's stream monotone across a change of model.
func (s *Stamps) out(k stampKind, t int64) int64 {
	s.active = k
	if s.outOK && t < s.lastOut {
		s.clamped++
		return s.lastOut
	}
	s.lastOut, s.outOK = t, true
	return t
}

// Tick advances the models to host time now and publishes, to sink, the sync row of
// the model in use when one is due and the pending events of all of them. It does its
// work at most every 100 ms of host time: a source calls it for every sample (and
// Flush when it stops).
func (s *Stamps) Tick(now int64, sink schema.Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ticked && now < s.nextTick {
		return
	}
	s.tick(now, sink)
}

// Flush is Tick without the wait: a source calls it when it stops, so that what its
// models hold is published.
func (s *Stamps) Flush(now int64, sink schema.Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick(now, sink)
}

func (s *Stamps) tick(now int64, sink schema.Sink) {
	s.ticked, s.nextTick = true, now+tickEvery
	rowless := schema.SinkFunc(func(x schema.Sample) {
		if _, ok := x.(*schema.SyncRow); !ok && sink != nil {
			sink.Publish(x)
		}
	})
	pick := func(k stampKind) schema.Sink {
		if k == s.active || sink == nil {
			return sink
		}
		return rowless
	}
	if s.counter != nil {
		s.counter.Tick(now, pick(kindCounter))
	}
	if s.mono != nil {
		s.mono.Tick(now, pick(kindMonotonic))
	}
	if s.real != nil {
		s.real.Tick(now, pick(kindRealtime))
	}
	if s.arrival != nil {
		s.arrival.Tick(now, pick(kindArrival))
	}
	if s.utc != nil {
		s.utc.tick(now, pick(kindUTC), rowless)
	}
	if s.clamped > 0 && sink != nil {
		e := schema.NewEvent(s.tb.Ref(now), schema.EvSourceStats, schema.SevInfo, s.cfg.Name,
			"time stamps held back after a change of clock model, to keep the stream monotone")
		e.Count = s.clamped
		e.Category = "device_clock"
		sink.Publish(e)
		s.clamped = 0
	}
}

// utcModel maps UTC stamps: as they stand while the reference is disciplined, through
// the envelope of their arrivals otherwise.
type utcModel struct {
	env      *Clock
	tb       clock.Timebase
	within   float64
	name     string
	rowEvery int64
	direct   bool // the latest sample was taken as it stood
	samples  int32
	nextRow  int64
	pending  []*schema.Event
}

func (u *utcModel) observe(utc, host int64) int64 {
	t := u.env.Observe(utc, host)
	u.samples++
	unc := math.Inf(1)
	if x, ok := u.tb.(uncertain); ok {
		unc = x.Uncertainty(host)
	}
	direct := unc <= u.within
	if direct != u.direct {
		from, to := "envelope", "utc"
		if !direct {
			from, to = to, from
		}
		e := schema.NewEvent(u.tb.Ref(host), schema.EvSyncState, schema.SevInfo, u.name,
			"UTC time stamps: "+from+"→"+to+" (reference uncertainty "+strconv.FormatFloat(unc/1e3, 'g', 4, 64)+" µs)")
		if direct {
			e.Category = schema.SyncPassthrough.String()
		} else {
			e.Category = u.env.Estimate(host).State.String()
		}
		u.pending = append(u.pending, e)
		u.direct = direct
	}
	if direct {
		return utc
	}
	return t
}

func (u *utcModel) tick(now int64, sink, rowless schema.Sink) {
	u.env.Tick(now, rowless)
	if sink == nil {
		return // kept for a tick with a sink
	}
	for _, e := range u.pending {
		rowless.Publish(e)
	}
	u.pending = u.pending[:0]
	if now < u.nextRow {
		return
	}
	u.nextRow = now - mod(now, u.rowEvery) + u.rowEvery
	est := u.env.Estimate(now)
	row := &schema.SyncRow{T: u.tb.Ref(now), Source: u.name, State: est.State, Offset: est.Offset, DriftPPM: est.DriftPPM,
		Jitter: est.Jitter, Uncertainty: est.Uncertainty, Samples: u.samples}
	if u.direct {
		// the stamps are the reference's own time: no offset, no drift; their
		// error is the reference's. The jitter is still the arrivals' spread.
		row.State, row.Offset, row.DriftPPM = schema.SyncPassthrough, 0, 0
		row.Uncertainty = math.Inf(1)
		if x, ok := u.tb.(uncertain); ok {
			row.Uncertainty = x.Uncertainty(now)
		}
	}
	sink.Publish(row)
}
