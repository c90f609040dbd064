package track

import "math"

// model is one motion model of an imm filter.
type model struct {
	ca   bool    // constant acceleration with white jerk; else constant velocity with white acceleration
	q    float64 // spectral density of the white noise
	stay float64 // mean time spent in the model before switching, s
	// next[j]: the share of the switches out of this model that go to model j
	next [nModels]float64
}

// imm is an interacting-multiple-model filter of one scalar coordinate (position,
// rate, acceleration) measured in position: up to nModels kfx models, mixed by how
// well each explains the measurements. Written here because the Go Kalman libraries
// at hand (gonum has none; the rest are single-model) do not mix models, and this one
// is a few dozen multiplications a frame with no allocation.
type imm struct {
	models []model
	m      [nModels]kfx
	mu     [nModels]float64 // model probabilities
}

// newIMM starts the filter at position x (1-sigma sx) and rate v (1-sigma sv), with
// prior model probabilities mu. A constant-velocity model believes in no
// acceleration; a constant-acceleration one starts from acceleration 0 with 1-sigma
// sa.
func newIMM(models []model, mu []float64, x, sx, v, sv, sa float64) imm {
	f := imm{models: models}
	for i, md := range models {
		k := &f.m[i]
		k.s[iD], k.s[iV] = x, v
		k.p[iD][iD], k.p[iV][iV], k.p[iA][iA] = sx*sx, sv*sv, sa*sa
		if !md.ca {
			k.p[iA][iA] = 0.01
		}
		f.mu[i] = mu[i]
	}
	return f
}

// predict moves every model dt seconds ahead after mixing them (the switching
// probabilities over dt, then each model restarts from the mixture of all as seen
// from it), and adds drive·dt²/2 and drive·dt to the position and rate of each.
func (f *imm) predict(dt, drive float64) {
	n := len(f.models)
	var tr [nModels][nModels]float64
	for i, md := range f.models {
		leave := 1 - math.Exp(-dt/md.stay)
		tr[i][i] = 1 - leave
		for j := 0; j < n; j++ {
			if j != i {
				tr[i][j] = leave * md.next[j]
			}
		}
	}
	var c [nModels]float64
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			c[j] += tr[i][j] * f.mu[i]
		}
	}
	var mixed [nModels]kfx
	for j := 0; j < n; j++ {
		var w [nModels]float64
		for i := 0; i < n; i++ {
			if c[j] > 0 {
				w[i] = tr[i][j] * f.mu[i] / c[j]
			}
		}
		mixed[j] = mixx(&f.m, w)
	}
	f.m, f.mu = mixed, c
	for i, md := range f.models {
		if md.ca {
			f.m[i].predictCA(dt, md.q)
		} else {
			f.m[i].predictCV(dt, md.q)
		}
		if !math.IsNaN(drive) && !math.IsInf(drive, 0) {
			f.m[i].s[iD] += drive * dt * dt / 2
			f.m[i].s[iV] += drive * dt
		}
	}
}

// update folds in a position measurement z of variance r.
func (f *imm) update(z, r, gate float64) {
	f.updateFunc(func(k *kfx) (float64, [nx]float64, bool) { return z - k.s[iD], posRow, true }, r, gate)
}

// updateFunc folds in a scalar measurement of variance r: meas returns, for a model's
// state, the residual, the linearised measurement row and whether the measurement
// applies there. A measurement whose residual lies beyond gate standard deviations
// of the mixture is an outlier: its variance is inflated so that the residual sits
// on the gate. It returns the mixture's normalised innovation squared, y²/S before
// any inflation (NaN where the measurement does not apply): near 1 on average where
// the filter's noise is the world's.
func (f *imm) updateFunc(meas func(*kfx) (y float64, h [nx]float64, ok bool), r, gate float64) (nis float64) {
	g2 := gate * gate
	comb := f.state()
	y, h, ok := meas(&comb)
	if !ok {
		return math.NaN()
	}
	s := comb.innovation(h, r)
	nis = y * y / s
	if y*y > g2*s {
		r += y*y/g2 - s
	}
	n := len(f.models)
	var like [nModels]float64
	for i := 0; i < n; i++ {
		y, h, ok := meas(&f.m[i])
		if !ok { // this model's state is out of the measurement's domain: unlikely
			continue
		}
		s := f.m[i].innovation(h, r)
		like[i] = math.Exp(-0.5*y*y/s) / math.Sqrt(2*math.Pi*s)
		f.m[i].update(h, y, r)
	}
	sum := 0.0
	for i := 0; i < n; i++ {
		sum += like[i] * f.mu[i]
	}
	if sum > 1e-300 && !math.IsInf(sum, 0) {
		for i := 0; i < n; i++ {
			f.mu[i] = like[i] * f.mu[i] / sum
		}
	}
	tot := 0.0
	for i := 0; i < n; i++ { // keep every model alive
		f.mu[i] = math.Max(f.mu[i], 1e-4)
		tot += f.mu[i]
	}
	for i := 0; i < n; i++ {
		f.mu[i] /= tot
	}
	return nis
}

// state is the mixture of the models.
func (f *imm) state() kfx { return mixx(&f.m, f.mu) }
