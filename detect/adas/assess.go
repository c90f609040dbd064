package adas

import (
	"encoding/json"
	"math"

	"roadlog/schema"
)

// trackState is what the assessor remembers about a track between frame sets.
type trackState struct {
	manner schema.Manner
	side   schema.Lane // where a cut-in came from / a cut-out goes to
	seen   int64       // last frame set that carried the track
	// since when the track has met the cut-in / cut-out condition (0: it does not)
	candIn, candOut int64
}

// warning is the state of one warning kind (FCW or AEB).
type warning struct {
	on       bool
	clearFor int64 // since when the clear condition has held (0: it does not)
}

// Assessor keeps the per-track and warning state across frame sets. Not safe for
// concurrent use.
type Assessor struct {
	cfg    Config
	tracks map[int64]*trackState
	fcw    warning
	aeb    warning
	source string
	// egoLane is until when (ns) the ego counts as changing lanes (its turn signal
	// on, or off for less than EgoLaneChangeHold)
	egoLane int64
}

// New returns an assessor. source names it in events (e.g. "detector").
func New(cfg Config, source string) *Assessor {
	return &Assessor{cfg: cfg.withDefaults(), tracks: map[int64]*trackState{}, source: source}
}

// Config returns the configuration in force (defaults filled in).
func (a *Assessor) Config() Config { return a.cfg }

// Assess evaluates one frame set at time t: it fills each object's lane, manner,
// in-path flag and path offset, and returns the targets row and the events that
// began or ended (FCW, AEB, cut-in, cut-out).
func (a *Assessor) Assess(t, trigger int64, ego Ego, objs []Object) (schema.Target, []*schema.Event) {
	c := &a.cfg
	nan32 := float32(math.NaN())
	tg := schema.Target{T: t, TriggerID: trigger, EgoSpeed: float32(ego.Speed), CIPV: -1, CIPVDistance: nan32,
		CIPVRelSpeed: nan32, CIPVTTC: nan32, CutIn: -1, CutInTTC: nan32, RequiredDecel: nan32}
	var evs []*schema.Event
	kappa := c.curvature(ego)
	half := c.EgoWidth/2 + c.InPathMargin
	if ego.Signal {
		a.egoLane = t + int64(c.EgoLaneChangeHold*1e9)
	}

	cipv, threat, cutIn := -1, -1, -1
	threatTTC := math.Inf(1)
	for i := range objs {
		o := &objs[i]
		o.Manner, o.InPath = schema.MannerNone, false
		o.PathDY = o.Lateral - c.pathY(kappa, o.Distance)
		o.Lane = c.lane(o.PathDY)
		if math.IsNaN(o.Distance) || math.IsNaN(o.Lateral) {
			o.Lane = schema.LaneUnknown
			continue
		}
		st := a.tracks[o.TrackID]
		if st == nil {
			st = &trackState{}
			a.tracks[o.TrackID] = st
		}
		st.seen = t
		ahead := o.Distance > 0 && o.Distance < c.MaxRange
		w := o.Width
		if math.IsNaN(w) {
			w = 0
		}
		o.InPath = ahead && math.Abs(o.PathDY)-w/2 < half
		if o.Vehicle {
			a.manner(o, st, ahead, &evs, t)
		}
		o.Manner = st.manner
		if !ahead {
			continue
		}
		if o.Vehicle && (o.Lane == schema.LaneEgo || o.Lane == schema.LaneLeft || o.Lane == schema.LaneRight) {
			tg.Ahead++
		}
		if o.Vehicle && o.Distance < c.CutInZone {
			tg.CutInLeft = tg.CutInLeft || o.Lane == schema.LaneLeft
			tg.CutInRight = tg.CutInRight || o.Lane == schema.LaneRight
		}
		if o.Vehicle && o.InPath && (cipv < 0 || o.Distance < objs[cipv].Distance) {
			cipv = i
		}
		if o.RoadUser && o.InPath && !math.IsNaN(o.TTC) && o.TTC < threatTTC {
			threat, threatTTC = i, o.TTC
		}
		if st.manner == schema.MannerCutIn && (cutIn < 0 || o.Distance < objs[cutIn].Distance) {
			cutIn = i
		}
	}
	a.forget(t)

	if cipv >= 0 {
		o := &objs[cipv]
		tg.CIPV, tg.CIPVDistance, tg.CIPVRelSpeed, tg.CIPVTTC = o.TrackID, float32(o.Distance), float32(o.RelSpeed), float32(o.TTC)
		if threat < 0 && -o.RelSpeed > 0 {
			threat = cipv // closing but not yet with a TTC (too slow): still the reference for decel
		}
	}
	if cutIn >= 0 {
		tg.CutIn, tg.CutInTTC = objs[cutIn].TrackID, float32(objs[cutIn].TTC)
	}

	// Warnings rest on the most urgent in-path road user.
	ttc, decel := math.Inf(1), math.NaN()
	var th *Object
	if threat >= 0 {
		th = &objs[threat]
		if !math.IsNaN(th.TTC) {
			ttc = th.TTC
		}
		decel = requiredDecel(th)
		tg.RequiredDecel = float32(decel)
	}
	moving := math.IsNaN(ego.Speed) || ego.Speed >= c.FCWMinSpeed
	closing := th != nil && -th.RelSpeed > c.FCWMinClosing
	sure := closing && -th.RelSpeed > c.FCWMinClosing+c.FCWSigmas*nanTo0(th.RelSpeedStd)
	fcwRaise := moving && sure && ttc < c.FCWTTC
	fcwClear := !closing || ttc > c.FCWTTC+c.ClearMargin
	aebRaise := moving && sure && (ttc < c.AEBTTC || decel > c.AEBDecel)
	aebClear := !closing || (ttc > c.AEBTTC+c.ClearMargin && !(decel > c.AEBDecel*0.8))
	if ev := a.step(&a.fcw, t, fcwRaise, fcwClear, schema.EvFCW, schema.EvFCWEnd, th, ttc); ev != nil {
		evs = append(evs, ev)
	}
	if ev := a.step(&a.aeb, t, aebRaise, aebClear, schema.EvAEB, schema.EvAEBEnd, th, ttc); ev != nil {
		evs = append(evs, ev)
	}
	tg.FCW, tg.AEB = a.fcw.on, a.aeb.on
	return tg, evs
}

func nanTo0(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// requiredDecel is the ego deceleration, m/s², that avoids hitting o: closing speed²/
// (2·gap), plus the object's own deceleration where the filter is sure of it (beyond
// two sigma). NaN when not closing.
func requiredDecel(o *Object) float64 {
	c := -o.RelSpeed
	if !(c > 0) || !(o.Distance > 0) {
		return math.NaN()
	}
	d := c * c / (2 * o.Distance)
	if a := o.ObjAccel; a < 0 && -a > 2*o.ObjAccelStd {
		d -= a + 2*o.ObjAccelStd // its deceleration, less two sigma
	}
	return d
}

// step advances one warning; it returns the event of a change, if any.
func (a *Assessor) step(w *warning, t int64, raise, clear bool, on, off schema.EventCode, th *Object, ttc float64) *schema.Event {
	switch {
	case !w.on && raise:
		w.on, w.clearFor = true, 0
		ev := schema.NewEvent(t, on, schema.SevWarn, a.source, on.String()+" raised")
		ev.Value = ttc
		ev.Input = "auto"
		ev.Detail = detail(th)
		return ev
	case w.on && clear:
		if w.clearFor == 0 {
			w.clearFor = t
		}
		if float64(t-w.clearFor)/1e9 >= a.cfg.ClearHold {
			w.on, w.clearFor = false, 0
			ev := schema.NewEvent(t, off, schema.SevInfo, a.source, on.String()+" cleared")
			ev.Input = "auto"
			return ev
		}
	case w.on:
		w.clearFor = 0
	}
	return nil
}

func detail(o *Object) string {
	if o == nil {
		return ""
	}
	b, _ := json.Marshal(struct {
		Track    int64   `json:"track"`
		Class    uint16  `json:"class"`
		Distance float64 `json:"distance_m"`
		RelSpeed float64 `json:"rel_speed_mps"`
	}{o.TrackID, o.Class, round(o.Distance), round(o.RelSpeed)})
	return string(b)
}

func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*100) / 100
}

// forget drops tracks not seen for a second.
func (a *Assessor) forget(t int64) {
	for id, st := range a.tracks {
		if t-st.seen > 1e9 {
			delete(a.tracks, id)
		}
	}
}
