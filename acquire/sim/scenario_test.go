package sim

import (
	"fmt"
	"math"
	"roadlog/schema"
	"testing"
)

// inLaneTTC returns the smallest time to collision with an actor overlapping the ego
// lane over [from, to), and the smallest gap to such an actor.
func inLaneTTC(sc Scenario, id int32, from, to float64) (minTTC, minGap float64) {
	as := sc.Actors()
	minTTC, minGap = math.Inf(1), math.Inf(1)
	for s := from; s < to; s += 0.01 {
		w := sc.At(as, s)
		for _, a := range w.Actors {
			if (id != 0 && a.ID != id) || math.Abs(a.Y) > LaneWidth/2+a.Width/2 {
				continue
			}
			gap := a.X - a.Length/2 - (w.Ego.X + EgoLength/2)
			if gap < -EgoLength-a.Length {
				continue // behind
			}
			minGap = math.Min(minGap, gap)
			if rv := a.VX - w.Ego.V; rv < 0 && gap > 0 {
				minTTC = math.Min(minTTC, -gap/rv)
			}
		}
	}
	return
}

// riseTimes are the scenario variants the tests hold to the design: the default
// jerk-limited ramps, slower ramps, and the piecewise-constant script (steps).
var riseTimes = []float64{0, 0.8, -1}

func TestScenarioIsAsDesigned(t *testing.T) {
	for _, rise := range riseTimes {
		t.Run(fmt.Sprintf("rise=%v", rise), func(t *testing.T) {
			sc := Scenario{RiseTime: rise}
			if e0, e1 := sc.Ego(0), sc.Ego(Period); math.Abs(e0.V-e1.V) > 1e-9 || e0.A != 0 || math.Abs(e1.A) > 1e-9 {
				t.Fatalf("ego speed %v, accel %v at the start, %v, %v at the end: the scenario cannot repeat", e0.V, e0.A, e1.V, e1.A)
			}
			cases := []struct {
				name     string
				actor    int32
				from, to float64
				ttcLo    float64 // min TTC must lie in [ttcLo, ttcHi]
				ttcHi    float64
			}{
				{"lead brakes: FCW, not AEB", Events.LeadID, 9, 16, 1.5, 2.5},
				{"cut-in left brakes: FCW", Events.CutInLeftID, 29.5, 34, 1.6, 2.5},
				{"cut-in right: no FCW", Events.CutInRightID, 33, 40, 2.9, 4.0},
			}
			for _, c := range cases {
				ttc, gap := inLaneTTC(sc, c.actor, c.from, c.to)
				if ttc < c.ttcLo || ttc > c.ttcHi || gap < 1 {
					t.Errorf("%s: min TTC %.2f s (want %.1f–%.1f), min gap %.1f m", c.name, ttc, c.ttcLo, c.ttcHi, gap)
				}
			}
			if _, gap := inLaneTTC(sc, 0, 0, Period); gap < 1 {
				t.Errorf("a collision: min gap %.2f m", gap)
			}
			for _, q := range Quiet {
				if ttc, _ := inLaneTTC(sc, 0, q[0], q[1]); ttc < 8 {
					t.Errorf("quiet stretch %v has an in-lane TTC of %.1f s", q, ttc)
				}
			}
		})
	}
}

// motion samples a scenario's ego and actors every ds seconds: position, speed and
// (for the ego) the acceleration of each, by scenario time.
type motion struct {
	x, v, a []float64
	ok      []bool
}

func sample(sc Scenario, ds float64) map[int32]*motion {
	as := sc.Actors()
	out := map[int32]*motion{0: {}} // 0: the ego
	for _, a := range as {
		out[a.ID] = &motion{}
	}
	n := int(math.Round(Period / ds)) // [0, Period): At wraps at Period
	for i := 0; i < n; i++ {
		w := sc.At(as, float64(i)*ds)
		e := out[0]
		e.x, e.v, e.a, e.ok = append(e.x, w.Ego.X), append(e.v, w.Ego.V), append(e.a, w.Ego.A), append(e.ok, true)
		seen := map[int32]bool{}
		for _, a := range w.Actors {
			m := out[a.ID]
			m.x, m.v, m.a, m.ok = append(m.x, a.X), append(m.v, a.VX), append(m.a, math.NaN()), append(m.ok, true)
			seen[a.ID] = true
		}
		for _, a := range as {
			if !seen[a.ID] {
				m := out[a.ID]
				m.x, m.v, m.a, m.ok = append(m.x, 0), append(m.v, 0), append(m.a, math.NaN()), append(m.ok, false)
			}
		}
	}
	return out
}

// maxJerk returns the largest |Δa/Δs| of a motion, the acceleration taken from the
// speed's differences over ds.
func maxJerk(m *motion, ds float64) float64 {
	j := 0.0
	for i := 2; i < len(m.v); i++ {
		if m.ok[i] && m.ok[i-1] && m.ok[i-2] {
			a1, a0 := (m.v[i]-m.v[i-1])/ds, (m.v[i-1]-m.v[i-2])/ds
			j = math.Max(j, math.Abs(a1-a0)/ds)
		}
	}
	return j
}

// TestScenarioJerkLimited holds the kinematics to physics: position integrates speed,
// speed integrates the ego's reported acceleration, the jerk stays within what brakes
// and drivers do (≤ 15 m/s³ at the default rise time) while the script with steps
// has unbounded jerk, and the ramps leave the design's speeds unchanged outside them.
func TestScenarioJerkLimited(t *testing.T) {
	const ds = 0.005
	ramps, steps := sample(Scenario{}, ds), sample(Scenario{RiseTime: -1}, ds)
	for id, m := range ramps {
		for i := 1; i < len(m.x); i++ {
			if !m.ok[i] || !m.ok[i-1] {
				continue
			}
			// trapezoid rule on a cubic: exact to ds³·jerk/12
			if d := (m.x[i] - m.x[i-1]) - ds*(m.v[i]+m.v[i-1])/2; math.Abs(d) > 1e-6 {
				t.Fatalf("actor %d at %.3f s: position moves %.6f m more than its speed says", id, float64(i)*ds, d)
			}
			if id == 0 {
				// exact but where a ramp begins or ends inside the interval
				if d := (m.v[i] - m.v[i-1]) - ds*(m.a[i]+m.a[i-1])/2; math.Abs(d) > 15*ds*ds/4 {
					t.Fatalf("ego at %.3f s: speed changes %.9f m/s more than its acceleration says", float64(i)*ds, d)
				}
			}
		}
		if j := maxJerk(m, ds); j > 15+1e-6 {
			t.Errorf("actor %d: jerk %.1f m/s³ with the default rise time, want ≤ 15", id, j)
		}
		if j := maxJerk(steps[id], ds); j < 100 && id != Events.PedestrianID {
			t.Errorf("actor %d: the step script has jerk %.1f m/s³ only: the check is blind", id, j)
		}
		// away from the ramps (more than rise/2 from any change) the speeds are the
		// design's
		sm := steps[id]
		for i := range m.v {
			s := float64(i) * ds
			if !m.ok[i] || !sm.ok[i] || nearChange(s, DefaultRiseTime/2+ds) {
				continue
			}
			if math.Abs(m.v[i]-sm.v[i]) > 1e-9 {
				t.Fatalf("actor %d at %.3f s: speed %.6f with ramps, %.6f with steps", id, s, m.v[i], sm.v[i])
			}
			if math.Abs(m.x[i]-sm.x[i]) > 0.25 {
				t.Fatalf("actor %d at %.3f s: position %.3f with ramps, %.3f with steps", id, s, m.x[i], sm.x[i])
			}
		}
	}
}

// nearChange reports whether s lies within d of a scripted change of acceleration of
// the ego or any actor.
func nearChange(s, d float64) bool {
	for _, p := range [][]float64{
		{11.2, 14.5, 17, 23.6, 38, 42, 44.5, 48.5, 48.5 + 25.0/3.5}, // ego
		{10, 12.8, 15, 22, 32}, {9, 13}, {29, 30.3, 31, 34}, {35.5, 40}, // actors 1–4
	} {
		for _, c := range p {
			if math.Abs(s-c) < d {
				return true
			}
		}
	}
	return false
}

// TestKinematicsExact checks the ramp integration against a fine numerical one.
func TestKinematicsExact(t *testing.T) {
	prof := profile{{0, 1}, {2, -7.5}, {2.3, 0}, {5, 3}}
	for _, rise := range []float64{0, 0.2, 0.5, 1} {
		// numerical: acceleration sampled at midpoints
		accel := func(s float64) float64 {
			a := prof[0].a
			for i := 1; i < len(prof); i++ {
				h := rise / 2
				h = math.Min(h, (prof[i].s-prof[i-1].s)/2)
				if i+1 < len(prof) {
					h = math.Min(h, (prof[i+1].s-prof[i].s)/2)
				}
				switch {
				case s >= prof[i].s+h:
					a = prof[i].a
				case s > prof[i].s-h:
					a = prof[i-1].a + (prof[i].a-prof[i-1].a)*(s-(prof[i].s-h))/(2*h)
				}
			}
			return a
		}
		const dt = 1e-5
		x, v := 3.0, 10.0
		for i := 0; i < 600000; i++ {
			s := float64(i) * dt
			am := accel(s + dt/2)
			x += v*dt + am*dt*dt/2
			v += am * dt
			if (i+1)%37000 == 0 { // off every knot and ramp edge
				gx, gv, ga := kinematics(prof, rise, 3, 10, s+dt)
				if math.Abs(gx-x) > 1e-5 || math.Abs(gv-v) > 1e-6 || math.Abs(ga-accel(s+dt)) > 1e-9 {
					t.Fatalf("rise %v at %.2f s: kinematics gives x %.6f v %.6f a %.4f, numerically x %.6f v %.6f a %.4f",
						rise, s+dt, gx, gv, ga, x, v, accel(s+dt))
				}
			}
		}
	}
}

// TestSecondLapIsLikeTheFirst: a drive longer than the scenario repeats it, truth and
// pictures included (actor positions are within the lap).
func TestSecondLapIsLikeTheFirst(t *testing.T) {
	r, err := New(Config{Cameras: 4, Width: 160, Height: 96})
	if err != nil {
		t.Fatal(err)
	}
	as := Actors()
	for _, s := range []float64{5, 12, 30, 46} {
		w1 := At(as, s)
		w2 := At(as, s+Period)
		t1 := r.truth(&w1, 0, 0)
		t2 := r.truth(&w2, 0, 0)
		if len(t1) != len(t2) {
			t.Fatalf("t=%v: %d truth rows in lap 1, %d in lap 2", s, len(t1), len(t2))
		}
		for i := range t1 {
			a, b := t1[i].(*schema.Truth), t2[i].(*schema.Truth)
			if a.Distance != b.Distance || a.X1 != b.X1 && !(a.X1 != a.X1 && b.X1 != b.X1) {
				t.Fatalf("t=%v actor %d: lap 1 distance %v box x1 %v, lap 2 %v %v", s, a.ActorID, a.Distance, a.X1, b.Distance, b.X1)
			}
		}
	}
}
