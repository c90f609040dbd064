// Package loom measures how much an object's image grew from one frame to another
// (its looming) by aligning its pixels, not its box: the scale change of a rigid
// object seen along the line of sight is the ratio of its distances, free of the size
// priors and the pitch that monocular ranges carry. A box edge jitters by a pixel or
// more from frame to frame; aligning the whole patch finds the scale to a small
// fraction of a pixel at its rim. The track filter (track.Measurement.Loom) takes it
// as a measurement of the range's change against the range, which is what a
// time-to-collision needs. Noise is the error model of the alignment, measured on
// real video.
//
// The alignment is Lucas–Kanade in its inverse-compositional form (Baker & Matthews,
// "Lucas-Kanade 20 Years On", 2004) over a warp of scale and translation, with Huber
// weights so that the background at the box's rim and small occluders count less.
// Written here because the Go image libraries at hand (x/image, gocv aside) have no
// image alignment; it is a few hundred multiplications per sampled pixel and
// allocates only when a patch grows.
package loom

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
)

// Patch is the luminance of a region of a frame, at its integer pixels.
type Patch struct {
	R   image.Rectangle // the region, in frame pixels
	Pix []uint8         // row-major, R.Dx()×R.Dy(): 8 bits, as cameras give them
}

// Sparse is a picture of which only some parts are known, as 8-bit luminance: what a
// GPU engine hands back around its detections (Regions of their boxes), so that only
// the pixels the alignment reads cross the bus. Elsewhere it reads as black.
type Sparse struct {
	Rect  image.Rectangle // the whole picture
	Parts []*image.Gray
}

// ColorModel is the grey model.
func (s *Sparse) ColorModel() color.Model { return color.GrayModel }

// Bounds is the whole picture.
func (s *Sparse) Bounds() image.Rectangle { return s.Rect }

// At is the pixel of the first part that holds (x, y), else black.
func (s *Sparse) At(x, y int) color.Color {
	p := image.Pt(x, y)
	for _, g := range s.Parts {
		if p.In(g.Rect) {
			return g.GrayAt(x, y)
		}
	}
	return color.Gray{}
}

// Crop copies the luminance of img inside r (clipped to the image) into dst, reusing
// its buffer. Y'CbCr images give their luma plane; others are converted with the
// BT.601 weights; a Sparse picture gives the part that holds r.
func Crop(img image.Image, r image.Rectangle, dst *Patch) {
	r = r.Intersect(img.Bounds())
	dst.R = r
	n := r.Dx() * r.Dy()
	if cap(dst.Pix) < n {
		dst.Pix = make([]uint8, n)
	}
	dst.Pix = dst.Pix[:n]
	w := r.Dx()
	if s, ok := img.(*Sparse); ok {
		for _, g := range s.Parts {
			if r.In(g.Rect) {
				img = g
				break
			}
		}
	}
	switch m := img.(type) {
	case *image.YCbCr:
		cropBytes(dst, m.Y, m.YStride, m.YOffset(r.Min.X, r.Min.Y), 1)
	case *image.Gray:
		cropBytes(dst, m.Pix, m.Stride, m.PixOffset(r.Min.X, r.Min.Y), 1)
	case *image.RGBA: // premultiplied alpha: opaque camera frames are the same as NRGBA
		cropBytes(dst, m.Pix, m.Stride, m.PixOffset(r.Min.X, r.Min.Y), 4)
	case *image.NRGBA:
		cropBytes(dst, m.Pix, m.Stride, m.PixOffset(r.Min.X, r.Min.Y), 4)
	default:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			out := dst.Pix[(y-r.Min.Y)*w:]
			for x := 0; x < w; x++ {
				cr, cg, cb, _ := img.At(r.Min.X+x, y).RGBA()
				out[x] = luma(uint8(cr>>8), uint8(cg>>8), uint8(cb>>8))
			}
		}
	}
}

// cropBytes fills dst from 8-bit pixels of n channels (1: luminance; 4: R, G, B, A)
// starting at off, stride bytes a row.
func cropBytes(dst *Patch, pix []byte, stride, off, n int) {
	w := dst.R.Dx()
	for y := 0; y < dst.R.Dy(); y++ {
		row := pix[off+y*stride:]
		out := dst.Pix[y*w : (y+1)*w]
		for x := range out {
			if n == 1 {
				out[x] = row[x]
			} else {
				out[x] = luma(row[n*x], row[n*x+1], row[n*x+2])
			}
		}
	}
}

// luma is BT.601 luminance, rounded: image/color's RGBToYCbCr luma, written out
// because that call also computes the chroma and made Crop of an RGBA picture 2.4×
// slower (a 200×200 region: 310–330 µs instead of 120–145 µs).
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

// at returns the bilinear sample of the patch at frame position (x, y), ok false
// outside it.
func (p *Patch) at(x, y float64) (float64, bool) {
	fx, fy := x-float64(p.R.Min.X), y-float64(p.R.Min.Y)
	w, h := p.R.Dx(), p.R.Dy()
	if !(fx >= 0 && fy >= 0 && fx <= float64(w-1) && fy <= float64(h-1)) {
		return 0, false
	}
	ix, iy := int(fx), int(fy)
	if ix == w-1 {
		ix--
	}
	if iy == h-1 {
		iy--
	}
	ax, ay := fx-float64(ix), fy-float64(iy)
	i := iy*w + ix
	p00, p01 := float64(p.Pix[i]), float64(p.Pix[i+1])
	p10, p11 := float64(p.Pix[i+w]), float64(p.Pix[i+w+1])
	return (p00*(1-ax)+p01*ax)*(1-ay) + (p10*(1-ax)+p11*ax)*ay, true
}

// Box is an object's box in frame pixels.
type Box struct{ X1, Y1, X2, Y2 float64 }

func (b Box) cx() float64 { return (b.X1 + b.X2) / 2 }
func (b Box) cy() float64 { return (b.Y1 + b.Y2) / 2 }

// KeyFrames is the default number of frames a looming key frame serves: each frame
// of a track is aligned with its key frame, and every KeyFrames frames the frame at
// hand becomes the next key. The track filter keeps the range and the alignment's
// error of the key frame beside its state (track.Measurement.LoomKey), so the
// measurements against one key are not taken as independent; the longer a key
// serves, the more of the frames' error averages out.
const KeyFrames = 15

// Noise is the error model of aligning one object's pixels across frames, in pixels
// at the box's height. Most of an alignment's error belongs to the frames, not the
// pair: each frame shows the object's scale a little off (Frame, 1-sigma), and that
// error changes smoothly from frame to frame (an Ornstein–Uhlenbeck process of
// correlation time Corr seconds: the view, the light and the compression change over
// a few frames, not at once). On top of it each pair has an error of its own (Pair,
// 1-sigma, reached as the frames grow apart as the frames' error is). An alignment of
// frames dt apart then errs by √((2·Frame² + Pair²)·(1 − e^(−dt/Corr))); alignments
// that share frames share their errors; over many frames the errors do not build up.
type Noise struct{ Frame, Corr, Pair float64 }

// DefaultNoise is the alignment's noise measured on the dash-cam clip at 25 fps
// (TestLoomOnDashcamVideo). Three statistics there, none of which a steady looming
// rate moves, are fitted together: alignments 0→k and k→2k differ by 0.09, 0.12,
// 0.19, 0.20 and 0.19 px (over √2) for k = 1, 2, 3, 5 and 8 frames — the error grows
// over three frames and then stays; an alignment 0→2k and the chained 0→k, k→2k
// differ by only 0.04–0.10 px, so most of the error is the frames', not the pairs';
// and the looming rate from 10 frames against one scatters by 0.017 px a frame. A
// random walk of the scale (an error that builds up) fits the first and the third
// worse and cannot give the second.
var DefaultNoise = Noise{Frame: 0.11, Corr: 0.12, Pair: 0.05}

// PairSigma returns the 1-sigma of the pair's own error (px) of an alignment of
// frames dt seconds apart.
func (n Noise) PairSigma(dt float64) float64 { return n.Pair * math.Sqrt(n.apart(dt)) }

// Carry returns how much of the frames' error carries over dt seconds:
// e^(−dt/Corr).
func (n Noise) Carry(dt float64) float64 {
	if !(n.Corr > 0) || !(dt > 0) {
		return 0
	}
	return math.Exp(-dt / n.Corr)
}

// apart is the share of the frames' error that two frames dt seconds apart do not
// share: 1 − e^(−dt/Corr) (with no correlation time, all of it).
func (n Noise) apart(dt float64) float64 { return 1 - n.Carry(dt) }

// Step advances the frames' error e (px) by dt seconds, u a standard normal draw.
func (n Noise) Step(e, dt, u float64) float64 {
	c := n.Carry(dt)
	return c*e + n.Frame*math.Sqrt(1-c*c)*u
}

// Margin is how far beyond a box the patch Estimate needs from the current frame
// reaches, as a fraction of the box size (and at least 4 px): the box's own error
// and the motion since the last frame.
const Margin = 0.25

// Region returns the part of a frame to Crop for a box: the box and its margin.
func Region(b Box) image.Rectangle {
	mx := math.Max(4, Margin*(b.X2-b.X1))
	my := math.Max(4, Margin*(b.Y2-b.Y1))
	return image.Rect(int(math.Floor(b.X1-mx)), int(math.Floor(b.Y1-my)), int(math.Ceil(b.X2+mx)), int(math.Ceil(b.Y2+my)))
}

// Regions returns the parts of a picture (bounds) that aligning the boxes reads: their
// Regions, clipped, with any two that overlap merged into their bounding rectangle
// while it is no larger than the two together, so that no pixel is read twice
// without need. Each box's Region lies within one of them.
func Regions(boxes []Box, bounds image.Rectangle) []image.Rectangle {
	var rs []image.Rectangle
	for _, b := range boxes {
		if r := Region(b).Intersect(bounds); !r.Empty() {
			rs = append(rs, r)
		}
	}
	area := func(r image.Rectangle) int { return r.Dx() * r.Dy() }
	// each pass merges what it can into each rectangle in turn (a grown one is checked
	// against the rest again); another pass only if something merged
	for merged := true; merged; {
		merged = false
		for i := 0; i < len(rs); i++ {
			for j := i + 1; j < len(rs); {
				if u := rs[i].Union(rs[j]); rs[i].Overlaps(rs[j]) && area(u) <= area(rs[i])+area(rs[j]) {
					rs[i] = u
					rs[j] = rs[len(rs)-1]
					rs = rs[:len(rs)-1]
					merged = true
					continue // the one moved into j is checked next
				}
				j++
			}
		}
	}
	return rs
}

// Result is one alignment.
type Result struct {
	// LogScale is ln of the object's image scale now over then: positive when it
	// grew (came nearer).
	LogScale float64
	// DX, DY is where the previous box's centre moved, px.
	DX, DY float64
	// Sigma is the 1-sigma of LogScale from the residuals and the patch's texture
	// (the Cramér–Rao bound of the fit, inflated for the residuals' spatial
	// correlation: Options.Correlation).
	Sigma float64
	// Residual is the weighted RMS of the photometric residual, grey levels.
	Residual float64
	Iter     int
	Samples  int
}

// Options tune Estimate. The zero value selects the defaults.
type Options struct {
	// Inner is the fraction of the previous box's width and height (centred) that is
	// aligned (default 0.8: the rim holds background).
	Inner float64
	// MaxSamples caps the sampled pixels (default 1024): a larger patch is sampled
	// on a coarser grid. A thousand samples put the fit's own bound well under the
	// 0.1 px that real video shows (TestLoomOnDashcamVideo), at a quarter of the cost
	// of four thousand.
	MaxSamples int
	// MinSize is the smallest box side, px, that is aligned (default 12).
	MinSize float64
	// MaxIter and Tol end the iteration (defaults 30, 1e-4 in log scale: a tenth of
	// the noise of a 100 px box).
	MaxIter int
	Tol     float64
	// Huber is the Huber threshold in grey levels (default 8).
	Huber float64
	// Correlation multiplies the fit's bound on Sigma for the residuals' spatial
	// correlation when the patch is sampled at every pixel (default 2); on a grid of
	// step k px the factor is Correlation/k, at least 1.
	Correlation float64
}

func (o Options) withDefaults() Options {
	def := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&o.Inner, 0.8)
	def(&o.MinSize, 12)
	def(&o.Tol, 1e-4)
	def(&o.Huber, 8)
	def(&o.Correlation, 2)
	if o.MaxSamples <= 0 {
		o.MaxSamples = 1024
	}
	if o.MaxIter <= 0 {
		o.MaxIter = 30
	}
	return o
}

// Errors of Estimate.
var (
	ErrSmall    = errors.New("loom: box too small to align")
	ErrOutside  = errors.New("loom: the patch leaves the frame")
	ErrFlat     = errors.New("loom: too little texture to align")
	ErrDiverged = errors.New("loom: alignment did not converge")
)

// Estimator aligns patches. Its scratch buffers are reused: not safe for concurrent
// use.
type Estimator struct {
	opt          Options
	px, py, t    []float64 // template sample positions (relative to the centre) and values
	sd           [][3]float64
	err, weights []float64
}

// New returns an estimator.
func New(opt Options) *Estimator { return &Estimator{opt: opt.withDefaults()} }

// Estimate aligns the object in prevBox of the previous frame's patch prev (cropped
// with Region(prevBox) or larger) with the current frame's patch cur around curBox,
// the same object's box now (a detection or the track's prediction: the start of the
// search). It returns the scale change and where the object moved.
func (e *Estimator) Estimate(prev *Patch, prevBox Box, cur *Patch, curBox Box) (Result, error) {
	o := &e.opt
	bw, bh := prevBox.X2-prevBox.X1, prevBox.Y2-prevBox.Y1
	if !(bw >= o.MinSize && bh >= o.MinSize) || !(curBox.X2-curBox.X1 >= o.MinSize && curBox.Y2-curBox.Y1 >= o.MinSize) {
		return Result{}, ErrSmall
	}
	// the template: a grid over the inner box of the previous frame
	c0x, c0y := prevBox.cx(), prevBox.cy()
	hw, hh := o.Inner*bw/2, o.Inner*bh/2
	step := math.Max(1, math.Sqrt(4*hw*hh/float64(o.MaxSamples)))
	e.px, e.py, e.t, e.sd = e.px[:0], e.py[:0], e.t[:0], e.sd[:0]
	var h [3][3]float64
	for y := -hh; y <= hh; y += step {
		for x := -hw; x <= hw; x += step {
			v, ok0 := prev.at(c0x+x, c0y+y)
			l, ok1 := prev.at(c0x+x-1, c0y+y)
			r, ok2 := prev.at(c0x+x+1, c0y+y)
			u, ok3 := prev.at(c0x+x, c0y+y-1)
			d, ok4 := prev.at(c0x+x, c0y+y+1)
			if !(ok0 && ok1 && ok2 && ok3 && ok4) {
				continue
			}
			gx, gy := (r-l)/2, (d-u)/2
			e.px, e.py, e.t = append(e.px, x), append(e.py, y), append(e.t, v)
			e.sd = append(e.sd, [3]float64{gx*x + gy*y, gx, gy})
		}
	}
	n := len(e.t)
	if n < 64 {
		return Result{}, ErrOutside
	}
	// normalise the scale column by the patch radius so the system is well scaled
	rad := math.Hypot(hw, hh)
	for i := range e.sd {
		e.sd[i][0] /= rad
	}
	// the warp x' = c1 + s·x + t, from the boxes' sizes and centres
	s := math.Sqrt((curBox.X2 - curBox.X1) * (curBox.Y2 - curBox.Y1) / (bw * bh))
	tx, ty := curBox.cx(), curBox.cy()
	if cap(e.err) < n {
		e.err, e.weights = make([]float64, n), make([]float64, n)
	}
	e.err, e.weights = e.err[:n], e.weights[:n]
	res := Result{Samples: n}
	var sigmaE float64
	converged := false
	for it := 0; it < o.MaxIter; it++ {
		res.Iter = it + 1
		// residuals at the current warp, mean removed (a change of exposure)
		var sum float64
		m := 0
		for i := 0; i < n; i++ {
			v, ok := cur.at(tx+s*e.px[i], ty+s*e.py[i])
			if !ok {
				e.weights[i] = -1
				continue
			}
			e.err[i] = v - e.t[i]
			e.weights[i] = 1
			sum += e.err[i]
			m++
		}
		if m < n/2 {
			return res, ErrOutside
		}
		mean := sum / float64(m)
		// Huber weights; the normal equations with them
		h = [3][3]float64{}
		var b [3]float64
		var wsum, wee float64
		for i := 0; i < n; i++ {
			if e.weights[i] < 0 {
				continue
			}
			r := e.err[i] - mean
			w := 1.0
			if a := math.Abs(r); a > o.Huber {
				w = o.Huber / a
			}
			e.weights[i] = w
			sd := &e.sd[i]
			for a := 0; a < 3; a++ {
				b[a] += w * sd[a] * r
				for c := a; c < 3; c++ {
					h[a][c] += w * sd[a] * sd[c]
				}
			}
			wsum += w
			wee += w * r * r
		}
		h[1][0], h[2][0], h[2][1] = h[0][1], h[0][2], h[1][2]
		inv, ok := inverse3(h)
		if !ok {
			return res, ErrFlat
		}
		var dp [3]float64
		for a := 0; a < 3; a++ {
			for c := 0; c < 3; c++ {
				dp[a] += inv[a][c] * b[c]
			}
		}
		ds := dp[0] / rad
		// compose with the inverse of the increment: s ← s/(1+ds), t ← t − s·dt/(1+ds)
		if !(ds > -0.5) {
			return res, ErrDiverged
		}
		tx -= s * dp[1] / (1 + ds)
		ty -= s * dp[2] / (1 + ds)
		s /= 1 + ds
		sigmaE = math.Sqrt(wee / math.Max(1, wsum-3))
		res.Residual = sigmaE
		if !(s > 0.5 && s < 2) || math.IsNaN(tx+ty) {
			return res, ErrDiverged
		}
		if math.Abs(ds) < o.Tol && math.Hypot(dp[1], dp[2]) < 1e-2 {
			converged = true
			// the bound of the fit: σ² (H⁻¹)₀₀, in log scale
			// (residuals a pixel apart are correlated; a coarser grid's much less)
			res.Sigma = math.Max(1, o.Correlation/step) * sigmaE * math.Sqrt(inv[0][0]) / rad
			break
		}
	}
	if !converged {
		return res, ErrDiverged
	}
	if !(res.Sigma > 0) || math.IsInf(res.Sigma, 0) {
		return res, ErrFlat
	}
	res.LogScale = math.Log(s)
	res.DX, res.DY = tx-c0x, ty-c0y
	return res, nil
}

// inverse3 inverts a symmetric 3×3 matrix; ok is false when it is (near) singular.
func inverse3(m [3][3]float64) (inv [3][3]float64, ok bool) {
	c00 := m[1][1]*m[2][2] - m[1][2]*m[2][1]
	c01 := m[1][2]*m[2][0] - m[1][0]*m[2][2]
	c02 := m[1][0]*m[2][1] - m[1][1]*m[2][0]
	det := m[0][0]*c00 + m[0][1]*c01 + m[0][2]*c02
	scale := m[0][0] * m[1][1] * m[2][2]
	if !(math.Abs(det) > 1e-12*math.Abs(scale)) || scale == 0 {
		return inv, false
	}
	inv[0][0] = c00 / det
	inv[0][1] = (m[0][2]*m[2][1] - m[0][1]*m[2][2]) / det
	inv[0][2] = (m[0][1]*m[1][2] - m[0][2]*m[1][1]) / det
	inv[1][0] = c01 / det
	inv[1][1] = (m[0][0]*m[2][2] - m[0][2]*m[2][0]) / det
	inv[1][2] = (m[0][2]*m[1][0] - m[0][0]*m[1][2]) / det
	inv[2][0] = c02 / det
	inv[2][1] = (m[0][1]*m[2][0] - m[0][0]*m[2][1]) / det
	inv[2][2] = (m[0][0]*m[1][1] - m[0][1]*m[1][0]) / det
	return inv, true
}

// String describes a result.
func (r Result) String() string {
	return fmt.Sprintf("ln s %+.5f ± %.5f, moved (%+.2f, %+.2f) px, residual %.1f, %d iterations, %d samples",
		r.LogScale, r.Sigma, r.DX, r.DY, r.Residual, r.Iter, r.Samples)
}
