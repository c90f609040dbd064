// Package synth scripts small driving scenarios for the perception tests until (and
// besides) the simulator: the ego car and other road users move by scripted speed and
// lateral-position profiles; every frame set carries schema.Truth rows with the boxes
// a calibrated camera sees (projected with ranging.Calibration.Project) and the true
// distance, lateral offset, relative speed, TTC and cut-in flag.
package synth

import (
	"maps"
	"math"
	"slices"

	"roadlog/detect/pipeline"
	"roadlog/detect/ranging"
	"roadlog/schema"
)

// Front is a windscreen camera: 1920×1080, 69° horizontal field of view, 1.3 m up,
// 1.8 m behind the front bumper, pitched 0.5° down.
var Front = ranging.Calibration{Width: 1920, Height: 1080, Fx: 1400, Fy: 1400, Cx: 960, Cy: 540,
	MountHeight: 1.3, Pitch: 0.5 * math.Pi / 180, X: -1.8}

// Actor is a scripted road user: a road-aligned cuboid.
type Actor struct {
	ID      int32
	Kind    schema.ActorKind
	W, L, H float64 // m
	X0      float64 // m, initial near-edge distance ahead of the ego front bumper
	// Speed is the actor's speed along the road, m/s, at time t s.
	Speed func(t float64) float64
	// Lateral is the actor centre's lateral offset, m (left positive), at time t.
	Lateral func(t float64) float64
	// CutIn reports whether the actor is cutting into the ego lane at time t.
	CutIn func(t float64) bool
}

// Scenario is a scripted drive.
type Scenario struct {
	Name     string
	Duration float64 // s
	Rate     float64 // frame sets per second (default 30)
	Start    int64   // reference time of t = 0, ns (default 2026-01-01T00:00:00Z)
	// EgoSpeed is the ego speed, m/s, at time t.
	EgoSpeed func(t float64) float64
	// EgoLateral, if set, is the ego's own lateral offset on the road, m (left
	// positive), at time t: the ego changes lanes. Its heading then follows its path
	// (atan of the lateral speed over the speed), the ego rows carry the yaw rate, and
	// the actors are seen in the ego's turned frame.
	EgoLateral func(t float64) float64
	// EgoSignal, if set, is the ego's turn signal at time t: +1 left, −1 right, 0 off.
	EgoSignal func(t float64) int
	// Curvature is the road's, 1/m (left positive; 0: straight), or CurvatureAt, if
	// set, the road's curvature at arc length s m from where the ego starts (a curve
	// entry: a clothoid). Distances along the road (X0, the gaps) are arc lengths,
	// lateral offsets are from the centre line; the actors are turned with the road,
	// and the ego's yaw rate carries the curve.
	Curvature   float64
	CurvatureAt func(s float64) float64
	Cameras     map[uint8]ranging.Calibration
	Actors      []Actor
}

// Step is one frame set of a scenario, with the ego row of that instant.
type Step struct {
	FrameSet pipeline.FrameSet
	Ego      schema.Ego
	// State holds each actor's state row (Camera 255), by actor id.
	State map[int32]schema.Truth
}

// Run integrates the scenario and returns its frame sets.
func (s *Scenario) Run() []Step {
	rate := s.Rate
	if rate == 0 {
		rate = 30
	}
	start := s.Start
	if start == 0 {
		start = 1767225600e9
	}
	const sub = 20 // integration substeps per frame
	x := make([]float64, len(s.Actors))
	for i, a := range s.Actors {
		x[i] = a.X0
	}
	cams := slices.Sorted(maps.Keys(s.Cameras))
	n := int(s.Duration*rate) + 1
	rd := s.road()
	se := 0.0 // the ego's arc length
	out := make([]Step, 0, n)
	dt := 1 / rate
	for f := 0; f < n; f++ {
		t := float64(f) * dt
		if f > 0 { // advance from t−dt to t (midpoint rule)
			for k := 0; k < sub; k++ {
				tm := t - dt + (float64(k)+0.5)*dt/sub
				ve := s.EgoSpeed(tm) * math.Cos(s.egoPsi(tm)) // along the road
				se += ve * dt / sub
				for i, a := range s.Actors {
					x[i] += (a.Speed(tm) - ve) * dt / sub
				}
			}
		}
		tn := start + int64(math.Round(t*1e9))
		st := Step{State: map[int32]schema.Truth{}}
		st.FrameSet = pipeline.FrameSet{T: tn, TriggerID: int64(f)}
		for _, cam := range cams {
			c := s.Cameras[cam]
			st.FrameSet.Frames = append(st.FrameSet.Frames, pipeline.Frame{Camera: cam, Seq: int64(f), Width: c.Width, Height: c.Height})
		}
		ve := s.EgoSpeed(t)
		psi, yawRate := s.egoHeading(t)
		yawRate += ve * math.Cos(psi) * rd.k(se)
		st.Ego = *schema.NewEgo()
		st.Ego.T, st.Ego.Source, st.Ego.Speed, st.Ego.YawRate, st.Ego.SteeringAngle = tn, "sim", float32(ve), float32(yawRate*180/math.Pi), 0
		if s.EgoSignal != nil {
			st.Ego.TurnLeft, st.Ego.TurnRight = s.EgoSignal(t) > 0, s.EgoSignal(t) < 0
		}
		// actor i in the ego's frame at time u (the ego at arc length eu), gap xr m
		// along the road ahead, and its yaw there
		pose := func(i int, u, eu, xr float64) (x, y, yaw float64) {
			ex, ey, eh := rd.at(eu, s.egoY(u))
			ax, ay, ah := rd.at(eu+xr, s.Actors[i].Lateral(u))
			h := eh + s.egoPsi(u)
			c, sn := math.Cos(h), math.Sin(h)
			dx, dy := ax-ex, ay-ey
			return dx*c + dy*sn, -dx*sn + dy*c, ah - h
		}
		// lanes and the in-path actor go by the offset across the road from the ego
		inPath, best := int32(-1), math.Inf(1)
		for i, a := range s.Actors {
			if xv, _, _ := pose(i, t, se, x[i]); math.Abs(a.Lateral(t)-s.egoY(t)) < 1.8 && xv > 0 && xv < best {
				inPath, best = a.ID, xv
			}
		}
		for i, a := range s.Actors {
			xv, y, yaw := pose(i, t, se, x[i])
			rel := a.Speed(t) - ve
			if s.EgoLateral != nil || rd.curved { // the range's rate in the turned frame
				const h = 1e-4
				ea := ve * math.Cos(psi) // the ego's speed along the road
				along := a.Speed(t) - ea // the gap's rate
				xa, _, _ := pose(i, t+h, se+ea*h, x[i]+along*h)
				xb, _, _ := pose(i, t-h, se-ea*h, x[i]-along*h)
				rel = (xa - xb) / (2 * h)
			}
			ttc := math.NaN()
			if xv > 0 && rel < 0 {
				ttc = xv / -rel
			}
			lane, yr := schema.LaneOther, a.Lateral(t)-s.egoY(t)
			switch {
			case math.Abs(yr) <= 1.8:
				lane = schema.LaneEgo
			case yr > 1.8 && yr <= 5.4:
				lane = schema.LaneLeft
			case yr < -1.8 && yr >= -5.4:
				lane = schema.LaneRight
			}
			cut := a.CutIn != nil && a.CutIn(t)
			row := schema.Truth{T: tn, TriggerID: int64(f), ActorID: a.ID, Kind: a.Kind, Camera: schema.TruthNoCamera,
				X1: nan32, Y1: nan32, X2: nan32, Y2: nan32, Distance: float32(xv), Lateral: float32(y),
				RelSpeed: float32(rel), TTC: float32(ttc), Width: float32(a.W), Lane: lane, CutIn: cut, InPath: a.ID == inPath}
			st.State[a.ID] = row
			st.FrameSet.Truth = append(st.FrameSet.Truth, row)
			for _, cam := range cams {
				c := s.Cameras[cam]
				if b, ok := boxTurned(c, xv, y, a.W, a.L, a.H, yaw); ok {
					r := row
					r.Camera = cam
					r.X1, r.Y1, r.X2, r.Y2 = float32(b[0]), float32(b[1]), float32(b[2]), float32(b[3])
					st.FrameSet.Truth = append(st.FrameSet.Truth, r)
				}
			}
		}
		out = append(out, st)
	}
	return out
}

var nan32 = float32(math.NaN())

// Box projects a road-aligned cuboid — near edge x m ahead of the front bumper
// (extending to x+l), centre y, width w, height h — into camera c, clipped to the
// image; ok is false when any corner is behind the camera or nothing is in view.
func Box(c ranging.Calibration, x, y, w, l, h float64) (b [4]float64, ok bool) {
	return boxTurned(c, x, y, w, l, h, 0)
}

// boxTurned is Box for a cuboid turned by yaw (rad, left positive) about the middle
// of its near face.
func boxTurned(c ranging.Calibration, x, y, w, l, h, yaw float64) (b [4]float64, ok bool) {
	x1, y1, x2, y2 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	cy, sy := math.Cos(yaw), math.Sin(yaw)
	for _, dx := range []float64{0, l} {
		for _, dy := range []float64{-w / 2, w / 2} {
			for _, pz := range []float64{0, h} {
				u, v, in := c.Project(x+dx*cy-dy*sy, y+dx*sy+dy*cy, pz)
				if !in {
					return b, false
				}
				x1, x2 = math.Min(x1, u), math.Max(x2, u)
				y1, y2 = math.Min(y1, v), math.Max(y2, v)
			}
		}
	}
	W, H := float64(c.Width), float64(c.Height)
	x1, x2 = math.Max(x1, 0), math.Min(x2, W)
	y1, y2 = math.Max(y1, 0), math.Min(y2, H)
	if x2-x1 < 1 || y2-y1 < 1 {
		return b, false
	}
	return [4]float64{x1, y1, x2, y2}, true
}

// Const returns a constant profile.
func Const(v float64) func(float64) float64 { return func(float64) float64 { return v } }

// Brake returns a speed profile: v0 until t0, then decelerating at a m/s² down to vEnd.
func Brake(v0, t0, a, vEnd float64) func(float64) float64 {
	return func(t float64) float64 {
		if t < t0 {
			return v0
		}
		return math.Max(vEnd, v0-a*(t-t0))
	}
}

// LaneChange returns a lateral profile moving from y0 to y1 between t0 and t0+d on a
// smoothstep (as the simulator's scenario does), and the cut-in flag: true during the
// manoeuvre when it ends nearer the ego lane's centre.
func LaneChange(y0, y1, t0, d float64) (lat func(float64) float64, cutIn func(float64) bool) {
	lat = func(t float64) float64 {
		switch {
		case t <= t0:
			return y0
		case t >= t0+d:
			return y1
		}
		u := (t - t0) / d
		return y0 + (y1-y0)*u*u*(3-2*u)
	}
	cutIn = func(t float64) bool { return math.Abs(y1) < math.Abs(y0) && t >= t0 && t < t0+d }
	return lat, cutIn
}

// egoY is the ego's lateral offset on the road at t (0 without EgoLateral).
func (s *Scenario) egoY(t float64) float64 {
	if s.EgoLateral == nil {
		return 0
	}
	return s.EgoLateral(t)
}

// egoPsi is the ego's heading at t, rad (left positive): along its path.
func (s *Scenario) egoPsi(t float64) float64 {
	if s.EgoLateral == nil {
		return 0
	}
	const h = 1e-4
	return math.Atan2((s.EgoLateral(t+h)-s.EgoLateral(t-h))/(2*h), math.Max(s.EgoSpeed(t), 0.1))
}

// egoHeading returns the ego's heading (rad) and yaw rate (rad/s) at t.
func (s *Scenario) egoHeading(t float64) (psi, rate float64) {
	const h = 1e-3
	return s.egoPsi(t), (s.egoPsi(t+h) - s.egoPsi(t-h)) / (2 * h)
}

// road is the centre line as a table of points and headings every step m of arc
// length from −margin, integrated from its curvature.
type road struct {
	k      func(s float64) float64
	curved bool
	x, y   []float64
	h      []float64
}

const (
	roadStep   = 0.05
	roadMargin = 100.0
)

func (s *Scenario) road() *road {
	r := &road{k: s.CurvatureAt}
	if r.k == nil {
		k := s.Curvature
		r.k = func(float64) float64 { return k }
	}
	r.curved = s.CurvatureAt != nil || s.Curvature != 0
	if !r.curved {
		return r
	}
	far := 0.0 // the farthest arc length the drive can reach
	for _, a := range s.Actors {
		far = math.Max(far, a.X0)
	}
	far += 60*s.Duration + 2*roadMargin
	n := int((far+roadMargin)/roadStep) + 2
	r.x, r.y, r.h = make([]float64, n), make([]float64, n), make([]float64, n)
	// from the ego's start (index i0) forwards and backwards, midpoint rule
	i0 := int(roadMargin / roadStep)
	for i := i0 + 1; i < n; i++ {
		sm := (float64(i-i0) - 0.5) * roadStep
		hm := r.h[i-1] + r.k(sm)*roadStep/2
		r.h[i] = r.h[i-1] + r.k(sm)*roadStep
		r.x[i], r.y[i] = r.x[i-1]+math.Cos(hm)*roadStep, r.y[i-1]+math.Sin(hm)*roadStep
	}
	for i := i0 - 1; i >= 0; i-- {
		sm := (float64(i-i0) + 0.5) * roadStep
		hm := r.h[i+1] - r.k(sm)*roadStep/2
		r.h[i] = r.h[i+1] - r.k(sm)*roadStep
		r.x[i], r.y[i] = r.x[i+1]-math.Cos(hm)*roadStep, r.y[i+1]-math.Sin(hm)*roadStep
	}
	return r
}

// at returns the point d m left of the centre line at arc length s, and the road's
// heading there.
func (r *road) at(s, d float64) (x, y, h float64) {
	if !r.curved {
		return s, d, 0
	}
	f := s/roadStep + roadMargin/roadStep
	i := min(max(int(f), 0), len(r.x)-2)
	u := f - float64(i)
	x = r.x[i] + u*(r.x[i+1]-r.x[i])
	y = r.y[i] + u*(r.y[i+1]-r.y[i])
	h = r.h[i] + u*(r.h[i+1]-r.h[i])
	return x - d*math.Sin(h), y + d*math.Cos(h), h
}
