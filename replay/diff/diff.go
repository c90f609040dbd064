// Package diff compares two perception runs over the same drive — the live run the
// recorder wrote, or re-runs under runs/<run-id>/ — and says where they differ:
// warning and cut-in events added, removed or shifted; objects matched per camera
// frame by box overlap, with the precision and recall of one run against the other;
// and the differences in distance and time to collision of matched objects and of
// the closest in-path vehicle. Reports come as text, JSON, and HTML with plots of TTC
// and distance around each differing event.
//
// Only frame sets both runs processed are compared (a live run drops frame sets when
// detection falls behind; a re-run may cover part of a drive).
package diff

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"roadlog/replay"
	"roadlog/schema"
)

// Options tune the comparison. The zero value of a field selects its default.
type Options struct {
	// EventTolerance: events of the same kind this close match (default 1 s).
	EventTolerance time.Duration
	// ShiftMin: a matched event moved by more than this is reported shifted
	// (default 1 ms: any move).
	ShiftMin time.Duration
	// IoU is the least box overlap for two objects to match (default 0.5).
	IoU float64
	// AnyClass matches objects whatever their class (default: same class only).
	AnyClass bool
	// Window is the time plotted each side of a differing event (default 5 s).
	Window time.Duration
}

func (o Options) withDefaults() Options {
	if o.EventTolerance <= 0 {
		o.EventTolerance = time.Second
	}
	if o.ShiftMin <= 0 {
		o.ShiftMin = time.Millisecond
	}
	if o.IoU <= 0 {
		o.IoU = 0.5
	}
	if o.Window <= 0 {
		o.Window = 5 * time.Second
	}
	return o
}

// Compared event codes: the warnings and manoeuvres analysts track.
var comparedCodes = [...]schema.EventCode{schema.EvFCW, schema.EvAEB, schema.EvCutIn}

// Report is the outcome of a comparison of run B against run A.
type Report struct {
	Drive   string        `json:"drive"`
	A       string        `json:"a"`
	B       string        `json:"b"`
	StartT  int64         `json:"start_t"` // drive start: offsets are from here
	From    int64         `json:"from"`    // compared range (frame sets both runs processed)
	To      int64         `json:"to"`
	Options ReportOptions `json:"options"`
	Events  EventDiff     `json:"events"`
	Objects ObjectDiff    `json:"objects"`
	Targets TargetDiff    `json:"targets"`

	series [2]series // CIPV figures over time, for plots
}

// ReportOptions records the options a report was made with.
type ReportOptions struct {
	EventTolerance float64 `json:"event_tolerance_s"`
	IoU            float64 `json:"iou"`
	AnyClass       bool    `json:"any_class"`
}

// EventDiff lists how the runs' events differ.
type EventDiff struct {
	Counts  map[string]EventCounts `json:"counts"`  // per kind
	Added   []Event                `json:"added"`   // in B only
	Removed []Event                `json:"removed"` // in A only
	Shifted []Shift                `json:"shifted"` // in both, at different times
	Same    int                    `json:"same"`    // in both at the same time
}

// EventCounts are one kind's figures.
type EventCounts struct {
	A, B, Matched, Shifted, Added, Removed int
}

// Event is one event of one run.
type Event struct {
	Kind    string  `json:"kind"`
	T       int64   `json:"t"`
	Offset  float64 `json:"offset_s"` // from the drive's start
	Value   Num     `json:"value"`    // the event's value (TTC); null when none
	Message string  `json:"message"`
}

// Shift is an event both runs raised, at different times.
type Shift struct {
	Kind   string  `json:"kind"`
	TA     int64   `json:"t_a"`
	TB     int64   `json:"t_b"`
	Offset float64 `json:"offset_s"` // of A's event
	Shift  float64 `json:"shift_s"`  // B − A
}

// ObjectDiff compares the objects of frames both runs processed.
type ObjectDiff struct {
	Frames    int                   `json:"frames"`    // camera frames compared
	A         int                   `json:"a"`         // objects in A
	B         int                   `json:"b"`         // objects in B
	Matched   int                   `json:"matched"`   // pairs (true positives of B against A)
	Precision Num                   `json:"precision"` // null when B has no objects
	Recall    Num                   `json:"recall"`    // null when A has no objects
	MeanIoU   Num                   `json:"mean_iou"`
	PerClass  map[string]ClassStats `json:"per_class"`
	Distance  Stats                 `json:"distance"` // B − A over matched pairs with both ranged, m
	TTC       Stats                 `json:"ttc"`      // B − A over matched pairs with both closing, s
}

// ClassStats are precision and recall for one class (by A's label).
type ClassStats struct {
	A, B, Matched     int
	Precision, Recall Num
}

// Num is a float64 that is null in JSON when it is NaN (no value).
type Num float64

// MarshalJSON writes NaN and infinities as null.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// ratio returns a/b, NaN when b is 0.
func ratio(a, b int) Num {
	if b == 0 {
		return Num(math.NaN())
	}
	return Num(float64(a) / float64(b))
}

// TargetDiff compares the ADAS view of frame sets both runs processed.
type TargetDiff struct {
	Sets        int   `json:"sets"`
	SameCIPV    int   `json:"same_cipv"`    // both have a CIPV, or both none (track ids differ between runs: by presence)
	CIPVOnlyA   int   `json:"cipv_only_a"`  // A has a CIPV, B none
	CIPVOnlyB   int   `json:"cipv_only_b"`  // B has a CIPV, A none
	FCWDisagree int   `json:"fcw_disagree"` // frame sets where one warns and the other not
	AEBDisagree int   `json:"aeb_disagree"`
	Distance    Stats `json:"cipv_distance"` // B − A, m
	TTC         Stats `json:"cipv_ttc"`      // B − A, s
}

// Stats summarise differences.
type Stats struct {
	N       int     `json:"n"`
	Mean    float64 `json:"mean"`
	MeanAbs float64 `json:"mean_abs"`
	RMS     float64 `json:"rms"`
	MaxAbs  float64 `json:"max_abs"`
}

type acc struct {
	n                 int
	sum, sumAbs, sum2 float64
	max               float64
}

func (a *acc) add(d float64) {
	a.n++
	a.sum += d
	a.sumAbs += math.Abs(d)
	a.sum2 += d * d
	a.max = math.Max(a.max, math.Abs(d))
}

func (a *acc) stats() Stats {
	if a.n == 0 {
		return Stats{}
	}
	n := float64(a.n)
	return Stats{N: a.n, Mean: a.sum / n, MeanAbs: a.sumAbs / n, RMS: math.Sqrt(a.sum2 / n), MaxAbs: a.max}
}

// series holds one run's CIPV figures per frame set.
type series struct {
	t        []int64
	dist     []float32
	ttc      []float32
	fcw, aeb []bool
}

// ErrNothingToCompare reports two runs without a frame set in common.
var ErrNothingToCompare = errors.New("the runs have no frame set in common")

// Compare compares run b against run a over drive d. A run is replay.LiveRun for
// the drive's live perception tables, or a run id under runs/.
func Compare(d *replay.Drive, a, b string, opt Options) (*Report, error) {
	opt = opt.withDefaults()
	rep := &Report{Drive: d.ID(), A: a, B: b, StartT: d.StartT(),
		Options: ReportOptions{EventTolerance: opt.EventTolerance.Seconds(), IoU: opt.IoU, AnyClass: opt.AnyClass}}
	for i, run := range []string{a, b} {
		if run != replay.LiveRun {
			if _, err := d.RunDir(run); err != nil {
				return nil, fmt.Errorf("compare: %w", err)
			}
		}
		s, err := loadTargets(d, run)
		if err != nil {
			return nil, err
		}
		rep.series[i] = s
	}
	common := commonSets(rep.series[0].t, rep.series[1].t)
	if len(common) == 0 {
		return nil, fmt.Errorf("compare %s with %s: %w", a, b, ErrNothingToCompare)
	}
	rep.From, rep.To = common[0], common[len(common)-1]
	inCommon := make(map[int64]bool, len(common))
	for _, t := range common {
		inCommon[t] = true
	}
	rep.Targets = compareTargets(rep.series, inCommon)
	if rep.StartT == 0 {
		rep.StartT = rep.From
	}
	var evs [2][]*schema.Event
	for i, run := range []string{a, b} {
		e, err := loadEvents(d, run, rep.From, rep.To)
		if err != nil {
			return nil, err
		}
		evs[i] = e
	}
	rep.Events = compareEvents(evs[0], evs[1], opt, rep.StartT)
	od, err := compareObjects(d, a, b, inCommon, opt)
	if err != nil {
		return nil, err
	}
	rep.Objects = od
	return rep, nil
}

func loadTargets(d *replay.Drive, run string) (series, error) {
	var s series
	err := each(d, run, schema.TableTargets, 0, 0, func(smp schema.Sample) {
		tg := smp.(*schema.Target)
		s.t = append(s.t, tg.T)
		s.dist = append(s.dist, tg.CIPVDistance)
		s.ttc = append(s.ttc, tg.CIPVTTC)
		s.fcw = append(s.fcw, tg.FCW)
		s.aeb = append(s.aeb, tg.AEB)
	})
	return s, err
}

func loadEvents(d *replay.Drive, run string, from, to int64) ([]*schema.Event, error) {
	var out []*schema.Event
	err := each(d, run, schema.TableEvents, from, to, func(smp schema.Sample) {
		ev := smp.(*schema.Event)
		for _, c := range comparedCodes {
			if ev.Code == c {
				out = append(out, ev)
			}
		}
	})
	return out, err
}

// each calls fn for every row of one table of a run, in time order.
func each(d *replay.Drive, run string, table schema.TableName, from, to int64, fn func(schema.Sample)) error {
	r, err := d.NewReader(replay.Options{Tables: []schema.TableName{table}, Run: run, From: from, To: to})
	if err != nil {
		return fmt.Errorf("compare: read %s of %s: %w", table, run, err)
	}
	defer r.Close()
	for {
		s, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if ev, ok := s.(*schema.Event); ok && ev.Code == schema.EvReplayDamage && table != schema.TableEvents {
			continue
		}
		fn(s)
	}
}

// commonSets returns the frame-set times both runs have, sorted.
func commonSets(a, b []int64) []int64 {
	in := make(map[int64]bool, len(a))
	for _, t := range a {
		in[t] = true
	}
	var out []int64
	for _, t := range b {
		if in[t] {
			out = append(out, t)
			delete(in, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func finite32(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }

func compareTargets(s [2]series, inCommon map[int64]bool) TargetDiff {
	var td TargetDiff
	idx := make(map[int64]int, len(s[1].t))
	for i, t := range s[1].t {
		idx[t] = i
	}
	var dist, ttc acc
	for i, t := range s[0].t {
		j, ok := idx[t]
		if !ok || !inCommon[t] {
			continue
		}
		td.Sets++
		da, db := s[0].dist[i], s[1].dist[j]
		ha, hb := finite32(da), finite32(db)
		switch {
		case ha == hb:
			td.SameCIPV++
		case ha:
			td.CIPVOnlyA++
		default:
			td.CIPVOnlyB++
		}
		if ha && hb {
			dist.add(float64(db - da))
		}
		if ta, tb := s[0].ttc[i], s[1].ttc[j]; finite32(ta) && finite32(tb) {
			ttc.add(float64(tb - ta))
		}
		if s[0].fcw[i] != s[1].fcw[j] {
			td.FCWDisagree++
		}
		if s[0].aeb[i] != s[1].aeb[j] {
			td.AEBDisagree++
		}
	}
	td.Distance, td.TTC = dist.stats(), ttc.stats()
	return td
}

// compareEvents matches events of the same kind, closest first, within the
// tolerance.
func compareEvents(a, b []*schema.Event, opt Options, start int64) EventDiff {
	ed := EventDiff{Counts: map[string]EventCounts{}, Added: []Event{}, Removed: []Event{}, Shifted: []Shift{}}
	for _, code := range comparedCodes {
		var ea, eb []*schema.Event
		for _, e := range a {
			if e.Code == code {
				ea = append(ea, e)
			}
		}
		for _, e := range b {
			if e.Code == code {
				eb = append(eb, e)
			}
		}
		type pair struct {
			i, j int
			dt   int64
		}
		var pairs []pair
		for i, x := range ea {
			for j, y := range eb {
				if dt := y.T - x.T; abs(dt) <= int64(opt.EventTolerance) {
					pairs = append(pairs, pair{i, j, dt})
				}
			}
		}
		sort.SliceStable(pairs, func(p, q int) bool { return abs(pairs[p].dt) < abs(pairs[q].dt) })
		usedA, usedB := make([]bool, len(ea)), make([]bool, len(eb))
		c := EventCounts{A: len(ea), B: len(eb)}
		for _, p := range pairs {
			if usedA[p.i] || usedB[p.j] {
				continue
			}
			usedA[p.i], usedB[p.j] = true, true
			c.Matched++
			if abs(p.dt) > int64(opt.ShiftMin) {
				c.Shifted++
				ed.Shifted = append(ed.Shifted, Shift{Kind: code.String(), TA: ea[p.i].T, TB: eb[p.j].T,
					Offset: float64(ea[p.i].T-start) / 1e9, Shift: float64(p.dt) / 1e9})
			} else {
				ed.Same++
			}
		}
		for i, e := range ea {
			if !usedA[i] {
				c.Removed++
				ed.Removed = append(ed.Removed, event(e, start))
			}
		}
		for j, e := range eb {
			if !usedB[j] {
				c.Added++
				ed.Added = append(ed.Added, event(e, start))
			}
		}
		ed.Counts[code.String()] = c
	}
	byT := func(es []Event) { sort.SliceStable(es, func(i, j int) bool { return es[i].T < es[j].T }) }
	byT(ed.Added)
	byT(ed.Removed)
	sort.SliceStable(ed.Shifted, func(i, j int) bool { return ed.Shifted[i].TA < ed.Shifted[j].TA })
	return ed
}

func event(e *schema.Event, start int64) Event {
	return Event{Kind: e.Code.String(), T: e.T, Offset: float64(e.T-start) / 1e9, Value: Num(e.Value), Message: e.Message}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
