// Package testdrive writes small, byte-for-byte reproducible simulated drives for the
// tools' tests and benchmarks: the simulated rig (acquire/sim) played with a fixed start
// time and seed, its rows written with the recorder's own table and video writers
// (record/drive), host times made deterministic, and labels made from the simulator's
// ground truth the way a perfect detector and a threshold ADAS would make them:
// live objects/targets/events in the segments and, optionally, a replay run under
// runs/<id>/ with different thresholds, so that tests can tell the two apart.
//
// It is test support: it imports acquire/sim, which the tools themselves never do.
package testdrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"roadlog/acquire/sim"
	"roadlog/record/drive"
	"roadlog/schema"
)

// Start is the reference time of every test drive's start: 2026-11-30T08:15:00Z.
var Start = time.Date(2026, 11, 30, 8, 15, 0, 0, time.UTC).UnixNano()

// Options shape a test drive. The zero value of a field means its default.
type Options struct {
	Duration time.Duration // simulated time; default 12 s
	Segment  time.Duration // segment length; default 5 s
	Cameras  int           // 4 (default) or 8
	Width    int           // default 160
	Height   int           // default 96
	// Marks are driver marks (scenario seconds → category); default {3: "pothole", 8.5: "glare"}.
	Marks map[float64]string
	// Live writes objects, targets and FCW/AEB/cut-in events into the segments.
	Live bool
	// RunID, when set, writes a replay run runs/<RunID>/ with thresholds that differ
	// from the live ones (FCW 3 s instead of 2.5 s).
	RunID string
	// H264 re-encodes the cameras as H.264 with ffmpeg (ErrNoFFmpeg without it), a
	// keyframe every GOP frames.
	H264 bool
	// ID is the drive id (default DriveID).
	ID string
	// NoFooter leaves the last segment's table files without their footer, as a crash
	// would (a drive that was never repaired).
	NoFooter bool
}

// Info says what was written.
type Info struct {
	Dir      string
	Manifest *drive.Manifest
	Cameras  []sim.Camera
}

// Thresholds of the synthetic ADAS.
type thresholds struct{ fcw, aeb float32 }

var (
	liveThresholds = thresholds{fcw: 2.5, aeb: 1.2}
	runThresholds  = thresholds{fcw: 3.0, aeb: 1.6}
)

// DriveID is the id of every test drive.
const DriveID = "20261130T081500Z_testsim"

// Write writes a test drive into root/<id> (DriveID unless Options.ID) and returns its folder.
func Write(root string, o Options) (*Info, error) {
	if o.Duration == 0 {
		o.Duration = 12 * time.Second
	}
	if o.Segment == 0 {
		o.Segment = 5 * time.Second
	}
	if o.Cameras == 0 {
		o.Cameras = 4
	}
	if o.Width == 0 {
		o.Width = 160
	}
	if o.Height == 0 {
		o.Height = 96
	}
	if o.Marks == nil {
		o.Marks = map[float64]string{3: "pothole", 8.5: "glare"}
	}
	rig, err := sim.New(sim.Config{Cameras: o.Cameras, Width: o.Width, Height: o.Height, Speed: 0,
		Duration: o.Duration, Seed: 1, Start: Start})
	if err != nil {
		return nil, fmt.Errorf("testdrive: %w", err)
	}
	c := &collector{}
	if err := rig.Run(context.Background(), c); err != nil {
		return nil, fmt.Errorf("testdrive: run sim: %w", err)
	}
	id := o.ID
	if id == "" {
		id = DriveID
	}
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(filepath.Join(dir, drive.DBCDir), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, drive.DBCDir, sim.DBCName), sim.DBC, 0o644); err != nil {
		return nil, err
	}
	c.sort()
	live := labels(c.truth, liveThresholds, 1, frameSeq)
	events := []schema.Event{*schema.NewEvent(Start, schema.EvRecordStart, schema.SevInfo, "recorder", "recording started")}
	events[0].Input = "cli"
	for _, s := range sortedKeys(o.Marks) {
		e := schema.NewEvent(Start+int64(s*1e9), schema.EvMark, schema.SevInfo, "driver", "driver mark")
		e.Category, e.Input = o.Marks[s], "web"
		events = append(events, *e)
	}
	if o.Live {
		events = append(events, live.events...)
	}
	end := Start + int64(o.Duration)
	stop := schema.NewEvent(end, schema.EvRecordStop, schema.SevInfo, "recorder", "duration reached")
	stop.Input = "cli"
	events = append(events, *stop)
	sort.SliceStable(events, func(i, j int) bool { return events[i].T < events[j].T })

	m := &drive.Manifest{Format: schema.FormatName, Version: schema.FormatVersion, DriveID: id, Vehicle: "testsim",
		Status: drive.StatusClosed, Software: drive.Software{Name: "roadlog", Version: "test"},
		Created: time.Unix(0, Start).UTC(), StartT: Start, EndT: end, Timebase: drive.Timebase{Kind: "host"},
		SegmentLength: drive.Duration(o.Segment), FlushInterval: drive.Duration(500 * time.Millisecond),
		Compression: "zstd", Simulated: true, DBC: []string{drive.DBCDir + "/" + sim.DBCName}, StopReason: "duration reached"}
	codec := "mjpeg"
	if o.H264 {
		codec = "h264"
	}
	for _, cam := range rig.Cameras() {
		m.Cameras = append(m.Cameras, drive.Camera{Index: cam.Index, Name: cam.Name, Codec: codec, Width: cam.Width, Height: cam.Height, FPS: 30})
	}
	extra, err := json.Marshal(map[string]any{"scenario": "roadlog-sim-1", "seed": 1, "calibration": rig.Cameras()})
	if err != nil {
		return nil, err
	}
	m.Extra = extra
	nseg := int((int64(o.Duration) + int64(o.Segment) - 1) / int64(o.Segment))
	for i := 0; i < nseg; i++ {
		from, to := Start+int64(i)*int64(o.Segment), Start+int64(i+1)*int64(o.Segment)
		seg := drive.Segment{Index: i, Dir: drive.SegmentDir(i), StartT: from, EndT: to, Closed: true,
			Tables: map[string]drive.TableStats{}, Videos: map[string]drive.VideoStats{}}
		sdir := filepath.Join(dir, seg.Dir)
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			return nil, err
		}
		footer := !(o.NoFooter && i == nseg-1)
		in := func(t int64) bool { return t >= from && t < to }
		var objs []schema.Object
		var tgts []schema.Target
		if o.Live {
			objs, tgts = live.objects, live.targets
		}
		frames, vstats, err := writeVideos(sdir, window(c.frames, in, func(r *schema.VideoFrame) int64 { return r.T }), o.H264)
		if err != nil {
			return nil, err
		}
		seg.Videos = vstats
		lastSeg := i == nseg-1
		err = errors.Join(
			put(&seg, sdir, schema.CANTable, c.can, in, footer),
			put(&seg, sdir, schema.GNSSTable, c.gnss, in, footer),
			put(&seg, sdir, schema.IMUTable, c.imu, in, footer),
			put(&seg, sdir, schema.EgoTable, c.ego, in, footer),
			put(&seg, sdir, schema.TruthTable, c.truth, in, footer),
			put(&seg, sdir, schema.ObjectsTable, objs, in, footer),
			put(&seg, sdir, schema.TargetsTable, tgts, in, footer),
			put(&seg, sdir, schema.EventsTable, events, func(t int64) bool { return in(t) || (lastSeg && t >= to) }, footer),
			put[schema.SyncRow](&seg, sdir, schema.SyncTable, nil, in, footer),
			put(&seg, sdir, schema.FramesTable, frames, in, footer),
		)
		if err != nil {
			return nil, err
		}
		m.Segments = append(m.Segments, seg)
	}
	if err := drive.WriteManifest(dir, m); err != nil {
		return nil, err
	}
	if o.RunID != "" {
		if err := writeRun(dir, id, o.RunID, c.truth, frameSeq); err != nil {
			return nil, err
		}
	}
	return &Info{Dir: dir, Manifest: m, Cameras: rig.Cameras()}, nil
}

func sortedKeys(m map[float64]string) []float64 {
	out := make([]float64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Float64s(out)
	return out
}

// put writes the rows of tbl that in accepts into the segment folder and records the
// file's figures in seg.
func put[R any](seg *drive.Segment, dir string, tbl *schema.Table[R], rows []R, in func(int64) bool, footer bool) error {
	st, err := writeTable(dir, tbl, window(rows, in, tbl.T), footer)
	if err != nil {
		return err
	}
	seg.Tables[string(tbl.Name)] = st
	return nil
}

func window[R any](rows []R, in func(int64) bool, t func(*R) int64) []R {
	var out []R
	for i := range rows {
		if in(t(&rows[i])) {
			out = append(out, rows[i])
		}
	}
	return out
}

// writeTable writes rows in batches of 200 (several batches per file, as the recorder
// writes them).
func writeTable[R any](dir string, tbl *schema.Table[R], rows []R, footer bool) (drive.TableStats, error) {
	f, err := drive.OSFS{}.Create(filepath.Join(dir, drive.TableFile(tbl.Name)))
	if err != nil {
		return drive.TableStats{}, err
	}
	w, err := drive.NewTableWriter(f, tbl, drive.CodecZSTD)
	if err != nil {
		f.Close()
		return drive.TableStats{}, err
	}
	for i := range rows {
		w.Append(&rows[i], tbl.T(&rows[i]))
		if w.Pending() == 200 {
			if err := w.Flush(); err != nil {
				return drive.TableStats{}, err
			}
		}
	}
	if !footer {
		if err := w.Flush(); err != nil {
			return drive.TableStats{}, err
		}
		return w.Stats(), f.Close()
	}
	if err := w.Close(); err != nil {
		return drive.TableStats{}, err
	}
	return w.Stats(), nil
}

// writeVideos writes each camera's frames into camN.mp4, 15 frames per fragment (as
// H.264 when h264 is set: each segment's file starts with a keyframe, as the
// recorder's do).
func writeVideos(dir string, frames []schema.VideoFrame, h264 bool) ([]schema.Frame, map[string]drive.VideoStats, error) {
	byCam := map[uint8][]*schema.VideoFrame{}
	var cams []int
	for i := range frames {
		c := frames[i].Camera
		if byCam[c] == nil {
			cams = append(cams, int(c))
		}
		byCam[c] = append(byCam[c], &frames[i])
	}
	sort.Ints(cams)
	var rows []schema.Frame
	stats := map[string]drive.VideoStats{}
	for _, c := range cams {
		fs := byCam[uint8(c)]
		if h264 {
			if err := toH264(fs); err != nil {
				return nil, nil, err
			}
		}
		name := drive.VideoFile(uint8(c), 0)
		f, err := drive.OSFS{}.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		w, err := drive.NewVideoWriter(f, name, fs[0])
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		for i, vf := range fs {
			w.Add(vf)
			if n, _ := w.Pending(); n == 15 || i == len(fs)-1 {
				r, err := w.Flush()
				if err != nil {
					return nil, nil, err
				}
				rows = append(rows, r...)
			}
		}
		if err := w.Close(); err != nil {
			return nil, nil, err
		}
		stats[name] = w.Stats()
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].T != rows[j].T {
			return rows[i].T < rows[j].T
		}
		return rows[i].Camera < rows[j].Camera
	})
	return rows, stats, nil
}

// collector keeps what the simulated rig publishes, with host times replaced by a
// function of t so that the drive is reproducible.
type collector struct {
	can    []schema.CAN
	gnss   []schema.GNSS
	imu    []schema.IMU
	ego    []schema.Ego
	truth  []schema.Truth
	frames []schema.VideoFrame
	mu     sync.Mutex // guards the slices: camera goroutines publish concurrently
}

func host(t int64) int64 { return t - Start + 1_000_000_000 }

// Publish implements schema.Sink (camera goroutines publish concurrently).
func (c *collector) Publish(s schema.Sample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r := s.(type) {
	case *schema.CAN:
		r.THost = host(r.T)
		c.can = append(c.can, *r)
	case *schema.GNSS:
		r.THost = host(r.T)
		c.gnss = append(c.gnss, *r)
	case *schema.IMU:
		r.THost = host(r.T)
		c.imu = append(c.imu, *r)
	case *schema.Ego:
		c.ego = append(c.ego, *r)
	case *schema.Truth:
		c.truth = append(c.truth, *r)
	case *schema.VideoFrame:
		r.THost = host(r.T)
		c.frames = append(c.frames, *r)
	}
}

func (c *collector) sort() {
	sort.SliceStable(c.frames, func(i, j int) bool {
		if c.frames[i].T != c.frames[j].T {
			return c.frames[i].T < c.frames[j].T
		}
		return c.frames[i].Camera < c.frames[j].Camera
	})
	sort.SliceStable(c.truth, func(i, j int) bool { return c.truth[i].T < c.truth[j].T })
}

// labelSet is what the synthetic perception made.
type labelSet struct {
	objects []schema.Object
	targets []schema.Target
	events  []schema.Event
}

// classOf maps an actor kind to the COCO class index a detector reports.
func classOf(k schema.ActorKind) (uint16, string) {
	switch k {
	case schema.ActorTruck:
		return 7, "truck"
	case schema.ActorPedestrian:
		return 0, "person"
	case schema.ActorCyclist:
		return 1, "bicycle"
	}
	return 2, "car"
}

// labels turns truth rows into objects (every box at least 2 px high), one target row per
// frame set, and warning events on the rising and falling edges of FCW and AEB and on
// the first frame set of each cut-in.
func labels(truth []schema.Truth, th thresholds, scoreSeed int, seqOf func(t, trigger int64) int64) labelSet {
	var ls labelSet
	var fcw, aeb bool
	cutting := map[int32]bool{}
	for i := 0; i < len(truth); {
		j := i
		for j < len(truth) && truth[j].T == truth[i].T {
			j++
		}
		set := truth[i:j]
		i = j
		t, trig := set[0].T, set[0].TriggerID
		tg := schema.Target{T: t, TriggerID: trig, EgoSpeed: schema.NaN32(), CIPV: -1, CIPVDistance: schema.NaN32(),
			CIPVRelSpeed: schema.NaN32(), CIPVTTC: schema.NaN32(), CutIn: -1, CutInTTC: schema.NaN32(), RequiredDecel: schema.NaN32()}
		for k := range set {
			tr := &set[k]
			if tr.Camera == schema.TruthNoCamera {
				if tr.Distance > 0 && tr.Distance < 80 {
					tg.Ahead++
				}
				if tr.InPath {
					tg.CIPV, tg.CIPVDistance, tg.CIPVRelSpeed, tg.CIPVTTC = int64(tr.ActorID), tr.Distance, tr.RelSpeed, tr.TTC
					if !math.IsNaN(float64(tr.TTC)) && tr.RelSpeed < 0 {
						tg.RequiredDecel = tr.RelSpeed * tr.RelSpeed / (2 * tr.Distance)
					}
				}
				if tr.CutIn {
					tg.CutIn, tg.CutInTTC = int64(tr.ActorID), tr.TTC
					if tr.Lateral > 0 {
						tg.CutInLeft = true
					} else {
						tg.CutInRight = true
					}
					if !cutting[tr.ActorID] {
						e := schema.NewEvent(t, schema.EvCutIn, schema.SevWarn, "adas", "cut-in")
						e.Value = float64(tr.TTC)
						e.Detail = fmt.Sprintf(`{"track_id":%d}`, tr.ActorID)
						ls.events = append(ls.events, *e)
					}
				}
				cutting[tr.ActorID] = tr.CutIn
				continue
			}
			if tr.Y2-tr.Y1 < 2 || !(tr.X2 > tr.X1) {
				continue
			}
			cls, label := classOf(tr.Kind)
			manner := schema.MannerNone
			if tr.CutIn {
				manner = schema.MannerCutIn
			}
			score := float32(0.55 + 0.05*float64((int(tr.ActorID)*7+scoreSeed)%8))
			ls.objects = append(ls.objects, schema.Object{T: t, TriggerID: trig, Camera: tr.Camera, FrameSeq: seqOf(t, trig),
				TrackID: int64(tr.ActorID), Class: cls, Label: label, Score: score,
				X1: tr.X1, Y1: tr.Y1, X2: tr.X2, Y2: tr.Y2, Distance: tr.Distance, Lateral: tr.Lateral,
				RelSpeed: tr.RelSpeed, RelSpeedStd: 0.25, TTC: tr.TTC, Width: tr.Width, Lane: tr.Lane, Manner: manner})
		}
		ttc := tg.CIPVTTC
		nowFCW := !math.IsNaN(float64(ttc)) && ttc < th.fcw
		nowAEB := !math.IsNaN(float64(ttc)) && ttc < th.aeb
		tg.FCW, tg.AEB = nowFCW, nowAEB
		edge := func(was, now bool, on, off schema.EventCode) {
			switch {
			case now && !was:
				e := schema.NewEvent(t, on, schema.SevWarn, "adas", on.String())
				e.Value = float64(ttc)
				ls.events = append(ls.events, *e)
			case was && !now:
				ls.events = append(ls.events, *schema.NewEvent(t, off, schema.SevInfo, "adas", off.String()))
			}
		}
		edge(fcw, nowFCW, schema.EvFCW, schema.EvFCWEnd)
		edge(aeb, nowAEB, schema.EvAEB, schema.EvAEBEnd)
		fcw, aeb = nowFCW, nowAEB
		ls.targets = append(ls.targets, tg)
	}
	return ls
}

// frameSeq is the simulated cameras' frame counter at t (30 fps from the first trigger
// after Start).
func frameSeq(t, _ int64) int64 {
	first := (Start + 33_333_332) / 33_333_333 * 33_333_333
	return int64(math.Round(float64(t-first) / (1e9 / 30)))
}

// RunInfo is the part of a replay run's run.json the tests rely on (the replay
// package's rerun.Info writes the same keys).
type RunInfo struct {
	RunID    string          `json:"run_id"`
	DriveID  string          `json:"drive_id"`
	Created  string          `json:"created"`
	Software drive.Software  `json:"software"`
	Model    json.RawMessage `json:"model"`
	Device   string          `json:"device"`
}

func writeRun(dir, driveID, id string, truth []schema.Truth, seqOf func(t, trigger int64) int64) error {
	rd := filepath.Join(dir, drive.RunsDir, id)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		return err
	}
	ls := labels(truth, runThresholds, 3, seqOf)
	if _, err := writeTable(rd, schema.ObjectsTable, ls.objects, true); err != nil {
		return err
	}
	if _, err := writeTable(rd, schema.TargetsTable, ls.targets, true); err != nil {
		return err
	}
	if _, err := writeTable(rd, schema.EventsTable, ls.events, true); err != nil {
		return err
	}
	info := RunInfo{RunID: id, DriveID: driveID, Created: "2026-12-01T09:00:00Z",
		Software: drive.Software{Name: "roadlog", Version: "test"},
		Model:    json.RawMessage(`{"name":"truth","version":"1","format":"truth"}`), Device: "cpu"}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(rd, "run.json"), append(b, '\n'), 0o644)
}

// AddTruthRun writes a replay run runs/<runID>/ into an existing simulated drive from
// its truth tables (the run thresholds: FCW below 3 s), for benchmarks on drives
// recorded with roadlog record --sim. An existing run is left as it is.
func AddTruthRun(dir, runID string) error {
	if _, err := os.Stat(filepath.Join(dir, drive.RunsDir, runID, "run.json")); err == nil {
		return nil
	}
	m, err := drive.ReadManifest(dir)
	if err != nil {
		return err
	}
	segs, err := drive.Segments(dir)
	if err != nil {
		return err
	}
	var truth []schema.Truth
	seqs := map[int64]int64{} // trigger id → frame seq
	for _, s := range segs {
		if _, err := drive.ReadRows(filepath.Join(dir, drive.SegmentDir(s), drive.TableFile(schema.TableTruth)), schema.TruthTable,
			func(r *schema.Truth) error { truth = append(truth, *r); return nil }); err != nil {
			return err
		}
		if _, err := drive.ReadRows(filepath.Join(dir, drive.SegmentDir(s), drive.TableFile(schema.TableFrames)), schema.FramesTable,
			func(r *schema.Frame) error { seqs[r.TriggerID] = r.Seq; return nil }); err != nil {
			return err
		}
	}
	sort.SliceStable(truth, func(i, j int) bool { return truth[i].T < truth[j].T })
	return writeRun(dir, m.DriveID, runID, truth, func(_, trigger int64) int64 { return seqs[trigger] })
}
