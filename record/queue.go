package record

import (
	"sync/atomic"
	"time"

	"roadlog/schema"
)

// dropCounter counts the samples a queue dropped, as episodes: an episode is a run of
// drops with no more than a second between them, written as one events row.
type dropCounter struct {
	name     string
	n        atomic.Int64 // dropped so far
	firstT   atomic.Int64 // t of the first drop of the current episode
	lastT    atomic.Int64 // t of the latest drop
	lastWall atomic.Int64 // wall ns of the latest drop
	reported atomic.Int64 // drops already written as events (stored by the manager, read by drop)
	reason   string
}

func (d *dropCounter) drop(t int64) {
	if d.n.Load() == d.reported.Load() {
		d.firstT.Store(t)
	}
	d.lastT.Store(t)
	d.lastWall.Store(time.Now().UnixNano())
	d.n.Add(1)
}

// episode returns the event for a finished episode (no drop for quiet), or nil.
func (d *dropCounter) episode(now time.Time, quiet time.Duration, force bool) *schema.Event {
	n, reported := d.n.Load(), d.reported.Load()
	if n == reported {
		return nil
	}
	if !force && now.UnixNano()-d.lastWall.Load() < int64(quiet) {
		return nil
	}
	ev := schema.NewEvent(d.lastT.Load(), schema.EvDrop, schema.SevWarn, d.name,
		"samples dropped: "+d.reason)
	ev.Count = n - reported
	ev.TFirst, ev.TLast = d.firstT.Load(), d.lastT.Load()
	d.reported.Store(n)
	return ev
}
