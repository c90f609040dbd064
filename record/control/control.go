// Package control is the driver's station of roadlog serve: the HTTP API (start, stop,
// mark, status, drives, drive summary), the WebSocket status stream, the web page
// embedded in the binary for the in-car tablet, and the Prometheus /metrics endpoint.
//
// The Server reads the live feed of the recorder engine (stream health, taps for GNSS,
// sync rows, camera frames, detections and events) whether or not a drive is being
// recorded, so the driver sees every sensor before pressing Start. Start, stop and
// mark go to a Recorder: the engine itself, or ring-buffer capture (package
// record/ring).
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	gosync "sync"
	"time"

	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/schema"
)

// Recorder is what start, stop and mark act on. *record.Engine satisfies it, and so
// does ring-buffer capture.
type Recorder interface {
	Start(input string) (*record.Drive, error)
	Stop(reason, input string) (*record.Summary, error)
	Mark(category, note, input string) error
	State() record.State
	Current() *record.Drive
	LastSummary() *record.Summary
	Drops() map[string]int64
	QueueDepths() map[string]int
}

// Feed is the live side of the recorder engine: health and taps, recording or not.
// *record.Engine satisfies it.
type Feed interface {
	Tap(filter func(schema.Sample) bool, size int, latestWins bool) *record.Tap
	Untap(t *record.Tap)
	Health() []record.StreamHealth
	RecentEvents() []schema.Event
	Now() int64
}

// Describer is implemented by recorders with more to show on the page (ring capture:
// what is buffered, windows kept). Describe's result is sent as the status's "mode_info".
type Describer interface {
	Describe() any
}

// MetricSource is implemented by recorders with metrics of their own (ring capture);
// Metrics calls emit once per unlabelled sample (typ: gauge or counter).
type MetricSource interface {
	Metrics(emit func(name, typ, help string, value float64))
}

// DefaultCategories are the driver-mark categories offered on the page.
var DefaultCategories = []string{"interesting", "cut_in", "false_alarm", "near_miss"}

// Options configure the Server. The zero value of a field means its default.
type Options struct {
	Feed     Feed     // required
	Recorder Recorder // required
	Root     string   // folder holding drives (listing, summaries, free disk); required
	Mode     string   // "record" (default) or "ring", shown on the page
	Cameras  []drive.Camera

	// Token, when set, is required on every request: "Authorization: Bearer TOKEN", or
	// the cookie the page sets after it was opened once as /?token=TOKEN. Without a
	// token only loopback clients are served; CheckListen refuses a non-loopback
	// address without one.
	Token string

	Categories      []string      // mark categories; default DefaultCategories
	StatusInterval  time.Duration // WebSocket status period; default 500 ms
	MinPushInterval time.Duration // least time between two pushes; default 20 ms
	ThumbInterval   time.Duration // least time between two thumbnails of a camera; default 500 ms
	StaleAfter      time.Duration // a sensor silent this long is reported; default 2 s
	MinFreeBytes    int64         // the recorder's stop threshold: disk time left counts to it
	MaxNote         int           // longest mark note in bytes; default 500
	Version         string
	Log             *slog.Logger
}

// ErrBadOptions reports invalid options.
var ErrBadOptions = errors.New("invalid control options")

func (o Options) withDefaults() (Options, error) {
	if o.Feed == nil || o.Recorder == nil {
		return o, fmt.Errorf("%w: a feed and a recorder are required", ErrBadOptions)
	}
	if o.Root == "" {
		return o, fmt.Errorf("%w: no drives folder", ErrBadOptions)
	}
	if o.Mode == "" {
		o.Mode = "record"
	}
	if len(o.Categories) == 0 {
		o.Categories = DefaultCategories
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StatusInterval, 500*time.Millisecond)
	def(&o.MinPushInterval, 20*time.Millisecond)
	def(&o.ThumbInterval, 500*time.Millisecond)
	def(&o.StaleAfter, 2*time.Second)
	if o.MaxNote <= 0 {
		o.MaxNote = 500
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o, nil
}

// Server is the driver's station. Create it with New, serve Handler, and run Run for
// as long as it serves.
type Server struct {
	opt   Options
	mux   *http.ServeMux
	live  *live
	hub   *hub
	rate  writeRate
	start time.Time

	doneOnce gosync.Once
	done     chan struct{} // closed when Run returns: WebSocket handlers leave
}

// New returns a Server.
func New(opt Options) (*Server, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{opt: o, live: newLive(o), hub: newHub(), done: make(chan struct{}), start: time.Now()}
	s.routes()
	return s, nil
}

// Handler returns the HTTP handler: the page, the API, the WebSocket and /metrics,
// behind the token check.
func (s *Server) Handler() http.Handler { return s.authorize(s.mux) }

// Run consumes the live feed (GNSS, sync, thumbnails, detections, events), samples
// the write rate and pushes status to WebSocket clients until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	defer s.doneOnce.Do(func() { close(s.done) })
	var wg gosync.WaitGroup
	s.live.run(ctx, &wg, s.opt.Feed, s.hub.wakeup)
	tick := time.NewTicker(s.opt.StatusInterval)
	defer tick.Stop()
	sample := time.NewTicker(time.Second)
	defer sample.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case now := <-sample.C:
			s.sampleRate(now)
		case <-tick.C:
			if s.hub.count() > 0 {
				last = s.push()
			}
		case <-s.hub.wake:
			if s.hub.count() == 0 {
				continue
			}
			if d := s.opt.MinPushInterval - time.Since(last); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					wg.Wait()
					return nil
				}
			}
			last = s.push()
		}
	}
}

// Done is closed once Run has returned.
func (s *Server) Done() <-chan struct{} { return s.done }

// sampleRate updates the write rate from the current drive's bytes.
func (s *Server) sampleRate(now time.Time) {
	var bytes int64
	var id string
	if d := s.opt.Recorder.Current(); d != nil {
		bytes, id = d.Progress().Bytes, d.ID
	}
	s.rate.sample(now, id, bytes)
}
