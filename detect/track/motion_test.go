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
				m := Measurement{T: int64(tt*1e9) + 1, Range: x * (1 + c.sigma*rng.NormFloat64()), RangeSigma: c.sigma * x, Lateral: 1, LateralSigma: 0.05}
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
			if math.Abs(s.RelSpeed-v) > c.speedTol || math.Abs(s.Range-x) > 3*c.sigma*x {
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
