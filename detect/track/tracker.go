package track

import (
	"math"

	"roadlog/detect/obs"
)

// Tracker follows the objects of one camera. Not safe for concurrent use.
type Tracker struct {
	cfg    Config
	ids    *IDs
	tracks []*Track // tentative, tracked and lost, in creation order
	last   int64    // time of the previous Update, ns (0: none)

	// scratch, reused across updates
	asg          Assigner
	cost         []float64
	rowTo        []int
	high, low    []int
	rest1, rest2 []int
	taken        []bool
	pool         []*Track
	out          []*Track
	cand         []*Track
}

// New returns a tracker. ids hands out track ids; nil gives the tracker its own.
func New(cfg Config, ids *IDs) *Tracker {
	if ids == nil {
		ids = &IDs{}
	}
	return &Tracker{cfg: cfg.withDefaults(), ids: ids}
}

// Config returns the tracker's configuration, defaults filled in.
func (tr *Tracker) Config() Config { return tr.cfg }

// Tracks returns every live track (tentative, tracked and lost). The slice and the
// tracks are the tracker's own: read them before the next Update.
func (tr *Tracker) Tracks() []*Track { return tr.tracks }

// Update folds in the detections of one frame taken at t (ns) and returns the
// confirmed tracks matched in this frame, each with Det set to its detection's index.
// Forgotten tracks are appended to gone (their ids never come back) and returned with
// it. The returned slice is reused by the next Update.
func (tr *Tracker) Update(t int64, dets []obs.Detection, gone []int64) (matched []*Track, _ []int64) {
	cfg := &tr.cfg
	dt := 0.0
	if tr.last != 0 && t > tr.last {
		dt = float64(t-tr.last) / 1e9
	}
	tr.last = t
	for _, k := range tr.tracks {
		k.Det = -1
		tr.predict(k, dt)
	}

	tr.high, tr.low = tr.high[:0], tr.low[:0]
	for i := range dets {
		d := &dets[i]
		if !(d.X2 > d.X1 && d.Y2 > d.Y1) || math.IsNaN(float64(d.Score)) { // degenerate or NaN box
			continue
		}
		switch {
		case d.Score >= cfg.HighScore:
			tr.high = append(tr.high, i)
		case d.Score >= cfg.LowScore:
			tr.low = append(tr.low, i)
		}
	}

	// First pass: confirmed tracks (tracked or lost) against high-score detections.
	tr.cand = tr.cand[:0]
	for _, k := range tr.tracks {
		if k.State != Tentative {
			tr.cand = append(tr.cand, k)
		}
	}
	restHigh := tr.match(tr.cand, dets, tr.high, cfg.MatchIoU, t, &tr.rest1)

	// Second pass: tracks matched last frame but not now, against low-score detections.
	tr.pool = tr.pool[:0]
	for _, k := range tr.cand {
		if k.Det < 0 && k.State == Tracked {
			tr.pool = append(tr.pool, k)
		}
	}
	tr.match(tr.pool, dets, tr.low, cfg.LowMatchIoU, t, &tr.rest2)
	for _, k := range tr.cand {
		if k.Det < 0 {
			k.State = Lost
		}
	}

	// Third pass: tentative tracks against the high-score detections left over.
	tr.pool = tr.pool[:0]
	for _, k := range tr.tracks {
		if k.State == Tentative {
			tr.pool = append(tr.pool, k)
		}
	}
	restHigh = tr.match(tr.pool, dets, restHigh, cfg.NewMatchIoU, t, &tr.rest2)

	// Retire: unmatched tentative tracks, and lost tracks unmatched too long.
	n := 0
	for _, k := range tr.tracks {
		if (k.State == Tentative && k.Det < 0 && k.First != t) || (k.State == Lost && t-k.Last > cfg.MaxLostNS) {
			gone = append(gone, k.ID)
			continue
		}
		tr.tracks[n] = k
		n++
	}
	clear(tr.tracks[n:])
	tr.tracks = tr.tracks[:n]

	// Birth: high-score detections nobody took.
	for _, i := range restHigh {
		d := &dets[i]
		if d.Score < cfg.NewTrackScore {
			continue
		}
		k := tr.newTrack(d, t)
		k.Det = i
		tr.tracks = append(tr.tracks, k)
	}

	tr.out = tr.out[:0]
	for _, k := range tr.tracks {
		if k.Det >= 0 && k.State == Tracked {
			tr.out = append(tr.out, k)
		}
	}
	return tr.out, gone
}

// match assigns detections (indices into dets) to tracks by IoU of the predicted box,
// updates the matched tracks and returns the detections left unmatched, in *rest
// (which must not alias idx).
func (tr *Tracker) match(tracks []*Track, dets []obs.Detection, idx []int, minIoU float64, t int64, rest *[]int) []int {
	un := (*rest)[:0]
	if len(tracks) == 0 || len(idx) == 0 {
		un = append(un, idx...)
		*rest = un
		return un
	}
	cfg := &tr.cfg
	rows, cols := len(tracks), len(idx)
	if cap(tr.cost) < rows*cols {
		tr.cost = make([]float64, rows*cols)
	}
	cost := tr.cost[:rows*cols]
	for r, k := range tracks {
		pb, g := k.Box(), ClassGroup(k.Class)
		for c, i := range idx {
			d := &dets[i]
			if ClassGroup(d.Class) != g {
				cost[r*cols+c] = math.Inf(1)
				continue
			}
			db := boxOf(d)
			// a box does not change size by half within one frame: such a match is
			// another object (one that just came out from behind, or a merge)
			if rh := (db.Y2 - db.Y1) / (pb.Y2 - pb.Y1); rh > cfg.MaxSizeRatio || rh < 1/cfg.MaxSizeRatio {
				cost[r*cols+c] = math.Inf(1)
				continue
			}
			cost[r*cols+c] = 1 - IoU(pb, db)
		}
	}
	if cap(tr.rowTo) < rows {
		tr.rowTo = make([]int, rows)
	}
	rowTo := tr.rowTo[:rows]
	tr.asg.Solve(cost, rows, cols, 1-minIoU, rowTo)
	if cap(tr.taken) < cols {
		tr.taken = make([]bool, cols)
	}
	taken := tr.taken[:cols]
	clear(taken)
	for r, c := range rowTo {
		if c < 0 {
			continue
		}
		taken[c] = true
		tr.correct(tracks[r], &dets[idx[c]], idx[c], t)
	}
	for c, i := range idx {
		if !taken[c] {
			un = append(un, i)
		}
	}
	*rest = un
	return un
}

func (tr *Tracker) newTrack(d *obs.Detection, t int64) *Track {
	b := boxOf(d)
	w, h := b.X2-b.X1, b.Y2-b.Y1
	m := tr.cfg.MeasNoise
	k := &Track{
		ID: tr.ids.Next(), State: Tentative, Hits: 1, First: t, Last: t, Det: -1,
		// ByteTrack's initial σ: 2× the measurement noise for position, 10× the
		// per-frame velocity noise (1/16 of the size per frame, ≈ 1.9 sizes/s at 30 Hz).
		cx: newKF2((b.X1+b.X2)/2, 2*m*w, 1.875*w),
		cy: newKF2((b.Y1+b.Y2)/2, 2*m*h, 1.875*h),
		w:  newKF2(w, 2*m*w, 1.875*w),
		h:  newKF2(h, 2*m*h, 1.875*h),
	}
	if tr.cfg.MinHits <= 1 {
		k.State = Tracked
	}
	k.vote(d)
	return k
}

func (tr *Tracker) predict(k *Track, dt float64) {
	if dt <= 0 {
		return
	}
	w, h := math.Max(k.w.x, 1), math.Max(k.h.x, 1)
	qp, qv := tr.cfg.PosNoise*tr.cfg.PosNoise*dt, tr.cfg.VelNoise*tr.cfg.VelNoise*dt
	k.cx.predict(dt, qp*w*w, 0, qv*w*w)
	k.cy.predict(dt, qp*h*h, 0, qv*h*h)
	k.w.predict(dt, qp*w*w, 0, qv*w*w)
	k.h.predict(dt, qp*h*h, 0, qv*h*h)
	if k.w.x < 1 {
		k.w.x = 1
	}
	if k.h.x < 1 {
		k.h.x = 1
	}
}

func (tr *Tracker) correct(k *Track, d *obs.Detection, i int, t int64) {
	b := boxOf(d)
	w, h := b.X2-b.X1, b.Y2-b.Y1
	m := tr.cfg.MeasNoise
	rw, rh := (m*w)*(m*w), (m*h)*(m*h)
	k.cx.update((b.X1+b.X2)/2, rw)
	k.cy.update((b.Y1+b.Y2)/2, rh)
	k.w.update(w, rw)
	k.h.update(h, rh)
	k.Det, k.Last = i, t
	k.Hits++
	k.vote(d)
	if k.State == Lost || k.Hits >= tr.cfg.MinHits {
		k.State = Tracked
	}
}
