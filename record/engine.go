// Package record is roadlog's recorder: the engine that takes samples from every
// source into bounded per-table queues that never block a source, the goroutines that
// write them into Arrow tables and per-camera fMP4 video segment by segment, the
// manifest, the loss policy, the disk guard, and the idle → recording → stopping →
// idle lifecycle with its start/stop/mark API.
package record

import (
	"errors"
	"fmt"
	gosync "sync"
	"sync/atomic"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
)

// State is the recorder's lifecycle state.
type State int32

// States.
const (
	Idle      State = 0
	Recording State = 1
	Stopping  State = 2
)

func (s State) String() string {
	switch s {
	case Idle:
		return "idle"
	case Recording:
		return "recording"
	case Stopping:
		return "stopping"
	}
	return fmt.Sprintf("state(%d)", int32(s))
}

// Errors of the lifecycle API.
var (
	ErrRecording    = errors.New("already recording")
	ErrNotRecording = errors.New("not recording")
)

// Engine is the recorder. Sources call Publish from any goroutine at any time; it
// never blocks. Samples published while idle feed the taps and the health figures
// but are not written.
type Engine struct {
	opt Options

	mu    gosync.Mutex // serialises Start and Stop; guards last
	state atomic.Int32
	cur   atomic.Pointer[recording]
	last  *Summary

	taps   atomic.Pointer[[]*Tap]
	tapsMu gosync.Mutex // guards changes to taps
	health health
	recent recentEvents
}

// New returns an idle recorder.
func New(opt Options) (*Engine, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{opt: o}
	e.health.streams = map[streamKey]*streamStat{}
	return e, nil
}

// Options returns the recorder's options with defaults applied.
func (e *Engine) Options() Options { return e.opt }

// State returns the lifecycle state.
func (e *Engine) State() State { return State(e.state.Load()) }

// Now returns the reference time now.
func (e *Engine) Now() int64 { return e.opt.Timebase.Ref(clock.HostNow()) }

// Publish takes a sample from a source. It never blocks: when the sample's queue is
// full the sample is dropped and counted, and the drop is written as an event.
func (e *Engine) Publish(s schema.Sample) {
	e.health.observe(s)
	if ev, ok := s.(*schema.Event); ok {
		e.recent.add(ev)
	}
	if tp := e.taps.Load(); tp != nil {
		for _, t := range *tp {
			t.offer(s)
		}
	}
	if r := e.cur.Load(); r != nil {
		r.publish(s)
	}
}

// Start begins a new drive. input says which input asked (cli, api, web, gpio, can).
func (e *Engine) Start(input string) (*Drive, error) { return e.StartAt(e.Now(), input) }

// StartAt begins a new drive whose first segment starts at reference time t0, which
// may lie in the past: ring-buffer capture starts a drive at the oldest sample of its
// pre-trigger buffer and then publishes that buffer.
func (e *Engine) StartAt(t0 int64, input string) (*Drive, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.State() != Idle {
		return nil, ErrRecording
	}
	r, err := newRecording(e, t0, input)
	if err != nil {
		return nil, err
	}
	e.state.Store(int32(Recording))
	e.cur.Store(r)
	go r.manage()
	return r.handle, nil
}

// Stop ends the current drive and waits until it is closed.
func (e *Engine) Stop(reason, input string) (*Summary, error) {
	r := e.cur.Load()
	if r == nil || e.State() != Recording {
		return nil, ErrNotRecording
	}
	r.requestStop(reason, input)
	<-r.handle.done
	return r.handle.Summary(), nil
}

// Mark writes a driver mark (category such as interesting, cut_in, false_alarm,
// near_miss, and an optional note) at the current time.
func (e *Engine) Mark(category, note, input string) error {
	r := e.cur.Load()
	if r == nil || e.State() != Recording {
		return ErrNotRecording
	}
	ev := schema.NewEvent(e.Now(), schema.EvMark, schema.SevInfo, "driver", note)
	ev.Category, ev.Input = category, input
	e.Publish(ev)
	return nil
}

// Current returns the drive being recorded, or nil.
func (e *Engine) Current() *Drive {
	if r := e.cur.Load(); r != nil {
		return r.handle
	}
	return nil
}

// LastSummary returns the summary of the last closed drive, or nil.
func (e *Engine) LastSummary() *Summary {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// Drive is a handle on one recording.
type Drive struct {
	ID      string
	Dir     string
	StartT  int64
	Started time.Time
	done    chan struct{}
	summary atomic.Pointer[Summary]
	r       *recording
}

// Done is closed when the drive is closed (stopped by Stop, the disk guard or a write
// failure).
func (d *Drive) Done() <-chan struct{} { return d.done }

// Summary returns the drive's figures once it is closed (nil before).
func (d *Drive) Summary() *Summary { return d.summary.Load() }

// Progress returns live figures while recording.
func (d *Drive) Progress() Progress { return d.r.progress() }

// Progress is what the recording progress line shows.
type Progress struct {
	Elapsed time.Duration // wall time since start
	Rows    int64         // rows accepted into the queues
	Bytes   int64         // bytes written to files
	Drops   int64         // samples dropped
	Segment int           // current segment
	SpanT   int64         // reference time covered (newest t minus start)
}

// Summary describes a closed drive.
type Summary struct {
	ID         string
	Dir        string
	StopReason string
	Rows       map[string]int64
	Bytes      int64
	Drops      int64
	Segments   int
	Damaged    []string // files left damaged by a write failure and repaired at stop
}
