package ranging

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"roadlog/detect/obs"
)

// front is a windscreen camera: 1920×1080, 60° horizontal field of view, 1.3 m up,
// 1.8 m behind the bumper, pitched 1° down.
var front = Calibration{Width: 1920, Height: 1080, Fx: 1663, Fy: 1663, Cx: 960, Cy: 540,
	MountHeight: 1.3, Pitch: 1 * math.Pi / 180, X: -1.8}

// rear looks backward from the tailgate (ego length 4.6 m).
var rear = Calibration{Width: 1280, Height: 720, Fx: 640, Fy: 640, Cx: 640, Cy: 360,
	MountHeight: 1.0, Pitch: 5 * math.Pi / 180, Yaw: math.Pi, X: -4.6}

// right looks to the right from the B-pillar.
var right = Calibration{Width: 1280, Height: 720, Fx: 640, Fy: 640, Cx: 640, Cy: 360,
	MountHeight: 1.2, Pitch: 3 * math.Pi / 180, Yaw: -math.Pi / 2, X: -2.5, Y: -0.9}

// boxOf projects a road-aligned cuboid — near edge at x (ahead: extends to x+l;
// behind: to x−l), centre y, width w, height h — and returns its 2D box, clipped to
// the image.
func boxOf(c Calibration, class uint16, x, y, w, l, h float64) obs.Detection {
	far := x + l
	if x < 0 {
		far = x - l
	}
	var pts [][2]float64
	for _, px := range []float64{x, far} {
		for _, py := range []float64{y - w/2, y + w/2} {
			pts = append(pts, [2]float64{px, py})
		}
	}
	return boxOfFootprint(c, class, pts, h)
}

// boxOfFootprint is the exact box of an upright prism of height h standing on the
// ground points pts (vehicle frame), clipped to the image.
func boxOfFootprint(c Calibration, class uint16, pts [][2]float64, h float64) obs.Detection {
	x1, y1, x2, y2 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		for _, pz := range []float64{0, h} {
			u, v, ok := c.Project(p[0], p[1], pz)
			if !ok {
				continue
			}
			x1, x2 = math.Min(x1, u), math.Max(x2, u)
			y1, y2 = math.Min(y1, v), math.Max(y2, v)
		}
	}
	clip := func(v, hi float64) float32 { return float32(math.Max(0, math.Min(v, hi))) }
	return obs.Detection{X1: clip(x1, float64(c.Width)), Y1: clip(y1, float64(c.Height)),
		X2: clip(x2, float64(c.Width)), Y2: clip(y2, float64(c.Height)), Class: class, Score: 0.9}
}

// rangeCases feed TestRange and BenchmarkRange: exact boxes of objects that match the
// priors, so the range must be near exact.
var rangeCases = []struct {
	name          string
	cal           Calibration
	class         uint16
	x, y, w, l, h float64
	cues          Cue
	tol           float64 // relative distance tolerance
}{
	{"car-ahead-10m", front, obs.ClassCar, 10, 0, 1.8, 4.4, 1.52, CueGround | CueWidth | CueHeight, 0.01},
	{"car-ahead-30m", front, obs.ClassCar, 30, 0.3, 1.8, 4.4, 1.52, CueGround | CueWidth | CueHeight, 0.01},
	{"car-ahead-80m", front, obs.ClassCar, 80, -0.5, 1.8, 4.4, 1.52, CueGround | CueWidth | CueHeight, 0.02},
	{"car-left-lane-8m-side-visible", front, obs.ClassCar, 8, 3.5, 1.8, 4.4, 1.52, CueGround | CueWidth | CueHeight, 0.02},
	{"car-right-lane-15m", front, obs.ClassCar, 15, -3.5, 1.8, 4.4, 1.52, CueGround | CueWidth | CueHeight, 0.02},
	{"truck-40m", front, obs.ClassTruck, 40, 0, 2.45, 8, 3.0, CueGround | CueWidth | CueHeight, 0.02},
	{"person-12m", front, obs.ClassPerson, 12, 1.5, 0.55, 0.5, 1.7, CueGround | CueWidth | CueHeight, 0.02},
	{"car-cut-by-bottom-3m", front, obs.ClassCar, 2.0, 0, 1.8, 4.4, 1.52, CueWidth, 0.02},
	{"rear-car-behind-12m", rear, obs.ClassCar, -4.6 - 12, 0.2, 1.8, 4.4, 1.52, CueGround | CueWidth | CueHeight, 0.02},
	{"side-car-two-lanes-over", right, obs.ClassCar, -5, -12, 1.8, 4.4, 1.52, CueGround | CueWidth | CueHeight, 0.05},
	{"unknown-class-ground-only", front, 60, 20, 0, 1, 1, 1, CueGround, 0.01},
	// boxes cut by the image's left or right border: the centre of what is seen is
	// not the object's (these read 0.5 m, 2.2 m, 4.5 m and 4.7 m off before)
	{"car-beside-cut-by-the-left-border-4m", front, obs.ClassCar, 4, 3.5, 1.8, 4.4, 1.52, CueGround | CueHeight, 0.02},
	{"car-two-lanes-over-cut-by-the-right-border-8m", front, obs.ClassCar, 8, -7, 1.8, 4.4, 1.52, CueGround | CueHeight, 0.02},
	{"rear-car-two-lanes-over-cut-8m", rear, obs.ClassCar, -8, -7, 1.8, 4.4, 1.52, CueGround | CueHeight, 0.02},
	{"side-car-cut-by-the-border", right, obs.ClassCar, -8, -7, 1.8, 4.4, 1.52, CueGround | CueHeight, 0.05},
}

func TestRange(t *testing.T) {
	for _, c := range rangeCases {
		t.Run(c.name, func(t *testing.T) {
			r, err := New(c.cal, Config{})
			if err != nil {
				t.Fatal(err)
			}
			d := boxOf(c.cal, c.class, c.x, c.y, c.w, c.l, c.h)
			got := r.Range(d)
			if got.Cues&c.cues != c.cues {
				t.Fatalf("cues %v, want at least %v (box %+v)", got.Cues, c.cues, d)
			}
			ref := math.Abs(c.x)
			if c.cal.Yaw == right.Yaw { // sideways: distance is the centre's x
				if e := math.Abs(got.Lateral-c.y) / math.Abs(c.y); e > c.tol {
					t.Errorf("lateral %.3f, want %.3f", got.Lateral, c.y)
				}
				if want := c.x - c.l/2; math.Abs(got.Distance-want) > 0.3 {
					t.Errorf("distance %.3f, want %.3f (the centre's x)", got.Distance, want)
				}
				return
			}
			if e := math.Abs(got.Distance-c.x) / ref; e > c.tol {
				t.Errorf("distance %.3f m, want %.3f (error %.1f%% > %.1f%%), cues %v", got.Distance, c.x, 100*e, 100*c.tol, got.Cues)
			}
			if math.Abs(got.Lateral-c.y) > 0.05+0.02*ref {
				t.Errorf("lateral %.3f m, want %.3f", got.Lateral, c.y)
			}
			if math.Abs(got.Width-c.w) > 0.1*c.w+0.05 {
				t.Errorf("width %.3f m, want %.3f", got.Width, c.w)
			}
			if !(got.DistSigma > 0) || got.DistSigma > 0.2*ref {
				t.Errorf("sigma %.3f m out of range for distance %.1f", got.DistSigma, ref)
			}
		})
	}
}

// A car wider and taller than the prior, straight ahead: the ground cue must pull the
// fused distance back towards the truth at short range, and sigma must cover the error.
func TestRangeFusionWeighsGroundAtShortRange(t *testing.T) {
	r, _ := New(front, Config{})
	d := boxOf(front, obs.ClassCar, 12, 0, 2.05, 5, 1.85) // a big SUV
	got := r.Range(d)
	sizeOnly, _ := New(front, Config{PitchSigma: 1}) // pitch unknown: no ground cue
	so := sizeOnly.Range(d)
	if so.Cues&CueGround != 0 {
		t.Fatalf("size-only ranger used the ground: %v", so.Cues)
	}
	if math.Abs(got.Distance-12) >= math.Abs(so.Distance-12) {
		t.Fatalf("fused error %.2f m not below size-only error %.2f m", got.Distance-12, so.Distance-12)
	}
	if math.Abs(got.Distance-12) > 3*got.DistSigma {
		t.Fatalf("error %.2f m beyond 3 sigma (%.2f m)", got.Distance-12, got.DistSigma)
	}
}

// TestRangeEdgeSlow: the slow part of the edge error counts in DistSigma, not in
// DistNoise; the range itself does not change.
func TestRangeEdgeSlow(t *testing.T) {
	all, _ := New(front, Config{EdgeSigma: 0.5, EdgeFraction: 0.009})
	split, _ := New(front, Config{EdgeSigma: 0.5, EdgeFraction: 0.009, EdgeSlow: 0.005})
	white, _ := New(front, Config{EdgeSigma: 0.5, EdgeFraction: 0.004})
	for _, x := range []float64{8, 20, 45} {
		d := boxOf(front, obs.ClassCar, x, 0.3, 1.8, 4.5, 1.5)
		a, s, w := all.Range(d), split.Range(d), white.Range(d)
		if a.Distance != s.Distance || a.DistSigma != s.DistSigma {
			t.Fatalf("at %v m: EdgeSlow changed the range %.3f±%.3f → %.3f±%.3f", x, a.Distance, a.DistSigma, s.Distance, s.DistSigma)
		}
		// the noise is the white edge error's, at the weights of the full error model
		if !(s.DistNoise < a.DistNoise) || math.Abs(s.DistNoise/w.DistNoise-1) > 0.5 {
			t.Fatalf("at %v m: DistNoise %.3f with the slow part split off, %.3f without; %.3f from the white edge error alone",
				x, s.DistNoise, a.DistNoise, w.DistNoise)
		}
	}
}

func TestRangeUnrangeable(t *testing.T) {
	r, _ := New(front, Config{})
	for name, d := range map[string]obs.Detection{
		"above-horizon-no-prior": {X1: 900, Y1: 100, X2: 1000, Y2: 200, Class: 60},
		"degenerate":             {X1: 900, Y1: 600, X2: 900, Y2: 700, Class: obs.ClassCar},
		"nan":                    {X1: float32(math.NaN()), Y1: 600, X2: 950, Y2: 700, Class: obs.ClassCar},
		"inf":                    {X1: 900, Y1: 600, X2: float32(math.Inf(1)), Y2: 700, Class: obs.ClassCar},
	} {
		if got := r.Range(d); got.Cues != 0 || !math.IsNaN(got.Distance) {
			t.Errorf("%s: ranged %+v", name, got)
		}
	}
}

func TestCalibrationValidate(t *testing.T) {
	for name, mod := range map[string]func(*Calibration){
		"no-size":     func(c *Calibration) { c.Width = 0 },
		"zero-fx":     func(c *Calibration) { c.Fx = 0 },
		"nan-fy":      func(c *Calibration) { c.Fy = math.NaN() },
		"inf-cx":      func(c *Calibration) { c.Cx = math.Inf(1) },
		"no-height":   func(c *Calibration) { c.MountHeight = 0 },
		"steep-pitch": func(c *Calibration) { c.Pitch = 1 },
		"nan-yaw":     func(c *Calibration) { c.Yaw = math.NaN() },
	} {
		c := front
		mod(&c)
		_, err := New(c, Config{})
		if !errors.Is(err, ErrBadCalibration) {
			t.Errorf("%s: err %v, want ErrBadCalibration", name, err)
		}
	}
	if err := front.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCalibrationScaled(t *testing.T) {
	half := front.Scaled(960, 540)
	u1, v1, _ := front.Project(20, 1, 0)
	u2, v2, _ := half.Project(20, 1, 0)
	if math.Abs(u1/2-u2) > 1e-9 || math.Abs(v1/2-v2) > 1e-9 {
		t.Fatalf("scaled projection (%.3f,%.3f), want (%.3f,%.3f)", u2, v2, u1/2, v1/2)
	}
}

func BenchmarkRange(b *testing.B) {
	dets := make([]obs.Detection, len(rangeCases))
	for i, c := range rangeCases {
		dets[i] = boxOf(front, c.class, math.Abs(c.x)+2, c.y, c.w, c.l, c.h)
	}
	benchRange(b, front, dets)
}

// benchRange times Range over dets, in turn, on a camera of calibration cal.
func benchRange(b *testing.B, cal Calibration, dets []obs.Detection) {
	r, err := New(cal, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = r.Range(dets[i%len(dets)])
		i++
	}
}

// TestLateralSlope: moving an object along the line of sight from the camera through
// its near face's centre changes the ranged lateral offset by LateralSlope times the
// change of the ranged distance; a sideways camera has no slope.
func TestLateralSlope(t *testing.T) {
	for _, c := range []struct {
		name    string
		cal     Calibration
		x, y, l float64
	}{
		{"ahead-left-lane-20m", front, 20, 3.5, 4.4},
		{"ahead-right-lane-12m", front, 12, -3.5, 4.4},
		{"ahead-centre-40m", front, 40, 0.3, 4.4},
		{"behind-left-lane-15m", rear, -4.6 - 15, 3.5, 4.4},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := New(c.cal, Config{})
			if err != nil {
				t.Fatal(err)
			}
			at := func(s float64) Range { // s metres further along the line of sight
				dx := c.x - c.cal.X
				k := (dx + math.Copysign(s, dx)) / dx
				return r.Range(boxOf(c.cal, obs.ClassCar, c.cal.X+dx*k, c.cal.Y+(c.y-c.cal.Y)*k, 1.8, c.l, 1.52))
			}
			a, b := at(0), at(2)
			want := (b.Lateral - a.Lateral) / (b.Distance - a.Distance)
			if math.IsNaN(a.LateralSlope) || math.Abs(a.LateralSlope-want) > 0.05*math.Abs(want)+0.005 {
				t.Errorf("slope %.4f, want %.4f (lateral %.3f → %.3f, distance %.3f → %.3f)", a.LateralSlope, want, a.Lateral, b.Lateral, a.Distance, b.Distance)
			}
			if !(a.BearingNoise > 0) || a.BearingNoise >= a.LateralNoise {
				t.Errorf("bearing noise %.4f, want positive and below the lateral noise %.4f", a.BearingNoise, a.LateralNoise)
			}
		})
	}
	r, _ := New(right, Config{})
	if g := r.Range(boxOf(right, obs.ClassCar, -5, -12, 1.8, 4.4, 1.52)); !math.IsNaN(g.LateralSlope) {
		t.Errorf("sideways camera: slope %v, want NaN", g.LateralSlope)
	}
}

// frontRight and rearLeft are the 8-camera rig's corner cameras: 90° wide, 50° and
// 130° off the road's axis, where a road-aligned object shows both faces at a slant.
var (
	frontRight = Calibration{Width: 640, Height: 360, Fx: 320, Fy: 320, Cx: 320, Cy: 180,
		MountHeight: 1.1, Yaw: -50 * math.Pi / 180, X: -1.2, Y: -0.9}
	rearLeft = Calibration{Width: 640, Height: 360, Fx: 320, Fy: 320, Cx: 320, Cy: 180,
		MountHeight: 1.05, Yaw: 130 * math.Pi / 180, X: -1.9, Y: 0.95}
	// frontRight35 is 35° off the axis: oblique, but not sideways, so its distance is
	// the near edge's x
	frontRight35 = Calibration{Width: 1280, Height: 720, Fx: 640, Fy: 640, Cx: 640, Cy: 360,
		MountHeight: 1.2, Yaw: -35 * math.Pi / 180, X: -1.5, Y: -0.9}
)

// TestRangeOblique: exact boxes of cars that match the priors, seen by the corner
// cameras, whole or cut by the image's border: the centre (a sideways camera's
// distance; the near edge for one within 45° of the axis) within 0.3 m along and
// across the road (the faces' model of the other cameras put it 1–1.5 m off along
// the road).
func TestRangeOblique(t *testing.T) {
	for _, c := range []struct {
		name string
		cal  Calibration
		x, y float64 // near edge, centre
	}{
		{"front-right-4m-next-lane", frontRight, 4, -3.5},
		{"front-right-8m-next-lane", frontRight, 8, -3.5},
		{"front-right-12m-two-lanes-over", frontRight, 12, -7},
		{"front-right-20m-two-lanes-over", frontRight, 20, -7},
		{"front-right-20m-next-lane-cut", frontRight, 20, -3.5},
		{"front-right-beside", frontRight, 0, -3.5},
		{"rear-left-behind-6m-next-lane", rearLeft, -6, 3.5},
		{"rear-left-behind-15m-two-lanes-over", rearLeft, -15, 7},
		{"front-right-35-10m-next-lane", frontRight35, 10, -3.5},
		{"front-right-35-25m-two-lanes-over", frontRight35, 25, -7},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := New(c.cal, Config{})
			if err != nil {
				t.Fatal(err)
			}
			const l = 4.4
			d := boxOf(c.cal, obs.ClassCar, c.x, c.y, 1.8, l, 1.52)
			got := r.Range(d)
			want, half := c.x+l/2, l/2 // a sideways camera: the centre's x
			if c.x < 0 {
				want = c.x - l/2
			}
			if !r.side {
				want, half = c.x, 0
			}
			if got.HalfLength != half {
				t.Errorf("half length %.2f, want %.2f: the near edge lies that much nearer", got.HalfLength, half)
			}
			if math.Abs(got.Distance-want) > 0.3 || math.Abs(got.Lateral-c.y) > 0.3 {
				t.Errorf("centre at x %.2f, y %.2f; want %.2f, %.2f (box %.1f %.1f %.1f %.1f, cues %v)",
					got.Distance, got.Lateral, want, c.y, d.X1, d.Y1, d.X2, d.Y2, got.Cues)
			}
		})
	}
}

// BenchmarkRangeOblique: a corner camera's ranges, each refined by the cuboid fit.
func BenchmarkRangeOblique(b *testing.B) {
	var dets []obs.Detection
	for _, x := range []float64{4, 8, 12, 20} {
		for _, y := range []float64{-3.5, -7} {
			dets = append(dets, boxOf(frontRight, obs.ClassCar, x, y, 1.8, 4.4, 1.52))
		}
	}
	benchRange(b, frontRight, dets)
}

// TestRangeObliqueAnyBox: any box a detector may give a corner camera — tiny, huge,
// at or beyond the borders, above the horizon — ranges to finite values or to none,
// never to NaN beside a cue.
func TestRangeObliqueAnyBox(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, cal := range []Calibration{frontRight, rearLeft, frontRight35} {
		r, err := New(cal, Config{})
		if err != nil {
			t.Fatal(err)
		}
		for range 20000 {
			x1 := rnd.Float64()*float64(cal.Width)*1.2 - 0.1*float64(cal.Width)
			y1 := rnd.Float64()*float64(cal.Height)*1.2 - 0.1*float64(cal.Height)
			d := obs.Detection{X1: float32(x1), Y1: float32(y1),
				X2: float32(x1 + rnd.ExpFloat64()*50), Y2: float32(y1 + rnd.ExpFloat64()*50),
				Class: []uint16{obs.ClassCar, obs.ClassTruck, obs.ClassPerson}[rnd.IntN(3)], Score: 0.9}
			g := r.Range(d)
			if g.Cues != 0 && math.IsNaN(g.Distance+g.Lateral+g.DistSigma+g.Width) {
				t.Fatalf("box %+v: cues %v but distance %v, lateral %v, sigma %v, width %v", d, g.Cues, g.Distance, g.Lateral, g.DistSigma, g.Width)
			}
			if math.IsInf(g.Distance+g.Lateral, 0) {
				t.Fatalf("box %+v: infinite range %v, %v", d, g.Distance, g.Lateral)
			}
		}
	}
}

// boxOfTurned is boxOf for a car whose heading is turned by yaw (rad, counter-clockwise)
// about its centre (cx, cy): a car turning or changing lanes sharply.
func boxOfTurned(c Calibration, cx, cy, w, l, h, yaw float64) obs.Detection {
	cs, sn := math.Cos(yaw), math.Sin(yaw)
	var pts [][2]float64
	for _, a := range []float64{-l / 2, l / 2} {
		for _, b := range []float64{-w / 2, w / 2} {
			pts = append(pts, [2]float64{cx + a*cs - b*sn, cy + a*sn + b*cs})
		}
	}
	return boxOfFootprint(c, obs.ClassCar, pts, h)
}

// TestRangeTurnedObject measures what the cue model and the cuboid fit, both of
// road-aligned objects, make of a car turned by 10–30° (exact boxes): the forward
// camera's near edge and lateral offset, and the corner camera's centre. A turned car
// shows l·|sin ψ| of its side beside its rear, so its box is wider than the width
// prior says and the width cue puts it nearer: the forward camera is off by up to
// 2.2 m at 10° (a car 20 m ahead one lane over), 4.2 m at 20°, 7.7 m at 30°; the
// corner camera's cuboid fit by 0.25, 0.59, 0.80 m. Widening the width cue's prior
// by a heading spread fixes exact boxes (0.5 m at 10° with 5°) but makes the default
// detector's real boxes worse (median error of the labelled cars under 40 m from
// 5.4 % to 7.4–11 %, as their bottoms are looser than their sides), so it is not done
// (docs/adas.md). Asserted, so that it gets no worse: the corner camera within 1 m
// up to 30°, the forward camera within 2.5 m at 10°.
func TestRangeTurnedObject(t *testing.T) {
	const w, l, h = 1.8, 4.4, 1.52
	for _, deg := range []float64{0, 10, 20, 30} {
		yaw := deg * math.Pi / 180
		var worstF, worstC float64
		for _, p := range [][2]float64{{10, 0}, {20, -3.5}, {30, 3.5}} { // forward camera: centre
			r, _ := New(front, Config{})
			g := r.Range(boxOfTurned(front, p[0], p[1], w, l, h, yaw))
			// the near edge of the turned car, and its centre's lateral
			near := p[0] - (l/2*math.Abs(math.Cos(yaw)) + w/2*math.Abs(math.Sin(yaw)))
			worstF = math.Max(worstF, math.Max(math.Abs(g.Distance-near), math.Abs(g.Lateral-p[1])))
		}
		for _, p := range [][2]float64{{6, -3.5}, {10, -3.5}, {14, -7}} { // corner camera
			r, _ := New(frontRight, Config{})
			g := r.Range(boxOfTurned(frontRight, p[0], p[1], w, l, h, yaw))
			want := p[0] // a sideways camera gives the centre's x
			if !r.side {
				want = p[0] - l/2
			}
			worstC = math.Max(worstC, math.Max(math.Abs(g.Distance-want), math.Abs(g.Lateral-p[1])))
		}
		t.Logf("car turned %2.0f°: forward camera off by up to %.2f m, corner camera by %.2f m", deg, worstF, worstC)
		if worstC > 1 || deg <= 10 && worstF > 2.5 || deg == 0 && worstF > 0.05 {
			t.Errorf("car turned %.0f°: forward camera off by %.2f m, corner camera by %.2f m (want ≤ 2.5 m at 10°, ≤ 1 m)", deg, worstF, worstC)
		}
	}
}
