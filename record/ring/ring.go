// Package ring is ring-buffer event capture (the Apollo smart-recorder idea): record
// continuously into a bounded ring and keep only windows around triggers — driver
// marks, forward-collision warnings, emergency-brake warnings, cut-ins — from Pre
// before the trigger to Post after it. Each kept window is a closed drive of its own
// that drive.Verify accepts.
//
// Design. The ring holds the pre-trigger samples in memory, not on disk: a tap on
// the recorder engine (which keeps running idle, so sources, health and the page
// work as always) feeds a buffer bounded both by time (Pre) and by bytes
// (MaxBufferBytes; a full buffer shortens the pre-roll and counts it). When a trigger
// arrives, a fresh recorder engine starts a drive at the oldest buffered sample
// (record.Engine.StartAt), the buffer is handed to it in order (each camera from its
// first keyframe, with its codec parameter sets), and live samples follow until Post
// after the last trigger; a trigger inside an open window extends it. Nothing outside
// a window is ever written, so there is nothing to delete and no flash wear between
// events; a sample is written at most once (a window that opens right after another
// starts where that one ended). MaxDiskBytes bounds the kept windows on disk: the
// oldest ring windows are deleted first.
//
// Start opens a window by hand (with the pre-roll) that lasts until Stop; Mark
// publishes a driver mark, which opens or extends a window like any trigger.
package ring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	gosync "sync"
	"sync/atomic"
	"time"

	"roadlog/record"
	"roadlog/schema"
)

// Feed is the live recorder engine the ring listens to. *record.Engine satisfies it.
type Feed interface {
	Tap(filter func(schema.Sample) bool, size int, latestWins bool) *record.Tap
	Untap(t *record.Tap)
	Publish(s schema.Sample)
	Now() int64
}

// DefaultTriggers are the events that keep a window.
var DefaultTriggers = []schema.EventCode{schema.EvMark, schema.EvFCW, schema.EvAEB, schema.EvCutIn}

// Options configure ring capture. The zero value of a field means its default.
type Options struct {
	Feed   Feed
	Engine record.Options // options of each window's recorder; Engine.Root holds the kept windows

	Pre            time.Duration      // kept before a trigger; default 10 s
	Post           time.Duration      // kept after the last trigger of a window; default 5 s
	Triggers       []schema.EventCode // default DefaultTriggers
	MaxBufferBytes int64              // memory for the pre-trigger buffer; default 512 MiB
	MaxDiskBytes   int64              // kept windows on disk (0: no limit); the oldest go first
	TapSize        int                // samples queued between the engine and the ring; default 65536
	Lateness       time.Duration      // how late a sample may arrive and still join its window (camera frames); default 500 ms
	Log            *slog.Logger
}

// ErrBadOptions reports invalid options.
var ErrBadOptions = errors.New("invalid ring options")

// Errors of ring capture.
var (
	ErrNotRunning  = errors.New("ring capture is not running")
	ErrRunning     = errors.New("ring capture is already running")
	ErrCloseFailed = errors.New("ring capture: a kept window could not be closed")
)

// Ring is ring-buffer capture. Create it with New and run Run; it satisfies the
// recorder interface of the control surface and the buttons.
type Ring struct {
	opt      Options
	triggers map[schema.EventCode]bool

	cmds    chan command
	started atomic.Bool                   // Run was called
	running atomic.Bool                   // Run is taking samples and commands
	quit    atomic.Pointer[chan struct{}] // closed when Run returns
	cur     atomic.Pointer[window]
	last    atomic.Pointer[record.Summary]

	stops    gosync.WaitGroup // window closes in flight
	retainMu gosync.Mutex     // serialises disk retention
	tapDrops atomic.Int64
	bufBytes atomic.Int64
	bufSpan  atomic.Int64
	bufMax   atomic.Int64 // most bytes the buffer held
	overflow atomic.Int64
	kept     atomic.Int64
	deleted  atomic.Int64
	failed   atomic.Int64 // windows that could not be started
}

// window is an open kept window (owned by the ring's goroutine, read by others).
type window struct {
	eng     *record.Engine
	drive   *record.Drive
	end     atomic.Int64 // reference time it closes after; math.MaxInt64 while kept by hand
	trigger string
	manual  bool
	closed  chan struct{} // closed once the drive is closed and the ring's figures updated
}

type command struct {
	start bool // else stop
	input string
	why   string
	reply chan reply
}

type reply struct {
	w   *window
	err error
}

// New checks the options.
func New(opt Options) (*Ring, error) {
	if opt.Feed == nil {
		return nil, fmt.Errorf("%w: no feed", ErrBadOptions)
	}
	if opt.Engine.Root == "" {
		return nil, fmt.Errorf("%w: no folder for kept windows", ErrBadOptions)
	}
	if opt.Pre <= 0 {
		opt.Pre = 10 * time.Second
	}
	if opt.Post <= 0 {
		opt.Post = 5 * time.Second
	}
	if len(opt.Triggers) == 0 {
		opt.Triggers = DefaultTriggers
	}
	if opt.MaxBufferBytes <= 0 {
		opt.MaxBufferBytes = 512 << 20
	}
	if opt.MaxDiskBytes < 0 {
		return nil, fmt.Errorf("%w: disk budget %d", ErrBadOptions, opt.MaxDiskBytes)
	}
	if opt.TapSize <= 0 {
		opt.TapSize = 1 << 16
	}
	if opt.Lateness <= 0 {
		opt.Lateness = 500 * time.Millisecond
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if _, err := record.New(opt.Engine); err != nil { // check the window options once, up front
		return nil, err
	}
	r := &Ring{opt: opt, triggers: map[schema.EventCode]bool{}, cmds: make(chan command)}
	for _, c := range opt.Triggers {
		r.triggers[c] = true
	}
	return r, nil
}

// Run captures until ctx ends; an open window is then closed.
func (r *Ring) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer r.started.Store(false)
	tap := r.opt.Feed.Tap(nil, r.opt.TapSize, false)
	defer r.opt.Feed.Untap(tap)
	quit := make(chan struct{})
	r.quit.Store(&quit)
	r.running.Store(true) // commands and marks are taken from now on
	defer func() {
		r.running.Store(false)
		close(quit)
	}()
	buf := newBuffer(int64(r.opt.Pre), r.opt.MaxBufferBytes)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	// take in everything published so far, so that a command or the end acts after
	// the samples that came before it
	catchUp := func() {
		for {
			select {
			case s := <-tap.C:
				r.sample(buf, s)
			default:
				return
			}
		}
	}
	lastSample := time.Now() // wall time the newest sample arrived
	for {
		select {
		case <-ctx.Done():
			catchUp()
			if w := r.cur.Load(); w != nil {
				r.closeWindow(w, "roadlog serve is stopping", "auto")
			}
			r.tapDrops.Store(tap.Dropped())
			r.stops.Wait()
			return nil
		case s := <-tap.C:
			lastSample = time.Now()
			r.sample(buf, s)
		case c := <-r.cmds:
			catchUp()
			c.reply <- r.command(buf, c)
		case <-tick.C:
			r.tapDrops.Store(tap.Dropped())
			// sources gone quiet: no sample will pass the window's end, so close it
			// once the reference clock has (a busy feed closes windows by its samples)
			if w := r.cur.Load(); w != nil && time.Since(lastSample) > r.opt.Post && r.opt.Feed.Now() > w.end.Load() {
				r.closeWindow(w, "window complete (no samples)", "auto")
			}
		}
	}
}

// sample routes one sample: into the open window, or into the buffer, where a
// trigger opens a window. A window closes once samples arrive Lateness past its end;
// until then samples after its end wait in the buffer, and a trigger among them
// extends the window over them.
func (r *Ring) sample(buf *buffer, s schema.Sample) {
	t := record.SampleTime(s)
	ev, isTrigger := r.trigger(s)
	if w := r.cur.Load(); w != nil {
		end := w.end.Load()
		switch {
		case t <= end:
			if isTrigger {
				w.end.Store(max(end, ev.T+int64(r.opt.Post)))
			}
			buf.noteParams(s)
			w.eng.Publish(s)
			return
		case isTrigger:
			w.end.Store(ev.T + int64(r.opt.Post))
			for _, x := range buf.takeAll() {
				w.eng.Publish(x)
			}
			r.bufBytes.Store(0)
			r.bufSpan.Store(0)
			buf.noteParams(s)
			w.eng.Publish(s)
			return
		case t > addSat(end, int64(r.opt.Lateness)):
			r.closeWindow(w, "window complete", "auto")
		}
	}
	buf.push(s)
	r.bufBytes.Store(buf.bytes)
	r.bufSpan.Store(buf.span())
	if buf.bytes > r.bufMax.Load() {
		r.bufMax.Store(buf.bytes)
	}
	r.overflow.Store(buf.overflow)
	if isTrigger && r.cur.Load() == nil {
		input := ev.Input
		if input == "" {
			input = "auto"
		}
		if err := r.openWindow(buf, ev.Kind, input, ev.T, ev.T+int64(r.opt.Post)); err != nil {
			r.opt.Log.Error("ring capture: keep window", "trigger", ev.Kind, "err", err)
		}
	}
}

// addSat adds without overflowing past math.MaxInt64 (the end of a window kept by hand).
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func (r *Ring) trigger(s schema.Sample) (*schema.Event, bool) {
	ev, ok := s.(*schema.Event)
	if !ok || !r.triggers[ev.Code] {
		return nil, false
	}
	return ev, true
}

// openWindow starts a drive at the oldest buffered sample and hands it the buffer.
func (r *Ring) openWindow(buf *buffer, trigger, input string, at, end int64) error {
	items := buf.drain(at - int64(r.opt.Pre))
	r.bufBytes.Store(0)
	r.bufSpan.Store(0)
	t0 := at
	for _, s := range items {
		if t := record.SampleTime(s); t > 0 && t < t0 {
			t0 = t
		}
	}
	opt := r.opt.Engine
	detail, _ := json.Marshal(map[string]any{"trigger": trigger, "trigger_t": at, "pre_s": r.opt.Pre.Seconds(), "post_s": r.opt.Post.Seconds()})
	opt.Extra = withRingExtra(opt.Extra, detail)
	eng, err := record.New(opt)
	if err != nil {
		r.failed.Add(1)
		return err
	}
	d, err := eng.StartAt(t0, input)
	if err != nil {
		r.failed.Add(1)
		return err
	}
	for _, s := range items {
		eng.Publish(s)
	}
	what := fmt.Sprintf("ring capture: keeping %v before and %v after a %s", r.opt.Pre, r.opt.Post, trigger)
	if end == math.MaxInt64 {
		what = fmt.Sprintf("ring capture: keeping %v before a start by hand until stop", r.opt.Pre)
	}
	ev := schema.NewEvent(at, schema.EvRecordPaused, schema.SevInfo, "ring", what)
	ev.Category, ev.Input, ev.Detail = trigger, input, string(detail)
	eng.Publish(ev)
	w := &window{eng: eng, drive: d, trigger: trigger, manual: end == math.MaxInt64, closed: make(chan struct{})}
	w.end.Store(end)
	r.cur.Store(w)
	return nil
}

// closeWindow stops the window's drive in the background.
func (r *Ring) closeWindow(w *window, reason, input string) *window {
	r.cur.Store(nil)
	r.stops.Add(1)
	go func() {
		defer r.stops.Done()
		defer close(w.closed)
		sum, err := w.eng.Stop(reason, input)
		if err != nil {
			r.opt.Log.Error("ring capture: close window", "drive", w.drive.ID, "err", err)
			return
		}
		r.last.Store(sum)
		r.kept.Add(1)
		r.retain(w.drive.ID)
	}()
	return w
}

func (r *Ring) command(buf *buffer, c command) reply {
	w := r.cur.Load()
	if c.start {
		if w != nil {
			if w.manual {
				return reply{err: record.ErrRecording}
			}
			w.manual = true // keep the triggered window until stop
			w.end.Store(math.MaxInt64)
			return reply{w: w}
		}
		if err := r.openWindow(buf, "start", c.input, r.opt.Feed.Now(), math.MaxInt64); err != nil {
			return reply{err: err}
		}
		return reply{w: r.cur.Load()}
	}
	if w == nil {
		return reply{err: record.ErrNotRecording}
	}
	return reply{w: r.closeWindow(w, c.why, c.input)}
}

func (r *Ring) do(c command) (*window, error) {
	q := r.quit.Load()
	if !r.running.Load() || q == nil {
		return nil, ErrNotRunning
	}
	c.reply = make(chan reply, 1)
	select {
	case r.cmds <- c:
	case <-*q:
		return nil, ErrNotRunning
	}
	rep := <-c.reply // Run answers every command it takes
	return rep.w, rep.err
}

// Start keeps everything from Pre ago until Stop, as one window.
func (r *Ring) Start(input string) (*record.Drive, error) {
	w, err := r.do(command{start: true, input: input})
	if err != nil {
		return nil, err
	}
	return w.drive, nil
}

// Stop closes the open window now and waits until its drive is closed.
func (r *Ring) Stop(reason, input string) (*record.Summary, error) {
	w, err := r.do(command{input: input, why: reason})
	if err != nil {
		return nil, err
	}
	<-w.closed
	if s := w.drive.Summary(); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%w: window %s", ErrCloseFailed, w.drive.ID)
}

// Mark publishes a driver mark into the live feed; it keeps a window around now
// whether or not one is open.
func (r *Ring) Mark(category, note, input string) error {
	if !r.running.Load() {
		return ErrNotRunning
	}
	ev := schema.NewEvent(r.opt.Feed.Now(), schema.EvMark, schema.SevInfo, "driver", note)
	ev.Category, ev.Input = category, input
	r.opt.Feed.Publish(ev)
	return nil
}

// State is Recording while a window is open, else Idle (capturing into the ring).
func (r *Ring) State() record.State {
	if r.cur.Load() != nil {
		return record.Recording
	}
	return record.Idle
}

// Current returns the open window's drive, or nil.
func (r *Ring) Current() *record.Drive {
	if w := r.cur.Load(); w != nil {
		return w.drive
	}
	return nil
}

// LastSummary returns the summary of the last window closed, or nil.
func (r *Ring) LastSummary() *record.Summary { return r.last.Load() }

// Drops returns the open window's drops per queue, plus what the ring itself lost:
// "ring_tap" (its feed fell behind) and "ring_overflow" (pre-roll cut by the byte cap).
func (r *Ring) Drops() map[string]int64 {
	out := map[string]int64{}
	if w := r.cur.Load(); w != nil {
		for k, v := range w.eng.Drops() {
			out[k] = v
		}
	}
	out["ring_tap"] = r.tapDrops.Load()
	out["ring_overflow"] = r.overflow.Load()
	return out
}

// QueueDepths returns the open window's queue fill (nil while none is open).
func (r *Ring) QueueDepths() map[string]int {
	if w := r.cur.Load(); w != nil {
		return w.eng.QueueDepths()
	}
	return nil
}

// Info is what the driver's page shows about ring capture.
type Info struct {
	Pre           float64 `json:"pre_s"`
	Post          float64 `json:"post_s"`
	BufferedSpan  float64 `json:"buffered_s"`
	BufferedBytes int64   `json:"buffered_bytes"`
	MaxBytes      int64   `json:"max_bytes"`
	Kept          int64   `json:"windows_kept"`
	Deleted       int64   `json:"windows_deleted"`
	WindowOpen    bool    `json:"window_open"`
	Trigger       string  `json:"trigger,omitempty"`
	Manual        bool    `json:"manual,omitempty"`
}

// Describe returns Info (for the control surface).
func (r *Ring) Describe() any { return r.Info() }

// Info returns the ring's figures now.
func (r *Ring) Info() Info {
	in := Info{Pre: r.opt.Pre.Seconds(), Post: r.opt.Post.Seconds(), BufferedSpan: float64(r.bufSpan.Load()) / 1e9,
		BufferedBytes: r.bufBytes.Load(), MaxBytes: r.opt.MaxBufferBytes, Kept: r.kept.Load(), Deleted: r.deleted.Load()}
	if w := r.cur.Load(); w != nil {
		in.WindowOpen, in.Trigger, in.Manual = true, w.trigger, w.end.Load() == math.MaxInt64
	}
	return in
}

// Stats are the ring's counters, for tests and benchmarks.
type Stats struct {
	Info
	MaxBufferedBytes int64 // the most the buffer ever held
	Overflow         int64 // samples evicted by the byte cap within Pre
	TapDropped       int64
	FailedWindows    int64
}

// Stats returns the counters.
func (r *Ring) Stats() Stats {
	return Stats{Info: r.Info(), MaxBufferedBytes: r.bufMax.Load(), Overflow: r.overflow.Load(), TapDropped: r.tapDrops.Load(),
		FailedWindows: r.failed.Load()}
}
