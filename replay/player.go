package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"roadlog/record"
	"roadlog/schema"
)

// Rate limits: pacing runs from a tenth of real time to a hundred times real time;
// 0 means as fast as the consumer takes samples.
const (
	MinRate = 0.1
	MaxRate = 100
)

// Clock is the wall clock a Player paces against; tests inject their own.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Backpressure is implemented by sinks that can say whether they have room. Before
// each sample the player waits until Ready returns nil, so a consumer that cannot
// keep up slows the whole replay down uniformly instead of losing samples.
type Backpressure interface {
	// Ready returns nil when the sink can take a sample now, else a channel that
	// becomes readable when it may have room (the player then asks again).
	Ready() <-chan struct{}
}

// PlayerOptions configure a Player.
type PlayerOptions struct {
	Rate   float64 // ×real time, MinRate…MaxRate; 0: as fast as possible
	Loop   bool    // start again at the beginning of the range after the end
	Paused bool    // start paused (step or resume to go)
	Clock  Clock   // default: the wall clock
	// Slack is how late a sample may be published before the player counts the
	// replay as slowed down and shifts its schedule (default 20 ms).
	Slack time.Duration
}

// Status is a player's state, for a status line.
type Status struct {
	T        int64         // t of the last sample published
	Start    int64         // start of the range (drive start)
	End      int64         // end of the range when known (0: unknown)
	Rate     float64       // requested rate (0: as fast as possible)
	Achieved float64       // media seconds per wall second since the last seek, pause or rate change
	Paused   bool          //
	Samples  int64         // published
	Frames   int64         // camera frames published
	Events   int64         // events published (damage included)
	Damage   int64         // EvReplayDamage events
	Loops    int           // times the range was played again
	Behind   time.Duration // total time the schedule was shifted because a consumer (or the disk) was slow
	Message  string        // the last control's outcome ("no further FCW", …)
	Done     bool          // the range was played to its end (and not looping)
}

// Player publishes a Reader's samples into a sink, paced against a clock, and takes
// controls (pause, step, seek, jump to the next event, rate) from other goroutines.
type Player struct {
	r    *Reader
	sink schema.Sink
	opt  PlayerOptions
	cmds chan command

	mu     sync.Mutex // guards status
	status Status

	// owned by Run
	pending     schema.Sample
	anchorWall  time.Time
	anchorT     int64
	anchored    bool
	paceWall    time.Time // where Achieved is measured from
	paceT       int64
	stepUntil   int64 // while stepping: publish samples up to this t (0: find the next frame)
	stepping    bool
	passSamples int64
}

type command struct {
	op    int
	t     int64
	d     time.Duration
	rate  float64
	codes []schema.EventCode
	label string
}

const (
	opPause = iota + 1
	opResume
	opToggle
	opStep
	opSeek
	opSeekBy
	opNextEvent
	opRate
	opQuit
)

// ErrQuit is returned by Run after Quit.
var ErrQuit = errors.New("replay quit")

// NewPlayer returns a player of r into sink.
func NewPlayer(r *Reader, sink schema.Sink, opt PlayerOptions) (*Player, error) {
	if err := checkRate(opt.Rate); err != nil {
		return nil, err
	}
	if opt.Clock == nil {
		opt.Clock = wallClock{}
	}
	if opt.Slack <= 0 {
		opt.Slack = 20 * time.Millisecond
	}
	p := &Player{r: r, sink: sink, opt: opt, cmds: make(chan command, 16)}
	p.status.Rate, p.status.Paused = opt.Rate, opt.Paused
	p.status.Start = r.opts.From
	if p.status.Start == 0 {
		p.status.Start = r.d.StartT()
	}
	p.status.End = r.opts.To
	if p.status.End == 0 && r.d.Manifest != nil {
		p.status.End = r.d.Manifest.EndT
	}
	return p, nil
}

func checkRate(r float64) error {
	if r != 0 && (r < MinRate || r > MaxRate) {
		return fmt.Errorf("%w: rate %v outside %v…%v (0: as fast as possible)", ErrBadOptions, r, MinRate, MaxRate)
	}
	return nil
}

// Status returns the player's state.
func (p *Player) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

func (p *Player) send(c command) {
	select {
	case p.cmds <- c:
	default: // a burst of key presses: drop the excess rather than block the caller
	}
}

// Pause stops publishing until Resume (or Step).
func (p *Player) Pause() { p.send(command{op: opPause}) }

// Resume continues after Pause.
func (p *Player) Resume() { p.send(command{op: opResume}) }

// TogglePause pauses a playing player and resumes a paused one.
func (p *Player) TogglePause() { p.send(command{op: opToggle}) }

// Step publishes the next frame set (every sample up to and including the next
// camera frame's instant; 100 ms of samples when no cameras are replayed) and pauses.
func (p *Player) Step() { p.send(command{op: opStep}) }

// SeekTime jumps to reference time t.
func (p *Player) SeekTime(t int64) { p.send(command{op: opSeek, t: t}) }

// SeekBy jumps d forward (negative: back) from the last sample published.
func (p *Player) SeekBy(d time.Duration) { p.send(command{op: opSeekBy, d: d}) }

// NextEvent jumps to the next event with one of the codes after the last sample
// published; label names them in the status message.
func (p *Player) NextEvent(label string, codes ...schema.EventCode) {
	p.send(command{op: opNextEvent, codes: codes, label: label})
}

// SetRate changes the pacing rate (0: as fast as possible).
func (p *Player) SetRate(r float64) { p.send(command{op: opRate, rate: r}) }

// Quit makes Run return ErrQuit.
func (p *Player) Quit() { p.send(command{op: opQuit}) }

func (p *Player) setMessage(format string, a ...any) {
	p.mu.Lock()
	p.status.Message = fmt.Sprintf(format, a...)
	p.mu.Unlock()
}

// Run plays until the end of the range (nil), ctx ends (ctx.Err()) or Quit (ErrQuit).
func (p *Player) Run(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := p.Status()
		if st.Paused && !p.stepping {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case c := <-p.cmds:
				if err := p.apply(c); err != nil {
					return err
				}
			}
			continue
		}
		select { // controls first
		case c := <-p.cmds:
			if err := p.apply(c); err != nil {
				return err
			}
			continue
		default:
		}
		if p.pending == nil {
			s, err := p.r.Next()
			if errors.Is(err, io.EOF) {
				if p.stepping {
					p.stepping = false
				}
				if !p.opt.Loop || p.passSamples == 0 {
					p.mu.Lock()
					p.status.Done = true
					p.mu.Unlock()
					return nil
				}
				p.passSamples = 0
				p.r.SeekTime(p.r.opts.From)
				p.anchored = false
				p.mu.Lock()
				p.status.Loops++
				p.mu.Unlock()
				continue
			}
			if err != nil {
				return err
			}
			p.pending = s
		}
		t := record.SampleTime(p.pending)
		if p.stepping && !p.stepWants(p.pending, t) {
			p.stepping = false
			p.mu.Lock()
			p.status.Paused = true
			p.mu.Unlock()
			continue
		}
		if !p.stepping && st.Rate > 0 {
			now := p.opt.Clock.Now()
			if !p.anchored {
				p.anchor(now, t)
			}
			due := p.anchorWall.Add(time.Duration(float64(t-p.anchorT) / st.Rate))
			if wait := due.Sub(now); wait > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case c := <-p.cmds:
					if err := p.apply(c); err != nil {
						return err
					}
					continue
				case <-p.opt.Clock.After(wait):
				}
			} else if -wait > p.opt.Slack { // behind schedule: slow down uniformly
				p.anchorWall = p.anchorWall.Add(-wait)
				p.mu.Lock()
				p.status.Behind += -wait
				p.mu.Unlock()
			}
		}
		if bp, ok := p.sink.(Backpressure); ok {
			if ch := bp.Ready(); ch != nil {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case c := <-p.cmds:
					if err := p.apply(c); err != nil {
						return err
					}
				case <-ch:
				}
				continue // ask again (and re-check the schedule: the wait made us late)
			}
		}
		s := p.pending
		p.pending = nil
		p.publish(s, t)
	}
}

// stepWants reports whether a step publishes s: everything up to the first camera
// frame after the step began, and the rest of that frame's instant.
func (p *Player) stepWants(s schema.Sample, t int64) bool {
	if p.stepUntil != 0 {
		return t <= p.stepUntil
	}
	switch s.(type) {
	case *schema.VideoFrame, *schema.Frame:
		p.stepUntil = t
	}
	return true
}

func (p *Player) anchor(now time.Time, t int64) {
	p.anchorWall, p.anchorT, p.anchored = now, t, true
	p.paceWall, p.paceT = now, t
}

func (p *Player) publish(s schema.Sample, t int64) {
	p.sink.Publish(s)
	p.passSamples++
	now := p.opt.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status.T = t
	p.status.Samples++
	switch v := s.(type) {
	case *schema.VideoFrame, *schema.Frame:
		p.status.Frames++
	case *schema.Event:
		p.status.Events++
		if v.Code == schema.EvReplayDamage {
			p.status.Damage++
		}
	}
	if p.anchored {
		if el := now.Sub(p.paceWall); el > 0 {
			p.status.Achieved = float64(t-p.paceT) / float64(el)
		}
	} else if p.status.Rate == 0 {
		p.anchor(now, t)
	}
}

// apply carries out a control.
func (p *Player) apply(c command) error {
	st := p.Status()
	reanchor := func() { p.anchored = false }
	switch c.op {
	case opQuit:
		return ErrQuit
	case opPause, opResume, opToggle:
		paused := c.op == opPause || (c.op == opToggle && !st.Paused)
		p.mu.Lock()
		p.status.Paused = paused
		p.mu.Unlock()
		p.stepping = false
		reanchor()
	case opStep:
		p.mu.Lock()
		p.status.Paused = true
		p.mu.Unlock()
		p.stepping, p.stepUntil = true, 0
		if !p.hasFrames() {
			p.stepUntil = st.T + int64(100*time.Millisecond)
		}
		reanchor()
	case opSeek, opSeekBy:
		to := c.t
		if c.op == opSeekBy {
			to = st.T + int64(c.d)
		}
		p.seek(to)
		p.setMessage("at %s", fmtOffset(to, st.Start))
	case opNextEvent:
		t, ev, err := p.r.d.NextEvent(st.T, p.r.opts.Run, c.codes...)
		if err != nil {
			return err
		}
		if ev == nil {
			p.setMessage("no further %s", c.label)
			return nil
		}
		p.seek(t)
		p.setMessage("%s at %s: %s", ev.Code, fmtOffset(t, st.Start), ev.Message)
	case opRate:
		if err := checkRate(c.rate); err != nil {
			p.setMessage("%v", err)
			return nil
		}
		p.mu.Lock()
		p.status.Rate = c.rate
		p.mu.Unlock()
		reanchor()
	}
	return nil
}

func (p *Player) hasFrames() bool {
	return p.r.opts.Tables == nil || slices.Contains(p.r.opts.Tables, schema.TableFrames)
}

func (p *Player) seek(t int64) {
	if lo := p.r.opts.From; t < lo {
		t = lo
	}
	if hi := p.Status().End; hi != 0 && t > hi {
		t = hi
	}
	p.r.SeekTime(t)
	p.pending = nil
	p.anchored = false
	p.mu.Lock()
	p.status.T = t
	p.status.Done = false
	p.mu.Unlock()
}

// fmtOffset writes t as seconds from start.
func fmtOffset(t, start int64) string {
	if start == 0 {
		return time.Unix(0, t).UTC().Format("15:04:05.000")
	}
	return fmt.Sprintf("%+.3fs", float64(t-start)/1e9)
}
