package adas

import (
	"encoding/json"
	"math"
	"testing"

	"roadlog/detect/obs"
	"roadlog/schema"
)

const sec = int64(1e9)

func car(id int64, x, y, v float64) Object {
	o := Object{TrackID: id, Class: obs.ClassCar, Vehicle: true, RoadUser: true, Distance: x, Lateral: y, Width: 1.8,
		RelSpeed: v, RelSpeedStd: 0.3, ObjAccel: 0, ObjAccelStd: 1, TTC: math.NaN(), Age: 5}
	if x > 0 && v < -0.2 {
		o.TTC = x / -v
	}
	return o
}

var cruise = Ego{Speed: 25, YawRate: 0, SteeringAngle: 0}

func TestLanes(t *testing.T) {
	a := New(Config{}, "test")
	// a left curve of radius 500 m: κ = 0.002; at 50 m the path is ≈ 2.7 m to the left
	curve := Ego{Speed: 25, YawRate: 25.0 / 500 * 180 / math.Pi, SteeringAngle: math.NaN()}
	kappa := 1.0 / 500
	pathAt := func(x float64) float64 { s, s0 := x+3.7, 3.7; return kappa / 2 * (s*s - s0*s0) }
	cases := []struct {
		name   string
		ego    Ego
		obj    Object
		lane   schema.Lane
		inPath bool
	}{
		{"straight-ahead", cruise, car(1, 30, 0.3, 0), schema.LaneEgo, true},
		{"left-lane", cruise, car(1, 30, 3.5, 0), schema.LaneLeft, false},
		{"right-lane", cruise, car(1, 30, -3.6, 0), schema.LaneRight, false},
		{"far-left", cruise, car(1, 30, 7.5, 0), schema.LaneOther, false},
		{"straddling-in-path", cruise, car(1, 30, 1.95, 0), schema.LaneLeft, true},
		{"behind", cruise, car(1, -10, 0, 0), schema.LaneEgo, false},
		{"curve-ego-lane", curve, car(1, 50, pathAt(50), 0), schema.LaneEgo, true},
		{"curve-straight-ahead-is-right-lane", curve, car(1, 60, 0, 0), schema.LaneRight, false},
		// slow: the path comes from the steering wheel, 15:1 to a 2.8 m wheelbase; a
		// 20 m radius puts the path 4.35 m to the left 10 m ahead
		{"steering-when-slow", Ego{Speed: 1, YawRate: 0, SteeringAngle: 15 * math.Atan(2.8/20) * 180 / math.Pi}, car(1, 10, 4.35, 0), schema.LaneEgo, true},
	}
	for _, c := range cases {
		objs := []Object{c.obj}
		a.Assess(sec, 1, c.ego, objs)
		if objs[0].Lane != c.lane || objs[0].InPath != c.inPath {
			t.Errorf("%s: lane %v in-path %v (dy %.2f), want %v %v", c.name, objs[0].Lane, objs[0].InPath, objs[0].PathDY, c.lane, c.inPath)
		}
	}
}

func TestTargetsCIPVAndCounts(t *testing.T) {
	a := New(Config{}, "test")
	ped := Object{TrackID: 9, Class: obs.ClassPerson, RoadUser: true, Distance: 12, Lateral: 0.2, Width: 0.5, RelSpeed: -1, RelSpeedStd: 0.2, ObjAccelStd: 1, TTC: 12, Age: 5}
	objs := []Object{car(1, 40, 0.2, -1), car(2, 25, -0.4, -0.5), car(3, 15, 3.5, 0), car(4, 20, -3.4, 0), car(5, 90, 7, 0), ped}
	tg, _ := a.Assess(sec, 7, cruise, objs)
	if tg.CIPV != 2 || tg.CIPVDistance != 25 || tg.TriggerID != 7 || tg.T != sec {
		t.Fatalf("CIPV %d at %.1f m (trigger %d), want track 2 at 25 m (the pedestrian is nearer but not a vehicle)", tg.CIPV, tg.CIPVDistance, tg.TriggerID)
	}
	if tg.Ahead != 4 || !tg.CutInLeft || !tg.CutInRight || tg.CutIn != -1 || tg.FCW || tg.AEB {
		t.Fatalf("target %+v: want 4 ahead, both zones occupied, no cut-in, no warning", tg)
	}
}

// step runs one assessment of a single object per 1/30 s and returns the events.
func step(a *Assessor, n *int64, ego Ego, o Object) (schema.Target, []*schema.Event, Object) {
	*n++
	objs := []Object{o}
	tg, evs := a.Assess(*n*sec/30, *n, ego, objs)
	return tg, evs, objs[0]
}

func TestFCWAndAEBRaiseAndClear(t *testing.T) {
	a := New(Config{}, "test")
	var n int64
	var got []schema.EventCode
	var fcwAt, aebAt, fcwEndAt float64 = -1, -1, -1
	// a car 40 m ahead closing at 10 m/s; then the driver brakes: at 1.6 s the
	// closing stops
	x, v := 40.0, -10.0
	for i := 0; i < 150; i++ {
		tt := float64(i) / 30
		if tt > 3.0 {
			v = math.Min(v+8.0/30, 2) // ego brakes hard: the car pulls away
		}
		x += v / 30
		o := car(1, x, 0, v)
		tg, evs, _ := step(a, &n, cruise, o)
		for _, e := range evs {
			got = append(got, e.Code)
			if e.Kind != e.Code.String() || e.Source != "test" {
				t.Fatalf("event %+v: kind/source not filled", e)
			}
			switch e.Code {
			case schema.EvFCW:
				fcwAt = tt
				if math.Abs(e.Value-o.TTC) > 1e-9 {
					t.Errorf("FCW value %.2f, want the TTC %.2f", e.Value, o.TTC)
				}
				var d struct{ Track int64 }
				if err := json.Unmarshal([]byte(e.Detail), &d); err != nil || d.Track != 1 {
					t.Errorf("FCW detail %q: %v", e.Detail, err)
				}
			case schema.EvAEB:
				aebAt = tt
			case schema.EvFCWEnd:
				fcwEndAt = tt
			}
		}
		if tg.FCW != (fcwAt >= 0 && fcwEndAt < 0) {
			t.Fatalf("t=%.2f: target FCW %v, events so far %v", tt, tg.FCW, got)
		}
	}
	// TTC 2.7 s at x = 27 m: 1.3 s; TTC 1.5 s at x = 15 m: 2.5 s
	if math.Abs(fcwAt-1.3) > 0.05 || math.Abs(aebAt-2.5) > 0.05 {
		t.Fatalf("FCW at %.2f s, AEB at %.2f s; want 1.3 s and 2.5 s (events %v)", fcwAt, aebAt, got)
	}
	if fcwEndAt < 0 {
		t.Fatalf("FCW never cleared after the closing stopped (events %v)", got)
	}
	want := []schema.EventCode{schema.EvFCW, schema.EvAEB, schema.EvAEBEnd, schema.EvFCWEnd}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

func TestAEBOnRequiredDeceleration(t *testing.T) {
	a := New(Config{}, "test")
	var n int64
	// 20 m gap, closing 10 m/s (TTC 2 s: FCW, no AEB by TTC) and the lead brakes hard
	o := car(1, 20, 0, -10)
	o.ObjAccel, o.ObjAccelStd = -8, 0.5
	tg, _, _ := step(a, &n, cruise, o)
	// 100/40 = 2.5 + (8 − 1) = 9.5 m/s² > 8
	if !tg.AEB || math.Abs(float64(tg.RequiredDecel)-9.5) > 1e-3 {
		t.Fatalf("AEB %v, required decel %.2f; want AEB at 9.5 m/s²", tg.AEB, tg.RequiredDecel)
	}
	// the same with an uncertain lead deceleration: no AEB
	b := New(Config{}, "test")
	o.ObjAccelStd = 5
	if tg, _, _ := step(b, &n, cruise, o); tg.AEB {
		t.Fatalf("AEB on an uncertain deceleration (required %.2f)", tg.RequiredDecel)
	}
}

// TestNoWarningFromAnUnsureTrack: a new track whose closing speed is within a sigma
// of the least closing speed (a false alarm held for a few frames) raises nothing;
// the same geometry with a settled speed raises FCW.
func TestNoWarningFromAnUnsureTrack(t *testing.T) {
	for _, c := range []struct {
		std  float64
		warn bool
	}{{3, false}, {0.3, true}} {
		a := New(Config{}, "test")
		var n int64
		o := car(1, 8, 0.1, -3.5) // TTC 2.3 s
		o.RelSpeedStd = c.std
		tg, evs, _ := step(a, &n, cruise, o)
		if tg.FCW != c.warn || (len(evs) > 0) != c.warn {
			t.Errorf("speed σ %.1f m/s: FCW %v, events %v; want a warning %v", c.std, tg.FCW, evs, c.warn)
		}
	}
}

func TestNoWarningWhileCrawling(t *testing.T) {
	a := New(Config{}, "test")
	var n int64
	if tg, evs, _ := step(a, &n, Ego{Speed: 1, YawRate: 0, SteeringAngle: 0}, car(1, 3, 0, -2)); tg.FCW || tg.AEB || len(evs) != 0 {
		t.Fatalf("warning at 1 m/s ego speed: %+v %v", tg, evs)
	}
}

func TestCutInAndCutOut(t *testing.T) {
	a := New(Config{}, "test")
	var n int64
	var cutInAt, cutOutAt float64 = -1, -1
	var cutTrack int64 = -1
	// car 2 in the left lane at 20 m changes into the ego lane from t = 1 s over 2.5 s;
	// car 3 ahead in the ego lane leaves to the right from t = 1 s
	for i := 0; i < 150; i++ {
		tt := float64(i) / 30
		u := math.Max(0, math.Min(1, (tt-1)/2.5))
		du := 0.0
		if tt > 1 && tt < 3.5 {
			du = 6 * u * (1 - u) / 2.5
		}
		c2 := car(2, 20, 3.5*(1-u*u*(3-2*u)), -0.5)
		c2.LatSpeed = -3.5 * du
		c3 := car(3, 35, -3.5*u*u*(3-2*u), 0)
		c3.LatSpeed = -3.5 * du
		n++
		objs := []Object{c2, c3}
		tg, evs := a.Assess(n*sec/30, n, cruise, objs)
		for _, e := range evs {
			switch e.Code {
			case schema.EvCutIn:
				cutInAt, cutTrack = tt, tg.CutIn
				if e.Category != "left" {
					t.Errorf("cut-in side %q, want left", e.Category)
				}
			case schema.EvCutOut:
				cutOutAt = tt
				if e.Category != "right" {
					t.Errorf("cut-out side %q, want right", e.Category)
				}
			}
		}
		if cutInAt >= 0 && tt < 3 && objs[0].Manner != schema.MannerCutIn {
			t.Fatalf("t=%.2f: cut-in manner lost", tt)
		}
		if tt > 4.5 && (objs[0].Manner != schema.MannerNone || objs[1].Manner != schema.MannerNone) {
			t.Fatalf("t=%.2f: manners %v %v after the lane changes ended", tt, objs[0].Manner, objs[1].Manner)
		}
	}
	if cutTrack != 2 || cutInAt < 1 || cutInAt > 1.5 {
		t.Fatalf("cut-in of track %d at %.2f s, want track 2 within 0.5 s of 1 s", cutTrack, cutInAt)
	}
	if cutOutAt < 1 || cutOutAt > 1.8 {
		t.Fatalf("cut-out at %.2f s", cutOutAt)
	}
}

func TestLaneKeepingSwayIsNoCutIn(t *testing.T) {
	a := New(Config{}, "test")
	var n int64
	for i := 0; i < 600; i++ {
		tt := float64(i) / 30
		c := car(2, 20, 3.5+0.3*math.Sin(2*math.Pi*tt/6), 0)
		c.LatSpeed = 0.3 * 2 * math.Pi / 6 * math.Cos(2*math.Pi*tt/6)
		if _, evs, _ := step(a, &n, cruise, c); len(evs) != 0 {
			t.Fatalf("t=%.2f: events %v for a car swaying in its lane", tt, evs[0].Code)
		}
	}
}

// TestCutInHeldWhileTheEgoSignals: a car in the left lane moving towards the ego path
// at 0.5 m/s is no cut-in while the ego's turn signal is on, nor within
// EgoLaneChangeHold after it went off; once the hold is over, the same motion is.
func TestCutInHeldWhileTheEgoSignals(t *testing.T) {
	a := New(Config{}, "test")
	var n int64
	signalling := cruise
	signalling.Signal = true
	at := -1.0
	for i := 0; i < 150 && at < 0; i++ {
		tt := float64(i) / 30
		ego := cruise
		if tt < 1 {
			ego = signalling
		}
		c := car(2, 20, 3.5-0.5*math.Max(0, tt-0.5), 0)
		c.LatSpeed = 0
		if tt > 0.5 {
			c.LatSpeed = -0.5
		}
		if _, evs, _ := step(a, &n, ego, c); len(evs) > 0 {
			if evs[0].Code != schema.EvCutIn {
				t.Fatalf("t=%.2f: event %v, want a cut-in", tt, evs[0].Code)
			}
			at = tt
		}
	}
	hold := a.Config().EgoLaneChangeHold
	if at < 1+hold || at > 1+hold+0.2 {
		t.Fatalf("cut-in flagged at %.2f s, want just after the signal (off at 1 s) and the hold of %.1f s", at, hold)
	}
}

// TestEgoFromSignal: one turn signal is a lane change to come; both are hazard lights.
func TestEgoFromSignal(t *testing.T) {
	for _, c := range []struct {
		left, right, want bool
	}{{false, false, false}, {true, false, true}, {false, true, true}, {true, true, false}} {
		e := schema.NewEgo()
		e.TurnLeft, e.TurnRight = c.left, c.right
		if got := EgoFrom(e).Signal; got != c.want {
			t.Errorf("left %v right %v: Signal %v, want %v", c.left, c.right, got, c.want)
		}
	}
}
