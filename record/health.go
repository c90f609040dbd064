package record

import (
	"sort"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"time"

	"roadlog/schema"
)

// Tap is a live feed of published samples for a consumer beside the recorder (the
// detector, the driver's station). Offering to a tap never blocks: a full tap drops
// either the new sample or, for a latest-wins tap, its oldest queued one, and counts it.
type Tap struct {
	C       <-chan schema.Sample
	c       chan schema.Sample
	filter  func(schema.Sample) bool
	latest  bool
	dropped atomic.Int64
}

// Dropped returns how many samples the tap dropped.
func (t *Tap) Dropped() int64 { return t.dropped.Load() }

func (t *Tap) offer(s schema.Sample) {
	if t.filter != nil && !t.filter(s) {
		return
	}
	select {
	case t.c <- s:
		return
	default:
	}
	if !t.latest {
		t.dropped.Add(1)
		return
	}
	select { // latest wins: make room by dropping the oldest
	case <-t.c:
		t.dropped.Add(1)
	default:
	}
	select {
	case t.c <- s:
	default:
		t.dropped.Add(1)
	}
}

// Tap starts a feed of the samples filter accepts (all when nil), queued up to size;
// latestWins makes a full tap drop its oldest sample instead of the newest.
func (e *Engine) Tap(filter func(schema.Sample) bool, size int, latestWins bool) *Tap {
	c := make(chan schema.Sample, max(size, 1))
	t := &Tap{C: c, c: c, filter: filter, latest: latestWins}
	e.tapsMu.Lock()
	defer e.tapsMu.Unlock()
	var taps []*Tap
	if old := e.taps.Load(); old != nil {
		taps = append(taps, *old...)
	}
	taps = append(taps, t)
	e.taps.Store(&taps)
	return t
}

// Untap stops a feed.
func (e *Engine) Untap(t *Tap) {
	e.tapsMu.Lock()
	defer e.tapsMu.Unlock()
	old := e.taps.Load()
	if old == nil {
		return
	}
	var taps []*Tap
	for _, x := range *old {
		if x != t {
			taps = append(taps, x)
		}
	}
	e.taps.Store(&taps)
}

// StreamHealth is the live health of one stream of samples (a CAN bus, a camera, the
// GNSS receiver, the IMU …), for the status surface.
type StreamHealth struct {
	Table    schema.TableName `json:"table"`
	Name     string           `json:"name"` // bus, camera, receiver, sensor
	Rows     int64            `json:"rows"`
	Rate     float64          `json:"rate"`      // samples per second over the last second or so
	LastT    int64            `json:"last_t"`    // reference time of the newest sample
	LastSeen time.Time        `json:"last_seen"` // wall time of the newest sample
}

type streamKey struct {
	table schema.TableName
	name  string
}

type streamStat struct {
	rows     int64
	lastT    int64
	lastSeen time.Time
	prevRows int64
	prevAt   time.Time
	rate     float64
}

type health struct {
	mu      gosync.Mutex // guards streams
	streams map[streamKey]*streamStat
}

func streamOf(s schema.Sample) (streamKey, int64, bool) {
	switch r := s.(type) {
	case *schema.CAN:
		return streamKey{schema.TableCAN, r.Bus}, r.T, true
	case *schema.GNSS:
		return streamKey{schema.TableGNSS, r.Receiver}, r.T, true
	case *schema.IMU:
		return streamKey{schema.TableIMU, r.Sensor}, r.T, true
	case *schema.Ego:
		return streamKey{schema.TableEgo, r.Source}, r.T, true
	case *schema.VideoFrame:
		return streamKey{schema.TableFrames, camNames[r.Camera]}, r.T, true
	case *schema.Object:
		return streamKey{schema.TableObjects, camNames[r.Camera]}, r.T, true
	case *schema.Target:
		return streamKey{schema.TableTargets, "adas"}, r.T, true
	case *schema.SyncRow:
		return streamKey{schema.TableSync, r.Source}, r.T, true
	case *schema.Truth:
		return streamKey{schema.TableTruth, "sim"}, r.T, true
	}
	return streamKey{}, 0, false
}

// camNames holds "cam0" … "cam255": observe runs for every frame and object, and
// formatting the name there would allocate each time.
var camNames = func() (n [256]string) {
	for i := range n {
		n[i] = "cam" + strconv.Itoa(i)
	}
	return n
}()

func (h *health) observe(s schema.Sample) {
	k, t, ok := streamOf(s)
	if !ok {
		return
	}
	now := time.Now()
	h.mu.Lock()
	st := h.streams[k]
	if st == nil {
		st = &streamStat{prevAt: now}
		h.streams[k] = st
	}
	st.rows++
	st.lastT, st.lastSeen = t, now
	h.mu.Unlock()
}

// Health returns the live health of every stream seen so far.
func (e *Engine) Health() []StreamHealth {
	now := time.Now()
	h := &e.health
	h.mu.Lock()
	out := make([]StreamHealth, 0, len(h.streams))
	for k, st := range h.streams {
		if d := now.Sub(st.prevAt); d >= time.Second {
			st.rate = float64(st.rows-st.prevRows) / d.Seconds()
			st.prevRows, st.prevAt = st.rows, now
		} else if st.rate == 0 && d > 100*time.Millisecond {
			st.rate = float64(st.rows-st.prevRows) / d.Seconds()
		}
		out = append(out, StreamHealth{Table: k.table, Name: k.name, Rows: st.rows, Rate: st.rate, LastT: st.lastT, LastSeen: st.lastSeen})
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// recentEvents keeps the newest events for the status surface.
type recentEvents struct {
	mu  gosync.Mutex // guards buf
	buf []schema.Event
}

const recentMax = 64

func (r *recentEvents) add(ev *schema.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) >= recentMax {
		copy(r.buf, r.buf[1:])
		r.buf = r.buf[:recentMax-1]
	}
	r.buf = append(r.buf, *ev)
}

// RecentEvents returns the newest events published (recording or not), oldest first.
func (e *Engine) RecentEvents() []schema.Event {
	e.recent.mu.Lock()
	defer e.recent.mu.Unlock()
	return append([]schema.Event(nil), e.recent.buf...)
}

// QueueDepths returns the fill of every queue while recording (nil when idle), for
// metrics.
func (e *Engine) QueueDepths() map[string]int {
	r := e.cur.Load()
	if r == nil {
		return nil
	}
	out := map[string]int{}
	for name, w := range r.tables {
		out[string(name)] = w.queueLen()
	}
	for _, c := range r.cameras() {
		out[c.drop.name] = len(c.q)
	}
	return out
}

// Drops returns the samples dropped so far in the current recording, per queue.
func (e *Engine) Drops() map[string]int64 {
	r := e.cur.Load()
	if r == nil {
		return nil
	}
	out := map[string]int64{}
	for name, d := range r.drops {
		out[string(name)] = d.n.Load()
	}
	for _, c := range r.cameras() {
		out[c.drop.name] = c.drop.n.Load() + c.wait.n.Load()
	}
	return out
}

// Congested reports whether any queue of the current recording is more than half
// full. Sources that can wait (a simulation or a file played as fast as possible)
// pause while it is true, so that "as fast as possible" means as fast as the disk
// takes it, without drops; live devices never wait.
func (e *Engine) Congested() bool {
	r := e.cur.Load()
	if r == nil {
		return false
	}
	for name, w := range r.tables {
		if w.queueLen()*2 > r.opt.QueueSizes[name] {
			return true
		}
	}
	for _, c := range r.cameras() {
		if len(c.q)*2 > cap(c.q) {
			return true
		}
	}
	return false
}
