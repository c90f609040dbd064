package frameset

import (
	"image"
	"math"
	"strconv"
	"sync"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/internal/outbox"
)

// Config configures an Assembler. Zero values take the defaults named.
type Config struct {
	Trigger Trigger
	Cameras int // cameras in the rig, indices 0..Cameras−1 (required)
	// Latency is the expected frame time stamp minus its trigger instant (exposure,
	// readout, a driver's end-of-frame stamp); each camera's is learnt from there on.
	// It must be right to within half a trigger period for a camera's first frame.
	Latency time.Duration
	// Tolerance: a frame farther than this from its counter's trigger (after latency)
	// is re-assigned by its time stamp (default 0.4 period).
	Tolerance time.Duration
	// Wait is how many triggers a set waits for stragglers before it is emitted with
	// the cameras still missing (default 4).
	Wait int
	// ReorderWindow: a sequence number this far below the camera's highest is a
	// restart, not a late frame (default 16).
	ReorderWindow int64
	// MaxSkip: a camera whose counter falls behind its triggers by up to this many at
	// once is taken to have missed triggers; a larger jump in either direction must be
	// confirmed by the next frame (default Rate, one second).
	MaxSkip int64
	// Prefix names cameras in events: Prefix + index (default "cam").
	Prefix string
	// Timebase maps Tick's host time to the reference for its events (default
	// clock.NewSystem(); the recorder passes the drive's reference clock).
	Timebase clock.Timebase
}

func (c *Config) defaults() {
	if c.Trigger.Rate <= 0 {
		c.Trigger.Rate = 30
	}
	if c.Cameras <= 0 {
		c.Cameras = 1
	}
	if c.Tolerance <= 0 {
		c.Tolerance = time.Duration(c.Trigger.Period() * 4 / 10)
	}
	if c.Wait <= 0 {
		c.Wait = 4
	}
	if c.ReorderWindow <= 0 {
		c.ReorderWindow = 16
	}
	if c.MaxSkip <= 0 {
		c.MaxSkip = int64(c.Trigger.Rate)
	}
	if c.Prefix == "" {
		c.Prefix = "cam"
	}
	if c.Timebase == nil {
		c.Timebase = clock.NewSystem()
	}
}

// Member is one camera's frame in a set.
type Member struct {
	Camera uint8
	Frame  *schema.VideoFrame
	// Picture is the frame's uncompressed picture when its camera kept one
	// (schema.VideoFrame.Picture, as it was when the frame was added).
	Picture image.Image
}

// Set is a frame set: the frames of one trigger from every camera that delivered one.
type Set struct {
	TriggerID int64    // the trigger
	T         int64    // its instant on the reference timebase (model)
	Members   []Member // by camera index
	Missing   []uint8  // cameras without a frame for this trigger
	Skew      int64    // latest minus earliest member time stamp, ns
}

// Stats counts what an Assembler saw.
type Stats struct {
	Frames     int64 // frames assigned
	Sets       int64 // sets emitted
	Complete   int64 // sets with every camera
	Missing    int64 // camera-triggers without a frame
	Dups       int64 // frames for a camera and trigger that already had one
	Late       int64 // frames whose set had already been emitted without them
	Restarts   int64 // camera sequence resets
	Resyncs    int64 // counter re-alignments (missed triggers, confirmed jumps)
	Unassigned int64 // frames rejected: unknown camera, or a time stamp too far ahead
}

type camState struct {
	ok       bool
	k        int64   // trigger id − sequence number
	maxSeq   int64   // highest sequence number since the last restart
	lat      float64 // learnt latency, ns
	alt      int64   // a large jump of k waiting for confirmation
	altN     int     //
	missing  int64   // since the last Tick
	missT0   int64   //
	missT1   int64   //
	frames   int64   // since the last Tick
	dups     int64   // since the last Tick
	everSeen bool
}

type slot struct {
	id       int64
	used     bool
	n        int
	frames   []*schema.VideoFrame // by camera
	pictures []image.Image        // by camera: the frames' pictures, as added
}

// ringSize is how many triggers around the newest one an Assembler keeps.
const ringSize = 256

// Assembler assigns frames to triggers and emits frame sets in trigger order. It is
// safe for concurrent use. Add keeps the frame until its set is emitted (and reads it
// no more afterwards); it writes f.TriggerID and nothing else.
type Assembler struct {
	cfg  Config
	emit func(*Set)

	mu      sync.Mutex // guards below
	cams    []camState
	ring    []slot
	started bool
	next    int64 // next trigger to emit
	newest  int64 // newest trigger with a frame
	stats   Stats
	out     outbox.Box
}

// New returns an assembler that calls emit for every frame set, in trigger order,
// from inside Add, Flush or Tick (emit must not call back into the Assembler).
func New(cfg Config, emit func(*Set)) *Assembler {
	cfg.defaults()
	a := &Assembler{cfg: cfg, emit: emit, cams: make([]camState, cfg.Cameras), ring: make([]slot, ringSize)}
	for i := range a.cams {
		a.cams[i].lat = float64(cfg.Latency)
	}
	return a
}

// Stats returns the counters so far.
func (a *Assembler) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// Add assigns f to its trigger, sets f.TriggerID and returns it (−1: not assigned: an
// unknown camera, or a camera's first frame far from every other camera's, until the
// next one agrees). Frames of a set already emitted keep their id but join no set.
func (a *Assembler) Add(f *schema.VideoFrame) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	cam := int(f.Camera)
	if cam >= len(a.cams) {
		a.stats.Unassigned++
		f.TriggerID = -1
		return -1
	}
	id := a.assign(cam, f.Seq, f.T)
	f.TriggerID = id
	if id < 0 {
		a.stats.Unassigned++
		return -1
	}
	a.stats.Frames++
	st := &a.cams[cam]
	st.frames++
	st.everSeen = true
	if !a.started {
		a.started, a.next, a.newest = true, id, id
	}
	if id < a.next {
		s := &a.ring[mod(id, ringSize)]
		if s.used && s.id == id && s.frames[cam] != nil {
			a.stats.Dups++
			st.dups++
		} else {
			a.stats.Late++
		}
		return id
	}
	if id > a.newest {
		if id-a.newest > ringSize {
			// every camera was quiet for a while: emit what waits, count the gap as missing
			a.drain(true)
			if skip := id - int64(a.cfg.Wait) - a.next; skip > 0 {
				for c := range a.cams {
					a.missN(c, skip, a.cfg.Trigger.Time(a.next), a.cfg.Trigger.Time(a.next+skip-1))
				}
				a.next += skip
			}
		}
		a.newest = id
	}
	// make room: everything the new frame pushes out of the ring is emitted
	for a.next <= a.newest-ringSize+int64(a.cfg.Wait) {
		a.emitNext()
	}
	s := &a.ring[mod(id, ringSize)]
	if !s.used || s.id != id {
		a.reset(s, id)
	}
	if s.frames[cam] != nil {
		a.stats.Dups++
		st.dups++
		return id
	}
	s.frames[cam], s.pictures[cam] = f, f.Picture
	s.n++
	a.drain(false)
	return id
}

func (a *Assembler) reset(s *slot, id int64) {
	if s.frames == nil {
		s.frames = make([]*schema.VideoFrame, len(a.cams))
		s.pictures = make([]image.Image, len(a.cams))
	}
	clear(s.frames)
	clear(s.pictures)
	s.id, s.used, s.n = id, true, 0
}

// assign returns the trigger of a frame of camera cam with sequence seq and time t.
func (a *Assembler) assign(cam int, seq, t int64) int64 {
	st := &a.cams[cam]
	tr := a.cfg.Trigger
	tol := int64(a.cfg.Tolerance)
	if !st.ok {
		id, _ := tr.Nearest(t - int64(st.lat))
		if a.started && abs(id-a.newest) > a.cfg.MaxSkip+int64(a.cfg.Wait) && !(st.altN > 0 && st.alt == id-seq) {
			// a first frame far from every other camera's: wait for the next to agree
			st.alt, st.altN = id-seq, 1
			return -1
		}
		st.ok, st.k, st.maxSeq, st.altN = true, id-seq, seq, 0
		return id
	}
	restart := seq < st.maxSeq-a.cfg.ReorderWindow
	cand := seq + st.k
	off := t - int64(st.lat) - tr.Time(cand)
	id := cand
	if restart || abs(off) > tol {
		idT, offT := tr.Nearest(t - int64(st.lat))
		dk := idT - seq - st.k
		switch {
		case restart:
			a.restart(cam, seq, t)
			st.k, st.maxSeq = idT-seq, seq
			id, off = idT, offT
		case dk > 0 && dk <= a.cfg.MaxSkip:
			// the camera missed dk triggers: its counter is behind from now on
			a.stats.Resyncs++
			st.k += dk
			id, off = idT, offT
		default:
			// a large jump: believe it when the next frame says the same
			if st.altN > 0 && st.alt == st.k+dk {
				st.altN++
			} else {
				st.alt, st.altN = st.k+dk, 1
			}
			if st.altN >= 2 {
				a.stats.Resyncs++
				if dk < 0 || dk > a.cfg.MaxSkip {
					a.restart(cam, seq, t)
				}
				st.k, st.altN = st.alt, 0
				id, off = idT, offT
			}
		}
	} else {
		st.altN = 0
	}
	if seq > st.maxSeq {
		st.maxSeq = seq
	}
	if abs(off) <= tol {
		st.lat += (float64(t-tr.Time(id)) - st.lat) / 16
	}
	return id
}

func (a *Assembler) restart(cam int, seq, t int64) {
	a.stats.Restarts++
	e := schema.NewEvent(t, schema.EvCameraRestart, schema.SevWarn, a.name(cam),
		"camera "+strconv.Itoa(cam)+" sequence reset (now "+strconv.FormatInt(seq, 10)+"): re-aligned by time stamp")
	a.out.Push(e)
}

func (a *Assembler) name(cam int) string { return a.cfg.Prefix + strconv.Itoa(cam) }

// drain emits every set that is complete or has waited long enough.
func (a *Assembler) drain(all bool) {
	for a.next <= a.newest {
		s := &a.ring[mod(a.next, ringSize)]
		complete := s.used && s.id == a.next && s.n == len(a.cams)
		if !complete && !all && a.next > a.newest-int64(a.cfg.Wait) {
			return
		}
		a.emitNext()
	}
}

// emitNext emits the set of trigger a.next (or counts it all-missing) and moves on.
func (a *Assembler) emitNext() {
	id := a.next
	a.next++
	s := &a.ring[mod(id, ringSize)]
	if !s.used || s.id != id {
		a.reset(s, id)
	}
	t := a.cfg.Trigger.Time(id)
	if s.n == 0 {
		for c := range a.cams {
			a.miss(c, t)
		}
		return
	}
	set := &Set{TriggerID: id, T: t, Members: make([]Member, 0, s.n)}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for c, f := range s.frames {
		if f == nil {
			set.Missing = append(set.Missing, uint8(c))
			a.miss(c, t)
			continue
		}
		set.Members = append(set.Members, Member{Camera: uint8(c), Frame: f, Picture: s.pictures[c]})
		lo, hi = min(lo, f.T), max(hi, f.T)
	}
	set.Skew = hi - lo
	a.stats.Sets++
	if len(set.Missing) == 0 {
		a.stats.Complete++
	}
	// the slot keeps which cameras it had (for duplicates) but lets the frames go
	for c := range s.frames {
		if s.frames[c] != nil {
			s.frames[c] = placeholder
		}
	}
	clear(s.pictures)
	if a.emit != nil {
		a.emit(set)
	}
}

// placeholder marks a camera whose frame went out with its set.
var placeholder = &schema.VideoFrame{}

func (a *Assembler) miss(c int, t int64) { a.missN(c, 1, t, t) }

func (a *Assembler) missN(c int, n, t0, t1 int64) {
	a.stats.Missing += n
	st := &a.cams[c]
	if st.missing == 0 {
		st.missT0 = t0
	}
	st.missing += n
	st.missT1 = t1
}

// Flush emits every pending set (at the end of a recording).
func (a *Assembler) Flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		a.drain(true)
	}
}

// Tick publishes the events gathered since the last call, at host time now, to sink: one EvFrameMissing per camera that missed triggers (Category "down" when it
// delivered nothing at all), one EvFrameDup per camera with duplicates, and the
// EvCameraRestart events. Call it about once a second.
func (a *Assembler) Tick(now int64, sink schema.Sink) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now = a.cfg.Timebase.Ref(now)
	for c := range a.cams {
		st := &a.cams[c]
		if st.missing > 0 {
			e := schema.NewEvent(now, schema.EvFrameMissing, schema.SevWarn, a.name(c),
				"camera "+strconv.Itoa(c)+" had no frame for "+strconv.FormatInt(st.missing, 10)+" triggers")
			e.Count, e.TFirst, e.TLast = st.missing, st.missT0, st.missT1
			e.Category = "drop"
			if st.frames == 0 {
				e.Category = "down"
				if !st.everSeen {
					e.Message = "camera " + strconv.Itoa(c) + " has delivered no frame yet"
				}
			}
			a.out.Push(e)
			st.missing = 0
		}
		if st.dups > 0 {
			e := schema.NewEvent(now, schema.EvFrameDup, schema.SevInfo, a.name(c),
				"camera "+strconv.Itoa(c)+" delivered "+strconv.FormatInt(st.dups, 10)+" duplicate frames; dropped from their sets")
			e.Count = st.dups
			a.out.Push(e)
			st.dups = 0
		}
		st.frames = 0
	}
	if sink != nil {
		a.out.Drain(sink, a.cfg.Prefix, now)
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
