package loom

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"roadlog/internal/shared"
)

// kittiCars are the labelled cars of KITTI image 000008 (label_2), near to far.
var kittiCars = []Box{
	{334.85, 178.94, 624.50, 372.04}, // 7.9 m
	{597.59, 176.18, 720.90, 261.14}, // 14.4 m
	{884.52, 178.31, 956.41, 240.18}, // 20 m
	{741.18, 168.83, 792.25, 208.43}, // 33 m
}

func loadKITTI(t testing.TB) *Patch {
	t.Helper()
	f, err := os.Open(filepath.Join(shared.Path(t, "testdata/images/kitti/image_2"), "000008.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	var p Patch
	Crop(img, img.Bounds(), &p)
	return &p
}

// warped returns the frame an object at box b in src shows when it grows by s about
// its centre and moves by (dx, dy), over the region r, with white sensor noise of
// sigma grey levels.
func warped(src *Patch, b Box, s, dx, dy float64, r image.Rectangle, sigma float64, rng *rand.Rand) *Patch {
	out := &Patch{R: r, Pix: make([]uint8, r.Dx()*r.Dy())}
	cx, cy := b.cx(), b.cy()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			v, ok := src.at(cx+(float64(x)-cx-dx)/s, cy+(float64(y)-cy-dy)/s)
			if !ok {
				v = 128
			}
			out.Pix[(y-r.Min.Y)*r.Dx()+x-r.Min.X] = uint8(math.Max(0, math.Min(255, math.Round(v+sigma*rng.NormFloat64()))))
		}
	}
	return out
}

func noisy(src *Patch, r image.Rectangle, sigma float64, rng *rand.Rand) *Patch {
	return warped(src, Box{}, 1, 0, 0, r, sigma, rng)
}

// TestEstimateKnownScale grows real cars (KITTI 000008, 40 to 290 px wide) by a known
// scale and moves them, adds sensor noise to both frames, starts the search from a
// box a few pixels off, and checks that the alignment finds the scale within 4 of
// its own sigmas and within 0.3 % — a box edge's pixel of jitter is 1–2.5 % of these
// boxes.
func TestEstimateKnownScale(t *testing.T) {
	src := loadKITTI(t)
	rng := rand.New(rand.NewPCG(1, 2))
	e := New(Options{})
	for ci, b := range kittiCars {
		for _, s := range []float64{0.97, 0.995, 1, 1.01, 1.04} {
			dx, dy := 1.3, -0.7
			prev := noisy(src, Region(b).Inset(-8), 2, rng)
			grown := Box{b.cx() + dx - s*(b.cx()-b.X1), b.cy() + dy - s*(b.cy()-b.Y1), b.cx() + dx + s*(b.X2-b.cx()), b.cy() + dy + s*(b.Y2-b.cy())}
			cur := warped(src, b, s, dx, dy, Region(grown), 2, rng)
			start := Box{grown.X1 + 1.5, grown.Y1 - 1, grown.X2 - 0.5, grown.Y2 + 2}
			r, err := e.Estimate(prev, b, cur, start)
			if err != nil {
				t.Fatalf("car %d scale %.3f: %v", ci, s, err)
			}
			miss := r.LogScale - math.Log(s)
			t.Logf("car %d (%3.0f px) scale %.3f: %v, error %+.5f", ci, b.X2-b.X1, s, r, miss)
			if math.Abs(miss) > 4*r.Sigma || math.Abs(miss) > 0.003 {
				t.Errorf("car %d scale %.3f: ln s %.5f, want %.5f (σ %.5f)", ci, s, r.LogScale, math.Log(s), r.Sigma)
			}
			if math.Abs(r.DX-dx) > 0.3 || math.Abs(r.DY-dy) > 0.3 {
				t.Errorf("car %d scale %.3f: moved (%.2f, %.2f), want (%.2f, %.2f)", ci, s, r.DX, r.DY, dx, dy)
			}
		}
	}
}

// TestEstimateSigma checks that the reported sigma is the scatter's size: over 40
// noise draws of one car the scatter of ln s lies within a factor 2 of the mean
// reported sigma, so the track filter weighs the measurement as noisy as it is.
func TestEstimateSigma(t *testing.T) {
	src := loadKITTI(t)
	rng := rand.New(rand.NewPCG(3, 4))
	e := New(Options{})
	for ci, b := range kittiCars[1:3] {
		const s = 1.02
		var sum, sum2, sig float64
		const n = 40
		grown := Box{b.cx() - s*(b.cx()-b.X1), b.cy() - s*(b.cy()-b.Y1), b.cx() + s*(b.X2-b.cx()), b.cy() + s*(b.Y2-b.cy())}
		for k := 0; k < n; k++ {
			prev := noisy(src, Region(b), 6, rng)
			cur := warped(src, b, s, 0.4, 0.2, Region(grown), 6, rng)
			r, err := e.Estimate(prev, b, cur, grown)
			if err != nil {
				t.Fatal(err)
			}
			sum += r.LogScale
			sum2 += r.LogScale * r.LogScale
			sig += r.Sigma
		}
		mean, sd := sum/n, math.Sqrt(sum2/n-(sum/n)*(sum/n))
		t.Logf("car %d: mean ln s %.5f (true %.5f), scatter %.5f, reported σ %.5f", ci, mean, math.Log(s), sd, sig/n)
		if r := sd / (sig / n); r > 2 || r < 0.5 {
			t.Errorf("car %d: scatter %.5f against reported σ %.5f", ci, sd, sig/n)
		}
	}
}

func TestEstimateErrors(t *testing.T) {
	e := New(Options{})
	flat := &Patch{R: image.Rect(0, 0, 200, 200), Pix: make([]uint8, 200*200)}
	for i := range flat.Pix {
		flat.Pix[i] = 90
	}
	b := Box{50, 50, 150, 150}
	if _, err := e.Estimate(flat, b, flat, b); err != ErrFlat {
		t.Errorf("flat patch: %v, want ErrFlat", err)
	}
	if _, err := e.Estimate(flat, Box{10, 10, 18, 30}, flat, b); err != ErrSmall {
		t.Errorf("small box: %v, want ErrSmall", err)
	}
	if _, err := e.Estimate(flat, Box{500, 500, 600, 600}, flat, b); err != ErrOutside {
		t.Errorf("box outside the patch: %v, want ErrOutside", err)
	}
}

// BenchmarkEstimate aligns one car (KITTI 000008, 123×85 px, 1024 samples) from frame
// to frame: what looming costs a track on a camera looking ahead, per frame.
func BenchmarkEstimate(b *testing.B) {
	src := loadKITTI(b)
	rng := rand.New(rand.NewPCG(1, 2))
	car := kittiCars[1]
	const s = 1.01
	grown := Box{car.cx() - s*(car.cx()-car.X1), car.cy() - s*(car.cy()-car.Y1), car.cx() + s*(car.X2-car.cx()), car.cy() + s*(car.Y2-car.cy())}
	prev := noisy(src, Region(car), 2, rng)
	cur := warped(src, car, s, 0.5, 0.2, Region(grown), 2, rng)
	e := New(Options{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Estimate(prev, car, cur, grown); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCropFormats checks that every image layout Crop reads directly gives the
// luminance the generic path gives (within the rounding of a Y'CbCr conversion), and
// that a region beyond the image is clipped.
func TestCropFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	rgba := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(rng.IntN(256))
		if i%4 == 3 {
			rgba.Pix[i] = 255
		}
	}
	nrgba := image.NewNRGBA(rgba.Rect)
	copy(nrgba.Pix, rgba.Pix)
	ycc := image.NewYCbCr(rgba.Rect, image.YCbCrSubsampleRatio444)
	gray := image.NewGray(rgba.Rect)
	for y := 0; y < 30; y++ {
		for x := 0; x < 40; x++ {
			c := rgba.RGBAAt(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			ycc.Y[ycc.YOffset(x, y)], ycc.Cb[ycc.COffset(x, y)], ycc.Cr[ycc.COffset(x, y)] = yy, cb, cr
			gray.SetGray(x, y, color.GrayModel.Convert(c).(color.Gray))
		}
	}
	r := image.Rect(5, 4, 60, 25) // beyond the right border: clipped to x < 40
	var want Patch
	Crop(struct{ image.Image }{rgba}, r, &want) // the generic path
	if want.R != image.Rect(5, 4, 40, 25) {
		t.Fatalf("region %v, want clipped to (5,4)-(40,25)", want.R)
	}
	// a sparse picture whose second part holds the region (the first only overlaps it)
	part := func(r image.Rectangle) *image.Gray { return gray.SubImage(r).(*image.Gray) }
	sparse := &Sparse{Rect: gray.Rect, Parts: []*image.Gray{part(image.Rect(0, 0, 20, 20)), part(image.Rect(2, 2, 40, 28))}}
	for name, img := range map[string]image.Image{"RGBA": rgba, "NRGBA": nrgba, "YCbCr": ycc, "Gray": gray, "Sparse": sparse} {
		var got Patch
		Crop(img, r, &got)
		if got.R != want.R {
			t.Fatalf("%s: region %v, want %v", name, got.R, want.R)
		}
		for i := range want.Pix {
			if math.Abs(float64(got.Pix[i])-float64(want.Pix[i])) > 1 {
				t.Fatalf("%s: pixel %d is %d, want %d", name, i, got.Pix[i], want.Pix[i])
			}
		}
	}
	// outside its parts a sparse picture is black
	var got Patch
	Crop(sparse, image.Rect(30, 20, 40, 30), &got)
	for i, v := range got.Pix {
		x, y := 30+i%10, 20+i/10
		if in := y < 28; in && v != gray.GrayAt(x, y).Y || !in && v != 0 {
			t.Fatalf("sparse picture at (%d,%d): %d, want %d inside its parts, 0 outside", x, y, v, gray.GrayAt(x, y).Y)
		}
	}
}

// FuzzEstimate aligns a real car (KITTI 000008) with boxes of any value — tiny, huge,
// inverted, beyond the frame, NaN, infinite — and with the search started anywhere: an
// error or a finite result, never a panic.
func FuzzEstimate(f *testing.F) {
	src := loadKITTI(f)
	car := kittiCars[1]
	f.Add(car.X1, car.Y1, car.X2, car.Y2, car.X1+1, car.Y1, car.X2+2, car.Y2+1)
	f.Add(car.X1, car.Y1, car.X2, car.Y2, car.X1+300, car.Y1-50, car.X2+340, car.Y2)
	f.Add(0.0, 0.0, 1e9, 1e9, -5.0, -5.0, 20.0, 20.0)
	f.Add(math.NaN(), 1.0, 2.0, 3.0, math.Inf(1), 0.0, 1.0, 1.0)
	e := New(Options{})
	f.Fuzz(func(t *testing.T, a1, b1, a2, b2, c1, d1, c2, d2 float64) {
		prev, cur := Box{a1, b1, a2, b2}, Box{c1, d1, c2, d2}
		var p0, p1 Patch
		Crop(src.image(), Region(prev), &p0)
		Crop(src.image(), Region(cur), &p1)
		r, err := e.Estimate(&p0, prev, &p1, cur)
		if err == nil && (math.IsNaN(r.LogScale+r.Sigma+r.DX+r.DY) || math.IsInf(r.LogScale+r.Sigma+r.DX+r.DY, 0) || !(r.Sigma > 0)) {
			t.Fatalf("boxes %v → %v: %v", prev, cur, r)
		}
	})
}

// image returns the patch as a grey image (its region's bounds).
func (p *Patch) image() *image.Gray {
	return &image.Gray{Pix: p.Pix, Stride: p.R.Dx(), Rect: p.R}
}

// TestNoiseModel checks that Noise.Step draws the Ornstein–Uhlenbeck process that
// Noise describes: the frames' error keeps its spread Frame, and two frames dt apart differ by
// √(2·Frame²·(1 − e^(−dt/Corr))), for steps of any size.
func TestNoiseModel(t *testing.T) {
	n := DefaultNoise
	rng := rand.New(rand.NewPCG(7, 8))
	for _, dt := range []float64{0.01, 1.0 / 30, 0.12, 0.5} {
		const draws = 40000
		var sum0, sumD float64
		for range draws {
			e0 := n.Frame * rng.NormFloat64()
			e := e0
			for range 3 { // three steps of dt/3: the same process as one of dt
				e = n.Step(e, dt/3, rng.NormFloat64())
			}
			sum0 += e * e
			sumD += (e - e0) * (e - e0)
		}
		spread := math.Sqrt(sum0 / draws)
		diff := math.Sqrt(sumD / draws)
		want := math.Sqrt(2 * n.Frame * n.Frame * (1 - n.Carry(dt)))
		if math.Abs(spread/n.Frame-1) > 0.02 || math.Abs(diff/want-1) > 0.02 {
			t.Errorf("dt %.3f s: spread %.4f (want %.4f), frames apart differ by %.4f (want %.4f)", dt, spread, n.Frame, diff, want)
		}
	}
}

// TestEstimateCutByBorder aligns cars that the image's bottom edge cuts (a near car
// seen by a camera with a narrow field of view): the boxes end at the edge, so their
// heights no longer scale with the car, but the pixels still do — the scale is found
// within 4 of its sigmas and 0.5 % from the visible part.
func TestEstimateCutByBorder(t *testing.T) {
	src := loadKITTI(t)
	rng := rand.New(rand.NewPCG(9, 10))
	e := New(Options{})
	for ci, b := range kittiCars[:3] {
		for _, s := range []float64{1.01, 1.04, 1.08} {
			edge := int(b.Y1 + 0.7*(b.Y2-b.Y1)) // the image ends 70 % of the way down the car
			clip := func(r image.Rectangle) image.Rectangle { r.Max.Y = min(r.Max.Y, edge); return r }
			cut := func(b Box) Box { b.Y2 = math.Min(b.Y2, float64(edge)); return b }
			grown := Box{b.cx() - s*(b.cx()-b.X1), b.cy() - s*(b.cy()-b.Y1), b.cx() + s*(b.X2-b.cx()), b.cy() + s*(b.Y2-b.cy())}
			prev := noisy(src, clip(Region(b)), 2, rng)
			cur := warped(src, b, s, 0, 0, clip(Region(grown)), 2, rng)
			r, err := e.Estimate(prev, cut(b), cur, cut(grown))
			if err != nil {
				t.Fatalf("car %d scale %.3f: %v", ci, s, err)
			}
			miss := r.LogScale - math.Log(s)
			t.Logf("car %d (%3.0f px) cut at %d, scale %.3f: %v, error %+.5f (the cut boxes' heights say %+.4f)", ci, b.X2-b.X1, edge, s, r, miss, math.Log((float64(edge)-grown.Y1)/(float64(edge)-b.Y1))-math.Log(s))
			if math.Abs(miss) > 4*r.Sigma || math.Abs(miss) > 0.005 {
				t.Errorf("car %d scale %.3f: ln s %.5f, want %.5f (σ %.5f)", ci, s, r.LogScale, math.Log(s), r.Sigma)
			}
		}
	}
}

// TestRegions checks the parts of a picture that aligning boxes reads: every box's
// Region (clipped) lies within one of them, overlapping Regions are merged where that
// reads no more pixels, and far apart ones are not.
func TestRegions(t *testing.T) {
	bounds := image.Rect(0, 0, 640, 360)
	boxes := []Box{
		{100, 100, 200, 180}, {110, 105, 205, 185}, // nearly the same car twice: merged
		{400, 50, 430, 80},   // alone
		{600, 300, 660, 380}, // beyond the corner: clipped
		{-50, -50, -40, -40}, // outside: none
		{120, 170, 124, 174}, // small, inside the first two's regions: merged
	}
	rs := Regions(boxes, bounds)
	sum := 0
	for _, r := range rs {
		if !r.In(bounds) {
			t.Errorf("%v is not inside the picture", r)
		}
		sum += r.Dx() * r.Dy()
	}
	parts := 0
	for _, b := range boxes {
		r := Region(b).Intersect(bounds)
		if r.Empty() {
			continue
		}
		parts += r.Dx() * r.Dy()
		held := false
		for _, q := range rs {
			held = held || r.In(q)
		}
		if !held {
			t.Errorf("box %v: its region %v lies in none of %v", b, r, rs)
		}
	}
	if len(rs) != 3 {
		t.Errorf("%d parts %v, want 3 (the two cars and the small box merged, the one alone, the clipped one)", len(rs), rs)
	}
	if sum > parts {
		t.Errorf("the parts hold %d pixels, the regions alone %d", sum, parts)
	}
}

// BenchmarkRegions measures the parts of a crowded 1920×1080 picture a GPU engine
// hands back: 100 detections (the detector's top-K), many of them overlapping, as on
// a busy street. It runs for every picture of every camera.
func BenchmarkRegions(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	bounds := image.Rect(0, 0, 1920, 1080)
	boxes := make([]Box, 100)
	for i := range boxes {
		x, y := rng.Float64()*1800, 300+rng.Float64()*500
		w := 20 + rng.Float64()*150
		boxes[i] = Box{x, y, x + w, y + 0.7*w}
	}
	b.ReportAllocs()
	var rs []image.Rectangle
	for b.Loop() {
		rs = Regions(boxes, bounds)
	}
	px := 0
	for _, r := range rs {
		px += r.Dx() * r.Dy()
	}
	b.ReportMetric(float64(len(rs)), "parts")
	b.ReportMetric(float64(px)/1e6, "Mpx")
}
