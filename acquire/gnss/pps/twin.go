package pps

import (
	"context"
	"time"

	"roadlog/internal/box"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// Twin is the software twin of a PPS device: it emits an edge at every whole Period of
// its timebase's reference time, as a receiver's PPS line would on a host whose clock
// the timebase is. Assert is the ideal instant in reference time; Host is that
// instant on the host monotonic clock (the wake-up latency of the timer is removed).
type Twin struct {
	Name     string         // Device of its edges and Source of its events (default "twin")
	Period   time.Duration  // default 1 s
	Timebase clock.Timebase // nil: clock.NewSystem()
	OnEdge   func(Edge)     // called on Run's goroutine for every edge; must not block

	stats box.Box[Stats]
}

// Stats returns the counters of the current or last Run.
func (t *Twin) Stats() Stats { return t.stats.Load() }

// Run emits edges until ctx ends; it always returns nil.
func (t *Twin) Run(ctx context.Context, sink schema.Sink) error {
	tb := t.Timebase
	if tb == nil {
		tb = clock.NewSystem()
	}
	period := int64(t.Period)
	if period <= 0 {
		period = int64(time.Second)
	}
	name := t.Name
	if name == "" {
		name = "twin"
	}
	w := watcher{name: name, device: name, tb: tb, sink: sink, onEdge: t.OnEdge, box: &t.stats}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	var seq uint32
	for {
		now := tb.Ref(clock.HostNow())
		next := (now/period + 1) * period
		timer.Reset(time.Duration(next - now))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		host := clock.HostNow()
		seq++
		w.edge(seq, next, host-(tb.Ref(host)-next))
	}
}
