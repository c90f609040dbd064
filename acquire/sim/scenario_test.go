package sim

import (
	"math"
	"testing"
)

// inLaneTTC returns the smallest time to collision with an actor overlapping the ego
// lane over [from, to), and the smallest gap to such an actor.
func inLaneTTC(id int32, from, to float64) (minTTC, minGap float64) {
	as := Actors()
	minTTC, minGap = math.Inf(1), math.Inf(1)
	for s := from; s < to; s += 0.01 {
		w := At(as, s)
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

func TestScenarioIsAsDesigned(t *testing.T) {
	if e0, e1 := Ego(0), Ego(Period); math.Abs(e0.V-e1.V) > 1e-9 {
		t.Fatalf("ego speed %v at the start, %v at the end: the scenario cannot repeat", e0.V, e1.V)
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
		ttc, gap := inLaneTTC(c.actor, c.from, c.to)
		if ttc < c.ttcLo || ttc > c.ttcHi || gap < 1 {
			t.Errorf("%s: min TTC %.2f s (want %.1f–%.1f), min gap %.1f m", c.name, ttc, c.ttcLo, c.ttcHi, gap)
		}
	}
	if _, gap := inLaneTTC(0, 0, Period); gap < 1 {
		t.Errorf("a collision: min gap %.2f m", gap)
	}
	for _, q := range Quiet {
		if ttc, _ := inLaneTTC(0, q[0], q[1]); ttc < 8 {
			t.Errorf("quiet stretch %v has an in-lane TTC of %.1f s", q, ttc)
		}
	}
}
