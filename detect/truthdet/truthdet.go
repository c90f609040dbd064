// Package truthdet is a detector fed from simulator truth: it turns the per-camera
// truth boxes of a frame set into detections the way a real detector would report
// them — jittered and slowly drifting box edges, scores that fall with size and with
// occlusion, misses that come in bursts (more of them for small boxes), objects
// hidden behind nearer ones left out, and false alarms, mostly at low scores — and,
// as aligning its pixels would read it, each object's image scale, with the
// alignment's errors (from which the pipeline measures its looming). It exercises
// tracking, ranging and the ADAS logic end to end on simulated drives, apart from the
// network.
//
// The noise is a pure function of the seed, the actor, the camera and the frame time,
// so a run is reproducible however many frame sets the latest-wins queue drops; the
// scale reading's smoothly changing error moves between the frame sets this detector
// was given.
package truthdet

import (
	"cmp"
	"context"
	"encoding/binary"
	"math"
	"slices"
	"sync"

	"roadlog/detect/loom"
	"roadlog/detect/obs"
	"roadlog/detect/pipeline"
	"roadlog/detect/ranging"
	"roadlog/schema"
)

// Config tunes the detector. The zero value of a field selects its default; the
// defaults are those of a good detector on 1–2 Mpx images: its boxes jitter by about
// a pixel from frame to frame and carry a slowly changing error of about half a
// percent of their size (the appearance, and so the error, changes as slowly as the
// view does).
type Config struct {
	Seed uint64
	// EdgeSigma (px) and EdgeFraction (of the box height) are the white jitter of each
	// box edge, frame to frame (defaults 0.5 px, 0.004).
	EdgeSigma, EdgeFraction float64
	// DriftFraction is the slowly varying error of each edge, of the box height, with
	// correlation time DriftTime s (defaults 0.005, 2 s).
	DriftFraction, DriftTime float64
	// MissRate is the fraction of time a clearly visible object goes undetected;
	// misses come in bursts of MissBurst s (defaults 0.03, 0.2 s).
	MissRate, MissBurst float64
	// SmallBox is the box height, px, below which objects are missed more and more
	// often (default 24); boxes under MinBox px are never detected (default 8).
	SmallBox, MinBox float64
	// FalseRate is the mean number of false alarms per camera frame (default 0.05);
	// FalseHigh the fraction of them scored above 0.5 (default 0.1).
	FalseRate, FalseHigh float64
	// Occluded is the fraction of a box that nearer objects may cover before it is no
	// longer detected (default 0.6); partly covered boxes score lower.
	Occluded float64
	// LoomNoise is the noise of the looming scale reading (obs.Detection.LoomScale:
	// the object's image scale as aligning its pixels would read it), in px at the
	// box's height (default loom.DefaultNoise, as measured on real video): each
	// frame's own error, changing smoothly from frame to frame, and a white part that
	// stands for the pairs' own error (Pair over √2 a frame).
	LoomNoise loom.Noise
	// NoLoom leaves the looming scale reading out.
	NoLoom bool
	// Width, Height are the image size used when the frame set does not say
	// (default 1920×1080).
	Width, Height int
}

func (c Config) withDefaults() Config {
	def := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.EdgeSigma, 0.5)
	def(&c.EdgeFraction, 0.004)
	def(&c.DriftFraction, 0.005)
	def(&c.DriftTime, 2)
	def(&c.MissRate, 0.03)
	def(&c.MissBurst, 0.2)
	def(&c.SmallBox, 24)
	def(&c.MinBox, 8)
	def(&c.FalseRate, 0.05)
	def(&c.FalseHigh, 0.1)
	def(&c.Occluded, 0.6)
	if c.LoomNoise == (loom.Noise{}) {
		c.LoomNoise = loom.DefaultNoise
	}
	if c.Width <= 0 || c.Height <= 0 {
		c.Width, c.Height = 1920, 1080
	}
	return c
}

// Detector is the truth-fed detector. Its one state is, for the looming scale
// reading, the alignment's frame error of each actor in each camera and its box's
// last aspect there. It is safe for concurrent use.
type Detector struct {
	cfg  Config
	mu   sync.Mutex
	loom map[key]*loomState
}

// loomState is an actor's looming state in a camera: the alignment's frame error
// (px, loom.Noise) at time t, and the box's aspect, ln(height/width), when last
// seen whole.
type loomState struct {
	t      int64
	frame  float64
	aspect float64
	whole  bool
}

// New returns a detector.
func New(cfg Config) *Detector { return &Detector{cfg: cfg.withDefaults(), loom: map[key]*loomState{}} }

// looming sets the scale reading of a detection of an actor in a camera at time t
// (obs.Detection.LoomScale): the log of its true box height h, or where the border
// cuts the box top or bottom of its width w and its last aspect (h, w: 0 where cut
// on that axis; both 0 where something nearer covers it), plus the alignment's
// errors at the box's visible height size: the frames' own, changing smoothly, and a
// white part that stands for the pairs' own (loom.Noise.Pair over √2 a frame).
func (d *Detector) looming(k key, t int64, h, w, size float64, det *obs.Detection) {
	c := &d.cfg
	st := d.loom[k]
	u := normal(k.with(chLoomFrame, uint64(t)))
	if st == nil { // the first sighting: the frame error from its stationary spread
		st = &loomState{frame: c.LoomNoise.Frame * u}
		d.loom[k] = st
	} else {
		st.frame = c.LoomNoise.Step(st.frame, float64(t-st.t)/1e9, u)
	}
	st.t = t
	var scale float64
	switch {
	case h > 0:
		scale = math.Log(h)
		if w > 0 {
			st.aspect, st.whole = math.Log(h/w), true
		}
	case w > 0 && st.whole:
		scale = math.Log(w) + st.aspect
	default:
		return
	}
	pair := c.LoomNoise.Pair / math.Sqrt2 * normal(k.with(chLoomPair, uint64(t)))
	det.LoomScale = float32(scale + (st.frame+pair)/size)
	det.LoomFrame = float32(c.LoomNoise.Frame / size)
}

// Ranging returns the box-edge error model of the detections as ranging.Config's
// EdgeSigma, EdgeFraction (white and slow parts together) and EdgeSlow (the slow
// drift), so that ranging weighs the cues as noisy as they are and the track filter
// knows which part of the range error changes from frame to frame.
func (d *Detector) Ranging() ranging.Config {
	sigma, fraction := d.EdgeNoise()
	return ranging.Config{EdgeSigma: sigma, EdgeFraction: fraction, EdgeSlow: d.cfg.DriftFraction}
}

// EdgeNoise returns the box-edge error model (σ = sigma + fraction·box height, px,
// white and slow parts together) for ranging.Config's EdgeSigma and EdgeFraction,
// so that the track filter weighs these detections as noisy as they are.
func (d *Detector) EdgeNoise() (sigma, fraction float64) {
	return d.cfg.EdgeSigma, d.cfg.EdgeFraction + d.cfg.DriftFraction
}

// Class returns the COCO class a detector reports for an actor kind: a cyclist is
// reported as the person riding (the box spans rider and bicycle).
func Class(k schema.ActorKind) (uint16, bool) {
	switch k {
	case schema.ActorCar:
		return obs.ClassCar, true
	case schema.ActorTruck:
		return obs.ClassTruck, true
	case schema.ActorPedestrian, schema.ActorCyclist:
		return obs.ClassPerson, true
	}
	return 0, false
}

// Detect implements pipeline.Detector.
func (d *Detector) Detect(_ context.Context, fs *pipeline.FrameSet) ([]obs.Detection, error) {
	return d.Detections(fs), nil
}

// Detections returns the detections of one frame set.
func (d *Detector) Detections(fs *pipeline.FrameSet) []obs.Detection {
	c := &d.cfg
	var out []obs.Detection
	size := func(cam uint8) (float64, float64) {
		for _, f := range fs.Frames {
			if f.Camera == cam && f.Width > 0 && f.Height > 0 {
				return float64(f.Width), float64(f.Height)
			}
		}
		return float64(c.Width), float64(c.Height)
	}
	t := float64(fs.T) / 1e9
	hidden := occlusion(fs.Truth)
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range fs.Truth {
		tr := &fs.Truth[i]
		cls, ok := Class(tr.Kind)
		if tr.Camera == schema.TruthNoCamera || !ok {
			continue
		}
		x1, y1, x2, y2 := float64(tr.X1), float64(tr.Y1), float64(tr.X2), float64(tr.Y2)
		if math.IsNaN(x1+y1+x2+y2) || x2 <= x1 || y2 <= y1 {
			continue
		}
		w, h := size(tr.Camera)
		bh := y2 - y1
		if bh < c.MinBox {
			continue
		}
		if hidden[i] > c.Occluded { // behind nearer objects: not seen
			continue
		}
		key := key{seed: c.Seed, actor: uint64(uint32(tr.ActorID)), cam: uint64(tr.Camera)}
		// the looming, from the true box (the height and width that the border does
		// not cut), unless nearer objects cover it
		var wholeH, wholeW float64
		if hidden[i] < 0.1 {
			if y1 > 0.5 && y2 < h-0.5 {
				wholeH = bh
			}
			if x1 > 0.5 && x2 < w-0.5 {
				wholeW = x2 - x1
			}
		}
		// misses: bursts, plus frame-by-frame misses of small boxes
		if unit(key.with(chMiss, uint64(math.Floor(t/c.MissBurst)))) < c.MissRate {
			continue
		}
		if bh < c.SmallBox && unit(key.with(chSmall, uint64(fs.T))) < (c.SmallBox-bh)/(c.SmallBox-c.MinBox+1) {
			continue
		}
		jit := c.EdgeSigma + c.EdgeFraction*bh
		drift := c.DriftFraction * bh
		e := [4]float64{}
		for k := range e {
			e[k] = jit*normal(key.with(chEdge+uint64(k), uint64(fs.T))) + drift*smooth(key.with(chDrift+uint64(k), 0), t/c.DriftTime)
		}
		// Edges on the image border stay there (the object goes on beyond it); the
		// others move and are clipped.
		edge := func(v, n, hi float64) float64 {
			if v <= 0.5 || v >= hi-0.5 {
				return clip(v, 0, hi)
			}
			return clip(v+n, 0, hi)
		}
		bx, by, bx2, by2 := edge(x1, e[0], w), edge(y1, e[1], h), edge(x2, e[2], w), edge(y2, e[3], h)
		if bx2-bx < 2 || by2-by < 2 {
			continue
		}
		// score: high for big boxes, lower for small ones, with a per-frame wobble
		s := (0.92-0.55*math.Exp(-bh/40))*(1-hidden[i]) + 0.06*normal(key.with(chScore, uint64(fs.T)))
		det := obs.Detection{Camera: tr.Camera, X1: float32(bx), Y1: float32(by), X2: float32(bx2), Y2: float32(by2),
			Class: cls, Label: obs.ClassLabel(cls), Score: float32(clip(s, 0.05, 0.99))}
		if !c.NoLoom {
			d.looming(key, fs.T, wholeH, wholeW, bh, &det)
		}
		out = append(out, det)
	}
	// false alarms, per camera of the frame set
	cams := map[uint8]bool{}
	for _, f := range fs.Frames {
		cams[f.Camera] = true
	}
	for i := range fs.Truth {
		if fs.Truth[i].Camera != schema.TruthNoCamera {
			cams[fs.Truth[i].Camera] = true
		}
	}
	for cam := range cams {
		w, h := size(cam)
		k := key{seed: c.Seed, actor: 1 << 40, cam: uint64(cam)}
		n := poisson(c.FalseRate, unit(k.with(chFalse, uint64(fs.T))))
		for j := 0; j < n; j++ {
			kj := k.with(chFalse+1+uint64(j), uint64(fs.T))
			bh := 20 + 100*unit(kj^0x1)
			bw := bh * (0.5 + 1.5*unit(kj^0x2))
			x := unit(kj^0x3) * (w - bw)
			y := h/3 + unit(kj^0x4)*(2*h/3-bh)
			s := 0.1 + 0.35*unit(kj^0x5)
			if unit(kj^0x6) < c.FalseHigh {
				s = 0.5 + 0.2*unit(kj^0x7)
			}
			cls := obs.ClassCar
			if unit(kj^0x8) < 0.3 {
				cls = obs.ClassPerson
			}
			out = append(out, obs.Detection{Camera: cam, X1: float32(x), Y1: float32(y), X2: float32(x + bw), Y2: float32(y + bh),
				Class: cls, Label: obs.ClassLabel(cls), Score: float32(s)})
		}
	}
	sortDetections(out)
	return out
}

// occlusion returns, for each truth row with a box, the fraction of its box that the
// boxes of nearer actors in the same camera cover (the sum of the pairwise overlaps,
// capped at 1).
func occlusion(rows []schema.Truth) []float64 {
	out := make([]float64, len(rows))
	for i := range rows {
		a := &rows[i]
		if a.Camera == schema.TruthNoCamera {
			continue
		}
		area := float64((a.X2 - a.X1) * (a.Y2 - a.Y1))
		if !(area > 0) {
			continue
		}
		for j := range rows {
			b := &rows[j]
			if j == i || b.Camera != a.Camera || !(math.Abs(float64(b.Distance)) < math.Abs(float64(a.Distance))) {
				continue
			}
			iw := math.Min(float64(a.X2), float64(b.X2)) - math.Max(float64(a.X1), float64(b.X1))
			ih := math.Min(float64(a.Y2), float64(b.Y2)) - math.Max(float64(a.Y1), float64(b.Y1))
			if iw > 0 && ih > 0 {
				out[i] += iw * ih / area
			}
		}
		out[i] = math.Min(out[i], 1)
	}
	return out
}

// noise channels
const (
	chMiss      = 1
	chSmall     = 2
	chScore     = 3
	chLoomFrame = 4
	chLoomPair  = 5
	chEdge      = 10 // 10..13
	chDrift     = 20 // 20..23
	chFalse     = 100
)

type key struct{ seed, actor, cam uint64 }

// with hashes the key with a channel and a counter into 64 random bits (SplitMix64
// finaliser over the mixed words).
func (k key) with(ch, n uint64) uint64 {
	var b [40]byte
	binary.LittleEndian.PutUint64(b[0:], k.seed)
	binary.LittleEndian.PutUint64(b[8:], k.actor)
	binary.LittleEndian.PutUint64(b[16:], k.cam)
	binary.LittleEndian.PutUint64(b[24:], ch)
	binary.LittleEndian.PutUint64(b[32:], n)
	h := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < len(b); i += 8 {
		h = mix(h ^ binary.LittleEndian.Uint64(b[i:]))
	}
	return h
}

func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// unit maps random bits to [0, 1).
func unit(h uint64) float64 { return float64(mix(h)>>11) / (1 << 53) }

// normal maps random bits to a standard normal deviate (Box–Muller).
func normal(h uint64) float64 {
	u1 := unit(h)
	u2 := unit(h ^ 0x5bd1e995)
	if u1 < 1e-300 {
		u1 = 1e-300
	}
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// smooth is value noise: standard normal values at integer x, blended with a cosine
// ramp in between, so it drifts with correlation length ≈ 1.
func smooth(h uint64, x float64) float64 {
	i := math.Floor(x)
	f := x - i
	a, b := normal(h^mix(uint64(int64(i)))), normal(h^mix(uint64(int64(i)+1)))
	w := (1 - math.Cos(math.Pi*f)) / 2
	// the blend of two unit normals has variance (1−w)²+w² ≥ ½: rescale to unit
	return (a*(1-w) + b*w) / math.Sqrt((1-w)*(1-w)+w*w)
}

// poisson draws a Poisson count of mean m by inverting its CDF at u.
func poisson(m, u float64) int {
	p := math.Exp(-m)
	cdf := p
	n := 0
	for u > cdf && n < 100 {
		n++
		p *= m / float64(n)
		cdf += p
	}
	return n
}

func clip(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// sortDetections orders detections by camera, then score (highest first), so output
// is independent of map iteration order.
func sortDetections(d []obs.Detection) {
	slices.SortStableFunc(d, func(a, b obs.Detection) int {
		if c := cmp.Compare(a.Camera, b.Camera); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.X1, b.X1)
	})
}
