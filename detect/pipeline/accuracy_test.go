package pipeline_test

import (
	"math"
	"strings"
	"testing"

	"roadlog/detect/internal/synth"
	"roadlog/detect/pipeline"
	"roadlog/detect/ranging"
	"roadlog/detect/truthdet"
	"roadlog/schema"
)

var frontRig = map[uint8]ranging.Calibration{0: synth.Front}

// scenarios are the scripted drives of the accuracy bars (until the simulator's
// scenario lands, and beside it): a lead car braking, cut-ins from both sides, a
// pedestrian crossing, and a quiet stretch with traffic in every lane.
func scenarios() []synth.Scenario {
	cutL, flagL := synth.LaneChange(3.5, 0, 3, 2.5)
	cutR, flagR := synth.LaneChange(-3.5, 0, 2, 2.5)
	cross := func(t float64) float64 { return -6 + 1.4*t }
	sway := func(t float64) float64 { return 25 + 0.8*math.Sin(2*math.Pi*t/6) }
	return []synth.Scenario{
		{Name: "brake", Duration: 9.6, EgoSpeed: synth.Const(20), Cameras: frontRig, Actors: []synth.Actor{
			{ID: 1, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 30, Speed: synth.Brake(20, 6, 4, 0), Lateral: synth.Const(0.2)},
			{ID: 2, Kind: schema.ActorCar, W: 1.85, L: 4.7, H: 1.45, X0: 45, Speed: synth.Const(21), Lateral: synth.Const(3.6)},
		}},
		{Name: "cut-in-left", Duration: 9, EgoSpeed: synth.Const(25), Cameras: frontRig, Actors: []synth.Actor{
			{ID: 3, Kind: schema.ActorCar, W: 1.8, L: 4.4, H: 1.5, X0: 28, Speed: synth.Const(22.5), Lateral: cutL, CutIn: flagL},
			{ID: 4, Kind: schema.ActorCar, W: 1.8, L: 4.4, H: 1.5, X0: 70, Speed: synth.Const(25), Lateral: synth.Const(0)},
		}},
		{Name: "cut-in-right", Duration: 8, EgoSpeed: synth.Const(20), Cameras: frontRig, Actors: []synth.Actor{
			{ID: 5, Kind: schema.ActorCar, W: 1.9, L: 4.8, H: 1.6, X0: 14, Speed: synth.Const(19), Lateral: cutR, CutIn: flagR},
		}},
		{Name: "pedestrian", Duration: 5, EgoSpeed: synth.Const(8), Cameras: frontRig, Actors: []synth.Actor{
			{ID: 6, Kind: schema.ActorPedestrian, W: 0.55, L: 0.4, H: 1.75, X0: 45, Speed: synth.Const(0), Lateral: cross},
		}},
		{Name: "quiet", Duration: 20, EgoSpeed: synth.Const(25), Cameras: frontRig, Actors: []synth.Actor{
			{ID: 7, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 35, Speed: sway, Lateral: synth.Const(-0.3)},
			{ID: 8, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 5, Speed: synth.Const(28), Lateral: wobble(3.5, 0.2, 8)},
			{ID: 9, Kind: schema.ActorTruck, W: 2.5, L: 10, H: 3.4, X0: 60, Speed: synth.Const(24), Lateral: wobble(-3.7, 0.2, 9)},
		}},
	}
}

// wobble is lane keeping: a lateral sway of amplitude a (m) and period p (s) about y.
func wobble(y, a, p float64) func(float64) float64 {
	return func(t float64) float64 { return y + a*math.Sin(2*math.Pi*t/p) }
}

func run(steps []synth.Step, det *truthdet.Detector, cfg pipeline.Config) []frameOut {
	p := pipeline.New(cfg)
	out := make([]frameOut, 0, len(steps))
	for i := range steps {
		s := &steps[i]
		p.Ego(&s.Ego)
		out = append(out, frameOut{fs: &s.FrameSet, res: p.Process(&s.FrameSet, det.Detections(&s.FrameSet))})
	}
	return out
}

// TestAccuracyScripted holds the accuracy bars on the scripted scenarios with the
// truth-fed detector at its default (realistic) noise: TTC error ≤ 10 % whenever the
// true TTC < 4 s (tracks older than 0.5 s), every scripted cut-in flagged within
// 0.5 s, FCW no later than 0.3 s after the true TTC crosses 2.7 s, no FCW/AEB in
// quiet stretches, no false cut-ins.
func TestAccuracyScripted(t *testing.T) {
	var all []accuracy
	for _, sc := range scenarios() {
		for _, seed := range []uint64{1, 2, 3} {
			det := truthdet.New(truthdet.Config{Seed: seed})
			outs := run(sc.Run(), det, pipeline.Config{Cameras: frontRig, Ranging: det.Ranging()})
			a := evaluate(sc.Name, outs, 2.7, 0.5, nil)
			all = append(all, a)
			checkBars(t, a, seed)
		}
	}
	var sb strings.Builder
	writeAccuracy(&sb, all)
	t.Log("accuracy on scripted scenarios (3 seeds each):\n" + sb.String())
}

func checkBars(t *testing.T, a accuracy, seed uint64) {
	t.Helper()
	if a.ttcMax > 0.10 {
		t.Errorf("%s seed %d: TTC error %.1f %% > 10 %% (%s)", a.name, seed, 100*a.ttcMax, a.ttcWorst)
	}
	checkEvents(t, a, seed)
}

// checkEvents holds the cut-in, FCW and quiet-stretch bars.
func checkEvents(t *testing.T, a accuracy, seed uint64) {
	t.Helper()
	for _, c := range a.cutIns {
		if !(c.flagged-c.onset <= 0.5) || !c.event {
			t.Errorf("%s seed %d: cut-in of actor %d at %.2f s flagged at %.2f s (event %v), want within 0.5 s",
				a.name, seed, c.actor, c.onset, c.flagged, c.event)
		}
	}
	if a.falseCutIns > 0 {
		t.Errorf("%s seed %d: %d false cut-in events", a.name, seed, a.falseCutIns)
	}
	if !math.IsNaN(a.fcwCross) && !(a.fcwRaised-a.fcwCross <= 0.3) {
		t.Errorf("%s seed %d: true TTC crossed 2.7 s at %.2f s, FCW at %.2f s: want ≤ 0.3 s later", a.name, seed, a.fcwCross, a.fcwRaised)
	}
	if a.quietFCW+a.quietAEB > 0 {
		t.Errorf("%s seed %d: FCW in %d and AEB in %d quiet frame sets", a.name, seed, a.quietFCW, a.quietAEB)
	}
}
