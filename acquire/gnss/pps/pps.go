// Package pps reads the pulse-per-second line of a GNSS receiver: the kernel time
// stamps each edge of /dev/ppsN (RFC 2783, Linux's PPS API) and this package hands the
// edges to the time-sync layer, which disciplines the drive's timebase with them.
//
// Source reads a real device through the RFC 2783 ioctls (PPS_GETCAP, PPS_GETPARAMS,
// PPS_SETPARAMS, PPS_FETCH); Twin is its software twin, emitting an edge at every
// whole second of a timebase. Both report missing edges as EvPPSMissing events.
package pps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"roadlog/internal/box"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// Edge is one PPS pulse.
type Edge struct {
	Device string // the device it came from ("twin" for the software twin)
	Seq    uint32 // the kernel's assert sequence number: +1 per pulse, gaps are missed pulses
	Assert int64  // the kernel's timestamp of the assert edge, ns since the Unix epoch (CLOCK_REALTIME)
	Host   int64  // the same instant on the host monotonic clock (clock.HostNow), estimated when the edge was read
}

// DefaultTimeout is how long Source waits for an edge before it counts the pulse as
// missing, when Timeout is 0: a little over one period of a 1 Hz PPS.
const DefaultTimeout = 1500 * time.Millisecond

// Errors of the device layer.
var (
	ErrTimeout     = errors.New("no pps edge before the timeout")
	ErrNoAssert    = errors.New("pps device cannot capture assert edges")
	ErrUnsupported = errors.New("pps devices are not supported on this system")
)

// Source reads edges from a PPS device.
type Source struct {
	Device   string         // e.g. /dev/pps0
	Name     string         // Source of its events (default: Device)
	OnEdge   func(Edge)     // called on Run's goroutine for every edge; must not block
	Timebase clock.Timebase // stamps events (nil: clock.NewSystem())
	Timeout  time.Duration  // 0: DefaultTimeout

	stats box.Box[Stats]
}

// Stats counts what a Source or Twin saw.
type Stats struct {
	Edges    int64 // edges delivered
	Missed   int64 // pulses missed: sequence gaps plus timeouts without any edge
	Timeouts int64 // waits that ended without an edge
	LastSeq  uint32
	LastHost int64 // host monotonic ns of the last edge
}

// Stats returns the counters of the current or last Run.
func (s *Source) Stats() Stats { return s.stats.Load() }

// device is what Run needs of a PPS device: the real one talks to the kernel.
type device interface {
	// fetch waits up to timeout for the next assert edge and returns its sequence
	// number and kernel timestamp; ErrTimeout when none came.
	fetch(timeout time.Duration) (seq uint32, assert int64, err error)
	close() error
}

// Run reads edges until ctx ends (nil) or the device fails (an error). It notices ctx
// within one Timeout, the longest a fetch waits.
func (s *Source) Run(ctx context.Context, sink schema.Sink) error {
	d, err := open(s.Device)
	if err != nil {
		return fmt.Errorf("open pps %s: %w", s.Device, err)
	}
	defer d.close()
	name := s.Name
	if name == "" {
		name = s.Device
	}
	if err := s.loop(ctx, d, name, sink); err != nil {
		return fmt.Errorf("fetch pps %s: %w", s.Device, err)
	}
	return nil
}

func (s *Source) loop(ctx context.Context, d device, name string, sink schema.Sink) error {
	tb := s.Timebase
	if tb == nil {
		tb = clock.NewSystem()
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	w := watcher{name: name, device: s.Device, tb: tb, sink: sink, onEdge: s.OnEdge, box: &s.stats}
	for ctx.Err() == nil {
		seq, assert, err := d.fetch(timeout)
		switch {
		case errors.Is(err, ErrTimeout):
			w.timeout(clock.HostNow())
		case err != nil:
			return err
		default:
			w.edge(seq, assert, hostOf(assert))
		}
	}
	return nil
}

// hostOf maps a CLOCK_REALTIME instant that just passed onto the host monotonic clock
// by the age of the instant now.
func hostOf(realtime int64) int64 {
	mono := clock.HostNow()
	return mono - (time.Now().UnixNano() - realtime)
}

// watcher turns edges and timeouts into OnEdge calls, counters and EvPPSMissing events.
type watcher struct {
	name, device string
	tb           clock.Timebase
	sink         schema.Sink
	onEdge       func(Edge)
	box          *box.Box[Stats]
	st           Stats
	have         bool  // an edge was seen
	outage       bool  // no edge for at least one timeout
	outageFrom   int64 // host ns of the last edge before the outage (or the first timeout)
}

func (w *watcher) edge(seq uint32, assert, host int64) {
	if w.have && seq == w.st.LastSeq {
		return // the same edge again (a fetch without waiting)
	}
	if w.have {
		if gap := int64(seq - w.st.LastSeq - 1); gap > 0 {
			w.st.Missed += gap
			ev := schema.NewEvent(w.tb.Ref(host), schema.EvPPSMissing, schema.SevWarn, w.name,
				fmt.Sprintf("%d pps pulses missed (sequence %d after %d)", gap, seq, w.st.LastSeq))
			ev.Count = gap
			ev.TFirst, ev.TLast = w.tb.Ref(w.st.LastHost), w.tb.Ref(host)
			w.sink.Publish(ev)
		}
	}
	if w.outage {
		w.outage = false
		// the edge's stamp can precede the timeout that opened the outage (an edge that
		// arrived as the wait timed out): that is an outage of no length, not a negative one
		ev := schema.NewEvent(w.tb.Ref(host), schema.EvPPSMissing, schema.SevInfo, w.name,
			fmt.Sprintf("pps edges resumed after %.1f s", float64(max(host-w.outageFrom, 0))/1e9))
		ev.TFirst, ev.TLast = w.tb.Ref(w.outageFrom), w.tb.Ref(host)
		w.sink.Publish(ev)
	}
	w.have = true
	w.st.Edges++
	w.st.LastSeq, w.st.LastHost = seq, host
	w.box.Store(w.st)
	if w.onEdge != nil {
		w.onEdge(Edge{Device: w.device, Seq: seq, Assert: assert, Host: host})
	}
}

func (w *watcher) timeout(host int64) {
	w.st.Timeouts++
	if w.have {
		w.st.Missed++ // counted here; a sequence gap at the next edge is what really was missed
	}
	if !w.outage {
		w.outage = true
		w.outageFrom = host
		msg := "no pps edge yet"
		if w.have {
			w.outageFrom = w.st.LastHost
			msg = "pps edges stopped"
		}
		w.sink.Publish(schema.NewEvent(w.tb.Ref(host), schema.EvPPSMissing, schema.SevWarn, w.name, msg))
	}
	w.box.Store(w.st)
}
