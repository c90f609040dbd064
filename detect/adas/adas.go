// Package adas turns the tracked, ranged objects of a frame set into the ADAS view of
// the road ahead: the ego path corridor from speed and yaw rate (or steering), lane
// assignment relative to that path, the closest in-path vehicle, cut-in and cut-out
// detection, forward-collision and emergency-brake warnings, and the events that mark
// when each begins and ends.
package adas

import (
	"math"

	"roadlog/schema"
)

// Config tunes an Assessor. The zero value of a field selects its default.
type Config struct {
	LaneWidth    float64 // m, width of the virtual lanes centred on the ego path (3.6)
	EgoWidth     float64 // m, ego vehicle width (1.9)
	InPathMargin float64 // m added to the ego half-width for the in-path test (0.2)
	Wheelbase    float64 // m (2.8)
	SteerRatio   float64 // steering-wheel angle per road-wheel angle (15)
	// AxleToBumper is the distance from the rear axle (where the path's curvature is
	// taken) to the front bumper, m (3.7).
	AxleToBumper float64
	// MinYawSpeed is the ego speed below which the path comes from the steering angle
	// instead of the yaw rate, m/s (3).
	MinYawSpeed float64
	MaxRange    float64 // m, objects beyond are ignored (150)

	// CutInZone is the length ahead of the front bumper of the left and right cut-in
	// zones (the adjacent lanes), m (40).
	CutInZone float64
	// CutInLatSpeed is the least lateral speed towards the ego path that counts as a
	// lane change, m/s (0.2), after taking off CutInSigmas standard deviations of its
	// estimate (0.5: the estimate is noisier far away).
	CutInLatSpeed, CutInSigmas float64
	// CutInHorizon: a vehicle is cutting in when, at its lateral speed, it reaches the
	// ego lane within this time, s (5) — lane keeping sways too slowly to get there.
	CutInHorizon float64
	// CutInConfirm is how long the cut-in (or cut-out) condition must hold before it
	// is flagged, s (0.1).
	CutInConfirm float64
	// CutInMinAge is how long a track must have been followed before its lateral
	// speed is trusted for cut-in and cut-out, s (0.5).
	CutInMinAge float64
	// EgoLaneChangeHold: while one of the ego's turn signals is on (Ego.Signal), and
	// for this long after it went off, s (1.5; negative: no hold), no cut-in or cut-out
	// begins. The ego changing lanes moves
	// every other vehicle across its own frame (the car in the lane it enters
	// seems to cut in, at 1 m/s for a lane change in 5 s), and with no lane markings
	// seen that cannot be told from the vehicle's own move; the hold bridges a
	// blinking lamp signal and lets the filters' lateral speeds settle after the ego's
	// heading straightens. An unsignalled lane change of the ego is not recognised.
	EgoLaneChangeHold float64

	FCWTTC        float64 // s, forward-collision warning below this TTC while closing (2.7)
	FCWMinClosing float64 // m/s, least closing speed for a warning (0.5)
	FCWMinSpeed   float64 // m/s, no warnings while the ego is slower (2; unknown speed: allowed)
	// FCWSigmas: a warning is raised only while the closing speed exceeds
	// FCWMinClosing by this many of its standard deviations (1): a track too new or too
	// noisy to know that it closes (a false alarm that lasted a few frames) raises none.
	FCWSigmas float64
	AEBTTC    float64 // s, emergency-brake warning below this TTC (1.5)
	AEBDecel  float64 // m/s², … or when avoiding the collision needs more deceleration (8)
	// ClearMargin is how far the TTC must rise above a warning's threshold before the
	// warning clears, s (0.3); ClearHold how long it must stay there, s (0.5).
	ClearMargin, ClearHold float64
}

func (c Config) withDefaults() Config {
	def := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.LaneWidth, 3.6)
	def(&c.EgoWidth, 1.9)
	def(&c.InPathMargin, 0.2)
	def(&c.Wheelbase, 2.8)
	def(&c.SteerRatio, 15)
	def(&c.AxleToBumper, 3.7)
	def(&c.MinYawSpeed, 3)
	def(&c.MaxRange, 150)
	def(&c.CutInZone, 40)
	def(&c.CutInLatSpeed, 0.2)
	def(&c.CutInSigmas, 0.5)
	def(&c.CutInHorizon, 5)
	def(&c.CutInConfirm, 0.1)
	def(&c.CutInMinAge, 0.5)
	def(&c.EgoLaneChangeHold, 1.5)
	def(&c.FCWTTC, 2.7)
	def(&c.FCWMinClosing, 0.5)
	def(&c.FCWMinSpeed, 2)
	def(&c.FCWSigmas, 1)
	def(&c.AEBTTC, 1.5)
	def(&c.AEBDecel, 8)
	def(&c.ClearMargin, 0.3)
	def(&c.ClearHold, 0.5)
	return c
}

// Ego is the ego vehicle's state as the path needs it.
type Ego struct {
	Speed         float64 // m/s (NaN: unknown)
	YawRate       float64 // deg/s, left positive (NaN: unknown)
	SteeringAngle float64 // deg at the steering wheel, left positive (NaN: unknown)
	// Signal: one turn signal is on (not both: hazard lights), so the ego is about to
	// change lanes or is changing them.
	Signal bool
}

// EgoFrom takes the path inputs from an ego row (nil: all unknown).
func EgoFrom(e *schema.Ego) Ego {
	if e == nil {
		return Ego{Speed: math.NaN(), YawRate: math.NaN(), SteeringAngle: math.NaN()}
	}
	return Ego{Speed: float64(e.Speed), YawRate: float64(e.YawRate), SteeringAngle: float64(e.SteeringAngle), Signal: e.TurnLeft != e.TurnRight}
}

// Object is one tracked, ranged object as the assessor sees it; Assess fills the
// output fields.
type Object struct {
	TrackID     int64
	Class       uint16
	Vehicle     bool    // may be the closest in-path vehicle
	RoadUser    bool    // vehicle, person or bicycle: may cause a warning
	Distance    float64 // m, near edge ahead of the front bumper
	Lateral     float64 // m, centre, left positive
	Width       float64 // m (NaN: unknown)
	RelSpeed    float64 // m/s (negative: closing)
	RelSpeedStd float64 // m/s
	ObjAccel    float64 // m/s², the object's own acceleration along x (NaN: unknown)
	ObjAccelStd float64 // m/s², its 1-sigma
	LatSpeed    float64 // m/s, left positive
	LatSpeedStd float64 // m/s
	TTC         float64 // s (NaN: not closing)
	Age         float64 // s since the track's first measurement

	// outputs
	Lane   schema.Lane
	Manner schema.Manner
	InPath bool
	PathDY float64 // m, lateral offset from the ego path (left positive)
}

// curvature returns the ego path's curvature, 1/m (left positive).
func (c *Config) curvature(e Ego) float64 {
	if !math.IsNaN(e.YawRate) && e.Speed >= c.MinYawSpeed {
		return e.YawRate * math.Pi / 180 / e.Speed
	}
	if !math.IsNaN(e.SteeringAngle) {
		return math.Tan(e.SteeringAngle*math.Pi/180/c.SteerRatio) / c.Wheelbase
	}
	return 0
}

// pathY returns the ego path's lateral offset x m ahead of the front bumper.
func (c *Config) pathY(kappa, x float64) float64 {
	if x <= 0 {
		return 0
	}
	s := x + c.AxleToBumper
	s0 := c.AxleToBumper
	return kappa / 2 * (s*s - s0*s0)
}

func (c *Config) lane(dy float64) schema.Lane {
	h := c.LaneWidth / 2
	switch {
	case math.IsNaN(dy):
		return schema.LaneUnknown
	case math.Abs(dy) <= h:
		return schema.LaneEgo
	case dy > h && dy <= 3*h:
		return schema.LaneLeft
	case dy < -h && dy >= -3*h:
		return schema.LaneRight
	}
	return schema.LaneOther
}
