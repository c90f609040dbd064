// Package testdrive writes drives for replay's tests and benchmarks: random drives
// with every table, written through the recorder's own table and video writers (fast,
// and with known content), and simulated drives recorded by the real engine.
package testdrive

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"roadlog/acquire/sim"
	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// T0 is the reference time random drives start at.
const T0 = int64(1_796_000_000) * 1e9

// Spec describes a random drive.
type Spec struct {
	Seed     uint64
	Segments int           // default 2
	SegLen   time.Duration // default 2 s
	Cameras  int           // default 2
	FPS      float64       // default 10
	CANRate  float64       // frames per second, default 200
	IMURate  float64       // default 100
	Codec    drive.Codec   // table compression, default zstd
	// BatchRows is the rows per record batch (default 64; random ±50 % when Jitter).
	BatchRows int
	// Late makes the last segment hold rows late by up to this much within its
	// files (as a segment still being written does); its files are left footerless
	// and the manifest says it is open.
	Late time.Duration
}

func (s *Spec) defaults() {
	if s.Segments == 0 {
		s.Segments = 2
	}
	if s.SegLen == 0 {
		s.SegLen = 2 * time.Second
	}
	if s.Cameras == 0 {
		s.Cameras = 2
	}
	if s.FPS == 0 {
		s.FPS = 10
	}
	if s.CANRate == 0 {
		s.CANRate = 200
	}
	if s.IMURate == 0 {
		s.IMURate = 100
	}
	if s.Codec == "" {
		s.Codec = drive.CodecZSTD
	}
	if s.BatchRows == 0 {
		s.BatchRows = 64
	}
}

// Drive is a written random drive and what it holds.
type Drive struct {
	Dir  string
	Spec Spec
	// Rows holds every sample written, per table, in file order (frames as
	// *schema.VideoFrame with their payload and the frames row as written).
	Rows map[schema.TableName][]schema.Sample
	// Files holds the rows of each table file (path relative to the drive), in
	// file order.
	Files map[string][]schema.Sample
	End   int64 // t of the last row
}

// Write writes a random drive into dir/<name> and returns it.
func Write(dir string, spec Spec) (*Drive, error) {
	spec.defaults()
	rng := rand.New(rand.NewPCG(spec.Seed, 42))
	d := &Drive{Dir: filepath.Join(dir, fmt.Sprintf("20261130T000000Z_rand%d", spec.Seed)), Spec: spec, Rows: map[schema.TableName][]schema.Sample{}, Files: map[string][]schema.Sample{}}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return nil, err
	}
	m := &drive.Manifest{Format: schema.FormatName, Version: schema.FormatVersion, DriveID: filepath.Base(d.Dir), Vehicle: "rand",
		Status: drive.StatusClosed, Software: drive.Software{Name: "roadlog", Version: "test"}, StartT: T0,
		Timebase: drive.Timebase{Kind: "host"}, SegmentLength: drive.Duration(spec.SegLen), Compression: string(spec.Codec), Simulated: true}
	for c := 0; c < spec.Cameras; c++ {
		m.Cameras = append(m.Cameras, drive.Camera{Index: uint8(c), Name: fmt.Sprintf("cam%d", c), Codec: "mjpeg", Width: 64, Height: 48, FPS: spec.FPS})
	}
	seqs := make([]int64, spec.Cameras)
	for s := 0; s < spec.Segments; s++ {
		start := T0 + int64(s)*int64(spec.SegLen)
		end := start + int64(spec.SegLen)
		open := spec.Late > 0 && s == spec.Segments-1
		seg, err := d.writeSegment(rng, s, start, end, seqs, open)
		if err != nil {
			return nil, err
		}
		m.Segments = append(m.Segments, seg)
	}
	if spec.Late > 0 {
		m.Status = drive.StatusRecording
	} else {
		m.EndT = d.End
	}
	return d, drive.WriteManifest(d.Dir, m)
}

type row struct {
	t int64
	s schema.Sample
}

func (d *Drive) writeSegment(rng *rand.Rand, idx int, start, end int64, seqs []int64, open bool) (drive.Segment, error) {
	spec := d.Spec
	segDir := filepath.Join(d.Dir, drive.SegmentDir(idx))
	if err := os.MkdirAll(segDir, 0o755); err != nil {
		return drive.Segment{}, err
	}
	seg := drive.Segment{Index: idx, Dir: drive.SegmentDir(idx), StartT: start, EndT: end, Closed: !open, Tables: map[string]drive.TableStats{}}
	rows := map[schema.TableName][]row{}
	add := func(s schema.Sample, t int64) { rows[s.Table()] = append(rows[s.Table()], row{t, s}) }
	// times drawn on a coarse grid so that rows of different tables share instants
	times := func(rate float64) []int64 {
		var out []int64
		step := int64(1e9 / rate)
		for t := start; t < end; t += step {
			jit := int64(rng.IntN(3)) * int64(time.Millisecond)
			out = append(out, t+jit)
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	buses := []string{"pt", "chassis"}
	for i, t := range times(spec.CANRate) {
		data := make([]byte, rng.IntN(9))
		for k := range data {
			data[k] = byte(rng.Uint32())
		}
		add(&schema.CAN{T: t, THost: t - T0, Bus: buses[i%2], ID: uint32(0x100 + rng.IntN(8)), DLC: uint8(len(data)), Data: data}, t)
	}
	for _, t := range times(spec.IMURate) {
		add(&schema.IMU{T: t, Sensor: "imu", AX: rng.Float32(), AY: rng.Float32(), AZ: 9.8, GZ: rng.Float32(),
			Temp: schema.NaN32(), MX: schema.NaN32(), MY: schema.NaN32(), MZ: schema.NaN32()}, t)
	}
	for _, t := range times(10) {
		g := schema.NewGNSS()
		g.T, g.Receiver, g.Lat, g.Lon, g.Alt, g.Quality, g.Sats = t, "gnss", 48+rng.Float64()*1e-3, 11+rng.Float64()*1e-3, 500, schema.FixGPS, 9
		add(g, t)
	}
	for _, t := range times(50) {
		e := schema.NewEgo()
		e.T, e.Source, e.Speed = t, "pt", float32(20+rng.Float64())
		add(e, t)
	}
	frameTimes := times(spec.FPS)
	for k, t := range frameTimes {
		trig := int64(idx*100000 + k)
		tg := &schema.Target{T: t, TriggerID: trig, EgoSpeed: 20, CIPV: -1, CIPVDistance: schema.NaN32(), CIPVRelSpeed: schema.NaN32(),
			CIPVTTC: schema.NaN32(), CutIn: -1, CutInTTC: schema.NaN32(), RequiredDecel: schema.NaN32()}
		for c := 0; c < spec.Cameras; c++ {
			payload := make([]byte, 20+rng.IntN(200))
			for i := range payload {
				payload[i] = byte(rng.Uint32())
			}
			payload[0], payload[1] = 0xFF, 0xD8
			vf := &schema.VideoFrame{Frame: schema.Frame{T: t, Camera: uint8(c), Seq: seqs[c], TriggerID: trig, ExposureUS: 1000,
				Codec: schema.CodecMJPEG, Width: 64, Height: 48, Keyframe: true}, Data: payload}
			seqs[c]++
			add(vf, t)
			for n := rng.IntN(3); n > 0; n-- {
				x := float32(rng.IntN(40))
				add(&schema.Object{T: t, TriggerID: trig, Camera: uint8(c), FrameSeq: vf.Seq, TrackID: int64(rng.IntN(5)), Class: 2, Label: "car",
					Score: 0.9, X1: x, Y1: 10, X2: x + 10, Y2: 20, Distance: float32(10 + rng.IntN(50)), Lateral: 0, RelSpeed: -1, RelSpeedStd: 0.1,
					TTC: 5, Width: 1.8, Lane: schema.LaneEgo}, t)
			}
			add(&schema.Truth{T: t, TriggerID: trig, ActorID: 1, Kind: schema.ActorCar, Camera: uint8(c), X1: 1, Y1: 2, X2: 3, Y2: 4,
				Distance: 20, Lateral: 0, RelSpeed: -1, TTC: 20, Width: 1.8, Lane: schema.LaneEgo}, t)
		}
		add(tg, t)
		if rng.IntN(7) == 0 {
			codes := []schema.EventCode{schema.EvFCW, schema.EvAEB, schema.EvCutIn, schema.EvMark, schema.EvDrop}
			ev := schema.NewEvent(t, codes[rng.IntN(len(codes))], schema.SevInfo, "test", "random event")
			add(ev, t)
		}
	}
	if idx == 0 {
		add(schema.NewEvent(start, schema.EvRecordStart, schema.SevInfo, "recorder", "start"), start)
	}
	add(&schema.SyncRow{T: start, Source: "reference", State: schema.SyncFreeRun}, start)

	if open && spec.Late > 0 {
		// rows reach the files late, as they do while a segment is being written:
		// move some rows back by up to Late in file order
		for name, rs := range rows {
			for i := range rs {
				j := i + rng.IntN(4)
				if j < len(rs) && rs[j].t-rs[i].t <= int64(spec.Late) {
					rs[i], rs[j] = rs[j], rs[i]
				}
			}
			rows[name] = rs
		}
	}

	// video first: the frames rows get their offsets from the video writers
	var frameRows []row
	vw := map[uint8]*drive.VideoWriter{}
	for _, r := range rows[schema.TableFrames] {
		vf := r.s.(*schema.VideoFrame)
		w := vw[vf.Camera]
		if w == nil {
			f, err := create(filepath.Join(segDir, drive.VideoFile(vf.Camera, 0)))
			if err != nil {
				return seg, err
			}
			if w, err = drive.NewVideoWriter(f, drive.VideoFile(vf.Camera, 0), vf); err != nil {
				return seg, err
			}
			vw[vf.Camera] = w
		}
		w.Add(vf)
		fr, err := w.Flush()
		if err != nil {
			return seg, err
		}
		vf.Frame = fr[0]
		frameRows = append(frameRows, r)
	}
	seg.Videos = map[string]drive.VideoStats{}
	for _, w := range vw {
		if err := w.Close(); err != nil {
			return seg, err
		}
		seg.Videos[w.Name()] = w.Stats()
	}
	for _, t := range schema.Tables() {
		name := t.TableName()
		rs := rows[name]
		if name == schema.TableFrames {
			rs = frameRows
		}
		if len(rs) == 0 {
			continue
		}
		st, err := writeTable(filepath.Join(segDir, drive.TableFile(name)), name, rs, spec, rng, open)
		if err != nil {
			return seg, err
		}
		seg.Tables[string(name)] = st
		rel := filepath.Join(drive.SegmentDir(idx), drive.TableFile(name))
		for _, r := range rs {
			d.Files[rel] = append(d.Files[rel], r.s)
			d.Rows[name] = append(d.Rows[name], r.s)
			if r.t > d.End {
				d.End = r.t
			}
		}
	}
	return seg, nil
}

func writeTable(path string, name schema.TableName, rs []row, spec Spec, rng *rand.Rand, open bool) (drive.TableStats, error) {
	ops, ok := tableOpsOf[name]
	if !ok {
		return drive.TableStats{}, fmt.Errorf("no writer for table %s", name)
	}
	if name == schema.TableFrames { // the frames table's rows are the video frames' Frame
		fr := make([]row, len(rs))
		for i, r := range rs {
			fr[i] = row{r.t, &r.s.(*schema.VideoFrame).Frame}
		}
		rs = fr
	}
	return ops.write(path, rs, spec, rng, open)
}

// tableOps is what the test drives do to the files of one table, whatever its row
// type: one value per table (tableOpsOf) instead of a switch per operation.
type tableOps interface {
	write(path string, rs []row, spec Spec, rng *rand.Rand, open bool) (drive.TableStats, error)
	compact(fs drive.FS, path string, codec drive.Codec) (drive.TableStats, error)
	rebatch(path string, codec drive.Codec, every int64) (drive.TableStats, error)
}

type ops[R any] struct{ tbl *schema.Table[R] }

func (o ops[R]) write(path string, rs []row, spec Spec, rng *rand.Rand, open bool) (drive.TableStats, error) {
	return writeRows(path, o.tbl, rs, spec, rng, open)
}

func (o ops[R]) compact(fs drive.FS, path string, codec drive.Codec) (drive.TableStats, error) {
	return drive.RewriteTableFile(fs, path, o.tbl, codec, nil)
}

func (o ops[R]) rebatch(path string, codec drive.Codec, every int64) (drive.TableStats, error) {
	return rebatchRows(path, o.tbl, codec, every)
}

var tableOpsOf = map[schema.TableName]tableOps{
	schema.TableCAN:     ops[schema.CAN]{schema.CANTable},
	schema.TableGNSS:    ops[schema.GNSS]{schema.GNSSTable},
	schema.TableIMU:     ops[schema.IMU]{schema.IMUTable},
	schema.TableEgo:     ops[schema.Ego]{schema.EgoTable},
	schema.TableFrames:  ops[schema.Frame]{schema.FramesTable},
	schema.TableObjects: ops[schema.Object]{schema.ObjectsTable},
	schema.TableTargets: ops[schema.Target]{schema.TargetsTable},
	schema.TableEvents:  ops[schema.Event]{schema.EventsTable},
	schema.TableTruth:   ops[schema.Truth]{schema.TruthTable},
	schema.TableSync:    ops[schema.SyncRow]{schema.SyncTable},
}

func writeRows[R any](path string, tbl *schema.Table[R], rs []row, spec Spec, rng *rand.Rand, open bool) (drive.TableStats, error) {
	f, err := create(path)
	if err != nil {
		return drive.TableStats{}, err
	}
	w, err := drive.NewTableWriter(f, tbl, spec.Codec)
	if err != nil {
		return drive.TableStats{}, err
	}
	batch := spec.BatchRows/2 + rng.IntN(spec.BatchRows+1)
	for _, r := range rs {
		w.Append(any(r.s).(*R), r.t)
		if w.Pending() >= batch {
			if err := w.Flush(); err != nil {
				return drive.TableStats{}, err
			}
			batch = spec.BatchRows/2 + rng.IntN(spec.BatchRows+1)
		}
	}
	if open { // a segment still being written: batches on disk, no footer
		if err := w.Flush(); err != nil {
			return drive.TableStats{}, err
		}
		return w.Stats(), f.Close()
	}
	return w.Stats(), w.Close()
}

// noSync is a drive.File that skips fsync: test drives need no durability, and
// fsync on a shared test machine costs seconds.
type noSync struct{ *os.File }

func (noSync) Sync() error { return nil }

func create(path string) (drive.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return noSync{f}, nil
}

// SimSpec describes a simulated drive.
type SimSpec struct {
	Duration      time.Duration
	Cameras       int  // 4 or 8
	Width, Height int  // default 160×96
	Render        bool // render every frame (default: one static image per camera)
	// Speed is simulated time against the wall clock (0: as fast as possible). At
	// 1 the recorder flushes as on the road — a batch per table per flush interval —
	// where as fast as possible packs seconds of data into each batch.
	Speed float64
	// Segment is how long a segment lasts (0: an hour, one segment); the recorder
	// compacts each as it closes.
	Segment time.Duration
}

// Sim records a simulated drive with the real recorder and the simulated rig into a
// folder under dir and returns its path.
func Sim(tb testing.TB, dir string, spec SimSpec) string {
	tb.Helper()
	p, err := SimDrive(dir, spec)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// SimDrive is Sim without a testing.TB, for shared setups.
func SimDrive(dir string, spec SimSpec) (string, error) {
	if spec.Width == 0 {
		spec.Width, spec.Height = 160, 96
	}
	tb := clock.NewSystem()
	rig, err := sim.New(sim.Config{Cameras: spec.Cameras, Width: spec.Width, Height: spec.Height, Speed: spec.Speed, Duration: spec.Duration,
		Timebase: tb, StaticFrames: !spec.Render, Seed: 7, RawNMEA: true})
	if err != nil {
		return "", err
	}
	var cams []drive.Camera
	for _, c := range rig.Cameras() {
		cams = append(cams, drive.Camera{Index: c.Index, Name: c.Name, Codec: "mjpeg", Width: c.Width, Height: c.Height, FPS: 30})
	}
	// the manifest carries the scenario and the cameras' calibration, as roadlog record --sim writes it
	extra, err := json.Marshal(map[string]any{"scenario": "roadlog-sim-1", "seed": 7, "calibration": rig.Cameras()})
	if err != nil {
		return "", err
	}
	seg := spec.Segment
	if seg == 0 {
		seg = time.Hour
	}
	eng, err := record.New(record.Options{Root: dir, Vehicle: "sim", Timebase: tb, Simulated: true, Cameras: cams,
		SegmentDuration: seg, MinFreeBytes: 1, Extra: extra})
	if err != nil {
		return "", err
	}
	d, err := eng.Start("test")
	if err != nil {
		return "", err
	}
	if err := rig.Run(context.Background(), eng); err != nil {
		return "", err
	}
	if _, err := eng.Stop("test over", "test"); err != nil {
		return "", err
	}
	return d.Dir, nil
}

// Compact rewrites every table file of a drive the way the recorder does when a
// segment closes (drive.RewriteTableFile, through fs), and returns the rows rewritten.
func Compact(dir string, fs drive.FS) (int64, error) {
	m, err := drive.ReadManifest(dir)
	if err != nil {
		return 0, err
	}
	var rows int64
	for _, seg := range m.Segments {
		for _, t := range schema.Tables() {
			path := filepath.Join(dir, seg.Dir, drive.TableFile(t.TableName()))
			if _, err := os.Stat(path); err != nil {
				continue
			}
			st, err := compactFile(fs, path, t.TableName(), drive.Codec(m.Compression))
			if err != nil {
				return rows, err
			}
			rows += st.Rows
		}
	}
	return rows, nil
}

func compactFile(fs drive.FS, path string, name schema.TableName, codec drive.Codec) (drive.TableStats, error) {
	ops, ok := tableOpsOf[name]
	if !ok {
		return drive.TableStats{}, fmt.Errorf("no writer for table %s", name)
	}
	return ops.compact(fs, path, codec)
}

// NoSyncFS is the real file system without fdatasync, for test drives.
type NoSyncFS struct{ drive.OSFS }

// Create creates a file whose Sync does nothing.
func (fs NoSyncFS) Create(path string) (drive.File, error) { return create(path) }

// Rebatch rewrites every table file of a closed drive with new record batches, rows
// and their order unchanged: one batch per every of t, as the recorder writes them
// on the road (a batch per table each flush), or with every 0 in batches of up to
// drive.RewriteBatchRows rows, as a rewrite when the segment closes would leave them. A drive
// recorded as fast as possible packs seconds of data into each batch; rebatched, it
// reads like one recorded in real time.
func Rebatch(dir string, every time.Duration) error {
	m, err := drive.ReadManifest(dir)
	if err != nil {
		return err
	}
	for i, seg := range m.Segments {
		for _, t := range schema.Tables() {
			name := t.TableName()
			path := filepath.Join(dir, seg.Dir, drive.TableFile(name))
			if _, err := os.Stat(path); err != nil {
				continue
			}
			st, err := rebatchFile(path, name, drive.Codec(m.Compression), int64(every))
			if err != nil {
				return fmt.Errorf("rebatch %s: %w", path, err)
			}
			m.Segments[i].Tables[string(name)] = st
		}
	}
	return drive.WriteManifest(dir, m)
}

func rebatchFile(path string, name schema.TableName, codec drive.Codec, every int64) (drive.TableStats, error) {
	ops, ok := tableOpsOf[name]
	if !ok {
		return drive.TableStats{}, fmt.Errorf("no writer for table %s", name)
	}
	return ops.rebatch(path, codec, every)
}

func rebatchRows[R any](path string, tbl *schema.Table[R], codec drive.Codec, every int64) (drive.TableStats, error) {
	var rows []R
	if _, err := drive.ReadRows(path, tbl, func(r *R) error {
		rows = append(rows, *r)
		return nil
	}); err != nil {
		return drive.TableStats{}, err
	}
	f, err := create(path + ".rebatch")
	if err != nil {
		return drive.TableStats{}, err
	}
	w, err := drive.NewTableWriter(f, tbl, codec)
	if err != nil {
		return drive.TableStats{}, err
	}
	var start int64
	for i := range rows {
		t := tbl.T(&rows[i])
		if w.Pending() > 0 && ((every > 0 && t-start >= every) || w.Pending() >= drive.RewriteBatchRows) {
			if err := w.Flush(); err != nil {
				return drive.TableStats{}, err
			}
		}
		if w.Pending() == 0 {
			start = t
		}
		w.Append(&rows[i], t)
	}
	if err := w.Close(); err != nil {
		return drive.TableStats{}, err
	}
	return w.Stats(), os.Rename(path+".rebatch", path)
}

// ReplaceTable rewrites one table of a drive with rows (in t order, one record batch
// per segment, each segment's rows those of its span; Rebatch lays them out as the
// recorder would) and records the new stats in the manifest: for drives whose table
// carries real-world traffic instead of the simulator's.
func ReplaceTable[R any](dir string, tbl *schema.Table[R], rows []R) error {
	m, err := drive.ReadManifest(dir)
	if err != nil {
		return err
	}
	for i, seg := range m.Segments {
		path := filepath.Join(dir, seg.Dir, drive.TableFile(tbl.TableName()))
		f, err := create(path)
		if err != nil {
			return err
		}
		w, err := drive.NewTableWriter(f, tbl, drive.Codec(m.Compression))
		if err != nil {
			return err
		}
		last := i == len(m.Segments)-1
		for len(rows) > 0 && (last || tbl.T(&rows[0]) < seg.EndT) {
			w.Append(&rows[0], tbl.T(&rows[0]))
			rows = rows[1:]
		}
		if err := w.Close(); err != nil {
			return err
		}
		m.Segments[i].Tables[string(tbl.TableName())] = w.Stats()
	}
	return drive.WriteManifest(dir, m)
}
