package track

import "math"

// MotionConfig tunes a Motion filter. The zero value of a field selects its default.
type MotionConfig struct {
	// SteadyNoise is the spectral density of the white-noise relative acceleration of
	// the steady model (both vehicles holding their speed, give or take), m²/s³
	// (default 0.01).
	SteadyNoise float64
	// HoldNoise is the spectral density of the white-noise jerk of the holding model
	// (the object keeps an acceleration: a steady braking or pulling away), m²/s⁵
	// (default 0.2).
	HoldNoise float64
	// ManeuverNoise is the spectral density of the white-noise jerk of the
	// manoeuvring model (the object's acceleration changing: brake pressure building,
	// a driver letting go of the brake), m²/s⁵ (default 30).
	ManeuverNoise float64
	// SteadyTime, HoldTime and ManeuverTime are the mean times spent in each model
	// before switching, s (defaults 5 s, 2 s and 0.3 s: a change of acceleration takes
	// the fraction of a second that brakes and drivers need; an acceleration, once
	// reached, is held for a while). A change goes steady → manoeuvre → hold or steady,
	// hold → manoeuvre.
	SteadyTime, HoldTime, ManeuverTime float64
	// LatKeepNoise is the spectral density of the lateral white-noise acceleration of
	// the lateral model that keeps a line (a lane, or a path across the road), m²/s³
	// (default 1).
	LatKeepNoise float64
	// LatChangeNoise is the spectral density of the lateral white-noise jerk of the
	// model that changes lines (a lane change starting or ending), m²/s⁵ (default 30).
	LatChangeNoise float64
	// LatRangeShare is the share of the filtered range's 1-sigma that a measurement
	// with a LateralSlope takes, times the slope, as lateral noise on top of its own
	// (default 0.5; negative: none): most of the filtered range's error is slow (a
	// size prior, the lag behind a car that starts to accelerate), and what of it
	// changes reaches the lateral offset as a false lateral speed.
	LatRangeShare float64
	// LatKeepTime and LatChangeTime are the mean times spent in each lateral model
	// before switching, s (defaults 5 s and 1 s).
	LatKeepTime, LatChangeTime float64
	// Gate is the innovation, in standard deviations, beyond which a measurement is
	// treated as an outlier and folded in with its variance inflated to fit (default 5).
	Gate float64
	// LoomLatSpeedSigma is the least uncertainty of the lateral speed, m/s, that a
	// looming measurement of a camera looking across the road counts as its noise
	// (default 1.0: a person standing at the kerb may start to cross at any time, and
	// the lateral filter sees it only after a few frames; with 0.5 the start of the
	// simulator's pedestrian's crossing read as 1.8 m/s of closing, and 1.5, a walking
	// pace and the default until stop 22, discounted a corner camera's looming of
	// people more than it needs: the 8-camera rig's TTC maxima over 12 seeds stayed
	// or fell at 1.0, by up to 7 points at 640×360).
	LoomLatSpeedSigma float64
	// InitSpeed is the relative speed a new track starts from, m/s (default 0: moving
	// with the ego), and InitSpeedSigma its 1-sigma (default 10).
	InitSpeed, InitSpeedSigma float64
}

func (c MotionConfig) withDefaults() MotionConfig {
	def := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.SteadyNoise, 0.01)
	def(&c.HoldNoise, 0.2)
	def(&c.ManeuverNoise, 30)
	def(&c.SteadyTime, 5)
	def(&c.HoldTime, 2)
	def(&c.ManeuverTime, 0.3)
	def(&c.LatKeepNoise, 1)
	def(&c.LatRangeShare, 0.5)
	c.LatRangeShare = max(c.LatRangeShare, 0)
	def(&c.LatChangeNoise, 30)
	def(&c.LatKeepTime, 5)
	def(&c.LatChangeTime, 1)
	def(&c.Gate, 5)
	def(&c.InitSpeedSigma, 10)
	def(&c.LoomLatSpeedSigma, 1.0)
	return c
}

// Measurement is one ranged observation of an object.
type Measurement struct {
	T int64 // ns
	// Drive is the acceleration of the range that the ego vehicle's own acceleration
	// causes since the last measurement, m/s² (minus the ego's acceleration for a
	// longitudinal distance); it is known from the vehicle bus, so the filter's models
	// describe the object's own motion. NaN or 0: none known.
	Drive float64
	// Range is the object's range, m, and RangeSigma its 1-sigma.
	Range, RangeSigma float64
	// Lateral is the object's lateral offset, m, and LateralSigma the 1-sigma of its
	// frame-to-frame error.
	Lateral, LateralSigma float64
	// LateralSlope, when set (not 0 or NaN), is how Lateral moves with Range along the
	// line of sight: the filter then takes the lateral offset at its own, filtered
	// range (Lateral + (filtered − Range)·LateralSlope), so that the range's noise and
	// jumps do not reach the lateral, and LateralSigma is the error at a known range.
	LateralSlope float64
	// Loom, when LoomDT > 0, is how much the object's image grew since the track's
	// looming key frame, LoomDT seconds earlier: ln(scale now / scale then), measured
	// from its pixels (image alignment), not from its box. The image scale goes with
	// 1/depth along the camera's optical axis: for a camera at (LoomOrigin,
	// LoomOriginY) looking at yaw LoomYaw (rad, 0 ahead, π behind) the depth is
	// (Range − LoomOrigin)·cos + (lateral − LoomOriginY)·sin, the lateral taken from
	// the filter. Ahead or behind, Loom measures the range's change against the range
	// itself: it carries no size prior or pitch, and a filter whose range is off by a
	// constant factor reads a speed off by the same factor, which leaves the TTC true.
	//
	// Its error is the alignment's (loom.Noise): each frame's own — the scale a little
	// off, LoomFrame (1-sigma, log units), changing smoothly with correlation time
	// LoomCorr s — which the filter follows as a state, and the pair's own, LoomSigma.
	// LoomKey makes this frame the key frame of the looming measurements to come: the
	// filter keeps its range and its frame error beside the state, so the
	// measurements against one key frame are not taken as independent. A measurement
	// whose LoomDT does not reach back to the filter's key frame is left out.
	Loom, LoomSigma, LoomDT          float64
	LoomFrame, LoomCorr              float64
	LoomKey                          bool
	LoomOrigin, LoomOriginY, LoomYaw float64
}

// MotionState is the filtered relative motion of an object.
type MotionState struct {
	Range, RangeStd       float64 // m
	RelSpeed, RelSpeedStd float64 // m/s, rate of change of the range (negative: closing)
	// ObjAccel is the object's own acceleration along the range (what is left of the
	// range's acceleration once the ego's drive is taken out), m/s², with its 1-sigma;
	// RelAccel the range's whole acceleration.
	ObjAccel, ObjAccelStd float64
	RelAccel              float64
	Maneuver              float64 // probability that the object accelerates (holding or manoeuvring models), 0..1
	Lateral, LatSpeed     float64 // m, m/s (left positive)
	LatSpeedStd           float64 // m/s
	Updates               int     // measurements folded in
	// LoomNIS is the looming measurement's normalised innovation squared at the last
	// update (NaN: none folded in): on average near 1 where the filter weighs looming
	// as noisy as it is, above where it trusts it too much.
	LoomNIS float64
}

// Models of the longitudinal IMM.
const (
	mSteady = iota // constant velocity
	mHold          // constant acceleration, slowly changing
	mMan           // constant acceleration, quickly changing
	nModels
)

// Models of the lateral IMM.
const (
	lKeep   = iota // constant velocity: keeping its lane, or its line across the road
	lChange        // constant acceleration, quickly changing: a lane change starting or ending
)

// Motion is the metric motion filter of one tracked object relative to the ego
// vehicle. The range runs through an interacting-multiple-model filter of three
// models of the object's own motion — steady (it holds its speed: smooth estimates),
// holding an acceleration (a steady braking) and manoeuvring (its acceleration
// changing: quick to follow a car that starts or stops braking) — mixed by how well
// each explains the measurements; the ego's own acceleration, known from the vehicle
// bus, drives the range on top. The lateral offset runs through an IMM of two models:
// keeping a line (constant lateral speed, a little wander) and changing it (lateral
// acceleration that comes and goes: the start of a lane change shows within a few
// frames instead of being smoothed away as wander). It yields the relative speed and
// its standard deviation that objects.arrow records, and the relative acceleration
// the emergency-brake logic needs.
type Motion struct {
	cfg   MotionConfig
	lon   imm
	lat   imm
	last  int64
	n     int
	drive float64 // the last drive, m/s²
	// looming: the key frame's time (0: none) and the lateral offset then, and when
	// the frame error was last moved (0: not yet)
	key, loomT int64
	keyLat     float64
	loomNIS    float64 // of the last update's looming measurement (NaN: none)
}

// NewMotion starts a filter at the first measurement; ok is false when the
// measurement has no usable range.
func NewMotion(cfg MotionConfig, m Measurement) (f *Motion, ok bool) {
	if !usable(m) {
		return nil, false
	}
	cfg = cfg.withDefaults()
	lon := []model{
		mSteady: {q: cfg.SteadyNoise, stay: cfg.SteadyTime, next: [nModels]float64{mMan: 1}},
		mHold:   {ca: true, q: cfg.HoldNoise, stay: cfg.HoldTime, next: [nModels]float64{mMan: 1}},
		mMan:    {ca: true, q: cfg.ManeuverNoise, stay: cfg.ManeuverTime, next: [nModels]float64{mSteady: 0.5, mHold: 0.5}},
	}
	lat := []model{
		lKeep:   {q: cfg.LatKeepNoise, stay: cfg.LatKeepTime, next: [nModels]float64{lChange: 1}},
		lChange: {ca: true, q: cfg.LatChangeNoise, stay: cfg.LatChangeTime, next: [nModels]float64{lKeep: 1}},
	}
	y, sy := m.Lateral, m.LateralSigma
	if math.IsNaN(y) || !(sy > 0) { // no lateral yet: anywhere
		y, sy = 0, 100
	}
	f = &Motion{cfg: cfg, last: m.T, n: 1, loomNIS: math.NaN(),
		lon: newIMM(lon, []float64{0.7, 0.15, 0.15}, m.Range, m.RangeSigma, cfg.InitSpeed, cfg.InitSpeedSigma, 3),
		lat: newIMM(lat, []float64{0.9, 0.1}, y, sy, 0, 1.5, 1),
	}
	if m.LoomKey && m.LoomFrame > 0 && isFinite(m.LoomFrame+m.LoomCorr) {
		f.frameError(m)
		f.keyFrame(m)
	}
	return f, true
}

// usable reports whether m has a range: finite, with a positive 1-sigma. The range
// may be negative (an object behind the ego's front bumper, seen by a rearward or
// sideways camera); until stop 23 it had to be positive, and no object behind the
// ego got a speed or a TTC.
func usable(m Measurement) bool {
	return isFinite(m.Range) && m.RangeSigma > 0 && !math.IsInf(m.RangeSigma, 0)
}

// Predict moves the state to time t (ns) without a measurement, the range driven
// by drive m/s² (see Measurement.Drive). Times at or before the last one are ignored.
func (f *Motion) Predict(t int64, drive float64) {
	if t <= f.last {
		return
	}
	dt := float64(t-f.last) / 1e9
	f.last = t
	f.lon.predict(dt, drive)
	f.drive = drive
	f.lat.predict(dt, 0)
}

// Update predicts to m.T and folds the measurement in. A measurement without a usable
// range only predicts (and updates the lateral offset if it has one).
func (f *Motion) Update(m Measurement) {
	f.Predict(m.T, m.Drive)
	f.loomNIS = math.NaN()
	lat, rl := m.Lateral, m.LateralSigma*m.LateralSigma
	if usable(m) {
		f.lon.update(m.Range, m.RangeSigma*m.RangeSigma, f.cfg.Gate)
		f.n++
		if k := m.LateralSlope; k != 0 && !math.IsNaN(k) && !math.IsInf(k, 0) {
			c := f.lon.state()
			lat += (c.s[iD] - m.Range) * k
			rl += k * k * c.p[iD][iD] * f.cfg.LatRangeShare * f.cfg.LatRangeShare
		}
	}
	if !math.IsNaN(lat) && m.LateralSigma > 0 {
		f.lat.update(lat, rl, f.cfg.Gate)
	}
	if m.LoomFrame > 0 && isFinite(m.LoomFrame+m.LoomCorr+m.LoomOrigin+m.LoomOriginY+m.LoomYaw) {
		f.frameError(m)
		if m.LoomDT > 0 && m.LoomSigma > 0 && isFinite(m.Loom+m.LoomSigma+m.LoomDT) {
			f.updateLoom(m)
		}
		if m.LoomKey {
			f.keyFrame(m)
		}
	}
}

// frameError moves the alignment's frame error to m.T: it carries over as
// e^(−dt/LoomCorr) and tends to a spread of LoomFrame (an Ornstein–Uhlenbeck
// process); at the first looming measurement it starts from that spread.
func (f *Motion) frameError(m Measurement) {
	c, sd := 0.0, m.LoomFrame
	if f.loomT != 0 && m.LoomCorr > 0 && m.T > f.loomT {
		c = math.Exp(-float64(m.T-f.loomT) / 1e9 / m.LoomCorr)
	}
	f.loomT = m.T
	for i := range f.lon.models {
		k := &f.lon.m[i]
		k.s[iS] *= c
		for j := 0; j < nx; j++ {
			if j != iS {
				k.p[iS][j] *= c
				k.p[j][iS] *= c
			}
		}
		k.p[iS][iS] = c*c*k.p[iS][iS] + (1-c*c)*sd*sd
	}
}

// updateLoom folds in a looming measurement against the key frame.
func (f *Motion) updateLoom(m Measurement) {
	ref := m.T - int64(math.Round(m.LoomDT*1e9))
	if f.key == 0 || math.Abs(float64(ref-f.key)) > 2e6 { // not the filter's key frame (2 ms: a float32's rounding)
		return
	}
	l := f.lat.state()
	lat := l.s[iD]
	// a camera looking across the road sees the lateral motion in the scale too,
	// which this update takes as known: its uncertainty (at least
	// LoomLatSpeedSigma: a person may start to walk at any time) adds to the noise
	r := m.LoomSigma * m.LoomSigma
	if sn := math.Sin(m.LoomYaw); math.Abs(sn) > 1e-3 {
		c := f.lon.state()
		z1 := loomDepth(c.s[iD], lat, m)
		sv := math.Max(l.p[iV][iV], f.cfg.LoomLatSpeedSigma*f.cfg.LoomLatSpeedSigma)
		r += sn * sn * m.LoomDT * m.LoomDT * sv / (z1 * z1)
	}
	f.loomNIS = f.lon.updateFunc(func(k *kfx) (float64, [nx]float64, bool) { return loomResidual(k, lat, f.keyLat, m) }, r, f.cfg.Gate)
}

// keyFrame makes this frame the looming key frame: every model keeps its range and
// its frame error as the key frame's, with their correlations.
func (f *Motion) keyFrame(m Measurement) {
	for i := range f.lon.models {
		k := &f.lon.m[i]
		k.s[iK], k.s[iSK] = k.s[iD], k.s[iS]
		for j := 0; j < nx; j++ {
			k.p[iK][j], k.p[iSK][j] = k.p[iD][j], k.p[iS][j]
			k.p[j][iK], k.p[j][iSK] = k.p[j][iD], k.p[j][iS]
		}
		k.p[iK][iK], k.p[iSK][iSK], k.p[iK][iSK], k.p[iSK][iK] = k.p[iD][iD], k.p[iS][iS], k.p[iD][iS], k.p[iS][iD]
	}
	f.key, f.keyLat = m.T, f.lat.state().s[iD]
}

// loomResidual returns the residual of a looming measurement at a model's state and
// its measurement row, the lateral offset taken as known now (lat) and at the key
// frame (keyLat): with c, s the cosine and sine of the camera's yaw, the depth
// now is z1 = (D − origin)·c + (y − originY)·s, at the key frame zk = (K − origin)·c +
// (keyLat − originY)·s, and the image grew by ln(zk/z1) plus the frame errors' change.
// ok is false where the state puts the object at or behind the camera's plane.
func loomResidual(k *kfx, lat, keyLat float64, m Measurement) (y float64, h [nx]float64, ok bool) {
	c := math.Cos(m.LoomYaw)
	z1, zk := loomDepth(k.s[iD], lat, m), loomDepth(k.s[iK], keyLat, m)
	if !(zk/z1 > 0) || math.Abs(z1) < 0.5 || math.Abs(zk) < 0.5 {
		return 0, h, false
	}
	h[iD], h[iK] = -c/z1, c/zk
	h[iS], h[iSK] = 1, -1
	return m.Loom - math.Log(zk/z1) - k.s[iS] + k.s[iSK], h, true
}

// State returns the filtered state at the last update.
func (f *Motion) State() MotionState {
	c := f.lon.state()
	l := f.lat.state()
	drive := f.drive
	if math.IsNaN(drive) || math.IsInf(drive, 0) {
		drive = 0
	}
	return MotionState{
		Range: c.s[iD], RangeStd: math.Sqrt(c.p[iD][iD]),
		RelSpeed: c.s[iV], RelSpeedStd: math.Sqrt(c.p[iV][iV]),
		ObjAccel: c.s[iA], ObjAccelStd: math.Sqrt(c.p[iA][iA]), RelAccel: c.s[iA] + drive, Maneuver: 1 - f.lon.mu[mSteady],
		Lateral: l.s[iD], LatSpeed: l.s[iV], LatSpeedStd: math.Sqrt(l.p[iV][iV]),
		Updates: f.n, LoomNIS: f.loomNIS,
	}
}

// TTC returns the time to collision, s, for a gap of gap m closing at the filtered
// speed: NaN unless the gap is positive and closing faster than minClosing m/s.
func (s MotionState) TTC(gap, minClosing float64) float64 {
	if !(gap > 0) || !(-s.RelSpeed > minClosing) {
		return math.NaN()
	}
	return gap / -s.RelSpeed
}

// loomDepth is the object's depth along the camera's axis at range d and lateral
// offset lat.
func loomDepth(d, lat float64, m Measurement) float64 {
	return (d-m.LoomOrigin)*math.Cos(m.LoomYaw) + (lat-m.LoomOriginY)*math.Sin(m.LoomYaw)
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
