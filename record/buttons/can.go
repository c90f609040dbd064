package buttons

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"roadlog/dbc"
	"roadlog/record"
	"roadlog/schema"
)

// Feed is the live feed of the recorder engine the CAN button listens to.
// *record.Engine satisfies it.
type Feed interface {
	Tap(filter func(schema.Sample) bool, size int, latestWins bool) *record.Tap
	Untap(t *record.Tap)
}

// CANButton is a button whose state is one signal of a CAN message, decoded with
// the car's DBC from the CAN frames the recorder sees (a steering-wheel switch).
// The signal's raw value StartStop starts a drive while idle and, held for Hold,
// stops it while recording; Mark marks. Time is the frames' own t, so a replayed or
// simulated bus behaves as a live one.
//
// The signal is decoded with roadlog's DBC decoder (package dbc): Intel or Motorola
// byte order, classic or FD payloads, multiplexed signals.
type CANButton struct {
	Feed     Feed
	DBCFiles []string // the car's DBC files (the rig's, or the simulated car's)
	Bus      string   // bus the message comes on ("" any)
	Message  string   // message name, e.g. BODY
	Signal   string   // signal name, e.g. DriverButton

	// Raw signal values; 0 means the value the DBC's VAL_ table names start_stop and
	// mark, or 1 and 2 when it names none.
	StartStop    uint64
	Mark         uint64
	Hold         time.Duration // default 1 s
	MarkCategory string        // default "interesting"

	Recorder Controller
	Log      *slog.Logger
}

// SplitSignal splits "MESSAGE.Signal" (the form a rig names a button in).
func SplitSignal(ref string) (message, signal string, err error) {
	m, s, ok := strings.Cut(ref, ".")
	if !ok || m == "" || s == "" || strings.Contains(s, ".") {
		return "", "", fmt.Errorf("%w: CAN button signal %q: want MESSAGE.Signal, e.g. BODY.DriverButton", ErrBadConfig, ref)
	}
	return m, s, nil
}

// canSignal is the resolved button signal.
type canSignal struct {
	msg       *dbc.Message
	sig       *dbc.Signal
	startStop uint64
	mark      uint64
}

// resolve finds the message and signal in the DBC.
func (b *CANButton) resolve() (*canSignal, error) {
	var files []*dbc.File
	var perrs []error
	for _, path := range b.DBCFiles {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: read DBC file: %w", ErrBadConfig, err)
		}
		f, err := dbc.Parse(filepath.Base(path), src) // a File with every statement it could read
		if err != nil {
			perrs = append(perrs, err)
		}
		files = append(files, f)
	}
	names := strings.Join(b.DBCFiles, ", ")
	m := dbc.Compile(files...).MessageByName(b.Message)
	if m == nil {
		if len(perrs) > 0 {
			return nil, fmt.Errorf("%w: no message %s in %s: %w", ErrBadConfig, b.Message, names, errors.Join(perrs...))
		}
		return nil, fmt.Errorf("%w: no message %s in %s", ErrBadConfig, b.Message, names)
	}
	cs := &canSignal{msg: m, startStop: 1, mark: 2}
	for _, sg := range m.Signals {
		if sg.Name == b.Signal {
			cs.sig = sg
		}
	}
	if cs.sig == nil {
		return nil, fmt.Errorf("%w: message %s in %s has no signal %s", ErrBadConfig, b.Message, names, b.Signal)
	}
	for _, v := range cs.sig.Values {
		switch v.Name {
		case "start_stop":
			cs.startStop = uint64(v.Value)
		case "mark":
			cs.mark = uint64(v.Value)
		}
	}
	if b.StartStop != 0 {
		cs.startStop = b.StartStop
	}
	if b.Mark != 0 {
		cs.mark = b.Mark
	}
	if cs.startStop == cs.mark {
		return nil, fmt.Errorf("%w: start/stop and mark are both value %d", ErrBadConfig, cs.mark)
	}
	return cs, nil
}

// value decodes the button's raw value from a frame, if the frame carries it.
func (cs *canSignal) value(f *schema.CAN) (uint64, bool) {
	if f.ID != cs.msg.ID || f.Ext != cs.msg.Extended || f.RTR || f.Err || !cs.sig.Active(f.Data) {
		return 0, false
	}
	return cs.sig.Raw(f.Data)
}

// tapSize bounds the button's queue of frames of its message.
const tapSize = 256

// Run listens until ctx ends.
func (b *CANButton) Run(ctx context.Context) error {
	if b.Feed == nil || b.Recorder == nil {
		return fmt.Errorf("%w: a CAN button needs a feed and a recorder", ErrBadConfig)
	}
	cs, err := b.resolve()
	if err != nil {
		return err
	}
	st := &canState{b: b, cs: cs, hold: b.Hold, category: b.MarkCategory, log: b.Log}
	if st.hold <= 0 {
		st.hold = time.Second
	}
	if st.category == "" {
		st.category = "interesting"
	}
	if st.log == nil {
		st.log = slog.Default()
	}
	tap := b.Feed.Tap(func(s schema.Sample) bool {
		f, ok := s.(*schema.CAN)
		return ok && f.ID == cs.msg.ID && (b.Bus == "" || f.Bus == b.Bus)
	}, tapSize, false)
	defer b.Feed.Untap(tap)
	for {
		select {
		case <-ctx.Done():
			if n := tap.Dropped(); n > 0 {
				st.log.Warn("CAN button: frames dropped", "count", n)
			}
			return nil
		case s := <-tap.C:
			st.frame(s.(*schema.CAN))
		}
	}
}

// canState is the press logic over the signal's values in frame order.
type canState struct {
	b        *CANButton
	cs       *canSignal
	hold     time.Duration
	category string
	log      *slog.Logger

	prev    uint64
	pressT  int64 // t of the frame where start_stop went down
	pressed bool  // start_stop is down and has not acted yet
}

func (s *canState) frame(f *schema.CAN) action {
	v, ok := s.cs.value(f)
	if !ok {
		return actNone
	}
	prev := s.prev
	s.prev = v
	rec := s.b.Recorder
	switch {
	case v == s.cs.mark && prev != s.cs.mark:
		s.pressed = false
		if err := rec.Mark(s.category, "steering-wheel button", "can"); err != nil {
			if !errors.Is(err, record.ErrNotRecording) {
				s.log.Warn("CAN button: mark", "err", err)
			}
			return actNone
		}
		return actMark
	case v == s.cs.startStop && prev != s.cs.startStop:
		if rec.State() == record.Idle {
			if _, err := rec.Start("can"); err != nil {
				s.log.Warn("CAN button: start", "err", err)
				return actNone
			}
			return actStart
		}
		s.pressed, s.pressT = true, f.T
	case v == s.cs.startStop && s.pressed && f.T-s.pressT >= int64(s.hold):
		s.pressed = false
		if rec.State() != record.Recording {
			return actNone
		}
		if _, err := rec.Stop(fmt.Sprintf("steering-wheel button held %.1f s", float64(f.T-s.pressT)/1e9), "can"); err != nil {
			s.log.Warn("CAN button: stop", "err", err)
			return actNone
		}
		return actStop
	case v != s.cs.startStop:
		s.pressed = false
	}
	return actNone
}
