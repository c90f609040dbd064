package loom_test

import (
	"context"
	"image"
	"math"
	"os/exec"
	"slices"
	"testing"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/loom"
	"roadlog/internal/shared"
)

// TestLoomOnDashcamVideo measures the looming measurement's precision on real video,
// where no truth exists: the default detector finds the cars of the first 2 s of the
// Udacity dash-cam clip (960×540, 25 fps), each car is followed over three frames by
// box overlap, and the alignments of frames 0→k and k→2k are compared (k = 1 and
// the default baseline, 5). Their difference holds the change of the looming rate
// (small over 0.2–0.4 s) and the measurements' noise, so its robust scatter over √2
// is the noise of one alignment, given in pixels at the box's height; the same
// second difference of the boxes' log heights gives the box's. The truth-fed
// detector emulates looming at 0.1 px over one frame, growing as k^0.35
// (truthdet.Config.LoomPx, loom.NoiseAt) and the pipeline floors its sigma there
// (pipeline.Config.LoomFloor): this test holds those figures to within a factor 2 of
// what the video shows, and the alignment to at least 3× the precision of the boxes.
func TestLoomOnDashcamVideo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the detector on 50 frames")
	}
	clip := shared.Path(t, "testdata/images/video/udacity_lanes_solidWhiteRight.mp4")
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (make test installs it)")
	}
	const w, h, n0 = 960, 540, 50
	out, err := exec.Command(ff, "-loglevel", "error", "-i", clip, "-frames:v", "50", "-f", "rawvideo", "-pix_fmt", "rgba", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	if len(out) != w*h*4*n0 {
		t.Fatalf("ffmpeg gave %d bytes, want %d frames of %d×%d", len(out), n0, w, h)
	}
	frames := make([]image.Image, n0)
	for i := range frames {
		frames[i] = &image.RGBA{Pix: out[i*w*h*4 : (i+1)*w*h*4], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
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
	e := loom.New(loom.Options{})
	// noise of one alignment over k frames: cars followed over 2k frames, the
	// alignments 0→k and k→2k compared
	noise := func(k int) (sl, sb float64, n int) {
		var loomPx, boxPx []float64
		var p0, p1, p2 loom.Patch
		for f := 0; f+2*k < n0; f++ {
			for _, d := range dets[f] {
				b := []loom.Box{box(d)}
				if d.Label != "car" && d.Label != "truck" || d.Score < 0.3 || b[0].X1 < 3 || b[0].X2 > w-3 || b[0].Y2-b[0].Y1 < 20 {
					continue
				}
				ok := true
				for j := 1; j <= 2*k && ok; j++ {
					var nb loom.Box
					nb, ok = follow(f+j, b[j-1])
					b = append(b, nb)
				}
				if !ok {
					continue
				}
				b0, b1, b2 := b[0], b[k], b[2*k]
				loom.Crop(frames[f], loom.Region(b0), &p0)
				loom.Crop(frames[f+k], loom.Region(b1), &p1)
				loom.Crop(frames[f+2*k], loom.Region(b2), &p2)
				r01, err1 := e.Estimate(&p0, b0, &p1, b1)
				r12, err2 := e.Estimate(&p1, b1, &p2, b2)
				if err1 != nil || err2 != nil {
					continue
				}
				hh := b1.Y2 - b1.Y1
				loomPx = append(loomPx, math.Abs(r12.LogScale-r01.LogScale)*hh/math.Sqrt2)
				// boxes: σ² of ln h0 − 2 ln h1 + ln h2 is 3 times a pair's
				d2 := math.Log(b0.Y2-b0.Y1) - 2*math.Log(hh) + math.Log(b2.Y2-b2.Y1)
				boxPx = append(boxPx, math.Abs(d2)*hh/math.Sqrt(3))
			}
		}
		if len(loomPx) < 50 {
			t.Fatalf("baseline %d: only %d cars followed with an alignment", k, len(loomPx))
		}
		// robust sigma: median absolute value / 0.6745
		sigma := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] / 0.6745 }
		return sigma(loomPx), sigma(boxPx), len(loomPx)
	}
	for _, k := range []int{1, loom.DefaultFrames} {
		sl, sb, m := noise(k)
		want := loom.NoiseAt(0.1, k, 1)
		t.Logf("baseline %d frames, %d cars (box height ≥ 20 px): one alignment's noise at the box's height: looming %.3f px (the emulation: %.3f), box height %.3f px (%.1f×)", k, m, sl, want, sb, sb/sl)
		if sl > 2*want || sl < want/2 {
			t.Errorf("baseline %d: looming noise %.3f px, the truth-fed detector emulates %.3f px; re-measure and change truthdet.Config.LoomPx, pipeline.Config.LoomFloor or loom.BaselineGrowth", k, sl, want)
		}
		if sb < 3*sl {
			t.Errorf("baseline %d: looming noise %.3f px is not a third of the boxes' %.3f px", k, sl, sb)
		}
	}
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
