package can

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"roadlog/acquire/can/canframe"
	"roadlog/dbc"
	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// Source is a CAN bus that publishes can rows (and ego rows when the bus has an
// ego mapping) until ctx ends. Run returns nil when ctx ends (or, for a candump
// file, at its end) and an error when the device fails; the recorder's
// supervisor restarts it. Stats may be called from any goroutine, while Run runs.
type Source interface {
	Run(ctx context.Context, sink schema.Sink) error
	Stats() Stats
}

// Stats are a source's counters since it was made.
type Stats struct {
	Frames      int64 `json:"frames"`       // frames published
	Filtered    int64 `json:"filtered"`     // frames dropped by software filters
	Bad         int64 `json:"bad"`          // unreadable lines, datagrams or frames
	KernelDrops int64 `json:"kernel_drops"` // frames the kernel dropped (SO_RXQ_OVFL)
	SeqGaps     int64 `json:"seq_gaps"`     // udp: datagrams missing by sequence number
	EgoRows     int64 `json:"ego_rows"`     // ego rows published
	LastT       int64 `json:"last_t"`       // reference time of the last frame (0: none)
}

// maxBadEvents caps the bad-input events one Run writes; later ones are only
// counted (and show in the stats events).
const maxBadEvents = 20

// bus is what every kind of source shares: stamping, filtering, decoding,
// counting and reporting. It belongs to the goroutine running Run, except for the
// counters, which Stats reads from any goroutine.
type bus struct {
	cfg    Config
	tb     clock.Timebase
	st     *devclock.Stamps // maps each frame's time stamp onto tb; lives across runs
	ego    *dbc.EgoMapper
	dbcErr error

	sink       schema.Sink
	mu         sync.Mutex // guards stats: Run's goroutine writes them, Stats reads them
	stats      Stats
	badEvents  int
	lastDrops  uint32
	lastReport int64 // host ns of the last stats event
}

// Stats returns a copy of the counters; it may be called while Run runs.
func (b *bus) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// count changes the counters under the lock.
func (b *bus) count(f func(*Stats)) {
	b.mu.Lock()
	f(&b.stats)
	b.mu.Unlock()
}

func (b *bus) now() (t, host int64) {
	host = clock.HostNow()
	return b.tb.Ref(host), host
}

// start binds the sink and reports DBC problems.
func (b *bus) start(sink schema.Sink) {
	b.sink = sink
	b.badEvents = 0
	b.lastDrops = 0 // each run opens a new socket, whose counter starts at 0
	_, b.lastReport = b.now()
	if b.dbcErr == nil {
		return
	}
	t, _ := b.now()
	var list []string
	var el dbc.ErrorList
	for _, e := range flatten(b.dbcErr) {
		if errors.As(e, &el) {
			for _, x := range el {
				list = append(list, x.Error())
			}
		} else {
			list = append(list, e.Error())
		}
	}
	ev := schema.NewEvent(t, schema.EvConfig, schema.SevWarn, b.cfg.Bus,
		fmt.Sprintf("DBC problems: %d; the statements concerned are skipped", len(list)))
	ev.Count = int64(len(list))
	ev.Category = "dbc"
	ev.Detail = jsonString(map[string]any{"errors": list[:min(len(list), 50)]})
	sink.Publish(ev)
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if _, isList := err.(dbc.ErrorList); !isList {
			return j.Unwrap()
		}
	}
	return []error{err}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func (b *bus) pass(f *canframe.Frame) bool {
	if len(b.cfg.Filters) == 0 || b.cfg.Kind == KindSocketCAN {
		return true
	}
	for _, flt := range b.cfg.Filters {
		if flt.Invert {
			if !flt.Match(f) {
				return false
			}
			continue
		}
		if flt.Match(f) {
			return true
		}
	}
	// only inverted filters: every one passed
	for _, flt := range b.cfg.Filters {
		if !flt.Invert {
			return false
		}
	}
	return true
}

// frame publishes one received frame that arrived at host time host; tDevice is the
// device's time stamp (0: none), and t its reference time, which stamp returns (the
// frame's kind of time stamp through b.st). Filtered frames are not stamped.
func (b *bus) frame(f *canframe.Frame, tDevice, host int64, stamp func() int64) {
	if !b.pass(f) {
		b.count(func(s *Stats) { s.Filtered++ })
		return
	}
	t := stamp()
	r := &schema.CAN{T: t, TDevice: tDevice, THost: host, Bus: b.cfg.Bus}
	f.ToRow(r)
	b.count(func(s *Stats) { s.Frames++; s.LastT = t })
	b.sink.Publish(r)
	if b.ego != nil && f.Flags&(canframe.Error|canframe.Remote) == 0 {
		if e := b.ego.Update(t, f.ID, f.Flags&canframe.Extended != 0, r.Data); e != nil {
			b.count(func(s *Stats) { s.EgoRows++ })
			b.sink.Publish(e)
		}
	}
	b.st.Tick(host, b.sink)
	b.maybeReport(host)
}

// bad counts unreadable input; the first maxBadEvents become events.
func (b *bus) bad(err error) {
	b.count(func(s *Stats) { s.Bad++ })
	if b.badEvents >= maxBadEvents {
		return
	}
	b.badEvents++
	t, _ := b.now()
	msg := err.Error()
	if b.badEvents == maxBadEvents {
		msg += fmt.Sprintf(" (no more bad-input events this run; see %s stats)", b.cfg.Bus)
	}
	ev := schema.NewEvent(t, schema.EvSourceError, schema.SevWarn, b.cfg.Bus, msg)
	ev.Category = "bad_input"
	ev.Count = 1
	b.sink.Publish(ev)
}

// kernelDrops turns the kernel's cumulative drop counter into EvKernelDrop events.
func (b *bus) kernelDrops(cum uint32) {
	d := cum - b.lastDrops // wraps correctly
	if d == 0 {
		return
	}
	b.lastDrops = cum
	b.count(func(s *Stats) { s.KernelDrops += int64(d) })
	t, _ := b.now()
	ev := schema.NewEvent(t, schema.EvKernelDrop, schema.SevWarn, b.cfg.Bus,
		fmt.Sprintf("kernel dropped %d frames (receive queue full)", d))
	ev.Count = int64(d)
	ev.TLast = t
	b.sink.Publish(ev)
}

func (b *bus) maybeReport(host int64) {
	every := b.cfg.StatsEvery
	if every <= 0 {
		every = 10e9
	}
	if host-b.lastReport >= int64(every) {
		b.report()
	}
}

// stop publishes what the clock model holds and the counters, when a run ends.
func (b *bus) stop() {
	b.st.Flush(clock.HostNow(), b.sink)
	b.report()
}

// report publishes the counters as an EvSourceStats event.
func (b *bus) report() {
	t, host := b.now()
	b.lastReport = host
	st := b.Stats()
	ev := schema.NewEvent(t, schema.EvSourceStats, schema.SevInfo, b.cfg.Bus, "CAN bus counters")
	ev.Count = st.Frames
	ev.Value = math.NaN()
	ev.Detail = jsonString(st)
	b.sink.Publish(ev)
}
