package adas

import (
	"encoding/json"
	"math"

	"roadlog/schema"
)

// manner updates a vehicle's lane-change manner: cut-in when it moves from an adjacent
// lane towards the ego path fast enough to reach the ego lane within the horizon,
// cut-out when it leaves the ego lane likewise. A manner holds until the manoeuvre is
// over (the vehicle settled in its new lane or turned back).
func (a *Assessor) manner(o *Object, st *trackState, ahead bool, evs *[]*schema.Event, t int64) {
	c := &a.cfg
	h := c.LaneWidth / 2
	dy := o.PathDY
	ady := math.Abs(dy)
	// lateral speed towards the path (positive: approaching), less one sigma
	toward := -math.Copysign(1, dy) * o.LatSpeed
	away := -toward
	side := schema.LaneLeft
	if dy < 0 {
		side = schema.LaneRight
	}
	switch st.manner {
	case schema.MannerNone:
		if !ahead || o.Distance > c.CutInZone || o.Age < c.CutInMinAge || t < a.egoLane {
			st.candIn, st.candOut = 0, 0
			return
		}
		// cut-in: outside the in-path corridor, within the adjacent lane, closing in
		edge := c.EgoWidth/2 + c.InPathMargin + widthOr(o.Width, 1.8)/2
		if ady > edge && ady < 3*h && toward-c.CutInSigmas*o.LatSpeedStd > c.CutInLatSpeed && (ady-h)/toward < c.CutInHorizon {
			if st.candIn == 0 {
				st.candIn = t
			}
			if float64(t-st.candIn)/1e9 >= c.CutInConfirm {
				st.manner, st.side, st.candIn = schema.MannerCutIn, side, 0
				*evs = append(*evs, a.laneEvent(t, schema.EvCutIn, o, side))
			}
			return
		}
		st.candIn = 0
		// cut-out: in the ego lane, moving away
		if ady <= h && ady > 0.3 && away-c.CutInSigmas*o.LatSpeedStd > c.CutInLatSpeed && (h-ady)/away < c.CutInHorizon {
			if st.candOut == 0 {
				st.candOut = t
			}
			if float64(t-st.candOut)/1e9 >= c.CutInConfirm {
				st.manner, st.side, st.candOut = schema.MannerCutOut, side, 0
				*evs = append(*evs, a.laneEvent(t, schema.EvCutOut, o, side))
			}
			return
		}
		st.candOut = 0
	case schema.MannerCutIn:
		// over when settled in the ego lane, or when it turned back or went away
		settled := ady < 0.5 && math.Abs(o.LatSpeed) < c.CutInLatSpeed
		back := ady > 3*h || away > c.CutInLatSpeed
		if settled || back || !ahead {
			st.manner = schema.MannerNone
		}
	case schema.MannerCutOut:
		settled := ady > 2*h-0.5 && math.Abs(o.LatSpeed) < c.CutInLatSpeed
		back := toward > c.CutInLatSpeed
		if settled || back || ady > 3*h || !ahead {
			st.manner = schema.MannerNone
		}
	}
}

func widthOr(w, def float64) float64 {
	if math.IsNaN(w) || w <= 0 {
		return def
	}
	return w
}

func (a *Assessor) laneEvent(t int64, code schema.EventCode, o *Object, side schema.Lane) *schema.Event {
	ev := schema.NewEvent(t, code, schema.SevInfo, a.source, code.String()+" from the "+schema.LaneNames[side])
	ev.Value = o.TTC
	ev.Input = "auto"
	ev.Category = schema.LaneNames[side]
	b, _ := json.Marshal(struct {
		Track    int64   `json:"track"`
		Side     string  `json:"side"`
		Distance float64 `json:"distance_m"`
		Lateral  float64 `json:"lateral_m"`
		LatSpeed float64 `json:"lat_speed_mps"`
	}{o.TrackID, schema.LaneNames[side], round(o.Distance), round(o.Lateral), round(o.LatSpeed)})
	ev.Detail = string(b)
	return ev
}
