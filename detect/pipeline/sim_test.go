package pipeline_test

// The accuracy bars on the simulator's scenario (acquire/sim): its truth rows feed
// the truth-fed detector, its ego rows the path. This test (and only it) imports
// acquire/sim, to judge the detect packages on the drive the rest of the system
// records; the detect packages themselves import schema only.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"roadlog/acquire/sim"
	"roadlog/detect/pipeline"
	"roadlog/detect/ranging"
	"roadlog/detect/truthdet"
	"roadlog/schema"
)

// simCalibration maps a simulated camera onto ranging's calibration (the simulator's
// cameras are level pinholes at the given mounting).
func simCalibration(c sim.Camera) ranging.Calibration {
	return ranging.Calibration{Width: c.Width, Height: c.Height, Fx: c.FX, Fy: c.FY, Cx: c.CX, Cy: c.CY,
		MountHeight: c.Z, Pitch: c.Pitch * math.Pi / 180, Yaw: c.Yaw * math.Pi / 180, X: c.X, Y: c.Y}
}

// simStep is one frame set of a simulated drive and the ego rows since the last one.
type simStep struct {
	fs  pipeline.FrameSet
	ego []*schema.Ego
}

// simDrive runs the simulator for one scenario period as fast as it goes and returns
// its frame sets in order, and the rig calibration.
func simDrive(t testing.TB, cameras, width, height int) ([]simStep, map[uint8]ranging.Calibration) {
	t.Helper()
	const start = int64(1767225600e9)
	rig, err := sim.New(sim.Config{Cameras: cameras, Width: width, Height: height, Speed: 0,
		Duration: time.Duration(sim.Period * float64(time.Second)), StaticFrames: true, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	cal := map[uint8]ranging.Calibration{}
	for _, c := range rig.Cameras() {
		cal[c.Index] = simCalibration(c)
	}
	var (
		mu     sync.Mutex
		truth  = map[int64][]schema.Truth{}
		frames = map[int64][]pipeline.Frame{}
		times  = map[int64]int64{}
		egos   []*schema.Ego
	)
	sink := schema.SinkFunc(func(s schema.Sample) {
		mu.Lock()
		defer mu.Unlock()
		switch v := s.(type) {
		case *schema.Truth:
			truth[v.TriggerID] = append(truth[v.TriggerID], *v)
			times[v.TriggerID] = v.T
		case *schema.VideoFrame:
			frames[v.TriggerID] = append(frames[v.TriggerID], pipeline.Frame{Camera: v.Camera, Seq: v.Seq, Width: int(v.Width), Height: int(v.Height)})
			times[v.TriggerID] = v.T
		case *schema.Ego:
			egos = append(egos, v)
		}
	})
	if err := rig.Run(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for id := range times {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	slices.SortFunc(egos, func(a, b *schema.Ego) int { return int(a.T - b.T) })
	var out []simStep
	e := 0
	for _, id := range ids {
		fr := frames[id]
		slices.SortFunc(fr, func(a, b pipeline.Frame) int { return int(a.Camera) - int(b.Camera) })
		st := simStep{fs: pipeline.FrameSet{T: times[id], TriggerID: id, Frames: fr, Truth: truth[id]}}
		for e < len(egos) && egos[e].T <= times[id] {
			st.ego = append(st.ego, egos[e])
			e++
		}
		out = append(out, st)
	}
	if len(out) < int(sim.Period*25) {
		t.Fatalf("simulator gave %d frame sets for %v s", len(out), sim.Period)
	}
	return out, cal
}

func simDriveB(b *testing.B) ([]simStep, map[uint8]ranging.Calibration) { return simDrive(b, 8, 0, 0) }

func runSim(steps []simStep, det *truthdet.Detector, cfg pipeline.Config) []frameOut {
	p := pipeline.New(cfg)
	out := make([]frameOut, 0, len(steps))
	for i := range steps {
		s := &steps[i]
		for _, e := range s.ego {
			p.Ego(e)
		}
		out = append(out, frameOut{fs: &s.fs, res: p.Process(&s.fs, det.Detections(&s.fs))})
	}
	return out
}

// meanLoomNIS is the mean normalised innovation squared of the looming measurements
// the track filters folded in (pipeline.Result.Loom), over all cameras: near 1 where
// they weigh looming as noisy as the truth-fed detector makes it.
func meanLoomNIS(outs []frameOut) float64 {
	n, sum := 0, 0.0
	for _, o := range outs {
		for _, l := range o.res.Loom {
			n += l.Updates
			sum += l.NIS
		}
	}
	return sum / float64(n)
}

// quietFCW counts frame sets with a warning inside the simulator's own quiet
// stretches.
func quietWarnings(outs []frameOut) (n int) {
	t0 := outs[0].fs.T
	for _, o := range outs {
		s := float64(o.fs.T-t0) / 1e9
		for _, q := range sim.Quiet {
			if s >= q[0] && s < q[1] && (o.res.Target.FCW || o.res.Target.AEB) {
				n++
			}
		}
	}
	return n
}

// settleTime is how long after a change of an actor's own acceleration is complete
// the "settled" TTC figure still leaves the actor out, s.
const settleTime = 0.5

// TestAccuracySimScenario holds the accuracy bars on the simulator's scenario (with
// jerk-limited kinematics) with the truth-fed detector at its default, realistic noise,
// for the 4- and the 8-camera rig at the recorder's default camera size (640×360), at
// 1280×720 and at 1920×1080 (the 2 Mpx front camera the detector's noise model
// describes), 12 noise seeds each: every scripted cut-in flagged within 0.5 s of the
// truth's cut-in flag, FCW no later than 0.3 s after the true in-path TTC crosses
// 2.7 s, no warning in the scenario's quiet stretches, no false cut-ins.
//
// The TTC bar — error ≤ 10 % whenever the true TTC < 4 s — is judged on every frame of
// every camera where the actor is detected and on a track at least 0.5 s old (a track
// must see the object move before it has a speed), with a gap of at least 2 m (beside
// the car a "TTC" of the longitudinal gap means nothing); a tracked object without a
// TTC counts as an error of 100 %. The detector gives each detection the object's
// image scale as aligning its pixels would read it, with the errors that alignment
// shows on real video (loom.DefaultNoise: each frame's own, changing smoothly, and
// each pair's), and the pipeline measures its looming against the track's key frame,
// which the track filter takes beside the range from cameras looking ahead or
// behind, and for people from every camera; an object's tracks in cameras whose views
// overlap share their speed and TTC, averaged by their variances (Pipeline.fuse, stop
// 23). Over the 12 seeds:
//   - 4 cameras: met on every seed at 1920×1080 (max 5.2–8.2 %: asserted) and at
//     1280×720 (6.2–9.9 %, too near the bar to assert); at 640×360 on 1 of 12
//     (8.7–16.5 %), where a car 34 m ahead is 24 px tall and its looming 3× as noisy
//     (what an estimator told when the lead brakes could reach there:
//     TestTTCOracleOnTheLeadsBraking);
//   - 8 cameras: met on every seed at 1920×1080 (3.3–7.1 %: asserted) and at
//     1280×720 (4.6–9.9 %), on 9 of 12 at 640×360 (7.1–11.9 %). Before the fusion
//     (stop 22) 9, 9 and 0 of 12: the pedestrian seen at a slant by a corner camera,
//     whose looming counts the lateral filter's uncertainty as noise, now takes the
//     front camera's speed, and the two front cameras' independent errors average.
//     What is left at 640×360 is the cut-in car's pull-away 7 m ahead, which the
//     narrow camera's picture cuts (so the wide camera's track stands alone), and the
//     pedestrian's first steps where the front camera had no track of it.
//
// See docs/adas.md ("Accuracy on the simulated scenario"). What is asserted beside the
// event bars on every seed: the median error ≤ 10 %, the bar itself on both
// rigs at 1920×1080, on the frames outside the settling windows (a change of the
// actor's own acceleration and 0.5 s after it) a p95 within the bound each camera
// size reaches, and that the filters weigh looming as noisy as it is (mean normalised
// innovation squared 0.5–2; it is 0.83–0.87); the full figures are printed, and how
// many seeds meet the bar on each rig.
func TestAccuracySimScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulator for a minute of scenario time")
	}
	settle := settlingWindows(simManoeuvres(sim.Scenario{}), settleTime)
	var all []accuracy
	var summary strings.Builder
	for _, rig := range []struct {
		name          string
		cameras       int
		width, height int
		seeds         uint64
		settledP95    float64 // bound on the p95 of the settled TTC error
		bar           bool    // the TTC bar holds on every judged frame of every seed
	}{
		{"sim-4cam-640", 4, 640, 360, 12, 0.12, false},
		{"sim-8cam-640", 8, 640, 360, 12, 0.12, false},
		{"sim-4cam-1280", 4, 1280, 720, 12, 0.10, false},
		{"sim-8cam-1280", 8, 1280, 720, 12, 0.10, false},
		{"sim-4cam-1920", 4, 1920, 1080, 12, 0.07, true},
		{"sim-8cam-1920", 8, 1920, 1080, 12, 0.07, true},
	} {
		steps, cal := simDrive(t, rig.cameras, rig.width, rig.height)
		met, lo, hi := 0, math.Inf(1), 0.0
		for seed := uint64(1); seed <= rig.seeds; seed++ {
			det := truthdet.New(truthdet.Config{Seed: seed})
			outs := runSim(steps, det, pipeline.Config{Cameras: cal, Ranging: det.Ranging()})
			a := evaluate(fmt.Sprintf("%s/%d", rig.name, seed), outs, 2.7, 0.5, settle)
			all = append(all, a)
			checkEvents(t, a, seed)
			if a.ttcMedian > 0.10 {
				t.Errorf("%s seed %d: median TTC error %.1f %% > 10 %%", rig.name, seed, 100*a.ttcMedian)
			}
			if a.ttcMax <= 0.10 {
				met++
			} else if rig.bar {
				t.Errorf("%s seed %d: TTC error %.1f %% > 10 %% (%s)", rig.name, seed, 100*a.ttcMax, a.ttcWorst)
			}
			lo, hi = math.Min(lo, a.ttcMax), math.Max(hi, a.ttcMax)
			if a.setP95 > rig.settledP95 {
				t.Errorf("%s seed %d: p95 of the settled TTC error %.1f %% > %.0f %% (worst: %s)", rig.name, seed, 100*a.setP95, 100*rig.settledP95, a.setWorst)
			}
			if nis := meanLoomNIS(outs); nis < 0.5 || nis > 2 {
				t.Errorf("%s seed %d: looming's mean normalised innovation squared %.2f, want 0.5–2", rig.name, seed, nis)
			} else if seed == 1 {
				t.Logf("%s: looming's mean normalised innovation squared %.2f", rig.name, nis)
			}
			if n := quietWarnings(outs); n > 0 {
				t.Errorf("%s seed %d: warnings in %d frame sets of the scenario's quiet stretches %v", rig.name, seed, n, sim.Quiet)
			}
			if len(a.cutIns) != 2 {
				t.Errorf("%s seed %d: %d cut-ins in the truth, the scenario scripts 2", rig.name, seed, len(a.cutIns))
			}
		}
		fmt.Fprintf(&summary, "%-14s TTC bar met on %2d of %2d seeds, max %4.1f–%4.1f %%\n", rig.name, met, rig.seeds, 100*lo, 100*hi)
	}
	var sb strings.Builder
	writeAccuracy(&sb, all)
	t.Log("accuracy on the simulator's scenario (name/seed; with looming against key frames; TTC bar ≤ 10 % NOT met where max > 10 %):\n" + sb.String() + "\n" + summary.String())
}

// TestTTCBarWithPreciseBoxes shows what the TTC bar of TestAccuracySimScenario asks of
// the boxes alone, without looming. The truth-fed detector's boxes are made ten times
// more precise (edge jitter 0.05 px + 0.04 % of the box height, drift 0.05 %) on the
// 4-camera rig at 1920×1080, and the track filter is told to take only the boxes'
// frame-to-frame noise as measurement noise (RangeSlowShare −1): then the TTC error
// stays within 10 % on every judged frame, with every event bar held. Either change
// alone does not get there — the default filter with these boxes still misses the
// bar by the same 20–26 % after each change of an actor's acceleration, since the
// half of the size-prior error it counts as noise is as large as before (logged
// below) — so the bar is one of the boxes' precision and of how the filter weighs
// them, not of a systematic error in the gap, the ego's drive or the timing, which
// this test would catch. No detector boxes that well; looming measures what they
// would (TestAccuracySimScenario).
func TestTTCBarWithPreciseBoxes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulator for a minute of scenario time")
	}
	settle := settlingWindows(simManoeuvres(sim.Scenario{}), settleTime)
	steps, cal := simDrive(t, 4, 1920, 1080)
	var all []accuracy
	for _, share := range []float64{-1, 0} {
		for _, seed := range []uint64{1, 2, 3} {
			det := truthdet.New(truthdet.Config{Seed: seed, EdgeSigma: 0.05, EdgeFraction: 0.0004, DriftFraction: 0.0005, NoLoom: true})
			outs := runSim(steps, det, pipeline.Config{Cameras: cal, Ranging: det.Ranging(), RangeSlowShare: share})
			name := "precise, noise only"
			if share == 0 {
				name = "precise, default"
			}
			a := evaluate(name, outs, 2.7, 0.5, settle)
			all = append(all, a)
			if share == 0 {
				continue
			}
			checkEvents(t, a, seed)
			if a.ttcMax > 0.10 {
				t.Errorf("%s seed %d: TTC error %.1f %% > 10 %% (%s)", name, seed, 100*a.ttcMax, a.ttcWorst)
			}
			if n := quietWarnings(outs); n > 0 {
				t.Errorf("%s seed %d: warnings in %d frame sets of the scenario's quiet stretches", name, seed, n)
			}
		}
	}
	var sb strings.Builder
	writeAccuracy(&sb, all)
	t.Log("4 cameras 1920×1080, boxes 10× more precise than the default:\n" + sb.String())
}

// manoeuvres returns the intervals [start, end] (s) in which the acceleration of a
// speed profile changes, sampled every 10 ms over [t0, t1).
func manoeuvres(speed func(s float64) (float64, bool), t0, t1 float64) [][2]float64 {
	const ds = 0.01
	var out [][2]float64
	var prevA float64
	havePrev, in := false, false
	for s := t0; s < t1; s += ds {
		v0, ok0 := speed(s)
		v1, ok1 := speed(s + ds)
		if !ok0 || !ok1 {
			havePrev, in = false, false
			continue
		}
		a := (v1 - v0) / ds
		changing := havePrev && math.Abs(a-prevA) > 1e-6
		switch {
		case changing && !in:
			out = append(out, [2]float64{s - ds, s})
			in = true
		case changing:
			out[len(out)-1][1] = s
		case in:
			in = false
		}
		prevA, havePrev = a, true
	}
	return out
}

// settlingWindows returns a settling function for evaluate: an actor is settling
// from the start of each change of its own acceleration until settle seconds after
// the change is complete.
func settlingWindows(wins map[int32][][2]float64, settle float64) func(actor int32, s float64) bool {
	return func(actor int32, s float64) bool {
		for _, w := range wins[actor] {
			if s >= w[0] && s <= w[1]+settle {
				return true
			}
		}
		return false
	}
}

// simManoeuvres returns each scenario actor's changes of acceleration.
func simManoeuvres(sc sim.Scenario) map[int32][][2]float64 {
	actors := sc.Actors()
	out := map[int32][][2]float64{}
	for _, a := range actors {
		id := a.ID
		out[id] = manoeuvres(func(s float64) (float64, bool) {
			for _, st := range sc.At(actors, s).Actors {
				if st.ID == id {
					return st.VX, true
				}
			}
			return 0, false
		}, 0, sim.Period)
	}
	return out
}

// dropSets leaves out frame sets the way a busy live detector does (bursts of 1–5,
// about rate of them in all; the ego rows of a dropped set reach the next one), with
// a pattern fixed by seed.
func dropSets(steps []simStep, rate float64, seed uint64) []simStep {
	r := rand.New(rand.NewPCG(seed, 7))
	var out []simStep
	var egos []*schema.Ego
	for i := 0; i < len(steps); i++ {
		if r.Float64() < rate/3 {
			for k := 1 + r.IntN(5); k > 0 && i < len(steps); k-- {
				egos = append(egos, steps[i].ego...)
				i++
			}
			i--
			continue
		}
		s := steps[i]
		s.ego = append(egos, s.ego...)
		egos = nil
		out = append(out, s)
	}
	return out
}

// TestCutInsAcrossSeeds holds the event bars of the simulator's scenario over 16
// seeds of the truth-fed detector, on the 4- and 8-camera rigs at the recorder's
// default camera size, with every frame set and with 3 % of them dropped in bursts as
// a busy live detector does: every scripted cut-in flagged within 0.5 s (counted, when
// sets were dropped meanwhile, in the frame sets the pipeline saw: 15 of them), no
// false cut-in, no warning in the quiet stretches.
func TestCutInsAcrossSeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulator's scenario 64 times")
	}
	for _, rig := range []struct {
		name    string
		cameras int
	}{{"sim-4cam-640", 4}, {"sim-8cam-640", 8}} {
		steps, cal := simDrive(t, rig.cameras, 640, 360)
		for _, drop := range []float64{0, 0.03} {
			var lags []float64
			worst := 0.0
			for seed := uint64(0); seed < 16; seed++ {
				det := truthdet.New(truthdet.Config{Seed: seed})
				st := steps
				if drop > 0 {
					st = dropSets(steps, drop, seed)
				}
				outs := runSim(st, det, pipeline.Config{Cameras: cal, Ranging: det.Ranging()})
				a := evaluate(rig.name, outs, 2.7, 0.5, nil)
				t0 := outs[0].fs.T
				for _, c := range a.cutIns {
					lag := c.flagged - c.onset
					lags = append(lags, lag)
					worst = math.Max(worst, lag)
					// due: 0.5 s, or the 15th frame set processed from the onset on
					due := c.onset + 0.5
					for i, n := 0, 0; i < len(outs); i++ {
						if s := float64(outs[i].fs.T-t0) / 1e9; s >= c.onset {
							if n++; n == 15 {
								due = math.Max(due, s)
								break
							}
						}
					}
					if !(c.flagged <= due+1e-6) || !c.event {
						t.Errorf("%s drop %.2f seed %d: cut-in of actor %d at %.2f s flagged at %.2f s (event %v), want by %.2f s",
							rig.name, drop, seed, c.actor, c.onset, c.flagged, c.event, due)
					}
				}
				if len(a.cutIns) != 2 || a.falseCutIns > 0 {
					t.Errorf("%s drop %.2f seed %d: %d cut-ins in the truth (want 2), false cut-ins %v", rig.name, drop, seed, len(a.cutIns), a.falseAt)
				}
				if n := quietWarnings(outs); n > 0 {
					t.Errorf("%s drop %.2f seed %d: warnings in %d frame sets of the quiet stretches", rig.name, drop, seed, n)
				}
			}
			slices.Sort(lags)
			t.Logf("%s, %.0f %% of frame sets dropped: %d cut-ins flagged after %.2f s median, %.2f s at worst", rig.name, 100*drop, len(lags), lags[len(lags)/2], worst)
		}
	}
}
