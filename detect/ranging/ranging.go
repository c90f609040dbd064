package ranging

import (
	"fmt"
	"math"

	"roadlog/detect/obs"
)

// Config tunes a Ranger. The zero value of a field selects its default.
type Config struct {
	// Priors are the size priors by class; classes without one are ranged from the
	// ground alone. nil selects DefaultPriors.
	Priors map[uint16]SizePrior
	// EdgeSigma and EdgeFraction model a detector's box-edge error, px:
	// σ = EdgeSigma + EdgeFraction·(box height) (defaults 1 px and 0.02).
	EdgeSigma, EdgeFraction float64
	// EdgeSlow is the part of EdgeFraction that changes slowly — as slowly as the
	// view of the object does — rather than from frame to frame (default 0: all of it
	// is frame to frame). It counts in DistSigma but not in DistNoise.
	EdgeSlow float64
	// PitchSigma is the pitch the calibration does not know about — the car pitching
	// on its springs, the road's slope changing — rad (default 0.25° = 0.0044 rad).
	PitchSigma float64
	// EdgeMargin is how close to the image border, px, a box edge counts as cut by
	// the border (default 2).
	EdgeMargin float64
}

// Cue says which cues a range used.
type Cue uint8

// Ranging cues.
const (
	CueGround Cue = 1 << iota // flat-ground distance of the box's bottom edge
	CueWidth                  // class width prior against the box width
	CueHeight                 // class height prior against the box height
)

func (c Cue) String() string {
	s := ""
	for _, x := range []struct {
		c Cue
		n string
	}{{CueGround, "ground"}, {CueWidth, "width"}, {CueHeight, "height"}} {
		if c&x.c != 0 {
			if s != "" {
				s += "+"
			}
			s += x.n
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// Range is where a detected object is, in the vehicle frame.
type Range struct {
	// Distance is the x of the object's near edge, m ahead of the front bumper
	// (negative behind it), and DistSigma its 1-sigma. DistNoise is the part of that
	// error that changes from frame to frame (box-edge noise); the rest comes from the
	// size priors and the pitch, constant for one object (or slowly changing): a filter
	// of the object's motion wants DistNoise. For a sideways camera (yaw
	// beyond ±45° of forward or rearward) it is the x of the object's centre.
	Distance, DistSigma, DistNoise float64
	// Lateral is the y of the object's centre, m (left positive), and LateralSigma
	// its 1-sigma. LateralNoise is the part of that error that changes from frame to
	// frame (the bearing's); the rest comes from the distance error and changes as
	// slowly as it does. A filter of lateral motion wants LateralNoise.
	Lateral, LateralSigma, LateralNoise float64
	// LateralSlope is how the lateral offset moves with the distance along the line
	// of sight (dLateral/dDistance at a fixed pixel), and BearingNoise the lateral's
	// frame-to-frame error at a known distance: a filter that knows the distance
	// better than this frame's range takes Lateral + (its distance − Distance) ·
	// LateralSlope, whose error is BearingNoise alone. NaN for sideways cameras,
	// whose distance is not along the line of sight.
	LateralSlope, BearingNoise float64
	// Width and Height are the object's size, m: measured from the box at the fused
	// distance.
	Width, Height float64
	// Depth is the near edge's ground range along the camera's viewing direction, m.
	Depth float64
	// HalfLength is, for a sideways camera, half the object's length along the road
	// (its size prior): its near edge lies that much nearer than Distance, its
	// centre. 0 for the other cameras, whose Distance is the near edge's.
	HalfLength float64
	// Cues says what the range rests on; 0 when the box could not be ranged (then the
	// other fields are NaN).
	Cues Cue
}

// Ranger ranges the detections of one camera.
type Ranger struct {
	cal    Calibration
	cfg    Config
	sp, cp float64 // sin, cos of pitch
	sy, cy float64 // sin, cos of yaw
	side   bool    // the camera looks sideways: road-aligned objects show it their side
	// oblique: the camera looks 30–60° off the road's axis, where road-aligned objects
	// show it neither face square on
	oblique bool
}

// New returns a ranger for a camera, or an error wrapping ErrBadCalibration.
func New(cal Calibration, cfg Config) (*Ranger, error) {
	if err := cal.Validate(); err != nil {
		return nil, fmt.Errorf("new ranger: %w", err)
	}
	if cfg.Priors == nil {
		cfg.Priors = DefaultPriors()
	}
	if cfg.EdgeSigma == 0 {
		cfg.EdgeSigma = 1
	}
	if cfg.EdgeFraction == 0 {
		cfg.EdgeFraction = 0.02
	}
	if cfg.PitchSigma == 0 {
		cfg.PitchSigma = 0.25 * math.Pi / 180
	}
	if cfg.EdgeMargin == 0 {
		cfg.EdgeMargin = 2
	}
	r := &Ranger{cal: cal, cfg: cfg}
	r.sp, r.cp = math.Sincos(cal.Pitch)
	r.sy, r.cy = math.Sincos(cal.Yaw)
	r.side = math.Abs(r.sy) > math.Sin(math.Pi/4)
	r.oblique = math.Abs(math.Sin(2*cal.Yaw)) > math.Sin(math.Pi/3)
	return r, nil
}

// Calibration returns the ranger's calibration.
func (r *Ranger) Calibration() Calibration { return r.cal }

// ray returns the level-frame direction (forward, right, down) of the pixel (u, v),
// scaled so that forward = 1, and false when the ray does not point forward.
func (r *Ranger) ray(u, v float64) (right, down float64, ok bool) {
	xc, yc := (u-r.cal.Cx)/r.cal.Fx, (v-r.cal.Cy)/r.cal.Fy // camera ray with z = 1
	f := -yc*r.sp + r.cp
	d := yc*r.cp + r.sp
	if f <= 1e-6 {
		return 0, 0, false
	}
	return xc / f, d / f, true
}

// Range ranges one detection. A box that cannot be ranged (it lies above the horizon
// and its class has no size prior, or it is degenerate) gives Cues 0 and NaN fields.
func (r *Ranger) Range(d obs.Detection) Range {
	nan := math.NaN()
	out := Range{Distance: nan, DistSigma: nan, DistNoise: nan, Lateral: nan, LateralSigma: nan, LateralNoise: nan,
		LateralSlope: nan, BearingNoise: nan, Width: nan, Height: nan, Depth: nan}
	x1, y1, x2, y2 := float64(d.X1), float64(d.Y1), float64(d.X2), float64(d.Y2)
	if !(x2 > x1 && y2 > y1) || math.IsInf(x1+x2+y1+y2, 0) {
		return out
	}
	c, m := &r.cal, r.cfg.EdgeMargin
	cutL, cutR := x1 <= m, x2 >= float64(c.Width)-m
	cutT, cutB := y1 <= m, y2 >= float64(c.Height)-m
	hpx, wpx := y2-y1, x2-x1
	se := r.cfg.EdgeSigma + r.cfg.EdgeFraction*hpx // σ of one box edge, px
	// the frame-to-frame part of it, as a share
	white := (r.cfg.EdgeSigma + math.Max(0, r.cfg.EdgeFraction-r.cfg.EdgeSlow)*hpx) / se
	uc := (x1 + x2) / 2

	// Each cue gives the ground range F (level-frame forward) of the near face, with
	// the noise sn of its box edges and the relative sigma of the size prior behind it.
	var sum, wsum, nsum float64 // inverse-variance fusion; nsum: the noise's share
	add := func(f, sn, prior float64, cue Cue) {
		sf := math.Hypot(sn, prior*f)
		if !(f > 0) || !(sf > 0) || math.IsInf(f, 0) {
			return
		}
		w := 1 / (sf * sf)
		sum += w * f
		wsum += w
		nsum += w * w * sn * sn * white * white
		out.Cues |= cue
	}

	// Ground: the bottom edge's ray meets the ground plane MountHeight below.
	if !cutB {
		if _, dd, ok := r.ray(uc, y2); ok && dd > 0 {
			f := c.MountHeight / dd
			// angle below the horizon and its error (edge noise + unknown pitch)
			alpha := math.Atan2(dd, 1)
			se2 := se / c.Fy * math.Cos(alpha) * math.Cos(alpha)
			sa := math.Hypot(se2, r.cfg.PitchSigma)
			if alpha > 3*sa { // well below the horizon: the cue is informative
				k := c.MountHeight / (math.Sin(alpha) * math.Sin(alpha))
				// the edge noise changes from frame to frame, the pitch error slowly
				add(f, k*se2, k*r.cfg.PitchSigma/f, CueGround)
			}
		}
	}

	prior, hasPrior := r.cfg.Priors[d.Class]
	vis := prior.Width // width of the face the camera sees
	depthExt := prior.Length
	if r.side {
		vis, depthExt = prior.Length, prior.Width
	}
	// Width: the box spans the visible face, plus the side face when the object sits
	// off the camera axis (a road-aligned box). a, b: the box's outer and inner edges as
	// tangents (outer = farther from the axis).
	var a, b float64
	{
		tl, tr := (x1-c.Cx)/c.Fx, (x2-c.Cx)/c.Fx
		a, b = tr, tl
		if math.Abs(tl) > math.Abs(tr) {
			a, b = tl, tr
		}
	}
	sideVisible := a*b > 0 // both edges on one side of the axis
	if hasPrior && vis > 0 && !cutL && !cutR {
		ab := math.Abs(a - b)
		ext := 0.0
		if sideVisible {
			ext = math.Abs(b) * depthExt
		}
		z := (vis + ext) / ab // camera depth of the near face
		rel := math.Sqrt2 * se / wpx
		if ext > 0 { // the side face's share rests on a length prior good to ±20 %
			rel = math.Hypot(rel, 0.2*ext/(vis+ext))
		}
		pr := prior.WidthSigma / vis
		if r.side {
			pr = 0.15 // lengths vary more than widths
		}
		f := r.depthToForward(z, (y1+y2)/2)
		add(f, f*rel, pr, CueWidth)
	}
	// Height: the box spans the object's height.
	if hasPrior && prior.Height > 0 && !cutT && !cutB {
		z := c.Fy * prior.Height / hpx
		f := r.depthToForward(z, (y1+y2)/2)
		add(f, f*math.Sqrt2*se/hpx, prior.HeightSigma/prior.Height, CueHeight)
	}
	if wsum == 0 {
		return out
	}
	f := sum / wsum
	sf := math.Sqrt(1 / wsum)
	sfn := math.Sqrt(nsum) / wsum // the part of sf that changes from frame to frame

	// Lateral of the object's centre (level frame, right positive): from the outer edge
	// minus half the width when the side face shows, else from the box centre.
	var right float64
	width := f * math.Abs(a-b) // metric span of the box at the near face
	cutSide := cutL != cutR && hasPrior && vis > 0 && !r.oblique
	switch {
	case cutSide:
		// The image's left or right border cuts the box, so its centre is not the
		// object's (a car beside the ego at the border of a front camera read 0.8 m
		// nearer the ego lane). The edge inside the image is the object's: the far
		// corner of its side face when the whole object lies on the cut side of the
		// axis, else a corner of its near face; the centre lies half the prior's
		// width beyond it, towards the border. Oblique cameras, where the faces'
		// model does not hold, are left to fitCuboid.
		t, dir := (x2-c.Cx)/c.Fx, -1.0 // cut on the left: the object goes on to the left
		if cutR {
			t, dir = (x1-c.Cx)/c.Fx, 1
		}
		depth := f
		if t*dir > 0 {
			depth += depthExt
		}
		right = t*depth + dir*vis/2
		width = vis
	case sideVisible && hasPrior:
		width -= math.Abs(b) * depthExt // less the side face: f·|a−b| = W + |b|·L
		if width <= 0 {                 // the object is not road-aligned after all
			width = vis
		}
		half := width / 2
		if a > 0 {
			right = a*f - half
		} else {
			right = a*f + half
		}
	default:
		right = f * (uc - c.Cx) / c.Fx
	}
	sb := f * se / c.Fx // bearing noise at range f
	sr := math.Hypot(sf*math.Abs(right)/f, sb)
	if cutSide { // the centre rests on the size priors
		sr = math.Hypot(sr, prior.WidthSigma/2)
	}

	// A sideways camera sees the object's side: its centre lies half the object's
	// extent beyond the near face, and x is taken at that centre.
	fc := f
	if r.side && hasPrior {
		fc += depthExt / 2
		out.HalfLength = prior.Length / 2
	}
	// level camera frame → vehicle frame
	left := -right
	f, out.Depth = fc, f
	out.Distance = c.X + f*r.cy - left*r.sy
	out.Lateral = c.Y + f*r.sy + left*r.cy
	out.DistSigma = math.Hypot(sf*r.cy, sr*r.sy)
	out.DistNoise = math.Hypot(sfn*r.cy, sb*r.sy)
	out.LateralSigma = math.Hypot(sf*r.sy, sr*r.cy)
	// about half the distance error is white (box jitter), half slow (box drift,
	// priors): the white half reaches the lateral frame to frame
	out.LateralNoise = math.Hypot(sf*r.sy, math.Hypot(sb, 0.5*sf*math.Abs(right)/f)*r.cy)
	// along the line of sight (a fixed pixel) the depth moves distance and lateral
	// together: d(distance)/d(depth) = cy − (left/f)·sy, d(lateral)/d(depth) = sy + (left/f)·cy
	if !r.side {
		tl := left / out.Depth
		if dd := r.cy - tl*r.sy; math.Abs(dd) > 0.3 {
			out.LateralSlope = (r.sy + tl*r.cy) / dd
			out.BearingNoise = sb
		}
	}
	out.Width = width
	out.Height = hpx * out.Depth / c.Fy
	if r.oblique && hasPrior {
		edges := [4]float64{x1, y1, x2, y2}
		use := [4]bool{!cutL, !cutT && prior.Height > 0, !cutR, !cutB}
		// the fit works on the centre; a camera that is not sideways gives the near
		// edge's x, ahead of it or behind it
		toNear := 0.0
		if !r.side {
			toNear = math.Copysign(prior.Length/2, r.cy)
		}
		if x, y, ok := r.fitCuboid(prior, edges, use, out.Distance+toNear, out.Lateral); ok {
			out.Distance, out.Lateral = x-toNear, y
			out.Width = prior.Width
		}
	}
	return out
}

// fitCuboid places a road-aligned cuboid of the prior's size so that its image
// matches the box edges in use (x1, y1, x2, y2), starting from its centre at (x, y),
// and returns the centre (vehicle frame). A camera 30–60° off the road's axis sees
// two faces of a road-aligned object at a slant, which the cues' model of one face
// square on (and a side face beyond it) does not describe: the cues alone put the
// centre 1–1.5 m off along the road. Gauss–Newton on the two unknowns, numeric
// derivatives; ok is false when fewer than three edges are in use, the cuboid leaves
// the camera's view, or the fit misses the edges by more than five of their sigmas
// on average (not a road-aligned object of about the prior's size).
func (r *Ranger) fitCuboid(p SizePrior, edges [4]float64, use [4]bool, x, y float64) (fx, fy float64, ok bool) {
	n := 0
	for _, u := range use {
		if u {
			n++
		}
	}
	if n < 3 || p.Length <= 0 || p.Width <= 0 || math.IsNaN(x+y) {
		return 0, 0, false
	}
	h := p.Height
	if h <= 0 {
		h = 1
	}
	// residuals of the cuboid centred at (cx, cy), px
	res := func(cx, cy float64) (e [4]float64, ok bool) {
		b := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
		for _, px := range [2]float64{cx - p.Length/2, cx + p.Length/2} {
			for _, py := range [2]float64{cy - p.Width/2, cy + p.Width/2} {
				for _, pz := range [2]float64{0, h} {
					u, v, ok := r.cal.Project(px, py, pz)
					if !ok {
						return e, false
					}
					b[0], b[1] = math.Min(b[0], u), math.Min(b[1], v)
					b[2], b[3] = math.Max(b[2], u), math.Max(b[3], v)
				}
			}
		}
		for i := range e {
			if use[i] {
				e[i] = b[i] - edges[i]
			}
		}
		return e, true
	}
	// each edge weighed by its error: the box's, and the size prior's spread at the
	// object's depth (the top edge: its height, ±0.7 m for a truck; the sides: its
	// width and length)
	depth := math.Max(1, math.Hypot(x-r.cal.X, y-r.cal.Y))
	se := r.cfg.EdgeSigma + r.cfg.EdgeFraction*(edges[3]-edges[1])
	side := r.cal.Fx * math.Hypot(p.WidthSigma, 0.1*p.Length) / depth
	w := [4]float64{1 / math.Hypot(se, side), 1 / math.Hypot(se, r.cal.Fy*p.HeightSigma/depth), 1 / math.Hypot(se, side), 1 / se}
	const step = 0.01 // m, for the derivatives
	for range 20 {
		e, ok := res(x, y)
		if !ok {
			return 0, 0, false
		}
		ex, okx := res(x+step, y)
		ey, oky := res(x, y+step)
		if !okx || !oky {
			return 0, 0, false
		}
		// normal equations of J·δ = −e
		var a, b, c, gx, gy float64
		for i := range e {
			jx, jy := w[i]*(ex[i]-e[i])/step, w[i]*(ey[i]-e[i])/step
			a += jx * jx
			b += jx * jy
			c += jy * jy
			gx -= jx * w[i] * e[i]
			gy -= jy * w[i] * e[i]
		}
		det := a*c - b*b
		if !(math.Abs(det) > 1e-12) {
			return 0, 0, false
		}
		dx, dy := (c*gx-b*gy)/det, (a*gy-b*gx)/det
		if d := math.Hypot(dx, dy); d > 2 { // no more than 2 m a step
			dx, dy = 2*dx/d, 2*dy/d
		}
		x, y = x+dx, y+dy
		if math.Hypot(dx, dy) < 1e-3 {
			break
		}
	}
	e, ok := res(x, y)
	if !ok {
		return 0, 0, false
	}
	var ss float64
	for i, v := range e {
		ss += w[i] * w[i] * v * v
	}
	if math.Sqrt(ss/float64(n)) > 5 { // more than five sigmas an edge: not this cuboid
		return 0, 0, false
	}
	return x, y, true
}

// depthToForward converts a depth along the optical axis, seen at image row v, into
// the level-frame forward range.
func (r *Ranger) depthToForward(z, v float64) float64 {
	yc := (v - r.cal.Cy) / r.cal.Fy
	return z * (-yc*r.sp + r.cp)
}
