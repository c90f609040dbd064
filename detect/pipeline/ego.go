package pipeline

import "math"

// accelEstimator derives the ego acceleration from the speed of successive ego rows:
// differences over at least 0.1 s, smoothed with a 0.1 s time constant.
type accelEstimator struct {
	t0   int64
	v0   float64
	a    float64
	have bool
}

func (e *accelEstimator) add(t int64, v float64) {
	if math.IsNaN(v) {
		return
	}
	if e.t0 == 0 || t < e.t0 {
		e.t0, e.v0 = t, v
		return
	}
	dt := float64(t-e.t0) / 1e9
	if dt < 0.05 {
		return
	}
	a := (v - e.v0) / dt
	if !e.have || dt > 1 {
		e.a, e.have = a, true
	} else {
		e.a += (1 - math.Exp(-dt/0.05)) * (a - e.a)
	}
	e.t0, e.v0 = t, v
}

// accel returns the estimate, NaN before two rows 0.1 s apart.
func (e *accelEstimator) accel() float64 {
	if !e.have {
		return math.NaN()
	}
	return e.a
}

// egoSpeed returns the ego's speed at t (ns), m/s: the latest ego row's, carried to t
// at the acceleration acc where the row is older (up to 0.2 s); NaN where no row
// gives a speed.
func (p *Pipeline) egoSpeed(t int64, acc float64) float64 {
	if p.ego == nil || math.IsNaN(float64(p.ego.Speed)) {
		return math.NaN()
	}
	gap := math.Min(math.Max(float64(t-p.ego.T)/1e9, 0), 0.2)
	return float64(p.ego.Speed) + acc*gap
}

// driveSince returns the drive of the range (track.Measurement.Drive) from the track's
// last measurement to t: minus the ego's speed change over the time between, where
// both speeds are known, and minus the acceleration acc otherwise. An acceleration
// estimated from the speed lags it, and the speed that lag leaves out over a change
// of the ego's acceleration would stay in the filter's rate as a false relative speed
// (0.3–0.5 m/s when the ego starts braking at 6 m/s²) until the measurements correct
// it; the speed change itself leaves none out.
func (ti *trackInfo) driveSince(t int64, v, acc float64) float64 {
	if dt := float64(t-ti.egoT) / 1e9; dt > 0 && !math.IsNaN(v) && !math.IsNaN(ti.egoV) {
		return -(v - ti.egoV) / dt
	}
	return -acc
}
