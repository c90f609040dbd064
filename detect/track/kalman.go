package track

// kf2 is a constant-velocity Kalman filter of one scalar: state (position, velocity),
// position measured. The tracker's box filter is four of these (centre x, centre y,
// width, height): with diagonal process and measurement noise, the 8-state filter
// ByteTrack uses falls apart into independent 2-state blocks exactly, so this costs a
// few multiplications per component and never allocates.
type kf2 struct {
	x, v          float64 // state
	pxx, pxv, pvv float64 // covariance (symmetric)
}

func newKF2(x, sx, sv float64) kf2 {
	return kf2{x: x, pxx: sx * sx, pvv: sv * sv}
}

// predict moves the state dt seconds ahead, adding process noise of covariance
// [[qx, qxv], [qxv, qv]].
func (k *kf2) predict(dt, qx, qxv, qv float64) {
	k.x += k.v * dt
	pxx := k.pxx + 2*dt*k.pxv + dt*dt*k.pvv + qx
	pxv := k.pxv + dt*k.pvv + qxv
	k.pxx, k.pxv = pxx, pxv
	k.pvv += qv
}

// predictWNA predicts with white-noise acceleration of spectral density q (m²/s³ for a
// position in m).
func (k *kf2) predictWNA(dt, q float64) {
	k.predict(dt, q*dt*dt*dt/3, q*dt*dt/2, q*dt)
}

// kf3 is a constant-acceleration Kalman filter of one scalar: state (position,
// velocity, acceleration), position measured, white-noise jerk.
type kf3 struct {
	s [3]float64
	p [3][3]float64
}

func newKF3(x, sx, sv, sa float64) kf3 {
	var k kf3
	k.s[0] = x
	k.p[0][0], k.p[1][1], k.p[2][2] = sx*sx, sv*sv, sa*sa
	return k
}

// predict moves the state dt seconds ahead with white jerk of spectral density q.
func (k *kf3) predict(dt, q float64) {
	f := [3][3]float64{{1, dt, dt * dt / 2}, {0, 1, dt}, {0, 0, 1}}
	k.s = [3]float64{k.s[0] + dt*k.s[1] + dt*dt/2*k.s[2], k.s[1] + dt*k.s[2], k.s[2]}
	var fp, p [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for l := 0; l < 3; l++ {
				fp[i][j] += f[i][l] * k.p[l][j]
			}
		}
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for l := 0; l < 3; l++ {
				p[i][j] += fp[i][l] * f[j][l]
			}
		}
	}
	d2, d3 := dt*dt, dt*dt*dt
	qm := [3][3]float64{
		{d3 * d2 / 20, d2 * d2 / 8, d3 / 6},
		{d2 * d2 / 8, d3 / 3, d2 / 2},
		{d3 / 6, d2 / 2, dt},
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			p[i][j] += q * qm[i][j]
		}
	}
	k.p = p
}

// update folds in a position measurement z with variance r.
func (k *kf3) update(z, r float64) {
	s := k.p[0][0] + r
	g := [3]float64{k.p[0][0] / s, k.p[1][0] / s, k.p[2][0] / s}
	y := z - k.s[0]
	for i := range k.s {
		k.s[i] += g[i] * y
	}
	row := k.p[0]
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			k.p[i][j] -= g[i] * row[j]
		}
	}
}

// innovation returns the residual of z against the prediction and its variance.
func (k *kf3) innovation(z, r float64) (y, s float64) { return z - k.s[0], k.p[0][0] + r }

// update folds in a position measurement z with variance r.
func (k *kf2) update(z, r float64) {
	s := k.pxx + r
	gx, gv := k.pxx/s, k.pxv/s
	y := z - k.x
	k.x += gx * y
	k.v += gv * y
	pxx := (1 - gx) * k.pxx
	pxv := (1 - gx) * k.pxv
	pvv := k.pvv - gv*k.pxv
	k.pxx, k.pxv, k.pvv = pxx, pxv, pvv
}
