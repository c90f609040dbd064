// Package sim is roadlog's simulated rig, the embedded default: one scripted scenario
// (an ego car on a three-lane road; a lead vehicle that brakes hard; a cut-in from the
// left and one from the right; a pedestrian crossing; a stretch without GNSS) drives
// every simulated sensor consistently — CAN frames encoded with the simulated car's DBC
// on two buses, NMEA sentences at 10 Hz, a 1 kHz IMU, 4 or 8 cameras rendered to JPEG
// and sharing one trigger per instant — and writes the ground truth of every actor.
package sim

import "math"

// Road geometry: a straight road along +x; lane centres at y = 0 (ego lane), +3.5
// (left) and -3.5 (right); dashed lane lines at ±1.75, solid edges at ±5.25.
const (
	LaneWidth  = 3.5
	DashLength = 3.0
	DashPeriod = 12.0
	EgoLength  = 4.6
	EgoWidth   = 1.85
	// Period is the scenario's length; longer drives repeat it.
	Period = 60.0
)

// Actor is a scripted road user.
type Actor struct {
	ID     int32
	Kind   ActorKindCode
	Length float64
	Width  float64
	Height float64
	Color  [3]uint8
	// script returns the actor's longitudinal position (x of its centre, metres, in
	// road coordinates), lateral position (y of its centre), longitudinal speed and
	// lateral speed at scenario time s, and whether it exists then.
	script func(s float64, ego EgoState) (x, y, vx, vy float64, ok bool)
}

// ActorKindCode mirrors schema.ActorKind without importing it here.
type ActorKindCode uint8

// EgoState is the ego car's kinematic state at one instant.
type EgoState struct {
	S     float64 // scenario time, s
	X     float64 // position of the ego's centre along the road, m
	V     float64 // speed, m/s
	A     float64 // longitudinal acceleration, m/s²
	Brake float64 // brake pedal, 0–100 %
	Thr   float64 // throttle, 0–100 %
}

// ActorState is an actor's kinematic state at one instant.
type ActorState struct {
	*Actor
	X, Y, VX, VY float64
}

// Scenario is the scripted drive. Its one tunable is how quickly accelerations
// change: real vehicles cannot step their acceleration (brake pressure builds over
// 0.2–0.5 s; drivers and ACC controllers are jerk-limited, ~5–15 m/s³), so each change
// of a script's acceleration ramps linearly over RiseTime, centred on the scripted
// instant. Speeds after each change, and so the scenario's design (its warnings, its
// quiet stretches, its lap), are those of the piecewise-constant script; positions move
// by at most |Δa|·RiseTime²/24 (8 cm for the hardest braking).
type Scenario struct {
	// RiseTime is how long a change of acceleration takes, s (0: DefaultRiseTime;
	// negative: steps, the piecewise-constant script itself).
	RiseTime float64
}

// DefaultRiseTime is the default Scenario.RiseTime, s: the lead car's emergency
// braking (−7.5 m/s²) then builds with 15 m/s³, the ego's with 12 m/s³, the gentler
// changes with 4–8 m/s³.
const DefaultRiseTime = 0.5

func (sc Scenario) rise() float64 {
	switch {
	case sc.RiseTime < 0:
		return 0
	case sc.RiseTime == 0:
		return DefaultRiseTime
	}
	return sc.RiseTime
}

// profile is an acceleration script: from s on, the acceleration is a (m/s²) until
// the next entry.
type profile = []struct{ s, a float64 }

// egoProfile is the driver's speed profile: cruise at 25 m/s, brake hard after the
// lead car brakes (t 11.2–14.5), recover, slow for a town stretch and stop for the
// pedestrian crossing (t 38–44.5), then resume. The speed at the end equals the speed
// at the start so the scenario can repeat.
var egoProfile = profile{
	{0, 0},
	{11.2, -6.0}, // reacts to the braking lead car
	{14.5, 0},    // 5.2 m/s
	{17, 3.0},    // accelerate back
	{23.6, 0},    // 25 m/s
	{38, -4.25},  // town: 8 m/s at 42
	{42, -3.2},   // stop for the pedestrian at 44.5
	{44.5, 0},
	{48.5, 3.5}, // 25 m/s at 55.64
	{48.5 + 25.0/3.5, 0},
}

const egoV0 = 25.0

// Ego returns the ego state of the default scenario at scenario time s (within one
// period).
func Ego(s float64) EgoState { return Scenario{}.Ego(s) }

// Ego returns the ego state at scenario time s (within one period).
func (sc Scenario) Ego(s float64) EgoState {
	x, v, a := kinematics(egoProfile, sc.rise(), 0, egoV0, s)
	st := EgoState{S: s, X: x, V: v, A: a}
	switch {
	case math.Abs(st.A) < 1e-9:
		st.Thr = 12 + v*0.4
	case st.A < 0:
		st.Brake = math.Min(100, -st.A*12)
	default:
		st.Thr = math.Min(100, 20+st.A*20)
	}
	return st
}

// smoothstep goes from 0 to 1 between a and b.
func smoothstep(a, b, s float64) (v, dv float64) {
	if s <= a {
		return 0, 0
	}
	if s >= b {
		return 1, 0
	}
	u := (s - a) / (b - a)
	return u * u * (3 - 2*u), 6 * u * (1 - u) / (b - a)
}

// kinematics integrates an acceleration profile from (x0, v0) at prof[0].s to s and
// returns the position, speed and acceleration there. Each change of acceleration
// ramps linearly over rise s centred on its scripted instant (narrowed where
// neighbouring changes are closer than that; rise 0: steps); the pieces of constant
// jerk are integrated exactly.
func kinematics(prof profile, rise, x0, v0, s float64) (x, v, a float64) {
	x, v, a = x0, v0, prof[0].a
	t := prof[0].s
	// advance by dt at acceleration a0 and jerk j
	adv := func(dt, j float64) {
		if dt <= 0 {
			return
		}
		x += v*dt + a*dt*dt/2 + j*dt*dt*dt/6
		v += a*dt + j*dt*dt/2
		a += j * dt
	}
	for i := 1; i < len(prof) && t < s; i++ {
		h := rise / 2
		h = math.Min(h, (prof[i].s-prof[i-1].s)/2)
		if i+1 < len(prof) {
			h = math.Min(h, (prof[i+1].s-prof[i].s)/2)
		}
		from, to := prof[i].s-h, prof[i].s+h
		adv(math.Min(from, s)-t, 0) // hold the previous acceleration
		t = math.Max(t, from)
		if s <= t {
			break
		}
		if h == 0 {
			a = prof[i].a
			continue
		}
		j := (prof[i].a - prof[i-1].a) / (2 * h)
		adv(math.Min(to, s)-t, j)
		t = to
		if s <= to {
			break
		}
		a = prof[i].a // exact, free of rounding
	}
	adv(s-t, 0)
	return
}

// Actors returns the default scenario's actors.
func Actors() []*Actor { return Scenario{}.Actors() }

// Actors returns the scenario's actors. Actors appear and vanish only far away or out
// of every camera's view.
func (sc Scenario) Actors() []*Actor {
	rise := sc.rise()
	return []*Actor{
		{ // 1: lead car in the ego lane; brakes hard at t=10, then changes to the right lane and leaves
			ID: 1, Kind: 1, Length: 4.5, Width: 1.8, Height: 1.5, Color: [3]uint8{200, 30, 30},
			script: func(s float64, _ EgoState) (float64, float64, float64, float64, bool) {
				if s > 40 {
					return 0, 0, 0, 0, false
				}
				prof := profile{{0, 0}, {10, -7.5}, {12.8, 0}, {15, 3}, {22, 1.5}, {32, 0}}
				x, v, _ := kinematics(prof, rise, 48, egoV0, s)
				y, dy := smoothstep(17, 20, s)
				return x, -LaneWidth * y, v, -LaneWidth * dy, true
			},
		},
		{ // 2: car in the left lane, steady ahead during the quiet start, then leaves
			ID: 2, Kind: 1, Length: 4.7, Width: 1.85, Height: 1.45, Color: [3]uint8{40, 80, 200},
			script: func(s float64, _ EgoState) (float64, float64, float64, float64, bool) {
				if s > 20 {
					return 0, 0, 0, 0, false
				}
				prof := profile{{0, 0}, {9, 2.5}, {13, 0}}
				x, v, _ := kinematics(prof, rise, 38, egoV0, s)
				return x, LaneWidth, v, 0, true
			},
		},
		{ // 3: cut-in from the left: overtakes in the left lane, cuts in 12 m ahead at
			// t 27–29.5 and brakes (a forward-collision warning), then leaves
			ID: 3, Kind: 1, Length: 4.4, Width: 1.8, Height: 1.5, Color: [3]uint8{230, 200, 40},
			script: func(s float64, ego EgoState) (float64, float64, float64, float64, bool) {
				if s < 20 || s > 45 {
					return 0, 0, 0, 0, false
				}
				e27 := sc.Ego(27)
				x27 := e27.X + EgoLength/2 + 12 + 2.2
				prof := profile{{20, 0}, {29, -4}, {30.3, 0}, {31.0, 4}, {34, 0}}
				x, v, _ := kinematics(prof, rise, x27-7*26, 26, s)
				y, dy := smoothstep(27, 29.5, s)
				return x, LaneWidth * (1 - y), v, -LaneWidth * dy, true
			},
		},
		{ // 4: cut-in from the right: a slower truck merges 20 m ahead at t 33.5–36
			ID: 4, Kind: 2, Length: 7.5, Width: 2.3, Height: 2.8, Color: [3]uint8{230, 230, 230},
			script: func(s float64, ego EgoState) (float64, float64, float64, float64, bool) {
				if s < 28 || s > 55 {
					return 0, 0, 0, 0, false
				}
				e28 := sc.Ego(28)
				prof := profile{{28, 0}, {35.5, 2}, {40, 0}}
				x, v, _ := kinematics(prof, rise, e28.X+60, 20, s)
				y, dy := smoothstep(33.5, 36, s)
				return x, -LaneWidth * (1 - y), v, LaneWidth * dy, true
			},
		},
		{ // 5: pedestrian crossing right to left 10 m ahead of the stopped ego, t 43–51
			ID: 5, Kind: 3, Length: 0.5, Width: 0.6, Height: 1.75, Color: [3]uint8{30, 160, 60},
			script: func(s float64, ego EgoState) (float64, float64, float64, float64, bool) {
				if s < 38 || s > 56 {
					return 0, 0, 0, 0, false
				}
				x := sc.Ego(45).X + EgoLength/2 + 10
				switch {
				case s < 43:
					return x, -6, 0, 0, true
				case s < 51:
					return x, -6 + 1.5*(s-43), 0, 1.5, true
				}
				return x, 6, 0, 0, true
			},
		},
	}
}

// GNSSOutage reports whether the receiver has no fix at scenario time s (a tunnel).
func GNSSOutage(s float64) bool { return s >= 50 && s < 56 }

// Quiet lists the scenario's quiet stretches: nothing happens that should raise a
// warning.
var Quiet = [][2]float64{{0, 9.5}, {56, 60}}

// Events lists the scripted events with their scenario times, for tests.
var Events = struct {
	LeadBrake    float64 // lead car starts braking
	CutInLeft    [2]float64
	CutInRight   [2]float64
	CutOut       [2]float64
	Pedestrian   [2]float64
	GNSSOutage   [2]float64
	CutInLeftID  int32
	CutInRightID int32
	LeadID       int32
	PedestrianID int32
}{LeadBrake: 10, CutInLeft: [2]float64{27, 29.5}, CutInRight: [2]float64{33.5, 36}, CutOut: [2]float64{17, 20},
	Pedestrian: [2]float64{43, 51}, GNSSOutage: [2]float64{50, 56}, CutInLeftID: 3, CutInRightID: 4, LeadID: 1, PedestrianID: 5}

// World is the scenario evaluated at one instant of a (possibly repeated) drive.
type World struct {
	T      float64 // seconds since the drive's start
	S      float64 // scenario time within the period
	Lap    int     // how many periods have passed
	Ego    EgoState
	EgoX   float64 // ego position including previous laps (for lane-marking phase)
	Actors []ActorState
}

// At evaluates the default scenario at drive time t (seconds).
func At(actors []*Actor, t float64) World { return Scenario{}.At(actors, t) }

// At evaluates the scenario at drive time t (seconds); actors are the scenario's
// (sc.Actors()).
func (sc Scenario) At(actors []*Actor, t float64) World {
	lap := int(math.Floor(t / Period))
	s := t - float64(lap)*Period
	ego := sc.Ego(s)
	w := World{T: t, S: s, Lap: lap, Ego: ego, EgoX: ego.X + float64(lap)*sc.Ego(Period).X}
	for _, a := range actors {
		x, y, vx, vy, ok := a.script(s, ego)
		if !ok {
			continue
		}
		w.Actors = append(w.Actors, ActorState{Actor: a, X: x, Y: y, VX: vx, VY: vy})
	}
	return w
}
