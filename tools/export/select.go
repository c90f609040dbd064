package export

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"roadlog/schema"
	"roadlog/tools/export/query"
)

// Range is an explicit time range [From, To) in reference ns.
type Range struct{ From, To int64 }

// ErrBadRange reports a time range that does not parse or is empty.
var ErrBadRange = errors.New("bad time range")

// ParseRange reads FROM..TO. Each end is an offset from the drive's start (a Go
// duration such as 1m30s, or plain seconds such as 12.5) or an absolute RFC 3339 time
// (2026-11-30T08:15:10.5Z).
func ParseRange(s string, driveStart int64) (Range, error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		return Range{}, fmt.Errorf("%w %q: want FROM..TO (e.g. 10s..25s or 2026-11-30T08:15:10Z..2026-11-30T08:15:25Z)", ErrBadRange, s)
	}
	from, err := parseInstant(strings.TrimSpace(a), driveStart)
	if err != nil {
		return Range{}, fmt.Errorf("%w %q: start: %v", ErrBadRange, s, err)
	}
	to, err := parseInstant(strings.TrimSpace(b), driveStart)
	if err != nil {
		return Range{}, fmt.Errorf("%w %q: end: %v", ErrBadRange, s, err)
	}
	if to <= from {
		return Range{}, fmt.Errorf("%w %q: the end is not after the start", ErrBadRange, s)
	}
	return Range{from, to}, nil
}

func parseInstant(s string, start int64) (int64, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	if strings.ContainsAny(s, "T:") && len(s) >= 20 {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, err
		}
		return t.UnixNano(), nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v < 0 || v > 1e9 || math.IsNaN(v) {
			return 0, fmt.Errorf("%s s is out of range", s)
		}
		return start + int64(v*1e9), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither seconds, a duration (1m30s) nor an RFC 3339 time", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s is negative", s)
	}
	return start + int64(d), nil
}

// EventSpec selects events: by code, and for driver marks optionally by category.
type EventSpec struct {
	Code     schema.EventCode
	Category string // "" any
}

// ErrBadEvent reports an event name that is not an event kind.
var ErrBadEvent = errors.New("unknown event kind")

// ParseEvent reads an event kind: its name (fcw, aeb, cut_in, mark, disk_full … as in
// schema.EventCodeNames) or its number, with ":category" for driver marks (mark:pothole).
func ParseEvent(s string) (EventSpec, error) {
	name, cat, hasCat := strings.Cut(strings.TrimSpace(s), ":")
	name = strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	var spec EventSpec
	found := false
	if n, err := strconv.ParseUint(name, 10, 16); err == nil {
		if _, ok := schema.EventCodeNames[schema.EventCode(n)]; ok {
			spec.Code, found = schema.EventCode(n), true
		}
	}
	for c, n := range schema.EventCodeNames {
		if n == name {
			spec.Code, found = c, true
		}
	}
	if !found {
		names := make([]string, 0, len(schema.EventCodeNames))
		for _, n := range schema.EventCodeNames {
			names = append(names, n)
		}
		sort.Strings(names)
		return spec, fmt.Errorf("%w %q (known: %s)", ErrBadEvent, s, strings.Join(names, ", "))
	}
	if hasCat {
		if spec.Code != schema.EvMark {
			return spec, fmt.Errorf("%w %q: only driver marks have categories (mark:CATEGORY)", ErrBadEvent, s)
		}
		if cat == "" {
			return spec, fmt.Errorf("%w %q: empty category", ErrBadEvent, s)
		}
		spec.Category = cat
	}
	return spec, nil
}

func (e EventSpec) String() string {
	if e.Category != "" {
		return e.Code.String() + ":" + e.Category
	}
	return e.Code.String()
}

// Selection says which parts of a drive become clips. Ranges are taken as they are;
// events and query hits are widened by Before and After. Overlapping windows merge.
type Selection struct {
	Ranges  []Range
	Events  []EventSpec
	Queries []*query.Query
	Before  time.Duration
	After   time.Duration
}

// Reason is why a clip exists: one explicit range, one event, or the hits of one query.
type Reason struct {
	Kind     string `json:"kind"` // "range", "event" or "query"
	From     int64  `json:"from,omitempty"`
	To       int64  `json:"to,omitempty"`
	Event    string `json:"event,omitempty"`
	Code     int    `json:"code,omitempty"`
	Category string `json:"category,omitempty"`
	Source   string `json:"source,omitempty"` // events: "drive" or the run id they came from
	T        int64  `json:"t,omitempty"`
	End      int64  `json:"end,omitempty"` // warnings: when the warning cleared
	Query    string `json:"query,omitempty"`
	Table    string `json:"table,omitempty"`
	Hits     int64  `json:"hits,omitempty"`
	First    int64  `json:"first,omitempty"`
	Last     int64  `json:"last,omitempty"`
}

func (r Reason) start() int64 {
	switch r.Kind {
	case "range":
		return r.From
	case "query":
		return r.First
	}
	return r.T
}

// Window is one clip's time range [From, To) and why it was chosen.
type Window struct {
	From, To int64
	Reasons  []Reason
}

// endCode pairs warnings with the event that clears them.
var endCode = map[schema.EventCode]schema.EventCode{schema.EvFCW: schema.EvFCWEnd, schema.EvAEB: schema.EvAEBEnd}

// perception reports whether events of this code come from the labels' run rather
// than from the drive's own log.
func perception(c schema.EventCode) bool { return c >= 500 && c < 600 }

// Select returns the clips' windows, merged and clipped to the drive, in time order.
func Select(ctx context.Context, d *Drive, l *Labels, sel Selection) ([]Window, error) {
	var ws []Window
	for _, r := range sel.Ranges {
		ws = append(ws, Window{From: r.From, To: r.To, Reasons: []Reason{{Kind: "range", From: r.From, To: r.To}}})
	}
	before, after := int64(sel.Before), int64(sel.After)
	if len(sel.Events) > 0 {
		ew, err := eventWindows(d, l, sel.Events, before, after)
		if err != nil {
			return nil, err
		}
		ws = append(ws, ew...)
	}
	for _, q := range sel.Queries {
		qw, err := queryWindows(ctx, d, l, q, before, after)
		if err != nil {
			return nil, err
		}
		ws = append(ws, qw...)
	}
	return merge(ws, d.StartT, d.EndT), nil
}

func eventWindows(d *Drive, l *Labels, specs []EventSpec, before, after int64) ([]Window, error) {
	var ws []Window
	read := func(fromRun bool) error {
		run, source := "", "drive"
		if fromRun {
			run, source = l.runName(), l.Run
		}
		open := map[schema.EventCode]int{} // warning code → index in ws of its open window
		_, err := d.rows(schema.TableEvents, run, 0, 0, nil, func(s schema.Sample) error {
			e := s.(*schema.Event)
			if perception(e.Code) != fromRun {
				return nil
			}
			for warn, end := range endCode {
				if e.Code == end {
					if i, ok := open[warn]; ok {
						ws[i].To = max(ws[i].To, windowEnd(e.T, after))
						ws[i].Reasons[0].End = e.T
						delete(open, warn)
					}
				}
			}
			for _, s := range specs {
				if s.Code != e.Code || (s.Category != "" && !strings.EqualFold(s.Category, e.Category)) {
					continue
				}
				ws = append(ws, Window{From: e.T - before, To: windowEnd(e.T, after), Reasons: []Reason{{Kind: "event", Event: e.Code.String(),
					Code: int(e.Code), Category: e.Category, Source: source, T: e.T}}})
				if _, ok := endCode[e.Code]; ok {
					open[e.Code] = len(ws) - 1
				}
				break
			}
			return nil
		})
		return err
	}
	var drv, run bool
	for _, s := range specs {
		if perception(s.Code) {
			run = true
		} else {
			drv = true
		}
	}
	if drv {
		if err := read(false); err != nil {
			return nil, fmt.Errorf("select events: %w", err)
		}
	}
	if run {
		if err := read(true); err != nil {
			return nil, fmt.Errorf("select events: %w", err)
		}
	}
	return ws, nil
}

// windowEnd returns the exclusive end of the window around an instant t: t+after, and at
// least t+1 so that the instant itself is in it.
func windowEnd(t, after int64) int64 { return max(t+after, t+1) }

// trackStats counts the rows of every track of the labels' objects.
func trackStats(ctx context.Context, l *Labels) (map[int64]query.Track, error) {
	type span struct {
		rows        int64
		first, last int64
	}
	m := map[int64]*span{}
	n := 0
	_, err := l.d.rows(schema.TableObjects, l.runName(), 0, 0, nil, func(smp schema.Sample) error {
		o := smp.(*schema.Object)
		if n++; n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if o.TrackID < 0 {
			return nil
		}
		s, ok := m[o.TrackID]
		if !ok {
			s = &span{first: o.T, last: o.T}
			m[o.TrackID] = s
		}
		s.rows++
		s.first, s.last = min(s.first, o.T), max(s.last, o.T)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[int64]query.Track, len(m))
	for id, s := range m {
		out[id] = query.Track{Rows: s.rows, Seconds: float64(s.last-s.first) / 1e9}
	}
	return out, nil
}

func queryWindows(ctx context.Context, d *Drive, l *Labels, q *query.Query, before, after int64) ([]Window, error) {
	if err := q.Bind(d.CameraNames()); err != nil {
		return nil, err
	}
	var ws []Window
	hit := func(t int64) {
		if n := len(ws); n > 0 && t-before <= ws[n-1].To && t >= ws[n-1].Reasons[0].First {
			w := &ws[n-1]
			w.To = max(w.To, windowEnd(t, after))
			w.Reasons[0].Hits++
			w.Reasons[0].Last = max(w.Reasons[0].Last, t)
			return
		}
		ws = append(ws, Window{From: t - before, To: windowEnd(t, after), Reasons: []Reason{{Kind: "query", Query: q.String(),
			Table: q.Table().String(), Hits: 1, First: t, Last: t}}})
	}
	n := 0
	tick := func() error {
		if n++; n%65536 == 0 {
			return ctx.Err()
		}
		return nil
	}
	if q.Table() == query.Targets {
		var row query.Row
		_, err := d.rows(schema.TableTargets, l.runName(), 0, 0, nil, func(s schema.Sample) error {
			t := s.(*schema.Target)
			row.Target = t
			if q.Match(&row) {
				hit(t.T)
			}
			return tick()
		})
		if err != nil {
			return nil, fmt.Errorf("run query: %w", err)
		}
		return ws, nil
	}
	var tracks map[int64]query.Track
	if q.NeedsTracks() {
		var err error
		if tracks, err = trackStats(ctx, l); err != nil {
			return nil, fmt.Errorf("run query: count tracks: %w", err)
		}
	}
	var row query.Row
	_, err := d.rows(schema.TableObjects, l.runName(), 0, 0, nil, func(s schema.Sample) error {
		o := s.(*schema.Object)
		row.Object = o
		row.Track = tracks[o.TrackID]
		if q.Match(&row) {
			hit(o.T)
		}
		return tick()
	})
	if err != nil {
		return nil, fmt.Errorf("run query: %w", err)
	}
	return ws, nil
}

// merge sorts windows, clips them to [lo, hi), drops empty ones and joins those that
// overlap or touch. The reasons of a query that contributed several windows to one
// clip are summed into one.
func merge(ws []Window, lo, hi int64) []Window {
	var in []Window
	for _, w := range ws {
		w.From, w.To = max(w.From, lo), min(w.To, hi)
		if w.To > w.From {
			in = append(in, w)
		}
	}
	sort.SliceStable(in, func(i, j int) bool {
		if in[i].From != in[j].From {
			return in[i].From < in[j].From
		}
		return in[i].To < in[j].To
	})
	var out []Window
	for _, w := range in {
		if n := len(out); n > 0 && w.From <= out[n-1].To {
			o := &out[n-1]
			o.To = max(o.To, w.To)
			o.Reasons = append(o.Reasons, w.Reasons...)
			continue
		}
		w.Reasons = append([]Reason(nil), w.Reasons...)
		out = append(out, w)
	}
	for i := range out {
		out[i].Reasons = tidyReasons(out[i].Reasons)
	}
	return out
}

// tidyReasons joins the query reasons of the same query and orders reasons by time.
func tidyReasons(rs []Reason) []Reason {
	var out []Reason
	byQuery := map[string]int{}
	for _, r := range rs {
		if r.Kind == "query" {
			if i, ok := byQuery[r.Query]; ok {
				q := &out[i]
				q.Hits += r.Hits
				q.First, q.Last = min(q.First, r.First), max(q.Last, r.Last)
				continue
			}
			byQuery[r.Query] = len(out)
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].start() < out[j].start() })
	return out
}
