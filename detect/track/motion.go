package track

import "math"

// MotionConfig tunes a Motion filter. The zero value of a field selects its default.
type MotionConfig struct {
	// JerkNoise is the spectral density of the longitudinal white-noise jerk,
	// m²/s⁵ (default 40: a lead car going from cruising to full braking within a
	// few tenths of a second stays inside the model).
	JerkNoise float64
	// LatAccelNoise is the spectral density of the lateral white-noise acceleration,
	// m²/s³ (default 2).
	LatAccelNoise float64
	// Gate is the innovation, in standard deviations, beyond which a measurement is
	// treated as an outlier and folded in with its variance inflated to fit (default 5).
	Gate float64
	// InitSpeedSigma is the 1-sigma of the unknown relative speed at track start, m/s
	// (default 10).
	InitSpeedSigma float64
}

func (c MotionConfig) withDefaults() MotionConfig {
	if c.JerkNoise == 0 {
		c.JerkNoise = 40
	}
	if c.LatAccelNoise == 0 {
		c.LatAccelNoise = 2
	}
	if c.Gate == 0 {
		c.Gate = 5
	}
	if c.InitSpeedSigma == 0 {
		c.InitSpeedSigma = 10
	}
	return c
}

// Motion is the metric motion filter of one tracked object relative to the ego
// vehicle: longitudinal distance with constant-acceleration dynamics, lateral offset
// with constant-velocity dynamics, fed by the ranged measurements of each frame. It
// yields the relative speed and its standard deviation that objects.arrow records,
// and the relative acceleration the emergency-brake logic needs. The zero value is not
// usable: call Init with the first measurement.
type Motion struct {
	cfg  MotionConfig
	lon  kf3
	lat  kf2
	last int64
	n    int
}

// Measurement is one ranged observation of an object.
type Measurement struct {
	T                     int64   // ns
	Distance, DistSigma   float64 // m
	Lateral, LateralSigma float64 // m
}

// MotionState is the filtered relative motion of an object.
type MotionState struct {
	Distance, DistanceStd float64 // m
	RelSpeed, RelSpeedStd float64 // m/s, rate of change of distance (negative: closing)
	RelAccel              float64 // m/s²
	Lateral, LatSpeed     float64 // m, m/s (left positive)
	LatSpeedStd           float64 // m/s
	Updates               int     // measurements folded in
}

// NewMotion starts a filter at the first measurement.
func NewMotion(cfg MotionConfig, m Measurement) *Motion {
	cfg = cfg.withDefaults()
	return &Motion{
		cfg:  cfg,
		lon:  newKF3(m.Distance, m.DistSigma, cfg.InitSpeedSigma, 3),
		lat:  newKF2(m.Lateral, m.LateralSigma, 1.5),
		last: m.T,
		n:    1,
	}
}

// Predict moves the state to time t (ns) without a measurement. Times at or before
// the last one are ignored.
func (f *Motion) Predict(t int64) {
	if t <= f.last {
		return
	}
	dt := float64(t-f.last) / 1e9
	f.lon.predict(dt, f.cfg.JerkNoise)
	f.lat.predictWNA(dt, f.cfg.LatAccelNoise)
	f.last = t
}

// Update predicts to m.T and folds the measurement in. A measurement with a NaN
// distance or sigma only predicts.
func (f *Motion) Update(m Measurement) {
	f.Predict(m.T)
	if math.IsNaN(m.Distance) || !(m.DistSigma > 0) {
		return
	}
	r := m.DistSigma * m.DistSigma
	if y, s := f.lon.innovation(m.Distance, r); y*y > f.cfg.Gate*f.cfg.Gate*s {
		r += y*y/(f.cfg.Gate*f.cfg.Gate) - s // inflate so the residual sits on the gate
	}
	f.lon.update(m.Distance, r)
	if !math.IsNaN(m.Lateral) && m.LateralSigma > 0 {
		rl := m.LateralSigma * m.LateralSigma
		if y, s := m.Lateral-f.lat.x, f.lat.pxx+rl; y*y > f.cfg.Gate*f.cfg.Gate*s {
			rl += y*y/(f.cfg.Gate*f.cfg.Gate) - s
		}
		f.lat.update(m.Lateral, rl)
	}
	f.n++
}

// State returns the filtered state at the last update.
func (f *Motion) State() MotionState {
	return MotionState{
		Distance: f.lon.s[0], DistanceStd: math.Sqrt(f.lon.p[0][0]),
		RelSpeed: f.lon.s[1], RelSpeedStd: math.Sqrt(f.lon.p[1][1]),
		RelAccel: f.lon.s[2],
		Lateral:  f.lat.x, LatSpeed: f.lat.v, LatSpeedStd: math.Sqrt(f.lat.pvv),
		Updates: f.n,
	}
}

// TTC returns the time to collision, s: distance over closing speed while the object
// is ahead and closing faster than minClosing m/s, NaN otherwise.
func (s MotionState) TTC(minClosing float64) float64 {
	if s.Distance <= 0 || -s.RelSpeed <= minClosing {
		return math.NaN()
	}
	return s.Distance / -s.RelSpeed
}
