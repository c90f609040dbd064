package pipeline_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"

	"roadlog/detect/pipeline"
	"roadlog/detect/track"
	"roadlog/schema"
)

// frameOut is one frame set and what the pipeline made of it.
type frameOut struct {
	fs  *pipeline.FrameSet
	res pipeline.Result
}

// cutInResult is how one scripted cut-in was seen.
type cutInResult struct {
	actor   int32
	onset   float64 // s since the start, when the truth flag rose
	flagged float64 // s, first frame the actor's object carried manner cut_in (NaN: never)
	event   bool    // a cut_in event names one of the actor's tracks
}

// accuracy is the outcome of a scenario against its truth.
type accuracy struct {
	name string
	// TTC: frames × actors with a true TTC under 4 s and a matched track older than
	// the warm-up
	ttcN, ttcMissing int     // compared; true TTC < 4 s but the actor not detected (or on no track) in the frame
	ttcYoung         int     // left out: the actor's track younger than the warm-up
	ttcNone          int     // compared: a track old enough, but no TTC (not closing): counted as an error of 100 %
	ttcMax, ttcP95   float64 // |relative error|
	ttcMedian        float64
	ttcWithin        float64 // fraction of compared frames with an error ≤ 10 %
	ttcWorst         string
	// the same over the frames outside the settling windows after each change of an
	// actor's own acceleration (settled)
	setN                   int
	setMax, setP95, setMed float64
	setWorst               string
	cutIns                 []cutInResult
	falseCutIns            int
	falseAt                []string // each false cut-in: time, track and the actors the track followed
	fcwCross               float64  // s: true in-path TTC first below the FCW threshold (NaN: never)
	fcwRaised              float64  // s: first FCW at or after cross−1 s (NaN: never)
	// quiet stretches: no road user within 0.5 m of the in-path corridor with a true
	// TTC under 4 s during the last second
	quietFCW    int // frame sets with FCW on in quiet stretches
	quietAEB    int
	quietFrames int
}

// minGap: objects nearer than this (m, longitudinally) are left out of the TTC
// figure: there the TTC's relative error says nothing (the pedestrian beside the car
// at 0.2 m has a "true TTC" of 0.03 s).
const minGap = 2.0

// evaluate compares the pipeline's output with the truth rows of each frame set.
// A track that has existed for less than warmup seconds is left out of the TTC figure
// (its filter has not yet seen the object move). settling, if not nil, reports
// whether an actor is within the settling window of a change of its own
// acceleration at s seconds since the start: those frames count in the TTC figure
// but not in its settled twin.
func evaluate(name string, outs []frameOut, fcwTTC, warmup float64, settling func(actor int32, s float64) bool) accuracy {
	a := accuracy{name: name, fcwCross: math.NaN(), fcwRaised: math.NaN()}
	if len(outs) == 0 {
		return a
	}
	t0 := outs[0].fs.T
	sec := func(t int64) float64 { return float64(t-t0) / 1e9 }
	actorTracks := map[int32]map[int64]bool{}
	trackFirst := map[int64]int64{}
	cutOnset := map[int32]float64{}
	cutEnd := map[int32]float64{}
	cutFlag := map[int32]float64{}
	var errs, setErrs []float64
	lastDanger := math.Inf(-1)
	for _, o := range outs {
		t := sec(o.fs.T)
		for _, ob := range o.res.Objects {
			if ob.TrackID >= 0 {
				if _, ok := trackFirst[ob.TrackID]; !ok {
					trackFirst[ob.TrackID] = o.fs.T
				}
			}
		}
		danger := false
		for _, tr := range o.fs.Truth {
			if tr.Camera == schema.TruthNoCamera {
				if tr.CutIn {
					if _, ok := cutOnset[tr.ActorID]; !ok {
						cutOnset[tr.ActorID] = t
					}
					cutEnd[tr.ActorID] = t
				}
				edge := math.Abs(float64(tr.Lateral)) - float64(tr.Width)/2 // gap to the ego centre line
				inPath := tr.Distance > 0 && edge < 1.15                    // ego half-width 0.95 + 0.2 m
				ttc := float64(tr.TTC)
				if tr.Distance > 0 && edge < 1.15+0.5 && ttc < 4 { // near the corridor counts as not quiet
					danger = true
				}
				if inPath && ttc < fcwTTC && math.IsNaN(a.fcwCross) {
					a.fcwCross = t
				}
				continue
			}
			ob := match(o.res.Objects, &tr)
			if ob != nil {
				if actorTracks[tr.ActorID] == nil {
					actorTracks[tr.ActorID] = map[int64]bool{}
				}
				actorTracks[tr.ActorID][ob.TrackID] = true
				if ob.Manner == schema.MannerCutIn {
					if _, ok := cutFlag[tr.ActorID]; !ok {
						if on, ok := cutOnset[tr.ActorID]; ok && t >= on-1 {
							cutFlag[tr.ActorID] = t
						}
					}
				}
			}
			if ttc := float64(tr.TTC); ttc < 4 && tr.Distance >= minGap {
				if ob == nil {
					a.ttcMissing++
					continue
				}
				if sec(o.fs.T)-sec(trackFirst[ob.TrackID]) < warmup {
					a.ttcYoung++
					continue
				}
				e := 1.0 // no TTC: not seen closing
				if !math.IsNaN(float64(ob.TTC)) {
					e = math.Abs(float64(ob.TTC)-ttc) / ttc
				} else {
					a.ttcNone++
				}
				what := fmt.Sprintf("t=%.2fs actor %d camera %d: TTC %.2f s, true %.2f s (distance %.1f, true %.1f; speed %.2f, true %.2f)",
					t, tr.ActorID, tr.Camera, ob.TTC, ttc, ob.Distance, tr.Distance, ob.RelSpeed, tr.RelSpeed)
				errs = append(errs, e)
				if e > a.ttcMax {
					a.ttcMax, a.ttcWorst = e, what
				}
				if settling == nil || !settling(tr.ActorID, t) {
					setErrs = append(setErrs, e)
					if e > a.setMax {
						a.setMax, a.setWorst = e, what
					}
				}
			}
		}
		if danger {
			lastDanger = t
		}
		fcw := o.res.Target != nil && o.res.Target.FCW
		aeb := o.res.Target != nil && o.res.Target.AEB
		if fcw && math.IsNaN(a.fcwRaised) && !math.IsNaN(a.fcwCross) && t >= a.fcwCross-1 {
			a.fcwRaised = t
		}
		if t-lastDanger > 1 { // quiet: nothing in path under 4 s TTC for the last second
			a.quietFrames++
			if fcw {
				a.quietFCW++
			}
			if aeb {
				a.quietAEB++
			}
		}
	}
	slices.Sort(errs)
	slices.Sort(setErrs)
	a.ttcN, a.setN = len(errs), len(setErrs)
	if len(setErrs) > 0 {
		a.setP95 = setErrs[int(math.Ceil(0.95*float64(len(setErrs))))-1]
		a.setMed = setErrs[len(setErrs)/2]
	}
	if len(errs) > 0 {
		a.ttcP95 = errs[int(math.Ceil(0.95*float64(len(errs))))-1]
		a.ttcMedian = errs[len(errs)/2]
		n := 0
		for _, e := range errs {
			if e <= 0.10 {
				n++
			}
		}
		a.ttcWithin = float64(n) / float64(len(errs))
	}
	// cut-in events: which actor each names
	evTracks := map[int64]float64{}
	for _, o := range outs {
		for _, ev := range o.res.Events {
			if ev.Code != schema.EvCutIn {
				continue
			}
			var d struct{ Track int64 }
			json.Unmarshal([]byte(ev.Detail), &d)
			evTracks[d.Track] = sec(ev.T)
		}
	}
	for id, on := range cutOnset {
		r := cutInResult{actor: id, onset: on, flagged: math.NaN()}
		if f, ok := cutFlag[id]; ok {
			r.flagged = f
		}
		for tk := range actorTracks[id] {
			if _, ok := evTracks[tk]; ok {
				r.event = true
			}
		}
		a.cutIns = append(a.cutIns, r)
	}
	slices.SortFunc(a.cutIns, func(x, y cutInResult) int { return int(x.actor - y.actor) })
	for tk, t := range evTracks {
		ok := false
		for id, on := range cutOnset {
			if actorTracks[id][tk] && t >= on-1 && t <= cutEnd[id]+0.5 {
				ok = true
			}
		}
		if !ok {
			a.falseCutIns++
			var of []int32
			for id, tks := range actorTracks {
				if tks[tk] {
					of = append(of, id)
				}
			}
			slices.Sort(of)
			a.falseAt = append(a.falseAt, fmt.Sprintf("%.2f s track %d (actors %v)", t, tk, of))
		}
	}
	return a
}

// match finds the tracked object of the truth row's camera whose box overlaps the
// truth box most (IoU ≥ 0.3).
func match(objs []*schema.Object, tr *schema.Truth) *schema.Object {
	var best *schema.Object
	bi := 0.3
	tb := track.Box{X1: float64(tr.X1), Y1: float64(tr.Y1), X2: float64(tr.X2), Y2: float64(tr.Y2)}
	for _, o := range objs {
		if o.Camera != tr.Camera || o.TrackID < 0 {
			continue
		}
		if iou := track.IoU(tb, track.Box{X1: float64(o.X1), Y1: float64(o.Y1), X2: float64(o.X2), Y2: float64(o.Y2)}); iou >= bi {
			best, bi = o, iou
		}
	}
	return best
}

func writeAccuracy(w io.Writer, as []accuracy) {
	fmt.Fprintf(w, "%-17s %6s %5s %5s %4s %6s %6s %6s %5s %13s  %-28s %5s %6s %6s %6s %6s\n",
		"scenario", "ttc n", "miss", "young", "none", "median", "p95", "max", "≤10%", "settled p95/max", "cut-ins (onset→flag, lag)", "false", "fcw x", "fcw on", "lag", "quiet")
	for _, a := range as {
		ci := ""
		for _, c := range a.cutIns {
			ci += fmt.Sprintf("#%d %.2f→%.2f %+.2fs ", c.actor, c.onset, c.flagged, c.flagged-c.onset)
		}
		if ci == "" {
			ci = "-"
		}
		fmt.Fprintf(w, "%-17s %6d %5d %5d %4d %5.1f%% %5.1f%% %5.1f%% %4.0f%% %6.1f%%/%4.1f%%  %-28s %5d %6.2f %6.2f %+6.2f %3d/%d\n",
			a.name, a.ttcN, a.ttcMissing, a.ttcYoung, a.ttcNone, 100*a.ttcMedian, 100*a.ttcP95, 100*a.ttcMax, 100*a.ttcWithin,
			100*a.setP95, 100*a.setMax, ci, a.falseCutIns, a.fcwCross, a.fcwRaised, a.fcwRaised-a.fcwCross, a.quietFCW+a.quietAEB, a.quietFrames)
	}
}
