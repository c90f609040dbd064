package control

import (
	"context"
	"math"
	gosync "sync"
	"time"

	"roadlog/record"
	"roadlog/schema"
)

// live keeps the newest of what the page shows besides stream health: the GNSS fix,
// the clock estimates, a thumbnail per camera, the detections (objects rows) and, in
// simulated drives, the ground-truth boxes. Each kind has its own tap, so a burst of
// one never starves another; every tap is bounded and drops rather than blocks.
type live struct {
	opt Options

	mu      gosync.Mutex // guards the fields below
	gnss    *schema.GNSS
	gnssAt  time.Time
	clocks  map[string]clockState
	thumbs  map[uint8]*thumb
	objects map[uint8]*boxSet
	truth   map[uint8]*boxSet
	peak    map[string]float64 // highest rate seen per stream (for the silence threshold)
	taps    map[string]*record.Tap

	detLat histogram // exposure → detection seen, seconds
}

type clockState struct {
	row schema.SyncRow
	at  time.Time
}

type thumb struct {
	data    []byte
	t       int64
	seq     int64
	width   int
	height  int
	codec   schema.Codec
	at      time.Time
	version uint64
}

// Box is one box drawn over a camera thumbnail.
type Box struct {
	X1       float32 `json:"x1"`
	Y1       float32 `json:"y1"`
	X2       float32 `json:"x2"`
	Y2       float32 `json:"y2"`
	Label    string  `json:"label"`
	Score    float32 `json:"score,omitempty"`
	Track    int64   `json:"track"`
	Distance float32 `json:"distance,omitempty"` // m; 0 when unknown
	TTC      float32 `json:"ttc,omitempty"`      // s; 0 when not closing
	CutIn    bool    `json:"cut_in,omitempty"`
}

type boxSet struct {
	key   int64 // frame seq (objects) or trigger id (truth)
	t     int64
	at    time.Time
	boxes []Box
}

const maxBoxes = 64

func newLive(o Options) *live {
	return &live{opt: o, clocks: map[string]clockState{}, thumbs: map[uint8]*thumb{},
		objects: map[uint8]*boxSet{}, truth: map[uint8]*boxSet{}, peak: map[string]float64{},
		taps: map[string]*record.Tap{}, detLat: newHistogram(latencyBuckets)}
}

// latencyBuckets are the detection-latency histogram's upper bounds, seconds.
var latencyBuckets = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5}

// run starts one consumer goroutine per tap; they end with ctx and untap.
func (l *live) run(ctx context.Context, wg *gosync.WaitGroup, feed Feed, wake func()) {
	consume := func(name string, filter func(schema.Sample) bool, size int, latest bool, fn func(schema.Sample)) {
		tap := feed.Tap(filter, size, latest)
		l.mu.Lock()
		l.taps[name] = tap
		l.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer feed.Untap(tap)
			for {
				select {
				case <-ctx.Done():
					return
				case s := <-tap.C:
					fn(s)
				}
			}
		}()
	}
	consume("events", func(s schema.Sample) bool { _, ok := s.(*schema.Event); return ok }, 256, false,
		func(schema.Sample) { wake() })
	consume("gnss", func(s schema.Sample) bool { _, ok := s.(*schema.GNSS); return ok }, 8, true, func(s schema.Sample) {
		l.mu.Lock()
		l.gnss, l.gnssAt = s.(*schema.GNSS), time.Now()
		l.mu.Unlock()
	})
	consume("sync", func(s schema.Sample) bool { _, ok := s.(*schema.SyncRow); return ok }, 64, true, func(s schema.Sample) {
		r := s.(*schema.SyncRow)
		l.mu.Lock()
		prev, had := l.clocks[r.Source]
		l.clocks[r.Source] = clockState{row: *r, at: time.Now()}
		l.mu.Unlock()
		if !had || prev.row.State != r.State {
			wake()
		}
	})
	consume("frames", func(s schema.Sample) bool { _, ok := s.(*schema.VideoFrame); return ok }, 16, true, l.frame)
	consume("detections", func(s schema.Sample) bool {
		switch r := s.(type) {
		case *schema.Object:
			return true
		case *schema.Truth:
			return r.Camera != schema.TruthNoCamera
		}
		return false
	}, 4096, false, func(s schema.Sample) { l.detection(s, feed.Now()) })
}

func (l *live) frame(s schema.Sample) {
	vf := s.(*schema.VideoFrame)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	th := l.thumbs[vf.Camera]
	if th == nil {
		th = &thumb{}
		l.thumbs[vf.Camera] = th
	}
	if th.version > 0 && now.Sub(th.at) < l.opt.ThumbInterval {
		return
	}
	// The sample's bytes are not modified once published, so keeping a reference is
	// safe; only an image a browser can show is kept.
	if vf.Codec == schema.CodecMJPEG {
		th.data = vf.Data
	} else {
		th.data = nil
	}
	th.t, th.seq, th.width, th.height, th.codec, th.at = vf.T, vf.Seq, int(vf.Width), int(vf.Height), vf.Codec, now
	th.version++
}

func (l *live) detection(s schema.Sample, nowRef int64) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch r := s.(type) {
	case *schema.Object:
		set := l.objects[r.Camera]
		if set == nil || set.key != r.FrameSeq {
			if set != nil && r.T < set.t {
				return // a late row of an older frame
			}
			set = &boxSet{key: r.FrameSeq, t: r.T}
			l.objects[r.Camera] = set
			l.detLat.observe(float64(nowRef-r.T) / 1e9)
		}
		set.at = now
		if len(set.boxes) < maxBoxes {
			set.boxes = append(set.boxes, Box{X1: r.X1, Y1: r.Y1, X2: r.X2, Y2: r.Y2, Label: r.Label, Score: r.Score,
				Track: r.TrackID, Distance: finite32(r.Distance), TTC: finite32(r.TTC), CutIn: r.Manner == schema.MannerCutIn})
		}
	case *schema.Truth:
		set := l.truth[r.Camera]
		if set == nil || set.key != r.TriggerID {
			if set != nil && r.TriggerID < set.key {
				return
			}
			set = &boxSet{key: r.TriggerID, t: r.T}
			l.truth[r.Camera] = set
		}
		set.at = now
		if len(set.boxes) < maxBoxes {
			set.boxes = append(set.boxes, Box{X1: r.X1, Y1: r.Y1, X2: r.X2, Y2: r.Y2, Label: schema.ActorKindNames[r.Kind],
				Track: int64(r.ActorID), Distance: finite32(r.Distance), TTC: finite32(r.TTC), CutIn: r.CutIn})
		}
	}
}

func finite32(v float32) float32 {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return 0
	}
	return v
}

// thumbnail returns camera cam's newest image, if any.
func (l *live) thumbnail(cam uint8) (data []byte, version uint64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	th := l.thumbs[cam]
	if th == nil || th.data == nil {
		return nil, 0, false
	}
	return th.data, th.version, true
}

// tapDrops returns how many samples each of the page's taps dropped.
func (l *live) tapDrops() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int64, len(l.taps))
	for name, t := range l.taps {
		out[name] = t.Dropped()
	}
	return out
}

// histogram is a cumulative histogram for /metrics.
type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
	last   float64
}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i]++
	h.sum += v
	h.n++
	h.last = v
}
