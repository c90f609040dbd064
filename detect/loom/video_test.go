package loom_test

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/loom"
	"roadlog/internal/shared"
)

// TestLoomOnDashcamVideo measures the looming measurement's precision on real video,
// where no truth exists, and holds loom.DefaultNoise (what the truth-fed detector
// emulates and the pipeline floors its sigma at) to it. The default detector finds
// the cars of the first 2 s of the Udacity dash-cam clip (960×540, clipFPS) and each
// car is followed by box overlap. Two statistics, each free of a steady looming
// rate, are taken in pixels at the box's height:
//   - the alignments of frames 0→k and k→2k compared (k = 1 and the default
//     baseline, 5): their difference over √2 is an alignment's noise, mostly each
//     frame's own at k = 1 and mostly the drift at k = 5;
//   - the looming rate (the slope of the scale change against one frame, over the
//     next 10 frames) of two windows in a row, compared: the drift's share.
//
// Both also hold the cars' own change of motion over those spans, so the noise is
// if anything smaller than measured. The same statistics of the model are drawn by
// Monte Carlo; each must lie within 1.5× of the video's. The boxes' heights give the
// same first statistic (second difference of the log heights), and looming must be
// at least 3× as precise.
func TestLoomOnDashcamVideo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the detector on 50 frames")
	}
	const w, h, n0 = 960, 540, 50
	rgba := shared.VideoFrames(t, shared.DashcamClip, n0, w, h)
	frames := make([]image.Image, n0)
	for i, f := range rgba {
		frames[i] = f
	}
	d, err := centernet.NewCPU(centernet.Config{}, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dets := make([][]detect.Detection, n0)
	for i, f := range frames {
		r, err := d.Detect(context.Background(), []image.Image{f})
		if err != nil {
			t.Fatal(err)
		}
		dets[i] = r[0]
	}
	box := func(d detect.Detection) loom.Box {
		return loom.Box{X1: float64(d.Box.X1), Y1: float64(d.Box.Y1), X2: float64(d.Box.X2), Y2: float64(d.Box.Y2)}
	}
	follow := func(k int, b loom.Box) (loom.Box, bool) {
		best, bb := 0.5, loom.Box{}
		for _, d := range dets[k] {
			if c := box(d); d.Label == "car" || d.Label == "truck" {
				if v := iou(b, c); v > best {
					best, bb = v, c
				}
			}
		}
		return bb, best > 0.5
	}
	// cars: each clear car of each frame followed over n frames (its boxes)
	cars := func(n int) (out [][]loom.Box, first []int) {
		for f := 0; f+n <= n0; f++ {
			for _, d := range dets[f] {
				b := []loom.Box{box(d)}
				if d.Label != "car" && d.Label != "truck" || d.Score < 0.3 || b[0].X1 < 3 || b[0].X2 > w-3 || b[0].Y2-b[0].Y1 < 20 {
					continue
				}
				ok := true
				for j := 1; j < n && ok; j++ {
					var nb loom.Box
					nb, ok = follow(f+j, b[j-1])
					b = append(b, nb)
				}
				if ok {
					out, first = append(out, b), append(first, f)
				}
			}
		}
		return out, first
	}
	e := loom.New(loom.Options{})
	var p0, p1 loom.Patch
	align := func(f0 int, b0 loom.Box, f1 int, b1 loom.Box) (float64, bool) {
		loom.Crop(frames[f0], loom.Region(b0), &p0)
		loom.Crop(frames[f1], loom.Region(b1), &p1)
		r, err := e.Estimate(&p0, b0, &p1, b1)
		return r.LogScale, err == nil
	}
	// robust sigma: median absolute value / 0.6745
	sigma := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] / 0.6745 }
	baselines := []int{1, 2, 3, 5, 8}
	model := modelStats(loom.DefaultNoise, baselines, rateWindow)
	for i, k := range baselines {
		var second, path, boxPx []float64
		bs, fs := cars(2*k + 1)
		for c, b := range bs {
			f := fs[c]
			r01, ok1 := align(f, b[0], f+k, b[k])
			r12, ok2 := align(f+k, b[k], f+2*k, b[2*k])
			r02, ok3 := align(f, b[0], f+2*k, b[2*k])
			if !ok1 || !ok2 || !ok3 {
				continue
			}
			hh := b[k].Y2 - b[k].Y1
			second = append(second, math.Abs(r12-r01)*hh/math.Sqrt2)
			path = append(path, math.Abs(r02-r01-r12)*hh)
			// boxes: σ² of ln h0 − 2 ln h1 + ln h2 is 3 times a pair's
			d2 := math.Log(b[0].Y2-b[0].Y1) - 2*math.Log(hh) + math.Log(b[2*k].Y2-b[2*k].Y1)
			boxPx = append(boxPx, math.Abs(d2)*hh/math.Sqrt(3))
		}
		if len(second) < 50 {
			t.Fatalf("baseline %d: only %d cars followed with an alignment", k, len(second))
		}
		sl, sp, sb := sigma(second), sigma(path), sigma(boxPx)
		t.Logf("baseline %d, %d cars (box height ≥ 20 px): 0→%d against %d→%d %.3f px (the model: %.3f); 0→%d against the chain %.3f px (%.3f); box heights %.3f px (%.1f× looming)",
			k, len(second), k, k, 2*k, sl, model.second[i], 2*k, sp, model.path[i], sb, sb/sl)
		checkModel(t, fmt.Sprintf("alignments 0→%d against %d→%d", k, k, 2*k), sl, model.second[i])
		checkModel(t, fmt.Sprintf("alignment 0→%d against the chain through %d", 2*k, k), sp, model.path[i])
		if sb < 3*sl {
			t.Errorf("baseline %d: looming noise %.3f px is not a third of the boxes' %.3f px", k, sl, sb)
		}
	}
	var rate []float64
	bs, fs := cars(2*rateWindow + 1)
	for c, b := range bs {
		var slopes [2]float64
		ok := true
		for half := 0; half < 2 && ok; half++ {
			k0 := half * rateWindow
			var ys []float64
			for j := 1; j <= rateWindow && ok; j++ {
				var y float64
				y, ok = align(fs[c]+k0, b[k0], fs[c]+k0+j, b[k0+j])
				ys = append(ys, y)
			}
			slopes[half] = slope(ys)
		}
		if ok {
			rate = append(rate, math.Abs(slopes[1]-slopes[0])*(b[rateWindow].Y2-b[rateWindow].Y1)/math.Sqrt2)
		}
	}
	if len(rate) < 30 {
		t.Fatalf("looming rate: only %d cars followed over %d frames", len(rate), 2*rateWindow+1)
	}
	sr := sigma(rate)
	t.Logf("looming rate over %d frames against one, two windows in a row, %d cars: %.4f px a frame (the model: %.4f)", rateWindow, len(rate), sr, model.rate)
	checkModel(t, "the looming rate", sr, model.rate)
}

// clipFPS is the dash-cam clip's frame rate.
const clipFPS = 25

// rateWindow is the number of frames over which TestLoomOnDashcamVideo takes a
// looming rate against one frame.
const rateWindow = 10

func checkModel(t *testing.T, what string, video, model float64) {
	t.Helper()
	if video > 1.5*model || video < model/1.5 {
		t.Errorf("%s: the video shows %.4f px, loom.DefaultNoise gives %.4f px: re-measure and change it", what, video, model)
	}
}

// slope is the least-squares slope of ys over 1, 2, ….
func slope(ys []float64) float64 {
	n := float64(len(ys))
	var sx, sy, sxx, sxy float64
	for i, y := range ys {
		x := float64(i + 1)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// modelStats draws the statistics of TestLoomOnDashcamVideo from the noise model
// (loom.Noise: the frames' smoothly changing error and each pair's own; px at the
// box's height) by Monte Carlo.
func modelStats(n loom.Noise, ks []int, window int) (out struct {
	second, path []float64
	rate         float64
}) {
	rng := rand.New(rand.NewPCG(5, 6))
	const draws = 20000
	span := 2 * window
	for _, k := range ks {
		span = max(span, 2*k)
	}
	e := make([]float64, span+1)
	second, path := make([][]float64, len(ks)), make([][]float64, len(ks))
	var rate []float64
	for range draws {
		e[0] = n.Frame * rng.NormFloat64()
		for i := 1; i < len(e); i++ {
			e[i] = n.Step(e[i-1], 1.0/clipFPS, rng.NormFloat64())
		}
		align := func(i, j int) float64 { return e[j] - e[i] + n.PairSigma(float64(j-i)/clipFPS)*rng.NormFloat64() }
		for i, k := range ks {
			r01, r12, r02 := align(0, k), align(k, 2*k), align(0, 2*k)
			second[i] = append(second[i], math.Abs(r12-r01)/math.Sqrt2)
			path[i] = append(path[i], math.Abs(r02-r01-r12))
		}
		var slopes [2]float64
		for half := range 2 {
			k0 := half * window
			ys := make([]float64, window)
			for j := range ys {
				ys[j] = align(k0, k0+j+1)
			}
			slopes[half] = slope(ys)
		}
		rate = append(rate, math.Abs(slopes[1]-slopes[0])/math.Sqrt2)
	}
	sigma := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] / 0.6745 }
	for i := range ks {
		out.second = append(out.second, sigma(second[i]))
		out.path = append(out.path, sigma(path[i]))
	}
	out.rate = sigma(rate)
	return out
}
func iou(a, b loom.Box) float64 {
	iw := math.Min(a.X2, b.X2) - math.Max(a.X1, b.X1)
	ih := math.Min(a.Y2, b.Y2) - math.Max(a.Y1, b.Y1)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	i := iw * ih
	return i / ((a.X2-a.X1)*(a.Y2-a.Y1) + (b.X2-b.X1)*(b.Y2-b.Y1) - i)
}
