package track

// nx is the size of the longitudinal state: range D, its rate v, its acceleration a,
// and for looming (Measurement.Loom) the range at the key frame (a clone of D taken
// there: stochastic cloning), the alignment's frame error at the key frame (a clone
// of the next) and at the frame at hand (log units). The motion models leave the
// last three alone; Motion moves the frame error itself. The lateral filter leaves
// them at 0.
const nx = 6

// nm is the number of motion states (range, rate, acceleration): the first nm.
const nm = 3

// State indices.
const (
	iD = iota
	iV
	iA
	iK  // the range at the looming key frame
	iSK // the alignment's frame error at the key frame
	iS  // the alignment's frame error now
)

// kfx is one model of the longitudinal filter: state and covariance.
type kfx struct {
	s [nx]float64
	p [nx][nx]float64
}

// predictCA moves the state dt seconds ahead, constant acceleration with white jerk of
// spectral density q.
func (k *kfx) predictCA(dt, q float64) {
	var f [nm][nm]float64
	for i := range f {
		f[i][i] = 1
	}
	f[iD][iV], f[iD][iA], f[iV][iA] = dt, dt*dt/2, dt
	k.transition(&f)
	d2, d3 := dt*dt, dt*dt*dt
	k.p[iD][iD] += q * d3 * d2 / 20
	k.p[iD][iV] += q * d2 * d2 / 8
	k.p[iD][iA] += q * d3 / 6
	k.p[iV][iV] += q * d3 / 3
	k.p[iV][iA] += q * d2 / 2
	k.p[iA][iA] += q * dt
	k.p[iV][iD], k.p[iA][iD], k.p[iA][iV] = k.p[iD][iV], k.p[iD][iA], k.p[iV][iA]
}

// predictCV moves the state dt seconds ahead at constant velocity with white
// acceleration of spectral density q: the acceleration is dropped (a little variance
// is left so that the filter stays well posed).
func (k *kfx) predictCV(dt, q float64) {
	var f [nm][nm]float64
	for i := range f {
		f[i][i] = 1
	}
	f[iD][iV] = dt
	f[iA][iA] = 0
	k.transition(&f)
	k.p[iD][iD] += q * dt * dt * dt / 3
	k.p[iD][iV] += q * dt * dt / 2
	k.p[iV][iD] = k.p[iD][iV]
	k.p[iV][iV] += q * dt
	k.p[iA][iA] = 0.01
}

// transition applies s ← F s, P ← F P Fᵀ for a transition F that moves the motion
// states (range, rate, acceleration) and leaves the looming states where they are.
func (k *kfx) transition(f *[nm][nm]float64) {
	var s [nm]float64
	var fp [nm][nx]float64 // F P over the motion rows
	for i := 0; i < nm; i++ {
		for j := 0; j < nm; j++ {
			s[i] += f[i][j] * k.s[j]
		}
		for j := 0; j < nx; j++ {
			for l := 0; l < nm; l++ {
				fp[i][j] += f[i][l] * k.p[l][j]
			}
		}
	}
	copy(k.s[:nm], s[:])
	for i := 0; i < nm; i++ {
		for j := 0; j < nm; j++ {
			v := 0.0
			for l := 0; l < nm; l++ {
				v += fp[i][l] * f[j][l]
			}
			k.p[i][j] = v
		}
		for j := nm; j < nx; j++ { // the looming states: F P only
			k.p[i][j], k.p[j][i] = fp[i][j], fp[i][j]
		}
	}
}

// posRow is the measurement row of a range measurement.
var posRow = [nx]float64{iD: 1}

// innovation returns the variance of the residual of a measurement with row h and
// variance r.
func (k *kfx) innovation(h [nx]float64, r float64) float64 {
	s := r
	for i := 0; i < nx; i++ {
		for j := 0; j < nx; j++ {
			s += h[i] * k.p[i][j] * h[j]
		}
	}
	return s
}

// update folds in a scalar measurement of (linearised) row h and variance r whose
// residual is y.
func (k *kfx) update(h [nx]float64, y, r float64) {
	var ph [nx]float64 // P hᵀ
	for i := 0; i < nx; i++ {
		for j := 0; j < nx; j++ {
			ph[i] += k.p[i][j] * h[j]
		}
	}
	s := r
	for i := 0; i < nx; i++ {
		s += h[i] * ph[i]
	}
	for i := 0; i < nx; i++ {
		g := ph[i] / s
		k.s[i] += g * y
		for j := 0; j < nx; j++ {
			k.p[i][j] -= g * ph[j]
		}
	}
}

// mixx returns the weighted mixture of the models' states and covariances.
func mixx(m *[nModels]kfx, w [nModels]float64) kfx {
	var out kfx
	for i := range m {
		for a := 0; a < nx; a++ {
			out.s[a] += w[i] * m[i].s[a]
		}
	}
	for i := range m {
		var d [nx]float64
		for a := 0; a < nx; a++ {
			d[a] = m[i].s[a] - out.s[a]
		}
		for a := 0; a < nx; a++ {
			for b := 0; b < nx; b++ {
				out.p[a][b] += w[i] * (m[i].p[a][b] + d[a]*d[b])
			}
		}
	}
	return out
}
