package rerun

import (
	"context"
	"fmt"
	"math"

	"roadlog/schema"
)

// The truth-fed perception: detections are the simulator's boxes, and the pipeline
// takes range, motion, lane and cut-in from the truth rows those boxes come from. It
// re-runs simulated drives end to end (frame-set assembly, the run's tables, events,
// determinism, diff) without a network. It stands in until the perception packages
// (detect/...) provide the model, tracker, ranging and target logic; then those are
// the default and this one remains for tests and as a reference.

// TruthDetector reports every truth box of a frame set as a detection.
type TruthDetector struct {
	// MinHeight drops boxes smaller than this, px (default 8).
	MinHeight float32
}

// Detect implements Detector.
func (d TruthDetector) Detect(_ context.Context, fs *FrameSet) ([]Detection, error) {
	if d.MinHeight == 0 {
		d.MinHeight = 8
	}
	var out []Detection
	for i := range fs.Truth {
		tr := &fs.Truth[i]
		cls, label, ok := classOf(tr.Kind)
		if tr.Camera == schema.TruthNoCamera || !ok || tr.Y2-tr.Y1 < d.MinHeight || !(tr.X2 > tr.X1) {
			continue
		}
		out = append(out, Detection{Camera: tr.Camera, X1: tr.X1, Y1: tr.Y1, X2: tr.X2, Y2: tr.Y2, Class: cls, Label: label, Score: 1})
	}
	return out, nil
}

// classOf maps an actor kind to the COCO class a detector reports.
func classOf(k schema.ActorKind) (uint16, string, bool) {
	switch k {
	case schema.ActorCar:
		return 2, "car", true
	case schema.ActorTruck:
		return 7, "truck", true
	case schema.ActorPedestrian, schema.ActorCyclist:
		return 0, "person", true
	}
	return 0, "", false
}

// TruthPipelineConfig are the warning thresholds of TruthPipeline.
type TruthPipelineConfig struct {
	FCWTTC float64 `json:"fcw_ttc_s"` // forward-collision warning below this TTC (default 2.5 s)
	AEBTTC float64 `json:"aeb_ttc_s"` // emergency-brake warning below this TTC (default 1.2 s)
}

// TruthPipeline makes objects, targets and events from detections matched to the
// frame set's truth boxes (same camera, best overlap).
type TruthPipeline struct {
	cfg      TruthPipelineConfig
	ego      *schema.Ego
	fcw, aeb bool
	cutIn    map[int32]bool
}

// NewTruthPipeline returns a truth-fed pipeline.
func NewTruthPipeline(cfg TruthPipelineConfig) *TruthPipeline {
	if cfg.FCWTTC == 0 {
		cfg.FCWTTC = 2.5
	}
	if cfg.AEBTTC == 0 {
		cfg.AEBTTC = 1.2
	}
	return &TruthPipeline{cfg: cfg, cutIn: map[int32]bool{}}
}

// Config returns the thresholds in use.
func (p *TruthPipeline) Config() TruthPipelineConfig { return p.cfg }

// Ego implements Pipeline.
func (p *TruthPipeline) Ego(e *schema.Ego) {
	c := *e
	p.ego = &c
}

// Process implements Pipeline.
func (p *TruthPipeline) Process(fs *FrameSet, dets []Detection) Result {
	var res Result
	nan := schema.NaN32()
	seq := map[uint8]int64{}
	for _, f := range fs.Frames {
		seq[f.Camera] = f.Seq
	}
	state := map[int32]*schema.Truth{}
	for i := range fs.Truth {
		if tr := &fs.Truth[i]; tr.Camera == schema.TruthNoCamera {
			state[tr.ActorID] = tr
		}
	}
	for _, d := range dets {
		o := &schema.Object{T: fs.T, TriggerID: fs.TriggerID, Camera: d.Camera, FrameSeq: -1, TrackID: -1, Class: d.Class,
			Label: d.Label, Score: d.Score, X1: d.X1, Y1: d.Y1, X2: d.X2, Y2: d.Y2,
			Distance: nan, Lateral: nan, RelSpeed: nan, RelSpeedStd: nan, TTC: nan, Width: nan}
		if s, ok := seq[d.Camera]; ok {
			o.FrameSeq = s
		}
		if tr := bestMatch(fs.Truth, d); tr != nil {
			o.TrackID = int64(tr.ActorID)
			o.Distance, o.Lateral, o.RelSpeed, o.TTC, o.Width, o.Lane = tr.Distance, tr.Lateral, tr.RelSpeed, tr.TTC, tr.Width, tr.Lane
			o.RelSpeedStd = 0
			if tr.CutIn {
				o.Manner = schema.MannerCutIn
			}
		}
		res.Objects = append(res.Objects, o)
	}
	tg := &schema.Target{T: fs.T, TriggerID: fs.TriggerID, EgoSpeed: nan, CIPV: -1, CIPVDistance: nan, CIPVRelSpeed: nan,
		CIPVTTC: nan, CutIn: -1, CutInTTC: nan, RequiredDecel: nan}
	if p.ego != nil {
		tg.EgoSpeed = p.ego.Speed
	}
	seen := map[int32]bool{}
	for _, o := range res.Objects {
		if o.TrackID < 0 || seen[int32(o.TrackID)] {
			continue
		}
		id := int32(o.TrackID)
		seen[id] = true
		tr := state[id]
		if tr == nil {
			continue
		}
		if tr.Distance > 0 && tr.Lane != schema.LaneUnknown {
			tg.Ahead++
		}
		if tr.InPath && (tg.CIPV < 0 || tr.Distance < tg.CIPVDistance) {
			tg.CIPV, tg.CIPVDistance, tg.CIPVRelSpeed, tg.CIPVTTC = int64(id), tr.Distance, tr.RelSpeed, tr.TTC
			if tr.RelSpeed < 0 && tr.Distance > 0 {
				tg.RequiredDecel = float32(float64(tr.RelSpeed) * float64(tr.RelSpeed) / (2 * float64(tr.Distance)))
			}
		}
		if tr.CutIn {
			tg.CutIn, tg.CutInTTC = int64(id), tr.TTC
			if tr.Lateral > 0 {
				tg.CutInLeft = true
			} else {
				tg.CutInRight = true
			}
			if !p.cutIn[id] {
				ev := schema.NewEvent(fs.T, schema.EvCutIn, schema.SevWarn, "truth", fmt.Sprintf("cut-in by %d", id))
				ev.Value = float64(tr.TTC)
				ev.Detail = fmt.Sprintf(`{"track":%d,"side":%q}`, id, side(tr.Lateral))
				res.Events = append(res.Events, ev)
			}
		}
	}
	for id := range p.cutIn {
		if !seen[id] || state[id] == nil || !state[id].CutIn {
			delete(p.cutIn, id)
		}
	}
	for id := range seen {
		if tr := state[id]; tr != nil && tr.CutIn {
			p.cutIn[id] = true
		}
	}
	ttc := float64(tg.CIPVTTC)
	fcw := !math.IsNaN(ttc) && ttc < p.cfg.FCWTTC
	aeb := !math.IsNaN(ttc) && ttc < p.cfg.AEBTTC
	tg.FCW, tg.AEB = fcw, aeb
	res.Events = append(res.Events, edge(fs.T, fcw, &p.fcw, schema.EvFCW, schema.EvFCWEnd, ttc)...)
	res.Events = append(res.Events, edge(fs.T, aeb, &p.aeb, schema.EvAEB, schema.EvAEBEnd, ttc)...)
	res.Target = tg
	return res
}

func side(lateral float32) string {
	if lateral > 0 {
		return "left"
	}
	return "right"
}

// edge returns the event of a warning switching on or off.
func edge(t int64, now bool, was *bool, on, off schema.EventCode, ttc float64) []*schema.Event {
	if now == *was {
		return nil
	}
	*was = now
	code, sev := off, schema.SevInfo
	if now {
		code, sev = on, schema.SevWarn
	}
	ev := schema.NewEvent(t, code, sev, "truth", code.String())
	if now {
		ev.Value = ttc
	}
	return []*schema.Event{ev}
}

// bestMatch returns the truth box of d's camera that overlaps d most.
func bestMatch(truth []schema.Truth, d Detection) *schema.Truth {
	var best *schema.Truth
	bestIoU := 0.3
	for i := range truth {
		tr := &truth[i]
		if tr.Camera != d.Camera {
			continue
		}
		if v := iou(tr.X1, tr.Y1, tr.X2, tr.Y2, d.X1, d.Y1, d.X2, d.Y2); v > bestIoU {
			best, bestIoU = tr, v
		}
	}
	return best
}

// iou is the intersection over union of two boxes.
func iou(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2 float32) float64 {
	ix := math.Min(float64(ax2), float64(bx2)) - math.Max(float64(ax1), float64(bx1))
	iy := math.Min(float64(ay2), float64(by2)) - math.Max(float64(ay1), float64(by1))
	if ix <= 0 || iy <= 0 {
		return 0
	}
	in := ix * iy
	u := float64(ax2-ax1)*float64(ay2-ay1) + float64(bx2-bx1)*float64(by2-by1) - in
	if u <= 0 {
		return 0
	}
	return in / u
}

// Truth returns the truth-fed perception.
func Truth() Perception {
	p := NewTruthPipeline(TruthPipelineConfig{})
	return Perception{Detector: TruthDetector{}, Pipeline: p, Model: Model{Name: "truth", Labels: "coco80"},
		Device: "none", Config: map[string]any{"detector": "truth", "pipeline": p.Config()}}
}
