package reference

import "math"

// servo is a two-state Kalman filter on the offset and frequency of the reference
// against the host clock (the model ptp4l and chrony approximate with PI loops):
//
//	ref(h) = h + base + φ + f·(h − h0)·1e-9
//
// φ (ns) and f (ns/s, i.e. ppb) are the state at host time h0; base is an integer
// anchor so that φ stays small and float64 keeps sub-nanosecond precision.
type servo struct {
	ok   bool
	h0   int64   // host time of the state
	base int64   // integer part of ref − host
	phi  float64 // ns
	f    float64 // ns/s
	p    [2][2]float64

	r      float64 // measurement variance, ns²
	qPhase float64 // phase white-noise intensity, ns²/s
	qFreq  float64 // frequency random-walk intensity, (ns/s)²/s
	f0Var  float64 // initial frequency variance, (ns/s)²
}

// init starts the filter at one measurement.
func (s *servo) init(h, ref int64, f float64) {
	s.ok = true
	s.h0 = h
	s.base = ref - h
	s.phi = 0
	s.f = f
	s.p = [2][2]float64{{s.r, 0}, {0, s.f0Var}}
}

// predict returns the state and covariance propagated to host time h.
func (s *servo) predict(h int64) (phi, f float64, p [2][2]float64) {
	dt := float64(h-s.h0) * 1e-9
	phi = s.phi + s.f*dt
	f = s.f
	a := math.Abs(dt)
	p00 := s.p[0][0] + 2*dt*s.p[0][1] + dt*dt*s.p[1][1] + s.qPhase*a + s.qFreq*a*a*a/3
	p01 := s.p[0][1] + dt*s.p[1][1] + s.qFreq*dt*a/2
	p11 := s.p[1][1] + s.qFreq*a
	return phi, f, [2][2]float64{{p00, p01}, {p01, p11}}
}

// innovation returns the measurement residual at (h, ref) and its variance.
func (s *servo) innovation(h, ref int64, r float64) (nu, v float64) {
	phi, _, p := s.predict(h)
	return float64(ref-h-s.base) - phi, p[0][0] + r
}

// update folds in a measurement with variance r.
func (s *servo) update(h, ref int64, r float64) {
	phi, f, p := s.predict(h)
	nu := float64(ref-h-s.base) - phi
	v := p[0][0] + r
	k0, k1 := p[0][0]/v, p[1][0]/v
	s.phi = phi + k0*nu
	s.f = f + k1*nu
	s.p = [2][2]float64{
		{(1 - k0) * p[0][0], (1 - k0) * p[0][1]},
		{p[1][0] - k1*p[0][0], p[1][1] - k1*p[0][1]},
	}
	s.p[1][0] = s.p[0][1]
	s.h0 = h
	// re-anchor so that φ stays small
	if math.Abs(s.phi) > 1e6 {
		w := math.Round(s.phi)
		s.base += int64(w)
		s.phi -= w
	}
}

// shift moves the estimate by d ns (a relabelled second, a confirmed step).
func (s *servo) shift(d int64) { s.base += d }

// line returns the estimate as a map segment from host time h0.
func (s *servo) line() (x, y int64, rate float64) {
	return s.h0, s.h0 + s.base + int64(math.Round(s.phi)), 1 + s.f*1e-9
}

// sigma returns the 1σ error of the estimate at host time h, ns.
func (s *servo) sigma(h int64) float64 {
	_, _, p := s.predict(h)
	return math.Sqrt(math.Max(p[0][0], 0))
}
