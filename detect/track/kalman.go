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
