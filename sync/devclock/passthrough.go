package devclock

import (
	"math"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/internal/outbox"
)

// Passthrough is the model of a device whose time stamps are already host time: V4L2
// buffers (CLOCK_MONOTONIC), IIO buffers with current_timestamp_clock set to
// monotonic, and — with Realtime set — SocketCAN's SO_TIMESTAMPNS and IIO's default
// (CLOCK_REALTIME), converted to the monotonic clock by the current difference between
// the two. Its uncertainty is what the caller states for the kernel stamp, plus the
// timebase's own.
type Passthrough struct {
	Name        string
	Uncertainty time.Duration // the stamps' own error (e.g. V4L2: end of frame versus exposure)
	Realtime    bool          // stamps are CLOCK_REALTIME, not CLOCK_MONOTONIC
	// RealtimeOffset returns CLOCK_REALTIME minus CLOCK_MONOTONIC now (default: read
	// both clocks). Simulations inject theirs.
	RealtimeOffset func() int64
	RowInterval    time.Duration // sync rows every (host time, default 1 s)

	tb      clock.Timebase
	mu      sync.Mutex // guards below
	lastOut int64
	outOK   bool
	samples int32
	clamped int64
	state   schema.SyncState
	nextRow int64
	out     outbox.Box
}

// NewPassthrough returns a pass-through model mapping onto tb (nil: clock.NewSystem()).
func NewPassthrough(name string, uncertainty time.Duration, tb clock.Timebase) *Passthrough {
	if tb == nil {
		tb = clock.NewSystem()
	}
	return &Passthrough{Name: name, Uncertainty: uncertainty, tb: tb, state: schema.SyncPassthrough}
}

// realtimeOffset reads CLOCK_REALTIME − CLOCK_MONOTONIC, bracketing the realtime read
// with two monotonic reads.
func realtimeOffset() int64 {
	var a, r, b unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &a)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &r)
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &b)
	return r.Nano() - (a.Nano()+b.Nano())/2
}

// Host converts a device stamp to host monotonic time.
func (p *Passthrough) Host(stamp int64) int64 {
	if !p.Realtime {
		return stamp
	}
	f := p.RealtimeOffset
	if f == nil {
		f = realtimeOffset
	}
	return stamp - f()
}

// Observe returns the reference time of a sample stamped stamp by the kernel. Within
// one Passthrough the returned times never decrease.
func (p *Passthrough) Observe(stamp int64) int64 {
	h := p.Host(stamp)
	t := p.tb.Ref(h)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples++
	if p.outOK && t < p.lastOut {
		p.clamped++
		return p.lastOut
	}
	p.lastOut, p.outOK = t, true
	return t
}

// Tick publishes a sync row when one is due, and pending events, to sink.
func (p *Passthrough) Tick(now int64, sink schema.Sink) {
	p.mu.Lock()
	defer p.mu.Unlock()
	iv := int64(p.RowInterval)
	if iv <= 0 {
		iv = int64(time.Second)
	}
	if now >= p.nextRow {
		u := float64(p.Uncertainty)
		if x, ok := p.tb.(uncertain); ok {
			u += x.Uncertainty(now)
		}
		ref := p.tb.Ref(now)
		var off int64
		if p.Realtime {
			off = p.Host(0) * -1 // CLOCK_REALTIME − CLOCK_MONOTONIC
		}
		p.out.Push(&schema.SyncRow{T: ref, Source: p.Name, State: p.state, Offset: now + off - ref,
			DriftPPM: 0, Jitter: math.NaN(), Uncertainty: u, Samples: p.samples})
		p.nextRow = now - mod(now, iv) + iv
	}
	if p.clamped > 0 {
		e := schema.NewEvent(p.tb.Ref(now), schema.EvSourceStats, schema.SevWarn, p.Name,
			"kernel time stamps went backwards; clamped to keep the stream monotone")
		e.Count = p.clamped
		e.Category = "device_clock"
		p.out.Push(e)
		p.clamped = 0
	}
	if sink != nil {
		p.out.Drain(sink, p.Name, p.tb.Ref(now))
	}
}
