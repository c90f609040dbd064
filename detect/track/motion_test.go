package track

import (
	"math"
	"math/rand/v2"
	"testing"
)

// motionCases feed TestMotion and BenchmarkMotion: a true range profile, measured
// 30 times a second with white noise of sigma (fraction of the range), and what the
// filter must get right by the end.
var motionCases = []struct {
	name      string
	dur       float64
	rng       func(t float64) (x, v float64)
	drive     func(t float64) float64
	sigma     float64
	speedTol  float64 // m/s, at the end
	steadyEnd bool    // the steady model should hold most of the probability at the end
}{
	{"closing-steadily", 4, func(t float64) (float64, float64) { return 40 - 5*t, -5 }, nil, 0.01, 0.3, true},
	{"holding-distance", 4, func(t float64) (float64, float64) { return 25, 0 }, nil, 0.02, 0.3, true},
	{"lead-brakes", 4, func(t float64) (float64, float64) {
		if t < 1 {
			return 30, 0
		}
		return 30 - 3*(t-1)*(t-1), -6 * (t - 1)
	}, nil, 0.005, 0.8, false},
	// a lead car's brake pressure builds over 0.5 s (jerk 15 m/s³) to 7.5 m/s², then
	// holds: by 1.5 s later the filter must be on the new speed
	{"lead-brakes-jerk-limited", 3, func(t float64) (float64, float64) {
		switch {
		case t < 1:
			return 30, 0
		case t < 1.5:
			u := t - 1
			return 30 - 15*u*u*u/6, -15 * u * u / 2
		}
		u := t - 1.5
		x, v := 30-15*0.125/6, -15*0.25/2
		return x + v*u - 7.5*u*u/2, v - 7.5*u
	}, nil, 0.005, 0.5, false},
	// a parked car while the ego brakes at 5 m/s² from 15 m/s: the drive explains all
	{"ego-brakes-static-object", 2.5, func(t float64) (float64, float64) { return 40 - (15*t - 2.5*t*t), -(15 - 5*t) }, func(float64) float64 { return 5 }, 0.01, 0.3, true},
	// behind the front bumper (a rear camera's car): ranges are negative
	{"closing-from-behind", 4, func(t float64) (float64, float64) { return -35 + 5*t, 5 }, nil, 0.01, 0.3, true},
}

func TestMotion(t *testing.T) {
	for _, c := range motionCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var f *Motion
			var x, v float64
			for i := 0; float64(i)/30 <= c.dur; i++ {
				tt := float64(i) / 30
				x, v = c.rng(tt)
				m := Measurement{T: int64(tt*1e9) + 1, Range: x * (1 + c.sigma*rng.NormFloat64()), RangeSigma: c.sigma * math.Abs(x), Lateral: 1, LateralSigma: 0.05}
				if c.drive != nil {
					m.Drive = c.drive(tt)
				}
				if f == nil {
					var ok bool
					if f, ok = NewMotion(MotionConfig{InitSpeed: v}, m); !ok {
						t.Fatal("no filter from a good measurement")
					}
					continue
				}
				f.Update(m)
			}
			s := f.State()
			if math.Abs(s.RelSpeed-v) > c.speedTol || math.Abs(s.Range-x) > 3*c.sigma*math.Abs(x) {
				t.Fatalf("range %.2f speed %.2f; want %.2f %.2f", s.Range, s.RelSpeed, x, v)
			}
			if math.Abs(s.RelSpeed-v) > 4*s.RelSpeedStd+0.05 {
				t.Errorf("speed error %.2f beyond 4 sigma (%.2f)", s.RelSpeed-v, s.RelSpeedStd)
			}
			if c.steadyEnd != (s.Maneuver < 0.5) {
				t.Errorf("manoeuvre probability %.2f", s.Maneuver)
			}
			if math.Abs(s.Lateral-1) > 0.05 || math.Abs(s.LatSpeed) > 0.1 {
				t.Errorf("lateral %.2f speed %.2f, want 1 and 0", s.Lateral, s.LatSpeed)
			}
		})
	}
}

func TestMotionOutlierAndGaps(t *testing.T) {
	m := Measurement{T: 1, Range: 20, RangeSigma: 0.2, Lateral: 0, LateralSigma: 0.05}
	f, _ := NewMotion(MotionConfig{}, m)
	for i := 1; i <= 60; i++ {
		m.T = int64(i) * 1e9 / 30
		m.Range = 20
		if i == 40 {
			m.Range = 40 // a wrong association for one frame
		}
		if i > 45 && i < 55 {
			m.Range = math.NaN() // no range (box cut, say): predict only
		}
		f.Update(m)
	}
	if s := f.State(); math.Abs(s.Range-20) > 0.3 || math.Abs(s.RelSpeed) > 1 {
		t.Fatalf("after an outlier and a gap: range %.2f speed %.2f", s.Range, s.RelSpeed)
	}
	if _, ok := NewMotion(MotionConfig{}, Measurement{Range: math.NaN(), RangeSigma: 1}); ok {
		t.Fatal("a filter from a NaN range")
	}
	if ttc := (MotionState{RelSpeed: -5}).TTC(20, 0.2); ttc != 4 {
		t.Fatalf("TTC %v, want 4", ttc)
	}
	if ttc := (MotionState{RelSpeed: 1}).TTC(20, 0.2); !math.IsNaN(ttc) {
		t.Fatalf("TTC %v when opening, want NaN", ttc)
	}
}

func BenchmarkMotion(b *testing.B) {
	m := Measurement{T: 1, Range: 20, RangeSigma: 0.2, Lateral: 0, LateralSigma: 0.05}
	f, _ := NewMotion(MotionConfig{}, m)
	b.ReportAllocs()
	i := int64(1)
	for b.Loop() {
		i++
		m.T = i * 1e9 / 30
		f.Update(m)
		_ = f.State()
	}
}

// lateralRun feeds a filter 30 measurements a second of a car in the next lane seen
// by a forward camera: its lateral offset is its bearing times its range, so a range
// measurement's error moves the measured lateral offset in proportion (as
// ranging.Range does), on top of a bearing noise of 2 cm. rng gives the true range
// and range rate, lat the true lateral offset and speed; jump (if set) is a relative
// error of the measured range from some instant on (a size cue lost at the image
// border). atRange selects the measurement the pipeline gives (LateralSlope set,
// LateralSigma the bearing noise) over the range-scaled one without it. It returns
// the filter's lateral speed and its sigma after each measurement.
func lateralRun(atRange bool, dur float64, rng func(t float64) (x, v float64), lat func(t float64) (y, vy float64), jump func(t float64) float64) (ts, vys, sds []float64) {
	r := rand.New(rand.NewPCG(3, 4))
	const camX, rangeNoise, bearingNoise = -1.8, 0.01, 0.02
	var f *Motion
	for i := 0; float64(i)/30 <= dur; i++ {
		tt := float64(i) / 30
		x, v := rng(tt)
		y, _ := lat(tt)
		e := rangeNoise * r.NormFloat64()
		if jump != nil {
			e += jump(tt)
		}
		mx := x * (1 + e)
		slope := y / (x - camX)
		m := Measurement{T: int64(tt*1e9) + 1, Range: mx, RangeSigma: rangeNoise * x,
			Lateral: y + (mx-x)*slope + bearingNoise*r.NormFloat64()}
		if atRange {
			m.LateralSlope, m.LateralSigma = slope, bearingNoise
		} else {
			m.LateralSigma = math.Hypot(bearingNoise, rangeNoise*math.Abs(slope)*x)
		}
		if f == nil {
			f, _ = NewMotion(MotionConfig{InitSpeed: v}, m)
			continue
		}
		f.Update(m)
		s := f.State()
		ts, vys, sds = append(ts, tt), append(vys, s.LatSpeed), append(sds, s.LatSpeedStd)
	}
	return ts, vys, sds
}

// TestMotionLateral: a car 20 m ahead in the next lane (3.5 m left) changes into the
// ego lane at t = 3 s over 2.5 s (smoothstep, as the simulator's cut-ins). The lateral
// speed, less half its sigma and held for 0.1 s, must stay under 0.2 m/s while the
// car keeps its lane — steadily, with a range that jumps by 8 % (a size cue lost at
// the image border), or pulling away at 2.5 m/s² (the range filter lagging behind
// it) — and must pass 0.35 m/s (what reaches the ego lane within 5 s) within 0.4 s of
// the lane change's start, the 0.1 s hold included. The range-scaled lateral without
// a slope, run beside it, must see the lane change later.
func TestMotionLateral(t *testing.T) {
	const onset, dur = 3.0, 2.5
	laneChange := func(tt float64) (float64, float64) {
		u := math.Max(0, math.Min(1, (tt-onset)/dur))
		if tt < onset || tt > onset+dur {
			return 3.5 * (1 - (3*u*u - 2*u*u*u)), 0
		}
		return 3.5 * (1 - (3*u*u - 2*u*u*u)), -3.5 * 6 * u * (1 - u) / dur
	}
	keepLane := func(float64) (float64, float64) { return 3.5, 0 }
	steady := func(float64) (float64, float64) { return 20, 0 }
	pullAway := func(tt float64) (float64, float64) { // 2.5 m/s² from t = 1 s
		if tt < 1 {
			return 20, 0
		}
		u := tt - 1
		return 20 + 1.25*u*u, 2.5 * u
	}
	jump := func(tt float64) float64 {
		if tt >= 2 {
			return 0.08
		}
		return 0
	}
	// towards: the speed towards the ego lane (negative lateral speed) less half a
	// sigma, held for 0.1 s (the lowest of 4 frames), at each measurement
	towards := func(vys, sds []float64) []float64 {
		out := make([]float64, len(vys))
		for i := range vys {
			out[i] = math.Inf(-1)
			if i >= 3 {
				out[i] = math.Inf(1)
				for k := i - 3; k <= i; k++ {
					out[i] = math.Min(out[i], -vys[k]-0.5*sds[k])
				}
			}
		}
		return out
	}
	seen := map[bool]float64{}
	for _, atRange := range []bool{true, false} {
		for _, c := range []struct {
			name string
			rng  func(float64) (float64, float64)
			jump func(float64) float64
		}{{"steady", steady, nil}, {"range-jump", steady, jump}, {"pulling-away", pullAway, nil}} {
			ts, vys, sds := lateralRun(atRange, 4, c.rng, keepLane, c.jump)
			w := 0.0
			for i, v := range towards(vys, sds) {
				if ts[i] >= 1 {
					w = math.Max(w, v)
				}
			}
			if w > 0.2 && atRange {
				t.Errorf("%s: %.2f m/s towards the ego lane (less half a sigma, held 0.1 s) while keeping its lane", c.name, w)
			}
			t.Logf("slope %v, %s: up to %.2f m/s towards the ego lane", atRange, c.name, w)
		}
		ts, vys, sds := lateralRun(atRange, 6, steady, laneChange, nil)
		seen[atRange] = math.Inf(1)
		for i, v := range towards(vys, sds) {
			if ts[i] >= 1 && ts[i] < onset && v > 0.2 && atRange {
				t.Errorf("lane change: %.2f m/s towards the ego lane at %.2f s, before it began", v, ts[i])
			}
			if ts[i] >= onset && v > 0.35 {
				seen[atRange] = ts[i] - onset
				break
			}
		}
	}
	t.Logf("lane change seen after %.2f s (%.2f s without the slope)", seen[true], seen[false])
	if seen[true] > 0.4 || seen[true] >= seen[false] {
		t.Errorf("lane change seen after %.2f s, want within 0.4 s and before the filter without the slope (%.2f s)", seen[true], seen[false])
	}
}

// TestMotionLoom brakes a lead car (the jerk-limited case above) behind ranges that
// a size prior puts 8 % too far, with 3 % white noise, and runs the filter with and
// without looming: a box 60 px tall whose scale is read each frame with the
// alignment's measured error (0.11 px that changes smoothly over 0.12 s, plus 0.05 px
// of each pair's own), against a key frame renewed every 15 frames. With it the TTC
// (range over closing speed) is within 15 % whenever the true TTC is under 4 s, and
// at most half as far off as without it. The filter that takes the frames' error for
// white (no correlation time) is logged beside it.
func TestMotionLoom(t *testing.T) {
	c := motionCases[3]
	const (
		origin = -1.5 // the camera 1.5 m behind the front bumper
		h      = 60.0 // box height, px
		frame  = 0.11 / h
		corr   = 0.12
		pair   = 0.05 / h
	)
	worst := func(loom bool, filterCorr float64) float64 {
		rng := rand.New(rand.NewPCG(5, 6))
		var f *Motion
		worst := 0.0
		var keyT int64
		var keyScale, e float64
		n := 0
		for i := 0; float64(i)/30 <= c.dur; i++ {
			tt := float64(i) / 30
			x, v := c.rng(tt)
			m := Measurement{T: int64(tt*1e9) + 1, Range: 1.08 * x * (1 + 0.03*rng.NormFloat64()), RangeSigma: 0.03 * x}
			if loom {
				// the reading: the log scale (1/depth) with the frames' error, an
				// Ornstein–Uhlenbeck process, and the pair's own
				cr := math.Exp(-1.0 / 30 / corr)
				e = cr*e + frame*math.Sqrt(1-cr*cr)*rng.NormFloat64()
				if i == 0 {
					e = frame * rng.NormFloat64()
				}
				scale := -math.Log(x-origin) + e + pair/math.Sqrt2*rng.NormFloat64()
				m.LoomFrame, m.LoomCorr, m.LoomOrigin = frame, filterCorr, origin
				if keyT != 0 {
					m.Loom, m.LoomSigma, m.LoomDT = scale-keyScale, pair, float64(m.T-keyT)/1e9
					n++
				}
				if keyT == 0 || n == 15 {
					m.LoomKey, keyT, keyScale, n = true, m.T, scale, 0
				}
			}
			if f == nil {
				f, _ = NewMotion(MotionConfig{}, m)
				continue
			}
			f.Update(m)
			if want := (x - origin) / -v; want > 0 && want < 4 {
				// the TTC of the filter's own range: a factor on range and speed cancels
				st := f.State()
				e := math.Abs(st.TTC(st.Range-origin, 0.2)/want - 1)
				if math.IsNaN(e) {
					e = 1
				}
				worst = math.Max(worst, e)
			}
		}
		return worst
	}
	with, white, without := worst(true, corr), worst(true, 0), worst(false, 0)
	t.Logf("worst TTC error under 4 s: %.1f %% with looming, %.1f %% with the frames' error taken for white, %.1f %% without", 100*with, 100*white, 100*without)
	if with > 0.15 {
		t.Errorf("with looming the TTC is %.1f %% off, want ≤ 15 %%", 100*with)
	}
	if with > without/2 {
		t.Errorf("looming leaves the TTC %.1f %% off against %.1f %% without: it should at least halve it", 100*with, 100*without)
	}
}

// TestMotionLoomKeyFrame checks that a looming measurement counts only against the
// key frame the filter kept: one that reaches back to another frame is left out, and
// a perfect one against the key frame corrects a wrong speed.
func TestMotionLoomKeyFrame(t *testing.T) {
	const dt = 1.0 / 30
	start := func() *Motion {
		// the truth: 30 m ahead, closing at 10 m/s; the filter starts at 0 m/s
		f, _ := NewMotion(MotionConfig{}, Measurement{T: 1, Range: 30, RangeSigma: 5, LoomFrame: 0.002, LoomCorr: 0.1, LoomKey: true})
		return f
	}
	m := func(i int, back int) Measurement {
		x := 30 - 10*dt*float64(i)
		return Measurement{T: 1 + int64(float64(i)*dt*1e9), Range: x, RangeSigma: 5, LoomFrame: 0.002, LoomCorr: 0.1,
			Loom: math.Log((30 - 10*dt*float64(i-back)) / x), LoomSigma: 1e-4, LoomDT: float64(back) * dt}
	}
	a, b := start(), start()
	for i := 1; i <= 10; i++ {
		a.Update(m(i, i)) // against the key frame, frame 0
		if i > 1 {
			b.Update(m(i, 1)) // against the frame before, which the filter does not keep
		} else {
			b.Update(m(i, 0)) // no looming
		}
	}
	va, vb := a.State().RelSpeed, b.State().RelSpeed
	t.Logf("speed after 10 frames: %.2f m/s against the key frame, %.2f m/s against frames it did not keep (truth −10)", va, vb)
	if math.Abs(va+10) > 0.5 {
		t.Errorf("against the key frame the speed is %.2f m/s, want −10 ± 0.5", va)
	}
	// the ranges alone (5 m of noise) leave the speed far from the truth
	if math.Abs(vb+10) < 2 {
		t.Errorf("measurements against frames the filter did not keep moved the speed to %.2f m/s", vb)
	}
}

// TestLoomResidualRow checks the looming measurement's row against numerical
// derivatives of its prediction.
func TestLoomResidualRow(t *testing.T) {
	const lat = -3.0
	for _, yaw := range []float64{0, math.Pi, -50 * math.Pi / 180} {
		m := Measurement{Loom: 0.01, LoomDT: 0.04, LoomOrigin: -1.2, LoomOriginY: -0.9, LoomYaw: yaw}
		k := kfx{s: [nx]float64{iD: 20, iV: -8, iA: -3, iK: 21, iSK: 0.002, iS: -0.001}}
		if yaw == math.Pi {
			k.s[iD], k.s[iV], k.s[iA], k.s[iK] = -20, 8, 3, -21
		}
		y0, h, ok := loomResidual(&k, lat, -2.5, m)
		if !ok {
			t.Fatalf("yaw %.2f: not ok", yaw)
		}
		for i := 0; i < nx; i++ {
			kk := k
			const e = 1e-6
			kk.s[i] += e
			y1, _, _ := loomResidual(&kk, lat, -2.5, m)
			if num := -(y1 - y0) / e; math.Abs(num-h[i]) > 1e-6*math.Max(1, math.Abs(h[i])) {
				t.Errorf("yaw %.2f: row[%d] = %g, numerically %g", yaw, i, h[i], num)
			}
		}
	}
	if _, _, ok := loomResidual(&kfx{s: [nx]float64{iD: -1.0, iK: -0.9}}, 0, 0, Measurement{LoomDT: 0.04, LoomOrigin: -1.2}); ok {
		t.Error("an object at the camera gave a looming residual")
	}
}
