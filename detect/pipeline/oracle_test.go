package pipeline_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"roadlog/acquire/sim"
	"roadlog/detect/loom"
)

// TestTTCOracleOnTheLeadsBraking asks what the TTC bar's hardest stretch allows at
// each camera size: the simulator's lead car braking at 7.5 m/s² from 48 m ahead
// (t 10–12.55 s), seen by the 60° front camera, its looming read with the errors of
// loom.DefaultNoise (the frames' own, an Ornstein–Uhlenbeck process, and each
// reading's own, here taken per frame). An oracle is told what no filter knows: that
// the car held its speed from 5 s on, when it started braking and that it then
// braked steadily. It fits the car's range, speed and braking to every reading since
// 5 s by generalised least squares (the range's scale known to 5 %, as the boxes
// give it) and reads the TTC at each frame where the true TTC is under 4 s, as the
// bar judges it. Over 400 draws of the noise, its worst TTC error over the stretch
// is 4.4 % at the median (7.1 % at the 90th percentile) at 640×360 and 1.9 %
// (2.6 %) at 1920×1080, beyond 10 % in 1 % and 0 % of the draws. The pipeline's
// filters, which must find out from the readings when the braking starts and that
// it holds, reach 10.4, 7.0 and 16.5 % at 640×360 on this stretch (the three seeds
// of TestAccuracySimScenario, 4 cameras): what they lose there is what the oracle
// was told, not the steady braking's noise. (A change-point filter, weighing up to
// 16 hypotheses of when the acceleration last changed, was tried in its place: the
// worst seed's 16.5 % fell to 12.9 %, but medians rose from 1.2–1.6 % to 1.8–2.5 %
// and the bar at 1920×1080 was lost, 10.8 %.)
// Asserted: the oracle meets the bar on the stretch in at least 95 % of the draws at
// both sizes.
func TestTTCOracleOnTheLeadsBraking(t *testing.T) {
	const (
		tStart, tBrake, tEnd = 5.0, 10.0, 12.55 // s: steady from, braking from, braking until (its ramps' ends)
		fps                  = 30.0
		camBehind            = 0.8 // m, the front camera behind the front bumper
		height               = 1.5 // m, the lead car
		rangeScale           = 0.05
		draws                = 400
	)
	sc := sim.Scenario{}
	actors := sc.Actors()
	gap := func(s float64) float64 { // the lead's near edge ahead of the front bumper, m
		w := sc.At(actors, s)
		for _, a := range w.Actors {
			if a.Actor.ID == 1 {
				return a.X - a.Actor.Length/2 - (w.Ego.X + sim.EgoLength/2)
			}
		}
		t.Fatalf("no lead car at %.2f s", s)
		return 0
	}
	noise := loom.DefaultNoise
	for _, size := range []struct {
		name  string
		width float64
	}{{"640x360", 640}, {"1920x1080", 1920}} {
		fx := size.width / 2 / math.Tan(30*math.Pi/180)
		var ts, zs, hs []float64 // frame times, depths from the camera, box heights
		for s := tStart; s <= tEnd; s += 1 / fps {
			z := gap(s) + camBehind
			ts, zs, hs = append(ts, s), append(zs, z), append(hs, fx*height/z)
		}
		n := len(ts)
		// the readings' covariance (ln scale): the frames' error in px over the height
		sigma := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				c := noise.Frame * noise.Frame / hs[i] / hs[j] * math.Exp(-(ts[j]-ts[i])/noise.Corr)
				if i == j {
					c += noise.Pair * noise.Pair / 2 / hs[i] / hs[i]
				}
				sigma.SetSym(i, j, c)
			}
		}
		// the readings' rows: ln scale = c − ln z; z = Z0 + v0·(t − tStart) + a·(t − tBrake)₊²/2
		// about the truth, for (c, Z0, v0, a)
		row := func(i int) []float64 {
			d, b := ts[i]-tStart, math.Max(0, ts[i]-tBrake)
			return []float64{1, -1 / zs[i], -d / zs[i], -b * b / 2 / zs[i]}
		}
		type judged struct {
			w   []float64 // the TTC's error is w · (the readings' errors up to the frame)
			ttc float64
		}
		var js []judged
		for e := range ts {
			v := (gap(ts[e]+1e-3) - gap(ts[e]-1e-3)) / 2e-3
			ttc := gap(ts[e]) / -v
			if ttc >= 4 || ts[e] < tBrake {
				continue
			}
			m := e + 1
			var chol mat.Cholesky
			if !chol.Factorize(sigma.SliceSym(0, m).(*mat.SymDense)) {
				t.Fatal("the readings' covariance is not positive definite")
			}
			h := mat.NewDense(m, 4, nil)
			for i := 0; i < m; i++ {
				h.SetRow(i, row(i))
			}
			var sh mat.Dense // Σ⁻¹ H
			if err := chol.SolveTo(&sh, h); err != nil {
				t.Fatal(err)
			}
			var info mat.Dense // Hᵀ Σ⁻¹ H, with the boxes' scale
			info.Mul(h.T(), &sh)
			info.Set(0, 0, info.At(0, 0)+1e-9)
			info.Set(1, 1, info.At(1, 1)+1/math.Pow(rangeScale*zs[0], 2))
			d, b := ts[e]-tStart, ts[e]-tBrake
			z := gap(ts[e])
			// TTC = z/−v: its gradient over (c, Z0, v0, a)
			g := mat.NewVecDense(4, []float64{0, 1 / -v, d/-v + z/(v*v), b*b/2/-v + z/(v*v)*b})
			var cg mat.VecDense
			if err := cg.SolveVec(&info, g); err != nil {
				t.Fatal(err)
			}
			var w mat.VecDense
			w.MulVec(&sh, &cg)
			js = append(js, judged{w: w.RawVector().Data, ttc: ttc})
		}
		rng := rand.New(rand.NewPCG(1, 2))
		worst := make([]float64, draws)
		errs := make([]float64, n)
		for k := range worst {
			e := 0.0
			for i := range errs {
				if i == 0 {
					e = noise.Frame * rng.NormFloat64()
				} else {
					e = noise.Step(e, ts[i]-ts[i-1], rng.NormFloat64())
				}
				errs[i] = (e + noise.Pair/math.Sqrt2*rng.NormFloat64()) / hs[i]
			}
			for _, j := range js {
				s := 0.0
				for i, wi := range j.w {
					s += wi * errs[i]
				}
				worst[k] = math.Max(worst[k], math.Abs(s)/j.ttc)
			}
		}
		slices.Sort(worst)
		over := 0
		for _, w := range worst {
			if w > 0.10 {
				over++
			}
		}
		t.Logf("%s: %d judged frames; the oracle's worst TTC error on them: median %.1f %%, 90th percentile %.1f %%, beyond 10 %% in %d of %d draws",
			size.name, len(js), 100*worst[draws/2], 100*worst[draws*9/10], over, draws)
		if len(js) < 20 {
			t.Fatalf("%s: only %d judged frames", size.name, len(js))
		}
		if over > draws/20 {
			t.Errorf("%s: the oracle misses the bar in %d of %d draws", size.name, over, draws)
		}
	}
}
