package track

// nx is the size of the longitudinal state: range D, its rate v, its acceleration a.
const nx = 3

// State indices.
const (
	iD = iota
	iV
	iA
)

// kfx is one model of the longitudinal filter: state and covariance.
type kfx struct {
	s [nx]float64
	p [nx][nx]float64
}

// predictCA moves the state dt seconds ahead, constant acceleration with white jerk of
// spectral density q.
func (k *kfx) predictCA(dt, q float64) {
	var f [nx][nx]float64
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
	var f [nx][nx]float64
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

// transition applies s ← F s, P ← F P Fᵀ.
func (k *kfx) transition(f *[nx][nx]float64) {
	var s [nx]float64
	var fp, p [nx][nx]float64
	for i := 0; i < nx; i++ {
		for j := 0; j < nx; j++ {
			s[i] += f[i][j] * k.s[j]
			for l := 0; l < nx; l++ {
				fp[i][j] += f[i][l] * k.p[l][j]
			}
		}
	}
	for i := 0; i < nx; i++ {
		for j := 0; j < nx; j++ {
			for l := 0; l < nx; l++ {
				p[i][j] += fp[i][l] * f[j][l]
			}
		}
	}
	k.s, k.p = s, p
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
