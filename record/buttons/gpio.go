// Package buttons turns physical inputs into start, stop and mark: a push-button on a
// GPIO line (with an LED showing the recorder's state) and a button whose state rides
// in a CAN message (a steering-wheel switch decoded with the car's DBC).
//
// One button does everything, so that a driver with hands on the wheel needs no
// other: while idle a press starts a drive; while recording a short press marks the
// moment and a press held for Hold (default 1 s) stops the drive. A tap can never
// stop a drive by accident.
package buttons

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	gosync "sync"
	"time"

	"roadlog/record"
)

// Controller is what the buttons act on: the recorder engine, or ring-buffer capture.
type Controller interface {
	Start(input string) (*record.Drive, error)
	Stop(reason, input string) (*record.Summary, error)
	Mark(category, note, input string) error
	State() record.State
}

// Edge is one edge of a button line.
type Edge struct {
	Offset  int
	Pressed bool          // the line became active (the button went down)
	At      time.Duration // kernel timestamp of the edge (monotonic since boot)
	Seq     uint32        // the line's event sequence number (0: not known)
}

// Lines is the slice of a GPIO chip the buttons use. Chip implements it with the
// kernel's GPIO character device through go-gpiocdev; Twin is its software twin.
type Lines interface {
	// WatchButton requests offset as an input reporting both edges, debounced by the
	// kernel for debounce where it can, and calls fn for each edge from a goroutine
	// of its own until the returned Closer is closed.
	WatchButton(offset int, debounce time.Duration, fn func(Edge)) (io.Closer, error)
	// Output requests offset as an output driven to initial (0 or 1).
	Output(offset int, initial int) (Output, error)
}

// Output is a requested output line.
type Output interface {
	SetValue(v int) error
	Close() error
}

// GPIO is a push-button on a GPIO line, an optional second button that only marks,
// and an optional LED that is lit while recording (and blinks off briefly at a mark).
type GPIO struct {
	Lines      Lines
	Button     int // offset of the start/mark/stop button
	MarkButton int // offset of a mark-only button; -1: none
	LED        int // offset of the LED; -1: none

	Debounce     time.Duration // edges closer than this to the last one are bounce; default 30 ms
	Hold         time.Duration // a press held this long stops the drive; default 1 s
	MarkCategory string        // category of button marks; default "interesting"

	Recorder Controller
	Log      *slog.Logger
}

// ErrBadConfig reports an invalid button configuration.
var ErrBadConfig = errors.New("invalid button configuration")

// edgeQueue bounds the edges waiting for the button goroutine; more are dropped and
// counted (a stuck or chattering line must not grow memory).
const edgeQueue = 64

// Run watches the buttons until ctx ends.
func (g *GPIO) Run(ctx context.Context) error {
	if g.Lines == nil || g.Recorder == nil {
		return fmt.Errorf("%w: GPIO buttons need lines and a recorder", ErrBadConfig)
	}
	if g.Button < 0 {
		return fmt.Errorf("%w: GPIO button offset %d", ErrBadConfig, g.Button)
	}
	debounce, hold, cat, log := g.Debounce, g.Hold, g.MarkCategory, g.Log
	if debounce <= 0 {
		debounce = 30 * time.Millisecond
	}
	if hold <= 0 {
		hold = time.Second
	}
	if cat == "" {
		cat = "interesting"
	}
	if log == nil {
		log = slog.Default()
	}
	edges := make(chan Edge, edgeQueue)
	var lost gosync.Mutex
	lostN := 0
	push := func(e Edge) {
		select {
		case edges <- e:
		default:
			lost.Lock()
			lostN++
			lost.Unlock()
		}
	}
	w, err := g.Lines.WatchButton(g.Button, debounce, push)
	if err != nil {
		return fmt.Errorf("watch GPIO button %d: %w", g.Button, err)
	}
	defer w.Close()
	if g.MarkButton >= 0 {
		mw, err := g.Lines.WatchButton(g.MarkButton, debounce, push)
		if err != nil {
			return fmt.Errorf("watch GPIO mark button %d: %w", g.MarkButton, err)
		}
		defer mw.Close()
	}
	var led Output
	if g.LED >= 0 {
		if led, err = g.Lines.Output(g.LED, 0); err != nil {
			return fmt.Errorf("request GPIO LED %d: %w", g.LED, err)
		}
		defer func() {
			led.SetValue(0)
			led.Close()
		}()
	}
	b := &button{rec: g.Recorder, log: log, debounce: debounce, hold: hold, category: cat, main: g.Button, mark: g.MarkButton,
		last: map[int]Edge{}, down: map[int]bool{}}
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	ledOn := -1
	var blinkUntil time.Time
	setLED := func() {
		if led == nil {
			return
		}
		v := 0
		if g.Recorder.State() == record.Recording && time.Now().After(blinkUntil) {
			v = 1
		}
		if v != ledOn {
			if err := led.SetValue(v); err != nil {
				log.Warn("set GPIO LED", "err", err)
				return
			}
			ledOn = v
		}
	}
	setLED()
	for {
		select {
		case <-ctx.Done():
			lost.Lock()
			if lostN > 0 {
				log.Warn("GPIO button edges dropped (line chattering)", "count", lostN)
			}
			lost.Unlock()
			return nil
		case e := <-edges:
			if b.edge(e) == actMark {
				blinkUntil = time.Now().Add(300 * time.Millisecond)
			}
			setLED()
		case <-poll.C:
			setLED()
		}
	}
}

// action is what an edge did.
type action int

const (
	actNone  action = 0
	actStart action = 1
	actStop  action = 2
	actMark  action = 3
)

// button is the press logic, fed edges in order; it is driven by the edges' own
// timestamps, so the twin and the tests need no clock.
type button struct {
	rec      Controller
	log      *slog.Logger
	debounce time.Duration
	hold     time.Duration
	category string
	main     int
	mark     int

	last    map[int]Edge // last accepted edge per line
	down    map[int]bool // line is pressed
	pressAt time.Duration
	started bool // the current press of the main button started the drive
}

func (b *button) edge(e Edge) action {
	if prev, ok := b.last[e.Offset]; ok && e.At-prev.At < b.debounce && e.At >= prev.At {
		return actNone // bounce
	}
	if b.down[e.Offset] == e.Pressed {
		return actNone // a repeated level (an edge lost in between): nothing new
	}
	b.last[e.Offset] = e
	b.down[e.Offset] = e.Pressed
	if e.Offset == b.mark && b.mark != b.main {
		if e.Pressed {
			return b.doMark()
		}
		return actNone
	}
	if e.Pressed {
		b.pressAt = e.At
		b.started = false
		if b.rec.State() == record.Idle {
			if _, err := b.rec.Start("gpio"); err != nil {
				b.log.Warn("GPIO button: start", "err", err)
				return actNone
			}
			b.started = true
			return actStart
		}
		return actNone
	}
	// released
	if b.started {
		return actNone // the press that started the drive
	}
	if b.rec.State() != record.Recording {
		return actNone
	}
	if e.At-b.pressAt >= b.hold {
		if _, err := b.rec.Stop(fmt.Sprintf("GPIO button held %.1f s", (e.At-b.pressAt).Seconds()), "gpio"); err != nil {
			b.log.Warn("GPIO button: stop", "err", err)
			return actNone
		}
		return actStop
	}
	return b.doMark()
}

func (b *button) doMark() action {
	if err := b.rec.Mark(b.category, "button", "gpio"); err != nil {
		if !errors.Is(err, record.ErrNotRecording) {
			b.log.Warn("GPIO button: mark", "err", err)
		}
		return actNone
	}
	return actMark
}
