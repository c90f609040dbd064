package record

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
)

// Source turns a device or a file into samples: Run blocks until ctx ends (returning
// nil) or the source fails (returning why).
type Source interface {
	Run(ctx context.Context, sink schema.Sink) error
}

// Supervisor runs sources and restarts a failed or unplugged one after a pause that
// grows from MinBackoff to MaxBackoff; every outage is written as events: source_error
// and source_down when it fails, source_up with the outage's span when it is back
// (mediamtx's static-source handler, in spirit).
type Supervisor struct {
	Sink       schema.Sink
	Timebase   clock.Timebase // stamps the events (nil: clock.NewSystem())
	Log        *slog.Logger   // nil: slog.Default()
	MinBackoff time.Duration  // default 1 s
	MaxBackoff time.Duration  // default 30 s
}

// ErrFinished is what a source may return when it has nothing more to give (a file
// played to its end); a source that returns nil before its context ends means the
// same. The supervisor stops such a source instead of restarting it.
var ErrFinished = errors.New("source finished")

// Run supervises one named source until ctx ends.
func (s *Supervisor) Run(ctx context.Context, name string, src Source) {
	tb := s.Timebase
	if tb == nil {
		tb = clock.NewSystem()
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	minB, maxB := s.MinBackoff, s.MaxBackoff
	if minB <= 0 {
		minB = time.Second
	}
	if maxB < minB {
		maxB = 30 * time.Second
	}
	backoff := minB
	var downSince int64
	for {
		started := time.Now()
		if downSince != 0 {
			now := tb.Ref(clock.HostNow())
			ev := schema.NewEvent(now, schema.EvSourceUp, schema.SevInfo, name, "source restarted")
			ev.TFirst, ev.TLast = downSince, now
			s.Sink.Publish(ev)
			downSince = 0
		}
		err := src.Run(ctx, s.Sink)
		if ctx.Err() != nil {
			return
		}
		if err == nil || errors.Is(err, ErrFinished) {
			log.Info("source finished", "source", name)
			return
		}
		now := tb.Ref(clock.HostNow())
		downSince = now
		s.Sink.Publish(schema.NewEvent(now, schema.EvSourceError, schema.SevError, name, err.Error()))
		s.Sink.Publish(schema.NewEvent(now, schema.EvSourceDown, schema.SevWarn, name, fmt.Sprintf("source down; restarting in %v", backoff)))
		log.Warn("source failed", "source", name, "err", err, "restart_in", backoff)
		if time.Since(started) > 2*maxB {
			backoff = minB // it ran well for a while: start over
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxB)
	}
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, sink schema.Sink) error

// Run calls f.
func (f SourceFunc) Run(ctx context.Context, sink schema.Sink) error { return f(ctx, sink) }
