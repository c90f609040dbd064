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
	// LatAccelNoise is the spectral density of the lateral white-noise acceleration,
	// m²/s³ (default 4: quick enough to see a lane change begin).
	LatAccelNoise float64
	// Gate is the innovation, in standard deviations, beyond which a measurement is
	// treated as an outlier and folded in with its variance inflated to fit (default 5).
	Gate float64
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
	def(&c.LatAccelNoise, 4)
	def(&c.Gate, 5)
	def(&c.InitSpeedSigma, 10)
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
}

// Models of the longitudinal IMM.
const (
	mSteady = iota // constant velocity
	mHold          // constant acceleration, slowly changing
	mMan           // constant acceleration, quickly changing
	nModels
)

// Motion is the metric motion filter of one tracked object relative to the ego
// vehicle. The range runs through an interacting-multiple-model filter of three
// models of the object's own motion — steady (it holds its speed: smooth estimates),
// holding an acceleration (a steady braking) and manoeuvring (its acceleration
// changing: quick to follow a car that starts or stops braking) — mixed by how well
// each explains the measurements; the ego's own acceleration, known from the vehicle
// bus, drives the range on top. The lateral offset runs through a constant-velocity
// filter. It yields the relative speed and its standard deviation that objects.arrow
// records, and the relative acceleration the emergency-brake logic needs.
type Motion struct {
	cfg   MotionConfig
	m     [nModels]kfx
	mu    [nModels]float64 // model probabilities
	lat   kf2
	last  int64
	n     int
	drive float64 // the last drive, m/s²
}

// NewMotion starts a filter at the first measurement; ok is false when the
// measurement has no usable range.
func NewMotion(cfg MotionConfig, m Measurement) (f *Motion, ok bool) {
	if !usable(m) {
		return nil, false
	}
	cfg = cfg.withDefaults()
	f = &Motion{cfg: cfg, mu: [nModels]float64{0.7, 0.15, 0.15}, lat: newKF2(m.Lateral, m.LateralSigma, 1.5), last: m.T, n: 1}
	for i := range f.m {
		k := &f.m[i]
		k.s[iD], k.s[iV] = m.Range, cfg.InitSpeed
		k.p[iD][iD], k.p[iV][iV], k.p[iA][iA] = m.RangeSigma*m.RangeSigma, cfg.InitSpeedSigma*cfg.InitSpeedSigma, 9
	}
	f.m[mSteady].p[iA][iA] = 0.01 // the steady model believes in no acceleration
	return f, true
}

func usable(m Measurement) bool {
	return m.Range > 0 && m.RangeSigma > 0 && !math.IsInf(m.Range+m.RangeSigma, 0)
}

// transitions returns the model switching probabilities over dt: tr[i][j] is the
// probability of going from model i to model j.
func (f *Motion) transitions(dt float64) (tr [nModels][nModels]float64) {
	leave := func(t float64) float64 { return 1 - math.Exp(-dt/t) }
	ps, ph, pm := leave(f.cfg.SteadyTime), leave(f.cfg.HoldTime), leave(f.cfg.ManeuverTime)
	tr[mSteady] = [nModels]float64{1 - ps, 0, ps}
	tr[mHold] = [nModels]float64{0, 1 - ph, ph}
	tr[mMan] = [nModels]float64{pm / 2, pm / 2, 1 - pm}
	return tr
}

// Predict moves the state to time t (ns) without a measurement, the range driven
// by drive m/s² (see Measurement.Drive). Times at or before the last one are ignored.
func (f *Motion) Predict(t int64, drive float64) {
	if t <= f.last {
		return
	}
	dt := float64(t-f.last) / 1e9
	f.last = t
	// IMM mixing: switching probabilities over dt, then each model restarts from the
	// mixture of all as seen from it.
	tr := f.transitions(dt)
	var c [nModels]float64
	for j := range c {
		for i := range f.mu {
			c[j] += tr[i][j] * f.mu[i]
		}
	}
	var mixed [nModels]kfx
	for j := range mixed {
		var w [nModels]float64
		for i := range w {
			if c[j] > 0 {
				w[i] = tr[i][j] * f.mu[i] / c[j]
			}
		}
		mixed[j] = mixx(&f.m, w)
	}
	f.m = mixed
	f.mu = c
	f.m[mSteady].predictCV(dt, f.cfg.SteadyNoise)
	f.m[mHold].predictCA(dt, f.cfg.HoldNoise)
	f.m[mMan].predictCA(dt, f.cfg.ManeuverNoise)
	if !math.IsNaN(drive) && !math.IsInf(drive, 0) {
		for i := range f.m {
			f.m[i].s[iD] += drive * dt * dt / 2
			f.m[i].s[iV] += drive * dt
		}
	}
	f.drive = drive
	f.lat.predictWNA(dt, f.cfg.LatAccelNoise)
}

// Update predicts to m.T and folds the measurement in. A measurement without a usable
// range only predicts (and updates the lateral offset if it has one).
func (f *Motion) Update(m Measurement) {
	f.Predict(m.T, m.Drive)
	g2 := f.cfg.Gate * f.cfg.Gate
	if usable(m) {
		r := m.RangeSigma * m.RangeSigma
		comb := mixx(&f.m, f.mu)
		if y, s := comb.innovation(m.Range, r); y*y > g2*s {
			r += y*y/g2 - s // an outlier: inflate so the residual sits on the gate
		}
		var like [nModels]float64
		for i := range f.m {
			y, s := f.m[i].innovation(m.Range, r)
			like[i] = math.Exp(-0.5*y*y/s) / math.Sqrt(2*math.Pi*s)
			f.m[i].update(m.Range, r)
		}
		sum := 0.0
		for i := range like {
			sum += like[i] * f.mu[i]
		}
		if sum > 1e-300 && !math.IsInf(sum, 0) {
			for i := range f.mu {
				f.mu[i] = like[i] * f.mu[i] / sum
			}
		}
		tot := 0.0
		for i := range f.mu { // keep every model alive
			f.mu[i] = math.Max(f.mu[i], 1e-4)
			tot += f.mu[i]
		}
		for i := range f.mu {
			f.mu[i] /= tot
		}
		f.n++
	}
	if !math.IsNaN(m.Lateral) && m.LateralSigma > 0 {
		rl := m.LateralSigma * m.LateralSigma
		if y, s := m.Lateral-f.lat.x, f.lat.pxx+rl; y*y > g2*s {
			rl += y*y/g2 - s
		}
		f.lat.update(m.Lateral, rl)
	}
}

// State returns the filtered state at the last update.
func (f *Motion) State() MotionState {
	c := mixx(&f.m, f.mu)
	drive := f.drive
	if math.IsNaN(drive) || math.IsInf(drive, 0) {
		drive = 0
	}
	return MotionState{
		Range: c.s[iD], RangeStd: math.Sqrt(c.p[iD][iD]),
		RelSpeed: c.s[iV], RelSpeedStd: math.Sqrt(c.p[iV][iV]),
		ObjAccel: c.s[iA], ObjAccelStd: math.Sqrt(c.p[iA][iA]), RelAccel: c.s[iA] + drive, Maneuver: 1 - f.mu[mSteady],
		Lateral: f.lat.x, LatSpeed: f.lat.v, LatSpeedStd: math.Sqrt(f.lat.pvv),
		Updates: f.n,
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
