// Package pipeline turns what a detector found in a frame set into rows of the drive:
// it tracks the detections of each camera, ranges them with the camera's calibration,
// filters each track's motion, and hands the forward cameras' objects to the ADAS
// assessor; out come objects.arrow rows, one targets.arrow row and the FCW/AEB/cut-in
// events. Runner drives it live behind a latest-wins queue so that the recorder never
// waits for detection.
package pipeline

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"

	"roadlog/detect/adas"
	"roadlog/detect/loom"
	"roadlog/detect/obs"
	"roadlog/detect/ranging"
	"roadlog/detect/track"
	"roadlog/schema"
)

// Frame is one camera's frame of a frame set, as a detector needs it.
type Frame struct {
	Camera        uint8
	Seq           int64       // the camera's frame counter (frames.arrow seq)
	Width, Height int         // px
	Image         image.Image // decoded picture for image detectors; nil for the truth-fed one
	JPEG          []byte      // the encoded frame when Image is nil and the camera records MJPEG (detectors decode it)
	// Picture fetches the decoded picture when neither Image nor JPEG is set: an
	// H.264/H.265 camera's frame, decoded by a live decoder (detect/live
	// StreamDecoder) that may still be at work on it.
	Picture func(context.Context) (image.Image, error)
}

// FrameSet is one trigger's frames, and in simulated drives the truth of that instant.
type FrameSet struct {
	T         int64 // reference time of the trigger
	TriggerID int64
	Frames    []Frame
	Truth     []schema.Truth // simulated drives: every truth row of this trigger
}

// Config configures a Pipeline. The zero value of a field selects its default.
type Config struct {
	// Cameras holds each camera's calibration. A camera without one (or with an
	// invalid one) is tracked but not ranged, and a warning event says so.
	Cameras map[uint8]ranging.Calibration
	Ranging ranging.Config
	Track   track.Config
	Motion  track.MotionConfig
	ADAS    adas.Config
	// ForwardYaw: cameras looking within this angle of straight ahead feed the ADAS
	// targets, rad (default 30°).
	ForwardYaw float64
	// MinClosing is the least closing speed for a TTC, m/s (default 0.2).
	MinClosing float64
	// Source names the pipeline in events (default "detector").
	Source string
	// RangeSlowShare is the share of a range's slowly changing error (size priors,
	// pitch, the detector's drift: ranging.Range.DistSigma less DistNoise) that the
	// track filter takes as measurement noise on top of the frame-to-frame noise
	// (DistNoise), 0..1 (default 0.5; negative: none). A constant error (a car wider
	// than the prior) scales range and speed alike and leaves the TTC as it is;
	// counted in full it would make the filter slow to follow a braking car, left out
	// the filter would read the error's changes as motion.
	RangeSlowShare float64
	// Loom selects the looming measurement, taken from cameras looking ahead or
	// behind and, for people, from every camera, against each track's key frame: 0
	// takes the change of the detector's scale reading (obs.Detection.LoomScale) or,
	// for detections of decoded frames without one, aligns the track's pixels
	// (detect/loom); negative takes none.
	Loom int
	// LoomNoise is the looming measurement's error model (default loom.DefaultNoise,
	// as measured on real video): the least noise of a measurement from pixels (what
	// the alignment's own bound leaves out: the object's shape in depth, a changing
	// view, compression) and the correlation time of the frames' error that the track
	// filter follows.
	LoomNoise loom.Noise
	// LoomFrames is how many frames a track's looming key frame serves: each frame's
	// scale (read by the detector, or aligned from the pixels) is measured against the
	// key frame's, and the frame after this many becomes the next key (default
	// loom.KeyFrames).
	LoomFrames int
}

// Result is what one frame set produced. The rows are new: ownership passes to the
// caller.
type Result struct {
	Objects []*schema.Object
	Target  *schema.Target
	Events  []*schema.Event
	// Loom holds, for each camera whose looming measurements the track filters folded
	// in, how many and their normalised innovations squared (track.MotionState.LoomNIS)
	// summed: over a drive, NIS / Updates near 1 says the looming noise model fits
	// that camera; well above, that the filters trust looming more than they should.
	Loom []LoomStat
}

// LoomStat is one camera's looming consistency: the looming measurements the track
// filters folded in and their normalised innovations squared, summed.
type LoomStat struct {
	Camera  uint8
	Updates int
	NIS     float64
}

// addLoom adds n measurements of camera cam whose normalised innovations squared sum
// to nis to stats, one entry a camera in the order first seen.
func addLoom(stats []LoomStat, cam uint8, n int, nis float64) []LoomStat {
	for i := range stats {
		if stats[i].Camera == cam {
			stats[i].Updates += n
			stats[i].NIS += nis
			return stats
		}
	}
	return append(stats, LoomStat{Camera: cam, Updates: n, NIS: nis})
}

type camera struct {
	tracker *track.Tracker
	ranger  *ranging.Ranger // nil: ranging disabled
	forward bool
	cos     float64 // cosine of the camera's yaw
	yaw     float64 // rad
	y       float64 // the camera's position left of the centre line, m
	x       float64 // the camera's position ahead of the front bumper, m
	warned  bool
	err     error // why ranging is disabled
}

type trackInfo struct {
	motion *track.Motion
	// loom: the track's looming key frame (a scale reading or pixels)
	loom  *loomKey
	width float64 // smoothed width, m
	// halfLen: how much nearer than the range the near edge lies (ranging.Range.HalfLength)
	halfLen float64
	cam     uint8
	first   int64 // time of the first measurement
	// egoT, egoV: the time of the last measurement and the ego's speed then (NaN:
	// unknown), for the drive since (driveSince)
	egoT int64
	egoV float64
}

// measurement turns a range into the track filter's measurement: the distance (x
// in the vehicle frame), the lateral offset with its frame-to-frame noise, and the
// drive of the ego's own acceleration. Where the camera looks along the distance
// (forward and rearward cameras) the lateral goes with its slope and the bearing's
// noise alone: the filter takes it at its own range, so that the range's noise (a
// 2 % error is 7 cm of lateral offset one lane over) does not read as lateral motion.
func measurement(t int64, rg *ranging.Range, egoAccel, slowShare float64) track.Measurement {
	slow := math.Sqrt(math.Max(0, rg.DistSigma*rg.DistSigma-rg.DistNoise*rg.DistNoise))
	m := track.Measurement{T: t, Drive: -egoAccel, Range: rg.Distance, RangeSigma: math.Hypot(rg.DistNoise, slowShare*slow),
		Lateral: rg.Lateral, LateralSigma: rg.LateralNoise}
	if !math.IsNaN(rg.LateralSlope) {
		m.LateralSlope, m.LateralSigma = rg.LateralSlope, rg.BearingNoise
	}
	return m
}

// loomCos: a looming measurement is taken from cameras looking within 20° of ahead or
// behind, where the image scale of a vehicle goes with the distance along the road,
// and from every camera for people: a person is thin, so the scale of their image
// goes with their depth from any camera, while a car seen at a slant shows faces at
// depths metres apart.
var loomCos = math.Cos(20 * math.Pi / 180)

// ttc is the time to collision with an object at distance x closing at speed v: the
// gap ahead of the front bumper for objects ahead; for a rearward camera (at camX,
// the rear bumper) the gap behind it.
func ttc(x, v, camX float64, rear bool, minClosing float64) float64 {
	switch {
	case x > 0 && -v > minClosing:
		return x / -v
	case rear && x < camX && v > minClosing:
		return (camX - x) / v
	}
	return math.NaN()
}

// Pipeline is the synchronous core: one frame set in, rows out. Not safe for
// concurrent use.
type Pipeline struct {
	cfg     Config
	ids     track.IDs
	cams    map[uint8]*camera
	tracks  map[int64]*trackInfo
	adas    *adas.Assessor
	ego     *schema.Ego
	egoAcc  accelEstimator
	lastT   int64
	gone    []int64
	adasIn  []adas.Object
	adasRow []*schema.Object // the row of each adasIn entry
	// adasRowOrig is adasRow before dedup
	adasRowOrig []*schema.Object
	adasCut     []bool // whether the image border cuts the box of each adasIn entry
	pairs       map[[2]int64]pick
	members     []member           // this frame set's tracked, ranged objects, for fuse
	links       map[[2]int64]int64 // pairs of tracks fuse joined, and when last
	cands       []cand             // scratch of fuse
	loomEst     *loom.Estimator
	loomPatch   loom.Patch // scratch: the patch of the frame at hand
}

// New returns a pipeline.
func New(cfg Config) *Pipeline {
	if cfg.ForwardYaw == 0 {
		cfg.ForwardYaw = 30 * math.Pi / 180
	}
	if cfg.MinClosing == 0 {
		cfg.MinClosing = 0.2
	}
	if cfg.Source == "" {
		cfg.Source = "detector"
	}
	switch {
	case cfg.RangeSlowShare == 0:
		cfg.RangeSlowShare = 0.5
	case cfg.RangeSlowShare < 0:
		cfg.RangeSlowShare = 0
	}
	if cfg.LoomNoise == (loom.Noise{}) {
		cfg.LoomNoise = loom.DefaultNoise
	}
	if cfg.LoomFrames <= 0 {
		cfg.LoomFrames = loom.KeyFrames
	}
	p := &Pipeline{cfg: cfg}
	p.Reset()
	return p
}

// Reset forgets every track and warning (replay seeks call it). Track ids keep
// counting up.
func (p *Pipeline) Reset() {
	p.cams = map[uint8]*camera{}
	p.tracks = map[int64]*trackInfo{}
	p.pairs = map[[2]int64]pick{}
	p.links = map[[2]int64]int64{}
	p.adas = adas.New(p.cfg.ADAS, p.cfg.Source)
	p.lastT = 0
	p.egoAcc = accelEstimator{}
}

// Ego records the latest ego state (a copy is kept).
func (p *Pipeline) Ego(e *schema.Ego) {
	if e == nil {
		return
	}
	c := *e
	p.ego = &c
	p.egoAcc.add(e.T, float64(e.Speed))
}

func (p *Pipeline) camera(id uint8) *camera {
	if c := p.cams[id]; c != nil {
		return c
	}
	c := &camera{tracker: track.New(p.cfg.Track, &p.ids)}
	if cal, ok := p.cfg.Cameras[id]; ok {
		r, err := ranging.New(cal, p.cfg.Ranging)
		if err != nil {
			c.err = err
		} else {
			c.ranger = r
			c.forward = math.Abs(math.Remainder(cal.Yaw, 2*math.Pi)) <= p.cfg.ForwardYaw
			c.cos = math.Cos(cal.Yaw)
			c.yaw, c.y = cal.Yaw, cal.Y
			c.x = cal.X
		}
	} else {
		c.err = fmt.Errorf("no calibration for camera %d in the rig", id)
	}
	p.cams[id] = c
	return c
}

// Process runs one frame set's detections through tracking, ranging and the ADAS
// assessment.
func (p *Pipeline) Process(fs *FrameSet, dets []obs.Detection) Result {
	var res Result
	if p.lastT != 0 && fs.T < p.lastT { // time went back: a replay seek
		p.Reset()
	}
	p.lastT = fs.T

	// cameras of this frame set, in index order
	var ids []uint8
	for _, f := range fs.Frames {
		ids = append(ids, f.Camera)
	}
	for _, d := range dets {
		ids = append(ids, d.Camera)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)

	p.adasIn, p.adasRow, p.adasCut = p.adasIn[:0], p.adasRow[:0], p.adasCut[:0]
	p.members = p.members[:0]
	egoAcc := p.egoAcc.accel()
	if math.IsNaN(egoAcc) {
		egoAcc = 0
	}
	egoV := p.egoSpeed(fs.T, egoAcc)
	var camDets []obs.Detection
	for _, id := range ids {
		cam := p.camera(id)
		if cam.err != nil && !cam.warned {
			cam.warned = true
			ev := schema.NewEvent(fs.T, schema.EvConfig, schema.SevWarn, p.cfg.Source,
				fmt.Sprintf("ranging disabled for camera %d: %v", id, cam.err))
			ev.Category = "ranging_disabled"
			ev.Detail = fmt.Sprintf(`{"camera":%d}`, id)
			res.Events = append(res.Events, ev)
		}
		seq := int64(-1)
		for _, f := range fs.Frames {
			if f.Camera == id {
				seq = f.Seq
			}
		}
		camDets = camDets[:0]
		for _, d := range dets {
			if d.Camera == id {
				camDets = append(camDets, d)
			}
		}
		var matched []*track.Track
		matched, p.gone = cam.tracker.Update(fs.T, camDets, p.gone[:0])
		for _, gid := range p.gone {
			delete(p.tracks, gid)
		}
		tracked := make([]bool, len(camDets))
		var img image.Image // this camera's picture, for looming from pixels
		if p.cfg.Loom >= 0 {
			img = frameImage(fs, id)
		}
		for _, k := range matched {
			tracked[k.Det] = true
			d := camDets[k.Det]
			d.Class = k.Class // range with the track's settled class
			row := p.object(fs, id, seq, &d)
			row.TrackID, row.Class, row.Label = k.ID, k.Class, k.Label
			if row.Label == "" {
				row.Label = obs.ClassLabel(k.Class)
			}
			ti := p.tracks[k.ID]
			if cam.ranger != nil {
				rg := cam.ranger.Range(d)
				meas := measurement(fs.T, &rg, egoAcc, p.cfg.RangeSlowShare)
				if ti != nil {
					meas.Drive = ti.driveSince(fs.T, egoV, egoAcc)
				}
				looms := p.cfg.Loom >= 0 && (math.Abs(cam.cos) > loomCos || k.Class == obs.ClassPerson)
				var key *loomKey // the track's looming key frame
				if looms {
					if ti != nil {
						key = ti.loom
					}
					key = p.looming(key, fs.T, img, &d, &meas)
					meas.LoomOrigin, meas.LoomOriginY, meas.LoomYaw = cam.x, cam.y, cam.yaw
				}
				switch {
				case ti == nil:
					mc := p.cfg.Motion
					if !obs.IsVehicle(k.Class) && p.ego != nil && !math.IsNaN(float64(p.ego.Speed)) {
						// people stand or walk: they start as standing still on the ground
						mc.InitSpeed, mc.InitSpeedSigma = -float64(p.ego.Speed), 3
					}
					if m, ok := track.NewMotion(mc, meas); ok {
						ti = &trackInfo{motion: m, width: rg.Width, halfLen: rg.HalfLength, cam: id, first: fs.T, loom: key, egoT: fs.T, egoV: egoV}
						p.tracks[k.ID] = ti
					}
				default:
					ti.loom = key
					ti.motion.Update(meas)
					ti.egoT, ti.egoV = fs.T, egoV
					if !math.IsNaN(rg.Width) {
						ti.width += 0.2 * (rg.Width - ti.width)
					}
					if rg.Cues != 0 {
						ti.halfLen = rg.HalfLength
					}
				}
			}
			if ti != nil {
				st := ti.motion.State()
				if !math.IsNaN(st.LoomNIS) {
					res.Loom = addLoom(res.Loom, id, 1, st.LoomNIS)
				}
				dist, speed := st.Range, st.RelSpeed
				// a sideways camera's distance is the centre's: the gap ends at the near edge
				ttc := ttc(dist-ti.halfLen, speed, cam.x, cam.cos < -0.7, p.cfg.MinClosing)
				row.Distance, row.Lateral = float32(dist), float32(st.Lateral)
				row.RelSpeed, row.RelSpeedStd = float32(speed), float32(st.RelSpeedStd)
				row.TTC = float32(ttc)
				row.Width = float32(ti.width)
				cal := cam.ranger.Calibration()
				cut := d.X1 <= 2 || d.Y1 <= 2 || float64(d.X2) >= float64(cal.Width)-2 || float64(d.Y2) >= float64(cal.Height)-2
				near := dist
				if dist < 0 {
					near += ti.halfLen
				} else {
					near -= ti.halfLen
				}
				mb := member{row: row, id: k.ID, cam: id, group: track.ClassGroup(k.Class), near: near, lat: st.Lateral,
					v: speed, sd: st.RelSpeedStd, ttc: ttc, acc: st.ObjAccel, accSd: st.ObjAccelStd, cut: cut}
				if cam.forward {
					p.adasIn = append(p.adasIn, adas.Object{
						TrackID: k.ID, Class: k.Class, Vehicle: obs.IsVehicle(k.Class), RoadUser: obs.IsRoadUser(k.Class),
						Distance: dist, Lateral: st.Lateral, Width: ti.width,
						RelSpeed: speed, RelSpeedStd: st.RelSpeedStd, ObjAccel: st.ObjAccel, ObjAccelStd: st.ObjAccelStd,
						LatSpeed: st.LatSpeed, LatSpeedStd: st.LatSpeedStd, TTC: ttc,
						Age: float64(fs.T-ti.first) / 1e9,
					})
					p.adasRow = append(p.adasRow, row)
					p.adasCut = append(p.adasCut, cut)
				}
				p.members = append(p.members, mb)
			}
			res.Objects = append(res.Objects, row)
		}
		// Confident detections not (yet) on a confirmed track: recorded untracked.
		hi := cam.tracker.Config().HighScore
		for i := range camDets {
			d := camDets[i]
			if tracked[i] || d.Score < hi {
				continue
			}
			row := p.object(fs, id, seq, &d)
			if cam.ranger != nil {
				if rg := cam.ranger.Range(d); rg.Cues != 0 {
					row.Distance, row.Lateral, row.Width = float32(rg.Distance), float32(rg.Lateral), float32(rg.Width)
				}
			}
			res.Objects = append(res.Objects, row)
		}
	}

	// ADAS over the forward cameras' objects, one per physical object (dedup picks
	// the survivor on the tracks' own figures), with the speed and TTC of all the
	// object's tracks (fuse)
	p.adasRowOrig = append(p.adasRowOrig[:0], p.adasRow...)
	twins := p.dedup(fs.T)
	p.fuse(fs.T)
	ego := adas.EgoFrom(p.ego)
	tg, evs := p.adas.Assess(fs.T, fs.TriggerID, ego, p.adasIn)
	for i := range p.adasIn {
		o := &p.adasIn[i]
		p.adasRow[i].Lane, p.adasRow[i].Manner = o.Lane, o.Manner
	}
	for _, tw := range twins {
		tw.row.Lane, tw.row.Manner = p.adasIn[tw.of].Lane, p.adasIn[tw.of].Manner
	}
	res.Target = &tg
	res.Events = append(res.Events, evs...)
	return res
}

func (p *Pipeline) object(fs *FrameSet, cam uint8, seq int64, d *obs.Detection) *schema.Object {
	nan := float32(math.NaN())
	label := d.Label
	if label == "" {
		label = obs.ClassLabel(d.Class)
	}
	return &schema.Object{T: fs.T, TriggerID: fs.TriggerID, Camera: cam, FrameSeq: seq, TrackID: -1,
		Class: d.Class, Label: label, Score: d.Score, X1: d.X1, Y1: d.Y1, X2: d.X2, Y2: d.Y2,
		Distance: nan, Lateral: nan, RelSpeed: nan, RelSpeedStd: nan, TTC: nan, Width: nan}
}

// dedup keeps one ADAS input per physical object when forward cameras overlap (a
// narrow and a wide camera): of two tracks of different cameras within 10 % (≥ 1.5 m)
// in distance and 1 m laterally, the one whose box the image border does not cut
// stays, else the one with the smaller speed uncertainty; once chosen, a survivor
// stays chosen while both tracks last, so that the ADAS state of the object does not
// hop between them. It returns, for each row left out, the index of the input that
// stands for it.
func (p *Pipeline) dedup(t int64) (twins []twin) {
	in, rows := p.adasIn, p.adasRow
	survivor := make([]int, len(in)) // original index of the input standing for i
	for i := range survivor {
		survivor[i] = i
	}
	for i := range in {
		for j := i + 1; j < len(in); j++ {
			if survivor[i] != i || survivor[j] != j || p.tracks[in[i].TrackID].cam == p.tracks[in[j].TrackID].cam {
				continue
			}
			a, b := &in[i], &in[j]
			if gateDist(a.Distance, a.Lateral, b.Distance, b.Lateral) >= 1 {
				continue
			}
			key := [2]int64{min(a.TrackID, b.TrackID), max(a.TrackID, b.TrackID)}
			pick, ok := p.pairs[key]
			if !ok {
				pick.id = a.TrackID
				switch ca, cb := p.adasCut[i], p.adasCut[j]; {
				case ca && !cb:
					pick.id = b.TrackID
				case ca == cb && b.RelSpeedStd < a.RelSpeedStd:
					pick.id = b.TrackID
				}
			}
			pick.seen = t
			p.pairs[key] = pick
			if pick.id == b.TrackID {
				survivor[i] = j
			} else {
				survivor[j] = i
			}
		}
	}
	newIdx := make([]int, len(in))
	n := 0
	for i := range in {
		if survivor[i] == i {
			newIdx[i] = n
			in[n], rows[n] = in[i], rows[i]
			n++
		}
	}
	for i := range survivor {
		if survivor[i] != i {
			s := survivor[i]
			for survivor[s] != s {
				s = survivor[s]
			}
			twins = append(twins, twin{row: p.adasRowOrig[i], of: newIdx[s]})
		}
	}
	p.adasIn, p.adasRow = in[:n], rows[:n]
	for k, v := range p.pairs {
		if t-v.seen > 2e9 {
			delete(p.pairs, k)
		}
	}
	return twins
}

// pick is the survivor chosen for a pair of tracks of one object.
type pick struct {
	id   int64 // surviving track
	seen int64 // last time the pair was seen together
}

type twin struct {
	row *schema.Object
	of  int
}

// loomKey is a track's looming key frame: its time, box, and the detector's scale
// reading (reading true) or the patch of pixels then, and how many frames were
// measured against it since.
type loomKey struct {
	t       int64
	box     loom.Box
	reading bool
	scale   float32
	patch   loom.Patch
	n       int
}

// loomKeyAge is the age beyond which a looming key frame is left: beyond it the
// object may have grown too much for the alignment to find it.
const loomKeyAge = 1e9

// frameImage returns the decoded picture of a camera's frame in the set, if the
// detector left one (nil for the truth-fed detector; on the GPU engine a loom.Sparse of
// the pixels around the detections).
func frameImage(fs *FrameSet, cam uint8) image.Image {
	for i := range fs.Frames {
		if fs.Frames[i].Camera == cam {
			return fs.Frames[i].Image
		}
	}
	return nil
}

// looming measures the detection d's looming against its track's key frame (key;
// nil: none) into m: the change of the detector's scale reading where it gives one,
// else the alignment of the pixels of img around d (none without img). This frame
// becomes the next key frame when the key has served LoomFrames frames, is older
// than loomKeyAge, is missing or of the other kind (reading or pixels), or when the
// alignment fails; it then takes the key's patch buffer (or a new one) and m says so.
// It returns the key frame.
func (p *Pipeline) looming(key *loomKey, t int64, img image.Image, d *obs.Detection, m *track.Measurement) *loomKey {
	noise := &p.cfg.LoomNoise
	box := loom.Box{X1: float64(d.X1), Y1: float64(d.Y1), X2: float64(d.X2), Y2: float64(d.Y2)}
	h := box.Y2 - box.Y1
	reading := d.LoomFrame > 0
	switch {
	case reading:
		m.LoomFrame = float64(d.LoomFrame)
	case img != nil:
		if p.loomEst == nil {
			p.loomEst = loom.New(loom.Options{})
		}
		loom.Crop(img, loom.Region(box), &p.loomPatch)
		m.LoomFrame = noise.Frame / h
	default:
		return key
	}
	m.LoomCorr = noise.Corr
	renew := key == nil || t <= key.t || t-key.t >= loomKeyAge || key.reading != reading
	if !renew {
		dt := float64(t-key.t) / 1e9
		ok := true
		if reading {
			m.Loom, m.LoomSigma = float64(d.LoomScale-key.scale), noise.PairSigma(dt)/h
		} else {
			r, err := p.loomEst.Estimate(&key.patch, key.box, &p.loomPatch, box)
			m.Loom, m.LoomSigma, ok = r.LogScale, math.Max(r.Sigma, noise.PairSigma(dt)/h), err == nil
		}
		if ok {
			m.LoomDT = dt
			key.n++
		}
		renew = !ok || key.n >= p.cfg.LoomFrames
	}
	if renew {
		if key == nil {
			key = &loomKey{}
		}
		if !reading { // this frame's patch is the key's; the key's old buffer is the next scratch
			key.patch, p.loomPatch = p.loomPatch, key.patch
		}
		key.t, key.box, key.reading, key.scale, key.n = t, box, reading, d.LoomScale, 0
		m.LoomKey = true
	}
	return key
}
