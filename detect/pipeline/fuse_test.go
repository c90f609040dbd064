package pipeline_test

import (
	"math"
	"testing"

	"roadlog/acquire/sim"
	"roadlog/detect/internal/synth"
	"roadlog/detect/pipeline"
	"roadlog/detect/ranging"
	"roadlog/detect/truthdet"
	"roadlog/schema"
)

// narrow is a telephoto camera beside synth.Front: the same mounting 10 cm to the
// left, twice the focal length (38° field of view).
var narrow = func() ranging.Calibration {
	c := synth.Front
	c.Fx, c.Fy, c.Y = 2800, 2800, 0.1
	return c
}()

// camerasOnly returns the frame set with the frames and truth rows of the cameras in
// keep (and the truth's state rows).
func camerasOnly(fs *pipeline.FrameSet, keep map[uint8]bool) *pipeline.FrameSet {
	out := *fs
	out.Frames, out.Truth = nil, nil
	for _, f := range fs.Frames {
		if keep[f.Camera] {
			out.Frames = append(out.Frames, f)
		}
	}
	for _, tr := range fs.Truth {
		if tr.Camera == schema.TruthNoCamera || keep[tr.Camera] {
			out.Truth = append(out.Truth, tr)
		}
	}
	return &out
}

// runCameras runs a scenario through a pipeline that sees only the cameras in keep
// and returns each frame set's tracked objects.
func runCameras(steps []synth.Step, cal map[uint8]ranging.Calibration, keep map[uint8]bool) [][]*schema.Object {
	det := truthdet.New(truthdet.Config{Seed: 3, FalseRate: 1e-9})
	p := pipeline.New(pipeline.Config{Cameras: cal})
	out := make([][]*schema.Object, len(steps))
	for i := range steps {
		p.Ego(&steps[i].Ego)
		fs := camerasOnly(&steps[i].FrameSet, keep)
		for _, o := range p.Process(fs, det.Detections(fs)).Objects {
			if o.TrackID >= 0 {
				out[i] = append(out[i], o)
			}
		}
	}
	return out
}

// sameBox finds the object of camera cam with box b among objs.
func sameBox(objs []*schema.Object, o *schema.Object) *schema.Object {
	for _, x := range objs {
		if x.Camera == o.Camera && x.X1 == o.X1 && x.Y1 == o.Y1 && x.X2 == o.X2 && x.Y2 == o.Y2 {
			return x
		}
	}
	return nil
}

// TestCamerasFuseOneObject runs two cars, one ahead and one a lane over, and a
// cyclist on the verge outside the narrow camera's view, through a wide and a narrow
// front camera, and the same frame sets through a pipeline of each camera alone (the
// truth-fed detector's noise is drawn per camera, so each camera's tracks are the
// same in all three). Each car's rows in both cameras carry the inverse-variance
// weighted average of the two cameras' own speeds and TTCs (each car its own: the
// lanes are not mixed), with the 1-sigma of that average; the cyclist, seen by one
// camera, keeps its own figures.
func TestCamerasFuseOneObject(t *testing.T) {
	cal := map[uint8]ranging.Calibration{0: synth.Front, 1: narrow}
	sc := synth.Scenario{Name: "two cameras", Duration: 4, EgoSpeed: synth.Const(20), Cameras: cal, Actors: []synth.Actor{
		{ID: 1, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 40, Speed: synth.Brake(18, 1.5, 3, 10), Lateral: synth.Const(0.2)},
		{ID: 2, Kind: schema.ActorCar, W: 1.85, L: 4.7, H: 1.45, X0: 35, Speed: synth.Const(16), Lateral: synth.Const(3.5)},
		{ID: 3, Kind: schema.ActorCyclist, W: 0.6, L: 1.8, H: 1.7, X0: 12, Speed: synth.Const(19), Lateral: synth.Const(-7.5)},
	}}
	steps := sc.Run()
	both := runCameras(steps, cal, map[uint8]bool{0: true, 1: true})
	alone := [2][][]*schema.Object{runCameras(steps, cal, map[uint8]bool{0: true}), runCameras(steps, cal, map[uint8]bool{1: true})}
	fused, single := 0, 0
	for i := 30; i < len(steps); i++ { // after the first second
		for _, o := range both[i] {
			own := sameBox(alone[o.Camera][i], o)
			if own == nil {
				t.Fatalf("frame %d: camera %d's object %+v is not in that camera's own run", i, o.Camera, o)
			}
			var other *schema.Object // the other camera's track of the same object
			for _, x := range both[i] {
				if x.Camera != o.Camera && x.Class == o.Class && math.Abs(float64(x.Lateral-o.Lateral)) < 1 {
					other = x
				}
			}
			if other == nil {
				single++
				if o.RelSpeed != own.RelSpeed || o.RelSpeedStd != own.RelSpeedStd || !sameFloat(o.TTC, own.TTC) {
					t.Fatalf("frame %d: %s seen by camera %d alone: speed %.3f±%.3f TTC %.3f, its own %.3f±%.3f TTC %.3f",
						i, o.Label, o.Camera, o.RelSpeed, o.RelSpeedStd, o.TTC, own.RelSpeed, own.RelSpeedStd, own.TTC)
				}
				continue
			}
			fused++
			ownOther := sameBox(alone[other.Camera][i], other)
			w1, w2 := 1/sq(own.RelSpeedStd), 1/sq(ownOther.RelSpeedStd)
			v := (w1*float64(own.RelSpeed) + w2*float64(ownOther.RelSpeed)) / (w1 + w2)
			sd := 1 / math.Sqrt(w1+w2)
			ttc := (w1*float64(own.TTC) + w2*float64(ownOther.TTC)) / (w1 + w2)
			if math.Abs(float64(o.RelSpeed)-v) > 1e-4 || math.Abs(float64(o.RelSpeedStd)-sd) > 1e-5 || math.Abs(float64(o.TTC)-ttc) > 1e-4 ||
				o.RelSpeed != other.RelSpeed || o.TTC != other.TTC {
				t.Fatalf("frame %d: %s (lateral %.1f) in cameras %d and %d: speed %.3f±%.4f and %.3f, TTC %.3f and %.3f; the weighted average of their own (%.3f±%.3f, %.3f±%.3f) is %.3f±%.4f, TTC %.3f",
					i, o.Label, o.Lateral, o.Camera, other.Camera, o.RelSpeed, o.RelSpeedStd, other.RelSpeed, o.TTC, other.TTC,
					own.RelSpeed, own.RelSpeedStd, ownOther.RelSpeed, ownOther.RelSpeedStd, v, sd, ttc)
			}
			if o.Distance != own.Distance || o.Lateral != own.Lateral || o.Width != own.Width {
				t.Fatalf("frame %d: camera %d's geometry changed by the fusion: %+v, its own %+v", i, o.Camera, o, own)
			}
		}
	}
	// both cars in both cameras nearly every frame; the cyclist in the wide one
	if n := len(steps) - 30; fused < 3*n || single < n/2 {
		t.Fatalf("%d fused rows and %d single-camera rows in %d frame sets: want both cars in both cameras and the cyclist in one", fused, single, n)
	}
}

// TestFusionLeavesACutBoxOut: a car 4.5 m ahead runs off the bottom of the narrow
// camera's picture; while the wide camera sees it whole, both rows carry the wide
// camera's own figures.
func TestFusionLeavesACutBoxOut(t *testing.T) {
	cal := map[uint8]ranging.Calibration{0: synth.Front, 1: narrow}
	sc := synth.Scenario{Name: "near", Duration: 3, EgoSpeed: synth.Const(10), Cameras: cal, Actors: []synth.Actor{
		{ID: 1, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 4.5, Speed: synth.Const(9.5), Lateral: synth.Const(0)},
	}}
	steps := sc.Run()
	both := runCameras(steps, cal, map[uint8]bool{0: true, 1: true})
	wide := runCameras(steps, cal, map[uint8]bool{0: true})
	n := 0
	for i := 30; i < len(steps); i++ {
		if len(both[i]) != 2 {
			continue
		}
		own := sameBox(wide[i], both[i][0])
		cut := both[i][1]
		if own == nil || both[i][0].Camera != 0 || cut.Y2 < float32(narrow.Height)-2 {
			t.Fatalf("frame %d: objects %+v; want the wide camera's whole and the narrow camera's cut", i, both[i])
		}
		for _, o := range both[i] {
			if o.RelSpeed != own.RelSpeed || o.RelSpeedStd != own.RelSpeedStd || !sameFloat(o.TTC, own.TTC) {
				t.Fatalf("frame %d: camera %d: speed %.3f±%.3f TTC %.3f, want the whole box's %.3f±%.3f TTC %.3f",
					i, o.Camera, o.RelSpeed, o.RelSpeedStd, o.TTC, own.RelSpeed, own.RelSpeedStd, own.TTC)
			}
		}
		n++
	}
	if n < (len(steps)-30)*8/10 {
		t.Fatalf("the car on tracks of both cameras in %d of %d frame sets", n, len(steps)-30)
	}
}

func sq(v float32) float64 { return float64(v) * float64(v) }

func sameFloat(a, b float32) bool { return a == b || (a != a && b != b) }

// TestFusionBehind: a car overtaking in the left lane, 25 m behind at first, seen by
// the rear camera and by a rear corner camera looking across the road, which gives
// no TTC for objects behind. Both rows carry the rear camera's own TTC (the fused
// speed closing; also while the rear camera's picture cuts the car), and the speed
// averaged by the variances (the whole box's alone while one picture cuts the car).
func TestFusionBehind(t *testing.T) {
	rig := sim.Cameras(8, 1280, 720)
	cal := map[uint8]ranging.Calibration{0: simCalibration(rig[6]), 1: simCalibration(rig[4])} // rear, rear_left
	sc := synth.Scenario{Name: "overtaken", Duration: 3, EgoSpeed: synth.Const(20), Cameras: cal, Actors: []synth.Actor{
		{ID: 1, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: -25, Speed: synth.Const(24), Lateral: synth.Const(3.5)},
	}}
	steps := sc.Run()
	both := runCameras(steps, cal, map[uint8]bool{0: true, 1: true})
	alone := [2][][]*schema.Object{runCameras(steps, cal, map[uint8]bool{0: true}), runCameras(steps, cal, map[uint8]bool{1: true})}
	n, whole := 0, 0
	for i := 30; i < len(steps); i++ {
		if len(both[i]) != 2 {
			continue
		}
		rear, side := sameBox(alone[0][i], both[i][0]), sameBox(alone[1][i], both[i][1])
		if rear == nil || side == nil {
			t.Fatalf("frame %d: objects %+v, want one in each camera", i, both[i])
		}
		if math.IsNaN(float64(rear.TTC)) || !math.IsNaN(float64(side.TTC)) {
			t.Fatalf("frame %d: own TTCs %.2f (rear) and %.2f (corner): want the rear camera's alone", i, rear.TTC, side.TTC)
		}
		w1, w2 := 1/sq(rear.RelSpeedStd), 1/sq(side.RelSpeedStd)
		rearCut, sideCut := cutBox(rear, cal[0]), cutBox(side, cal[1])
		switch {
		case sideCut && !rearCut:
			w2 = 0
		case rearCut && !sideCut:
			w1 = 0
		}
		if !sideCut && !rearCut {
			whole++
		}
		v := (w1*float64(rear.RelSpeed) + w2*float64(side.RelSpeed)) / (w1 + w2)
		for _, o := range both[i] {
			if o.TTC != rear.TTC || math.Abs(float64(o.RelSpeed)-v) > 1e-4 {
				t.Fatalf("frame %d: camera %d: speed %.3f TTC %.2f; want %.3f (own: rear %.3f±%.3f, corner %.3f±%.3f) and the rear camera's TTC %.2f",
					i, o.Camera, o.RelSpeed, o.TTC, v, rear.RelSpeed, rear.RelSpeedStd, side.RelSpeed, side.RelSpeedStd, rear.TTC)
			}
		}
		n++
	}
	if n < (len(steps)-30)/2 || whole < 10 {
		t.Fatalf("the car on tracks of both cameras in %d of %d frame sets, %d of them whole in both", n, len(steps)-30, whole)
	}
	t.Logf("the car in both cameras in %d of %d frame sets, whole in both in %d", n, len(steps)-30, whole)
}

// cutBox reports whether the image border of camera c cuts the object's box.
func cutBox(o *schema.Object, c ranging.Calibration) bool {
	return o.X1 <= 2 || o.Y1 <= 2 || o.X2 >= float32(c.Width)-2 || o.Y2 >= float32(c.Height)-2
}

// TestRearTTC: a car closing from behind in the ego lane at 6 m/s, its front 25 m
// back at first, then braking at 3 m/s² from 2 s on until it has matched the ego's
// speed 2.5 m behind the rear camera, seen by the 8-camera rig's rear camera (1280×720). Its objects carry the
// relative speed and the TTC to the rear bumper (the rear camera's x), within 10 %
// of the truth wherever the true TTC is under 4 s on a track at least 0.5 s old,
// for 3 noise seeds. Until stop 23 the track filter took no range behind the front
// bumper, and no object behind the ego had a speed.
func TestRearTTC(t *testing.T) {
	rear := simCalibration(sim.Cameras(8, 1280, 720)[6])
	cal := map[uint8]ranging.Calibration{0: rear}
	const l = 4.5
	sc := synth.Scenario{Name: "tailgater", Duration: 6, EgoSpeed: synth.Const(20), Cameras: cal, Actors: []synth.Actor{
		{ID: 1, Kind: schema.ActorCar, W: 1.8, L: l, H: 1.5, X0: -25 - l, Speed: synth.Brake(26, 2, 3, 20), Lateral: synth.Const(0.1)},
	}}
	steps := sc.Run()
	for seed := uint64(1); seed <= 3; seed++ {
		det := truthdet.New(truthdet.Config{Seed: seed, FalseRate: 1e-9})
		p := pipeline.New(pipeline.Config{Cameras: cal, Ranging: det.Ranging()})
		first := map[int64]int64{}
		n, worst := 0, 0.0
		for i := range steps {
			p.Ego(&steps[i].Ego)
			res := p.Process(&steps[i].FrameSet, det.Detections(&steps[i].FrameSet))
			st := steps[i].State[1]
			gap := rear.X - (float64(st.Distance) + l) // the truth's distance is the near edge's x, the car's back
			v := float64(st.RelSpeed)
			for _, o := range res.Objects {
				if o.TrackID < 0 {
					continue
				}
				if _, ok := first[o.TrackID]; !ok {
					first[o.TrackID] = steps[i].FrameSet.T
				}
				if !(v > 0.2) || gap/v >= 4 || gap < 2 || steps[i].FrameSet.T-first[o.TrackID] < 0.5e9 {
					continue
				}
				ttc := gap / v
				e := math.Abs(float64(o.TTC)-ttc) / ttc
				if !(e <= 0.10) {
					t.Errorf("seed %d frame %d: TTC %.2f s, true %.2f s (distance %.1f m, true front %.1f; speed %.2f, true %.2f)",
						seed, i, o.TTC, ttc, o.Distance, float64(st.Distance)+l, o.RelSpeed, v)
				}
				n++
				worst = math.Max(worst, e)
			}
		}
		if n < 30 {
			t.Errorf("seed %d: %d frames judged", seed, n)
		}
		t.Logf("seed %d: %d frames with a true TTC under 4 s, worst error %.1f %%", seed, n, 100*worst)
	}
}
