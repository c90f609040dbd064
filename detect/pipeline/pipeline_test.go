package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/detect/internal/synth"
	"roadlog/detect/obs"
	"roadlog/detect/pipeline"
	"roadlog/detect/ranging"
	"roadlog/detect/truthdet"
	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lead is a car 30 m ahead, closing at 2 m/s, in one camera.
func leadScenario() synth.Scenario {
	return synth.Scenario{Name: "lead", Duration: 3, EgoSpeed: synth.Const(20), Cameras: frontRig, Actors: []synth.Actor{
		{ID: 1, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 30, Speed: synth.Const(18), Lateral: synth.Const(0)},
	}}
}

func TestNoCalibrationStillTracks(t *testing.T) {
	sc := leadScenario()
	steps := sc.Run()
	det := truthdet.New(truthdet.Config{Seed: 1, FalseRate: 1e-9})
	p := pipeline.New(pipeline.Config{}) // a rig without calibration
	warned, tracked := 0, 0
	for i := range steps {
		res := p.Process(&steps[i].FrameSet, det.Detections(&steps[i].FrameSet))
		for _, e := range res.Events {
			if e.Code == schema.EvConfig && e.Severity == schema.SevWarn && e.Category == "ranging_disabled" {
				warned++
			}
		}
		for _, o := range res.Objects {
			if o.TrackID >= 0 {
				tracked++
				if !math.IsNaN(float64(o.Distance)) || !math.IsNaN(float64(o.TTC)) {
					t.Fatalf("object ranged without a calibration: %+v", o)
				}
			}
		}
		if res.Target == nil || res.Target.CIPV != -1 {
			t.Fatalf("target %+v: want a row with no CIPV", res.Target)
		}
	}
	if warned != 1 || tracked < len(steps)*8/10 {
		t.Fatalf("%d warnings (want 1), %d tracked objects in %d frame sets", warned, tracked, len(steps))
	}
}

func TestBadCalibrationWarns(t *testing.T) {
	bad := synth.Front
	bad.Fx = -1
	p := pipeline.New(pipeline.Config{Cameras: map[uint8]ranging.Calibration{0: bad}})
	res := p.Process(&pipeline.FrameSet{T: 1e9, Frames: []pipeline.Frame{{Camera: 0}}}, nil)
	if len(res.Events) != 1 || res.Events[0].Code != schema.EvConfig {
		t.Fatalf("events %+v, want one config warning", res.Events)
	}
}

func TestRangesAndTTC(t *testing.T) {
	sc := leadScenario()
	steps := sc.Run()
	det := truthdet.New(truthdet.Config{Seed: 1})
	p := pipeline.New(pipeline.Config{Cameras: frontRig})
	var last *schema.Object
	for i := range steps {
		p.Ego(&steps[i].Ego)
		res := p.Process(&steps[i].FrameSet, det.Detections(&steps[i].FrameSet))
		for _, o := range res.Objects {
			if o.TrackID >= 0 {
				last = o
			}
		}
		if i == len(steps)-1 && res.Target.CIPV != last.TrackID {
			t.Fatalf("CIPV %d, want the lead's track %d", res.Target.CIPV, last.TrackID)
		}
	}
	truth := steps[len(steps)-1].State[1]
	if math.Abs(float64(last.Distance-truth.Distance)) > 0.05*float64(truth.Distance) ||
		math.Abs(float64(last.RelSpeed-truth.RelSpeed)) > 0.5 || math.Abs(float64(last.TTC-truth.TTC)) > 0.1*float64(truth.TTC) ||
		last.Lane != schema.LaneEgo || last.Label != "car" || !(last.RelSpeedStd > 0) || math.Abs(float64(last.Width)-1.8) > 0.3 {
		t.Fatalf("object %+v, truth %+v", last, truth)
	}
}

func TestTimeGoingBackResets(t *testing.T) {
	sc := leadScenario()
	steps := sc.Run()
	det := truthdet.New(truthdet.Config{Seed: 1, FalseRate: 1e-9})
	p := pipeline.New(pipeline.Config{Cameras: frontRig})
	ids := map[int64]bool{}
	for _, k := range []int{0, 1, 2, 3, 4, 0, 1, 2, 3, 4} { // a replay seek back to the start
		for _, o := range p.Process(&steps[k].FrameSet, det.Detections(&steps[k].FrameSet)).Objects {
			if o.TrackID >= 0 {
				ids[o.TrackID] = true
			}
		}
	}
	if len(ids) != 2 {
		t.Fatalf("track ids %v: want one before the seek and a new one after", ids)
	}
}

// gate is a detector that blocks until released, to make the runner slow on purpose.
type gate struct {
	mu      sync.Mutex
	entered chan int64 // receives each frame set's trigger as Detect starts on it (if not nil)
	release chan struct{}
	seen    []int64
	fail    bool
}

func (g *gate) Detect(ctx context.Context, fs *pipeline.FrameSet) ([]obs.Detection, error) {
	if g.entered != nil {
		g.entered <- fs.TriggerID
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	g.mu.Lock()
	g.seen = append(g.seen, fs.TriggerID)
	g.mu.Unlock()
	if g.fail {
		return nil, errors.New("engine on fire")
	}
	return nil, nil
}

type collect struct {
	mu   sync.Mutex
	rows []schema.Sample
}

func (c *collect) Publish(s schema.Sample) {
	c.mu.Lock()
	c.rows = append(c.rows, s)
	c.mu.Unlock()
}

func (c *collect) events(code schema.EventCode) []*schema.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*schema.Event
	for _, s := range c.rows {
		if e, ok := s.(*schema.Event); ok && e.Code == code {
			out = append(out, e)
		}
	}
	return out
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for " + what)
		}
	}
}

// runGated runs a runner of the front rig's pipeline behind detector g, reporting
// stats only at the end; cancel stops it and done gives Run's result.
func runGated(g *gate) (r *pipeline.Runner, sink *collect, cancel context.CancelFunc, done chan error) {
	r = pipeline.NewRunner(g, pipeline.New(pipeline.Config{Cameras: frontRig}), pipeline.RunnerConfig{StatsInterval: time.Hour})
	sink = &collect{}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error)
	go func() { done <- r.Run(ctx, sink) }()
	return r, sink, cancel, done
}

func TestRunnerLatestWinsAndStats(t *testing.T) {
	g := &gate{entered: make(chan int64), release: make(chan struct{})}
	r, sink, cancel, done := runGated(g)

	r.Submit(&pipeline.FrameSet{T: 1e9, TriggerID: 1})
	if id := <-g.entered; id != 1 { // the detector is busy with frame set 1 …
		t.Fatalf("detector started on %d", id)
	}
	for i := int64(2); i <= 100; i++ { // … while 99 more arrive: Submit never waits
		r.Submit(&pipeline.FrameSet{T: i * 1e9, TriggerID: i})
		r.Ego(&schema.Ego{T: i * 1e9, Speed: 20})
	}
	g.release <- struct{}{}
	if id := <-g.entered; id != 100 { // the next it takes is the latest
		t.Fatalf("detector took frame set %d next, want 100", id)
	}
	g.release <- struct{}{}
	waitFor(t, "the target row of frame set 100", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, s := range sink.rows {
			if tg, ok := s.(*schema.Target); ok && tg.TriggerID == 100 {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stats := sink.events(schema.EvDetectorStats)
	drops := sink.events(schema.EvDrop)
	if len(stats) != 1 || len(drops) != 1 || drops[0].Count != 98 {
		t.Fatalf("%d stats events, drop events %+v; want one of each with 98 dropped", len(stats), drops)
	}
	var st pipeline.Stats
	if err := json.Unmarshal([]byte(stats[0].Detail), &st); err != nil {
		t.Fatal(err)
	}
	if st.Submitted != 100 || st.Processed != 2 || st.Dropped != 98 || st.Latency.Max <= 0 || st.Detect.Max <= 0 || stats[0].T != 100e9 {
		t.Fatalf("stats %+v at t=%d", st, stats[0].T)
	}
}

// TestRunnerEgoAtTheFrameSetsTime: ego rows that arrive ahead of the frame set the
// detector takes next (the detector is behind) do not reach the pipeline before that
// set: each targets row's ego speed is that of the last ego row at or before its
// frame set, as in a replay, not the newest row at hand.
func TestRunnerEgoAtTheFrameSetsTime(t *testing.T) {
	g := &gate{entered: make(chan int64), release: make(chan struct{})}
	r, sink, cancel, done := runGated(g)
	ego := func(from, to int64) { // rows every 10 ms, speed = 10 m/s per second of time
		for ms := from; ms <= to; ms += 10 {
			r.Ego(&schema.Ego{T: ms * 1e6, Speed: float32(ms) / 100})
		}
	}
	ego(0, 1500)
	r.Ego(&schema.Ego{T: 990e6, Speed: -1}) // a straggler: in order among the waiting rows
	r.Submit(&pipeline.FrameSet{T: 1e9, TriggerID: 1})
	<-g.entered
	ego(1510, 2500) // rows past the next frame set arrive while the detector works
	g.release <- struct{}{}
	r.Submit(&pipeline.FrameSet{T: 2e9, TriggerID: 2})
	<-g.entered
	g.release <- struct{}{}
	speeds := map[int64]float32{}
	waitFor(t, "two targets rows", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, s := range sink.rows {
			if tg, ok := s.(*schema.Target); ok {
				speeds[tg.TriggerID] = tg.EgoSpeed
			}
		}
		return len(speeds) == 2
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if speeds[1] != 10 || speeds[2] != 20 {
		t.Fatalf("ego speed of the targets rows at 1 s and 2 s: %v and %v, want 10 and 20", speeds[1], speeds[2])
	}
}

func TestRunnerReportsDetectorErrors(t *testing.T) {
	g := &gate{release: make(chan struct{}, 10), fail: true}
	for i := 0; i < 3; i++ {
		g.release <- struct{}{}
	}
	r := pipeline.NewRunner(g, pipeline.New(pipeline.Config{}), pipeline.RunnerConfig{StatsInterval: time.Hour})
	sink := &collect{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx, sink) }()
	for i := int64(1); i <= 3; i++ {
		r.Submit(&pipeline.FrameSet{T: i * 1e9, TriggerID: i})
		waitFor(t, "the detector", func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			return len(g.seen) >= int(i)
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	errs := sink.events(schema.EvSourceError)
	stats := sink.events(schema.EvDetectorStats)
	var st pipeline.Stats
	if len(stats) == 1 {
		json.Unmarshal([]byte(stats[0].Detail), &st)
	}
	if len(errs) != 1 || st.Errors != 3 {
		t.Fatalf("%d error events (want 1: rate-limited), stats %+v (want 3 errors)", len(errs), st)
	}
}

func TestLatest(t *testing.T) {
	q := pipeline.NewLatest[int]()
	if _, ok := q.TryGet(); ok {
		t.Fatal("empty mailbox gave an item")
	}
	q.Put(1)
	if old, replaced := q.Put(2); !replaced || old != 1 {
		t.Fatalf("Put over a waiting item: old %d replaced %v", old, replaced)
	}
	if v, err := q.Get(context.Background()); err != nil || v != 2 {
		t.Fatalf("Get = %d, %v; want 2", v, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := q.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on an empty mailbox: %v", err)
	}
	if put, dropped := q.Counts(); put != 2 || dropped != 1 {
		t.Fatalf("counts %d %d", put, dropped)
	}
	// a reader that stops for good discards what waits, counted as dropped
	if q.Discard() {
		t.Fatal("Discard on an empty mailbox found an item")
	}
	q.Put(3)
	if !q.Discard() {
		t.Fatal("Discard missed the waiting item")
	}
	if _, ok := q.TryGet(); ok {
		t.Fatal("an item left after Discard")
	}
	if put, dropped := q.Counts(); put != 3 || dropped != 2 {
		t.Fatalf("counts after Discard %d %d, want 3 2", put, dropped)
	}
}

// TestEgoBrakingIsNotTheObjects holds the track filter to the ego's braking (6 m/s²,
// behind a car that holds its speed), with boxes free of noise so that only the
// ego's drive moves the relative speed: the range's rate must take the ego's whole
// change of speed as it happens. The filter is driven by the ego's speed change
// between measurements; driven by an acceleration estimated from the speed rows (as
// before), which lags them, it read the speed the lag left out as the car pulling
// away: 0.32 m/s as the braking began, still 0.1 m/s 1.3 s later.
func TestEgoBrakingIsNotTheObjects(t *testing.T) {
	sc := synth.Scenario{Name: "ego-brakes", Duration: 4, EgoSpeed: synth.Brake(20, 1.5, 6, 8), Cameras: frontRig, Actors: []synth.Actor{
		{ID: 1, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 40, Speed: synth.Const(20), Lateral: synth.Const(0)},
	}}
	steps := sc.Run()
	det := truthdet.New(truthdet.Config{Seed: 3, FalseRate: 1e-9, NoLoom: true, EdgeSigma: 1e-6, EdgeFraction: 1e-9, DriftFraction: 1e-9, MissRate: 1e-9})
	p := pipeline.New(pipeline.Config{Cameras: frontRig})
	worst, at := 0.0, 0.0
	for i := range steps {
		p.Ego(&steps[i].Ego)
		res := p.Process(&steps[i].FrameSet, det.Detections(&steps[i].FrameSet))
		s := float64(i) / 30
		for _, o := range res.Objects {
			if o.TrackID < 0 || s < 1.5 || s > 3.5 {
				continue
			}
			if e := math.Abs(float64(o.RelSpeed - steps[i].State[1].RelSpeed)); e > worst {
				worst, at = e, s
			}
		}
	}
	t.Logf("worst relative-speed error while the ego brakes: %.2f m/s at %.2f s", worst, at)
	if worst > 0.05 {
		t.Errorf("relative speed off by %.2f m/s at %.2f s while the ego brakes: the filter reads the ego's braking as the car's motion", worst, at)
	}
}

// TestEgoLaneChangeIsNoCutIn: the ego changes into the left lane (3.5 m in 5 s, as
// drivers do: heading up to 2.4°, yaw rate up to 1.9°/s) behind a car that holds its
// lane there, 25 m ahead, with another car 45 m ahead in the lane it leaves. Both cars
// keep their lanes and speeds: neither cuts in or out. The driver signals from 1 s
// before moving until the lamp cancels as the wheel returns (6.5 s), and while the
// ego changes lanes no cut-in or cut-out begins (adas.Config.EgoLaneChangeHold).
// Unsignalled, the same drive flags the car in the left lane as cutting in 0.2 s after
// the ego starts to move and as cutting out as the ego straightens: checked too, to
// show what the hold prevents (with no lane markings seen, the ego's own lane change
// cannot be told from the other car's by their relative motion).
func TestEgoLaneChangeIsNoCutIn(t *testing.T) {
	egoLat, _ := synth.LaneChange(0, 3.5, 2, 5)
	for _, signalled := range []bool{true, false} {
		sc := synth.Scenario{Name: "ego-lane-change", Duration: 10, EgoSpeed: synth.Const(25), EgoLateral: egoLat, Cameras: frontRig, Actors: []synth.Actor{
			{ID: 1, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 25, Speed: synth.Const(25), Lateral: synth.Const(3.5)},
			{ID: 2, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 45, Speed: synth.Const(25), Lateral: synth.Const(0)},
		}}
		if signalled {
			sc.EgoSignal = func(t float64) int {
				if t >= 1 && t < 6.5 {
					return 1
				}
				return 0
			}
		}
		steps := sc.Run()
		for _, seed := range []uint64{1, 2, 3} {
			det := truthdet.New(truthdet.Config{Seed: seed, FalseRate: 1e-9})
			p := pipeline.New(pipeline.Config{Cameras: frontRig})
			var flagged []string
			for i := range steps {
				p.Ego(&steps[i].Ego)
				for _, e := range p.Process(&steps[i].FrameSet, det.Detections(&steps[i].FrameSet)).Events {
					if e.Code == schema.EvCutIn || e.Code == schema.EvCutOut {
						flagged = append(flagged, fmt.Sprintf("%v at %.2f s (%s)", e.Code, float64(i)/30, e.Detail))
					}
				}
			}
			switch {
			case signalled && len(flagged) > 0:
				t.Errorf("seed %d: the ego changes lanes, signalled, and %v", seed, flagged)
			case !signalled && len(flagged) == 0:
				t.Errorf("seed %d: unsignalled, the ego's lane change flagged nothing: the drive no longer shows what the hold prevents", seed)
			case !signalled && seed == 1:
				t.Logf("unsignalled: %v", flagged)
			}
		}
	}
}

// laneTraffic is a car in the ego lane x0 m ahead at v m/s, and cars at 25 m/s holding
// the lanes either side, 25 m and 60 m ahead.
func laneTraffic(x0, v float64) []synth.Actor {
	return []synth.Actor{
		{ID: 1, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: x0, Speed: synth.Const(v), Lateral: synth.Const(0)},
		{ID: 2, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 25, Speed: synth.Const(25), Lateral: synth.Const(3.5)},
		{ID: 3, Kind: schema.ActorCar, W: 1.8, L: 4.5, H: 1.5, X0: 60, Speed: synth.Const(25), Lateral: synth.Const(-3.5)},
	}
}

// TestSteadyCurve drives a left curve of radius 400 m at 25 m/s (yaw rate 3.6°/s, the
// road 2.5 m to the left 45 m ahead) with a car in the ego lane closing at 5 m/s and
// cars holding the lanes either side. Everything is as on a straight road: each car
// in its lane, the closing one the closest in-path vehicle, no cut-in or cut-out,
// the forward-collision warning within 0.3 s of its true TTC crossing 2.7 s, and the
// TTC within 10 % whenever it is under 4 s.
func TestSteadyCurve(t *testing.T) {
	sc := synth.Scenario{Name: "curve", Duration: 8, EgoSpeed: synth.Const(25), Curvature: 1.0 / 400, Cameras: frontRig, Actors: laneTraffic(45, 20)}
	steps := sc.Run()
	for _, seed := range []uint64{1, 2, 3} {
		det := truthdet.New(truthdet.Config{Seed: seed, FalseRate: 1e-9})
		p := pipeline.New(pipeline.Config{Cameras: frontRig})
		var outs []frameOut
		laneN, laneOK, cipvN, cipvOK := 0, 0, 0, 0
		var lanes []string
		for i := range steps {
			p.Ego(&steps[i].Ego)
			res := p.Process(&steps[i].FrameSet, det.Detections(&steps[i].FrameSet))
			outs = append(outs, frameOut{fs: &steps[i].FrameSet, res: res})
			for _, e := range res.Events {
				if e.Code == schema.EvCutIn || e.Code == schema.EvCutOut {
					t.Errorf("seed %d: %v at %.2f s (%s) on a steady curve", seed, e.Code, float64(i)/30, e.Detail)
				}
			}
			if float64(i)/30 < 1 {
				continue
			}
			for _, tr := range steps[i].FrameSet.Truth {
				if tr.Camera == schema.TruthNoCamera {
					continue
				}
				ob := match(res.Objects, &tr)
				if ob == nil {
					continue
				}
				laneN++
				if ob.Lane == tr.Lane {
					laneOK++
				} else if len(lanes) < 5 {
					lanes = append(lanes, fmt.Sprintf("%.2f s actor %d: lane %v, true %v (lateral %.2f, true %.2f)", float64(i)/30, tr.ActorID, ob.Lane, tr.Lane, ob.Lateral, tr.Lateral))
				}
				if tr.ActorID == 1 {
					cipvN++
					if res.Target.CIPV == ob.TrackID {
						cipvOK++
					}
				}
			}
		}
		a := evaluate("curve", outs, 2.7, 0.5, nil)
		t.Logf("seed %d: lanes right in %d of %d, CIPV the closing car in %d of %d; TTC median %.1f %%, max %.1f %% (%s); FCW %.2f s after the crossing",
			seed, laneOK, laneN, cipvOK, cipvN, 100*a.ttcMedian, 100*a.ttcMax, a.ttcWorst, a.fcwRaised-a.fcwCross)
		if laneOK < laneN*95/100 {
			t.Errorf("seed %d: lanes right in only %d of %d: %v", seed, laneOK, laneN, lanes)
		}
		if cipvOK < cipvN*95/100 {
			t.Errorf("seed %d: the closing car is the CIPV in only %d of %d frame sets", seed, cipvOK, cipvN)
		}
		if a.ttcMax > 0.10 {
			t.Errorf("seed %d: TTC error %.1f %% (%s)", seed, 100*a.ttcMax, a.ttcWorst)
		}
		if d := a.fcwRaised - a.fcwCross; !(d <= 0.3) {
			t.Errorf("seed %d: FCW %.2f s after the true TTC crossed 2.7 s", seed, d)
		}
	}
}

// TestCurveEntry drives from a straight into a left curve that tightens to a radius
// of 250 m over 50 m (a clothoid), at 25 m/s, behind a car 70 m ahead in the ego lane,
// with cars holding the lanes either side. The ego path comes from the yaw rate, which
// knows only the ego's own curvature: while the ego is still straight and the car
// ahead already in the curve, the car reads as in the left lane and the car in the
// right lane, which the straight path then meets, as the closest in-path vehicle.
// That lasts about 2 s (logged); lane markings, which roadlog does not detect, would
// be needed to see the curve coming. Asserted: no cut-in or cut-out on the way in, and
// once the ego is in the curve (from 4 s) every car in its lane and the car ahead the
// CIPV on at least 95 % of the frame sets.
func TestCurveEntry(t *testing.T) {
	sc := synth.Scenario{Name: "curve-entry", Duration: 8, EgoSpeed: synth.Const(25), Cameras: frontRig,
		CurvatureAt: func(s float64) float64 { return math.Min(1, math.Max(0, (s-40)/50)) / 250 },
		Actors:      laneTraffic(70, 23)}
	steps := sc.Run()
	for _, seed := range []uint64{1, 2, 3} {
		det := truthdet.New(truthdet.Config{Seed: seed, FalseRate: 1e-9})
		p := pipeline.New(pipeline.Config{Cameras: frontRig})
		wrongEntry, laneN, laneOK, cipvN, cipvOK := 0, 0, 0, 0, 0
		for i := range steps {
			p.Ego(&steps[i].Ego)
			res := p.Process(&steps[i].FrameSet, det.Detections(&steps[i].FrameSet))
			s := float64(i) / 30
			for _, e := range res.Events {
				if e.Code == schema.EvCutIn || e.Code == schema.EvCutOut {
					t.Errorf("seed %d: %v at %.2f s (%s) entering a curve", seed, e.Code, s, e.Detail)
				}
			}
			for _, tr := range steps[i].FrameSet.Truth {
				ob := match(res.Objects, &tr)
				if tr.Camera == schema.TruthNoCamera || ob == nil || s < 0.5 {
					continue
				}
				if s < 4 {
					if tr.ActorID == 1 && ob.Lane != tr.Lane {
						wrongEntry++
					}
					continue
				}
				laneN++
				if ob.Lane == tr.Lane {
					laneOK++
				}
				if tr.ActorID == 1 {
					cipvN++
					if res.Target.CIPV == ob.TrackID {
						cipvOK++
					}
				}
			}
		}
		t.Logf("seed %d: on the way in, the car ahead out of its lane for %.2f s; in the curve, lanes right in %d of %d, CIPV the car ahead in %d of %d",
			seed, float64(wrongEntry)/30, laneOK, laneN, cipvOK, cipvN)
		if laneN == 0 || laneOK < laneN*95/100 || cipvN == 0 || cipvOK < cipvN*95/100 {
			t.Errorf("seed %d: in the curve, lanes right in %d of %d, the car ahead the CIPV in %d of %d", seed, laneOK, laneN, cipvOK, cipvN)
		}
	}
}
