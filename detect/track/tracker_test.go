package track

import (
	"math"
	"math/rand/v2"
	"testing"

	"roadlog/detect/obs"
)

const frameNS = int64(1e9) / 30

func car(x1, y1, x2, y2 float64, score float32) obs.Detection {
	return obs.Detection{X1: float32(x1), Y1: float32(y1), X2: float32(x2), Y2: float32(y2), Class: obs.ClassCar, Label: "car", Score: score}
}

// run feeds frames to a tracker and returns, per frame, the track id reported for each
// detection (-1 where none).
func run(tr *Tracker, frames [][]obs.Detection) [][]int64 {
	out := make([][]int64, len(frames))
	for f, dets := range frames {
		ids := make([]int64, len(dets))
		for i := range ids {
			ids[i] = -1
		}
		got, _ := tr.Update(int64(f+1)*frameNS, dets, nil)
		for _, k := range got {
			ids[k.Det] = k.ID
		}
		out[f] = ids
	}
	return out
}

// trackerCases feed TestTracker and FuzzTracker's seeds. Each builds a frame
// sequence; check asserts on the ids reported.
var trackerCases = []struct {
	name   string
	cfg    Config
	frames func() [][]obs.Detection
	check  func(t *testing.T, ids [][]int64)
}{
	{
		name: "steady-object-one-id",
		frames: func() [][]obs.Detection {
			var fs [][]obs.Detection
			for f := 0; f < 30; f++ {
				x := 100 + 3*float64(f)
				fs = append(fs, []obs.Detection{car(x, 200, x+80, 260, 0.9)})
			}
			return fs
		},
		check: func(t *testing.T, ids [][]int64) {
			if ids[0][0] != -1 {
				t.Errorf("frame 0: reported before confirmation (id %d)", ids[0][0])
			}
			for f := 1; f < len(ids); f++ {
				if ids[f][0] != ids[1][0] || ids[f][0] < 1 {
					t.Fatalf("frame %d: id %d, want %d throughout", f, ids[f][0], ids[1][0])
				}
			}
		},
	},
	{
		name: "crossing-objects-keep-ids",
		frames: func() [][]obs.Detection {
			var fs [][]obs.Detection
			for f := 0; f < 40; f++ {
				a := 100 + 8*float64(f) // left to right
				b := 420 - 8*float64(f) // right to left, slightly lower and larger
				fs = append(fs, []obs.Detection{car(a, 200, a+60, 240, 0.9), car(b, 210, b+70, 255, 0.85)})
			}
			return fs
		},
		check: func(t *testing.T, ids [][]int64) {
			a, b := ids[1][0], ids[1][1]
			if a == b || a < 0 || b < 0 {
				t.Fatalf("frame 1: ids %v", ids[1])
			}
			for f := 1; f < len(ids); f++ {
				if ids[f][0] != a || ids[f][1] != b {
					t.Fatalf("frame %d: ids %v, want [%d %d]", f, ids[f], a, b)
				}
			}
		},
	},
	{
		name: "low-score-dip-keeps-id",
		frames: func() [][]obs.Detection {
			var fs [][]obs.Detection
			for f := 0; f < 30; f++ {
				s := float32(0.9)
				if f >= 10 && f < 20 {
					s = 0.3 // partly occluded: below HighScore, above LowScore
				}
				fs = append(fs, []obs.Detection{car(300+2*float64(f), 200, 380+2*float64(f), 260, s)})
			}
			return fs
		},
		check: func(t *testing.T, ids [][]int64) {
			for f := 1; f < len(ids); f++ {
				if ids[f][0] != ids[1][0] {
					t.Fatalf("frame %d: id %d, want %d (second pass should hold the track)", f, ids[f][0], ids[1][0])
				}
			}
		},
	},
	{
		name: "low-score-alone-starts-nothing",
		frames: func() [][]obs.Detection {
			var fs [][]obs.Detection
			for f := 0; f < 20; f++ {
				fs = append(fs, []obs.Detection{car(300, 200, 380, 260, 0.4)})
			}
			return fs
		},
		check: func(t *testing.T, ids [][]int64) {
			for f := range ids {
				if ids[f][0] != -1 {
					t.Fatalf("frame %d: low-score detection reported as track %d", f, ids[f][0])
				}
			}
		},
	},
	{
		name: "short-gap-reacquired-long-gap-new-id",
		frames: func() [][]obs.Detection {
			var fs [][]obs.Detection
			for f := 0; f < 120; f++ {
				x := 300 + 1*float64(f)
				var d []obs.Detection
				if !(f >= 10 && f < 20) && !(f >= 40 && f < 80) { // 10-frame gap, then a 40-frame (1.3 s) gap
					d = append(d, car(x, 200, x+80, 260, 0.9))
				}
				fs = append(fs, d)
			}
			return fs
		},
		check: func(t *testing.T, ids [][]int64) {
			first := ids[5][0]
			if ids[20][0] != first {
				t.Errorf("after a 0.33 s gap: id %d, want %d", ids[20][0], first)
			}
			if ids[81][0] == first || ids[81][0] < 0 {
				t.Errorf("after a 1.3 s gap (> MaxLost): id %d, want a new id", ids[81][0])
			}
		},
	},
	{
		name: "one-frame-false-alarm-never-reported",
		frames: func() [][]obs.Detection {
			var fs [][]obs.Detection
			for f := 0; f < 20; f++ {
				d := []obs.Detection{car(100, 200, 180, 260, 0.9)}
				if f%3 == 0 { // flashes at a new place each time
					x := 500 + 60*float64(f)
					d = append(d, car(x, 100, x+40, 130, 0.7))
				}
				fs = append(fs, d)
			}
			return fs
		},
		check: func(t *testing.T, ids [][]int64) {
			for f := range ids {
				if len(ids[f]) > 1 && ids[f][1] != -1 {
					t.Fatalf("frame %d: false alarm reported as track %d", f, ids[f][1])
				}
			}
		},
	},
	{
		name: "class-groups-do-not-mix",
		frames: func() [][]obs.Detection {
			var fs [][]obs.Detection
			for f := 0; f < 10; f++ {
				p := car(300, 180, 330, 260, 0.9)
				if f >= 5 {
					p.Class, p.Label = obs.ClassPerson, "person"
				}
				fs = append(fs, []obs.Detection{p})
			}
			return fs
		},
		check: func(t *testing.T, ids [][]int64) {
			if ids[4][0] < 0 || ids[6][0] < 0 || ids[4][0] == ids[6][0] {
				t.Fatalf("car track %d continued as person track %d", ids[4][0], ids[6][0])
			}
		},
	},
}

func TestTracker(t *testing.T) {
	for _, c := range trackerCases {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, run(New(c.cfg, nil), c.frames()))
		})
	}
}

// The second pass is what holds the track in low-score-dip-keeps-id: with the low
// threshold above the dip, the same input must lose the id.
func TestTrackerWithoutSecondPassLosesID(t *testing.T) {
	var c = trackerCases[2]
	ids := run(New(Config{LowScore: 0.45}, nil), c.frames())
	if ids[15][0] != -1 {
		t.Fatalf("frame 15 with LowScore 0.45: reported id %d, want none", ids[15][0])
	}
}

func TestTrackerFilteredBoxFollowsMotion(t *testing.T) {
	tr := New(Config{}, nil)
	var k *Track
	for f := 0; f < 60; f++ {
		x := 100 + 5*float64(f) // 150 px/s
		got, _ := tr.Update(int64(f+1)*frameNS, []obs.Detection{car(x, 200, x+80, 260, 0.9)}, nil)
		if len(got) == 1 {
			k = got[0]
		}
	}
	vx, _, _, _ := k.Velocity()
	if math.Abs(vx-150) > 5 {
		t.Fatalf("vx = %.1f px/s, want 150", vx)
	}
	b := k.Box()
	if math.Abs(b.X1-395) > 2 || math.Abs(b.X2-475) > 2 {
		t.Fatalf("box %+v, want x 395..475", b)
	}
}

func TestTrackerForgetsAndReportsGone(t *testing.T) {
	tr := New(Config{}, nil)
	var gone []int64
	for f := 0; f < 5; f++ {
		_, gone = tr.Update(int64(f+1)*frameNS, []obs.Detection{car(100, 200, 180, 260, 0.9)}, gone)
	}
	id := tr.Tracks()[0].ID
	for f := 5; f < 50; f++ {
		_, gone = tr.Update(int64(f+1)*frameNS, nil, gone)
	}
	if len(gone) != 1 || gone[0] != id || len(tr.Tracks()) != 0 {
		t.Fatalf("gone %v, tracks %d; want [%d] and none left", gone, len(tr.Tracks()), id)
	}
}

func FuzzTracker(f *testing.F) {
	f.Add(uint64(1), uint8(5), uint8(40))
	f.Add(uint64(7), uint8(30), uint8(10))
	f.Add(uint64(99), uint8(0), uint8(3))
	f.Fuzz(func(t *testing.T, seed uint64, n, frames uint8) {
		rng := rand.New(rand.NewPCG(seed, 1))
		tr := New(Config{}, nil)
		ids := map[int64]bool{}
		var gone []int64
		for fr := 0; fr < int(frames); fr++ {
			dets := make([]obs.Detection, rng.IntN(int(n)+1))
			for i := range dets {
				x, y := rng.Float32()*2000-100, rng.Float32()*1200-100
				dets[i] = obs.Detection{X1: x, Y1: y, X2: x + rng.Float32()*300 - 20, Y2: y + rng.Float32()*300 - 20,
					Class: uint16(rng.IntN(10)), Score: rng.Float32()}
				if rng.IntN(50) == 0 {
					dets[i].X2 = float32(math.NaN())
				}
			}
			var got []*Track
			got, gone = tr.Update(int64(fr)*frameNS+int64(rng.IntN(1e7)), dets, gone[:0])
			seen := map[int]bool{}
			for _, k := range got {
				if k.Det < 0 || k.Det >= len(dets) || seen[k.Det] {
					t.Fatalf("track %d: detection index %d invalid or shared", k.ID, k.Det)
				}
				seen[k.Det] = true
				b := k.Box()
				if math.IsNaN(b.X1 + b.X2 + b.Y1 + b.Y2) {
					t.Fatalf("track %d: NaN box", k.ID)
				}
			}
			for _, id := range gone {
				if ids[id] {
					t.Fatalf("id %d forgotten twice", id)
				}
				ids[id] = true
			}
		}
	})
}

func BenchmarkTracker(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	const objs, n = 20, 300
	frames := make([][]obs.Detection, n)
	for f := range frames {
		for o := 0; o < objs; o++ {
			x, y := float64(o%5)*300+float64(f), float64(o/5)*200
			frames[f] = append(frames[f], car(x+rng.NormFloat64(), y, x+100, y+80, 0.3+0.6*rng.Float32()))
		}
	}
	b.ReportAllocs()
	tr := New(Config{}, nil)
	var gone []int64
	i := 0
	for b.Loop() {
		_, gone = tr.Update(int64(i+1)*frameNS, frames[i%n], gone[:0])
		i++
	}
}
