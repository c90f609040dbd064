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
