package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"roadlog/detect/obs"
	"roadlog/schema"
)

// Detector finds objects in a frame set. It is called from one goroutine at a time.
type Detector interface {
	Detect(ctx context.Context, fs *FrameSet) ([]obs.Detection, error)
}

// SetsDetector is a Detector that also takes several frame sets in one call — one
// batch of all their frames on the GPU — for offline re-runs, where sets need not wait
// for each other. dets[i] and errs[i] are what Detect would have returned for sets[i].
type SetsDetector interface {
	Detector
	DetectSets(ctx context.Context, sets []*FrameSet) (dets [][]obs.Detection, errs []error)
}

// FrameError is a Detector's report that it could not read one frame of a set (a JPEG
// that does not decode). A Detector returns the detections of the other frames
// together with one FrameError per bad frame (errors.Join for several): the runner
// keeps the detections, counts each bad frame as an error and reports it, and
// detection goes on.
type FrameError struct {
	Camera uint8
	Seq    int64 // the camera's frame counter
	Err    error
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("camera %d frame %d: %v", e.Camera, e.Seq, e.Err)
}

// Unwrap returns the underlying error.
func (e *FrameError) Unwrap() error { return e.Err }

// FrameErrors returns the FrameErrors err consists of, and false when it holds
// anything else (the whole frame set failed).
func FrameErrors(err error) ([]*FrameError, bool) {
	var fe *FrameError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FrameError
		for _, e := range j.Unwrap() {
			if !errors.As(e, &fe) {
				return nil, false
			}
			out = append(out, fe)
		}
		return out, len(out) > 0
	}
	if errors.As(err, &fe) {
		return []*FrameError{fe}, true
	}
	return nil, false
}

// DetectorFunc adapts a function to Detector.
type DetectorFunc func(ctx context.Context, fs *FrameSet) ([]obs.Detection, error)

// Detect calls f.
func (f DetectorFunc) Detect(ctx context.Context, fs *FrameSet) ([]obs.Detection, error) {
	return f(ctx, fs)
}

// RunnerConfig configures a Runner. The zero value of a field selects its default.
type RunnerConfig struct {
	// StatsInterval is how often a detector_stats event (and, when frame sets were
	// dropped, a drop event) is written (default 10 s).
	StatsInterval time.Duration
	// Now reads the host's monotonic clock for latency (default time.Now).
	Now func() time.Time
}

type submitted struct {
	fs *FrameSet
	at time.Time
}

// Runner runs a detector and a pipeline live. Submit and Ego never block: frame sets
// wait in a latest-wins mailbox, so when detection is slower than the cameras the
// frame sets it cannot take are dropped, counted, and reported as events. Run owns
// the detector and the pipeline.
type Runner struct {
	det   Detector
	pipe  *Pipeline
	cfg   RunnerConfig
	queue *Latest[submitted]

	lastSubmitted atomic.Int64 // T of the latest frame set submitted

	mu  sync.Mutex   // guards ego
	ego []schema.Ego // rows not yet handed to the pipeline, by time

	egoRun []schema.Ego // Run's copy of the rows it hands over
	egoFed int64        // time of the last row handed over
}

// egoBacklog bounds the ego rows waiting for a frame set (10 s of a 100 Hz bus): past
// it the oldest quarter goes unseen.
const egoBacklog = 1024

// NewRunner returns a runner of det feeding p.
func NewRunner(det Detector, p *Pipeline, cfg RunnerConfig) *Runner {
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Runner{det: det, pipe: p, cfg: cfg, queue: NewLatest[submitted]()}
}

// Submit hands a frame set to the detector; it replaces any frame set still waiting.
// Never blocks. The runner takes ownership of fs.
func (r *Runner) Submit(fs *FrameSet) {
	r.lastSubmitted.Store(fs.T)
	r.queue.Put(submitted{fs: fs, at: r.cfg.Now()})
}

// Ego records an ego row (copied). Never blocks for long. The pipeline sees the rows
// up to each frame set's time, in time order, before it processes that set, as a
// replay of the drive shows them: the path and the ego's acceleration are those of
// the frame set's instant, whether the detector keeps up or not.
func (r *Runner) Ego(e *schema.Ego) {
	if e == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ego) >= egoBacklog { // the detector is stuck: drop the oldest quarter at once
		r.ego = append(r.ego[:0], r.ego[egoBacklog/4:]...)
	}
	i := len(r.ego)
	for i > 0 && r.ego[i-1].T > e.T { // rows come in order but for a rare straggler
		i--
	}
	r.ego = slices.Insert(r.ego, i, *e)
}

// egoUntil hands the pipeline the waiting ego rows at or before t, in order; rows
// older than one already handed over (stragglers) are left out. Called by Run only.
func (r *Runner) egoUntil(t int64) {
	if t < r.egoFed-1e9 { // time went back (the pipeline resets too)
		r.egoFed = math.MinInt64
	}
	r.mu.Lock()
	n := 0
	for n < len(r.ego) && r.ego[n].T <= t {
		n++
	}
	r.egoRun = append(r.egoRun[:0], r.ego[:n]...)
	r.ego = append(r.ego[:0], r.ego[n:]...)
	r.mu.Unlock()
	for i := range r.egoRun {
		if e := &r.egoRun[i]; e.T >= r.egoFed {
			r.egoFed = e.T
			r.pipe.Ego(e)
		}
	}
}

// Stats are the detector's counters over one reporting interval.
type Stats struct {
	Interval  float64 `json:"interval_s"`
	Submitted uint64  `json:"submitted"`
	Processed uint64  `json:"processed"`
	Dropped   uint64  `json:"dropped"`
	Errors    uint64  `json:"errors"`
	RateHz    float64 `json:"rate_hz"`
	// Latency is from Submit to the rows being published; Detect is the detector's
	// own time. Milliseconds.
	Latency Dist `json:"latency_ms"`
	Detect  Dist `json:"detect_ms"`
	// LoomUpdates is how many looming measurements the track filters folded in, and
	// LoomNIS their mean normalised innovation squared (0 without any): near 1 where
	// the looming noise model fits this drive's cameras, well above where the filters
	// trust looming more than they should (Result.Loom). Loom gives them camera by
	// camera.
	LoomUpdates uint64       `json:"loom_updates"`
	LoomNIS     float64      `json:"loom_nis"`
	Loom        []LoomReport `json:"loom,omitempty"`
}

// LoomReport is one camera's looming consistency over a Stats interval.
type LoomReport struct {
	Camera  uint8   `json:"camera"`
	Updates int     `json:"updates"`
	NIS     float64 `json:"nis"` // the mean
}

// Dist summarises durations, ms.
type Dist struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	Max  float64 `json:"max"`
}

func dist(ms []float64) Dist {
	if len(ms) == 0 {
		return Dist{}
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	q := func(p float64) float64 { return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)] }
	return Dist{Mean: sum / float64(len(s)), P50: q(0.5), P95: q(0.95), Max: s[len(s)-1]}
}

// Run takes frame sets until ctx ends, publishing objects, targets and events to
// sink, and a detector_stats event every StatsInterval and when it returns (a frame
// set still waiting then, or whose detection the end of ctx cut short, counts as
// dropped, so that over the drive every frame set submitted is processed, dropped or
// failed as a whole). It returns nil when ctx ends; detector errors are counted
// and reported as events, not returned. Cancel ctx and wait for Run to return before
// the sink closes, or the last report is lost.
func (r *Runner) Run(ctx context.Context, sink schema.Sink) error {
	var (
		lat, det     []float64
		processed    uint64
		errs         uint64
		lastPut      uint64
		lastDrop     uint64
		lastT        int64
		lastErrEvent time.Time
		abandoned    uint64     // frame sets whose detection the end of ctx cut short: dropped
		looms        []LoomStat // per camera: looming measurements folded in, their NIS summed
		since        = r.cfg.Now()
	)
	report := func(now time.Time) {
		put, dropped := r.queue.Counts()
		if put == lastPut && processed == 0 && errs == 0 && abandoned == 0 {
			since = now
			return // nothing happened: nothing to say
		}
		if lastT == 0 {
			lastT = r.lastSubmitted.Load()
		}
		st := Stats{Interval: now.Sub(since).Seconds(), Submitted: put - lastPut, Processed: processed,
			Dropped: dropped - lastDrop + abandoned, Errors: errs, Latency: dist(lat), Detect: dist(det)}
		if st.Interval > 0 {
			st.RateHz = float64(processed) / st.Interval
		}
		var sum float64
		for _, l := range looms {
			st.LoomUpdates += uint64(l.Updates)
			sum += l.NIS
			st.Loom = append(st.Loom, LoomReport{Camera: l.Camera, Updates: l.Updates, NIS: l.NIS / float64(l.Updates)})
		}
		if st.LoomUpdates > 0 {
			st.LoomNIS = sum / float64(st.LoomUpdates)
		}
		b, _ := json.Marshal(st)
		ev := schema.NewEvent(lastT, schema.EvDetectorStats, schema.SevInfo, r.pipe.cfg.Source,
			fmt.Sprintf("%.1f Hz, latency p50 %.0f ms p95 %.0f ms, %d dropped", st.RateHz, st.Latency.P50, st.Latency.P95, st.Dropped))
		ev.Value, ev.Count, ev.Detail = st.RateHz, int64(processed), string(b)
		sink.Publish(ev)
		if st.Dropped > 0 {
			d := schema.NewEvent(lastT, schema.EvDrop, schema.SevInfo, r.pipe.cfg.Source,
				"frame sets not taken by the detector (latest wins)")
			d.Count = int64(st.Dropped)
			d.Category = "detector_busy"
			sink.Publish(d)
		}
		lastPut, lastDrop, processed, errs, abandoned, lat, det, since = put, dropped, 0, 0, 0, lat[:0], det[:0], now
		looms = looms[:0]
	}
	tick := time.NewTicker(r.cfg.StatsInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			r.queue.Discard()
			report(r.cfg.Now())
			return nil
		case <-tick.C:
			report(r.cfg.Now())
		case <-r.queue.Ready():
			it, ok := r.queue.TryGet()
			if !ok {
				continue
			}
			t0 := r.cfg.Now()
			dets, err := r.det.Detect(ctx, it.fs)
			t1 := r.cfg.Now()
			if err != nil {
				if errors.Is(err, context.Canceled) && ctx.Err() != nil {
					abandoned++
					continue
				}
				bad, partial := FrameErrors(err)
				n := uint64(1)
				if partial {
					n = uint64(len(bad))
				}
				errs += n
				if t1.Sub(lastErrEvent) >= r.cfg.StatsInterval { // rate-limited
					lastErrEvent = t1
					ev := schema.NewEvent(it.fs.T, schema.EvSourceError, schema.SevError, r.pipe.cfg.Source,
						fmt.Sprintf("detect frame set %d: %v", it.fs.TriggerID, err))
					ev.Count = int64(n)
					if partial {
						ev.Category = "bad_frame"
					}
					sink.Publish(ev)
				}
				if !partial {
					continue
				}
			}
			r.egoUntil(it.fs.T)
			res := r.pipe.Process(it.fs, dets)
			for _, o := range res.Objects {
				sink.Publish(o)
			}
			if res.Target != nil {
				sink.Publish(res.Target)
			}
			for _, e := range res.Events {
				sink.Publish(e)
			}
			processed++
			for _, l := range res.Loom {
				looms = addLoom(looms, l.Camera, l.Updates, l.NIS)
			}
			lastT = it.fs.T
			det = append(det, float64(t1.Sub(t0))/1e6)
			lat = append(lat, float64(r.cfg.Now().Sub(it.at))/1e6)
		}
	}
}
