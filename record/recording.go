package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
)

// recording is one drive being written. Its manager goroutine owns the manifest and
// the segment lifecycle; table and camera goroutines own their files.
type recording struct {
	e      *Engine
	opt    Options
	handle *Drive
	dir    string
	seg    *segmenter
	t0     int64

	tables map[schema.TableName]tableWriter
	drops  map[schema.TableName]*dropCounter

	camMu   gosync.Mutex // guards cams, closing
	cams    map[uint8]*cameraWriter
	closing bool // no new cameras

	maxT     atomic.Int64 // newest t accepted
	rows     atomic.Int64 // rows accepted
	bytes    atomic.Int64 // bytes written
	frameMin atomic.Int64 // oldest segment whose frames table is open

	dirMu gosync.Mutex // guards dirs
	dirs  map[int]bool

	errMu        gosync.Mutex // guards errs, damagedFiles, marks
	errs         []error
	damagedFiles []string
	marks        map[int]bool // segments holding a driver mark

	failed atomic.Bool // a write failed: queued video is dropped, not written
	stopCh chan stopReq
	failCh chan struct{}

	man        *drive.Manifest // owned by the manager goroutine
	openSeg    int             // oldest segment not yet closed (manager)
	segBytes0  int64           // bytes written when the newest segment began (manager)
	newestSeg  int             // newest segment seen (manager)
	diskWarned bool
	lastDisk   time.Time
}

type stopReq struct {
	reason, input string
}

func newRecording(e *Engine, t0 int64, input string) (*recording, error) {
	o := e.opt
	if err := o.FS.MkdirAll(o.Root); err != nil {
		return nil, fmt.Errorf("create output folder %s: %w", o.Root, err)
	}
	if err := checkWritable(o.Root); err != nil {
		return nil, err
	}
	id := time.Unix(0, t0).UTC().Format("20060102T150405Z") + "_" + o.Vehicle
	dir := filepath.Join(o.Root, id)
	for i := 1; ; i++ {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			break
		}
		dir = filepath.Join(o.Root, fmt.Sprintf("%s-%d", id, i))
	}
	id = filepath.Base(dir)
	if err := o.FS.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("create drive folder: %w", err)
	}
	r := &recording{e: e, opt: o, dir: dir, t0: t0, seg: newSegmenter(t0, int64(o.SegmentDuration)),
		tables: map[schema.TableName]tableWriter{}, drops: map[schema.TableName]*dropCounter{},
		cams: map[uint8]*cameraWriter{}, dirs: map[int]bool{}, marks: map[int]bool{},
		stopCh: make(chan stopReq, 1), failCh: make(chan struct{}, 1)}
	r.maxT.Store(t0)
	r.handle = &Drive{ID: id, Dir: dir, StartT: t0, Started: time.Now(), done: make(chan struct{}), r: r}
	r.man = &drive.Manifest{
		Format: schema.FormatName, Version: schema.FormatVersion, DriveID: id, Vehicle: o.Vehicle,
		Status: drive.StatusRecording, Software: drive.Software{Name: "roadlog", Version: o.Software},
		Created: time.Now().UTC(), StartT: t0, Timebase: drive.Timebase{Kind: o.TimebaseKind},
		SegmentLength: drive.Duration(o.SegmentDuration), FlushInterval: drive.Duration(o.FlushInterval),
		Compression: string(o.Compression), Simulated: o.Simulated, Cameras: o.Cameras, Extra: o.Extra,
	}
	if len(o.RigYAML) > 0 {
		if err := drive.WriteFileAtomic(filepath.Join(dir, drive.RigFile), o.RigYAML); err != nil {
			return nil, err
		}
		r.man.Rig = drive.RigFile
	}
	for _, src := range o.DBCFiles {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("copy DBC file: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(dir, drive.DBCDir), 0o755); err != nil {
			return nil, fmt.Errorf("copy DBC file: %w", err)
		}
		rel := filepath.Join(drive.DBCDir, filepath.Base(src))
		if err := drive.WriteFileAtomic(filepath.Join(dir, rel), b); err != nil {
			return nil, err
		}
		r.man.DBC = append(r.man.DBC, rel)
	}
	if err := drive.WriteManifest(dir, r.man); err != nil {
		return nil, err
	}
	if err := r.makeReserve(); err != nil {
		return nil, err
	}
	add := func(name schema.TableName, w tableWriter, reason string) {
		r.tables[name] = w
		r.drops[name] = &dropCounter{name: string(name), reason: reason}
	}
	q := o.QueueSizes
	full := "queue full (the disk or the writer fell behind)"
	add(schema.TableCAN, newTableWriter[schema.CAN, *schema.CAN](r, schema.CANTable, q[schema.TableCAN]), full)
	add(schema.TableGNSS, newTableWriter[schema.GNSS, *schema.GNSS](r, schema.GNSSTable, q[schema.TableGNSS]), full)
	add(schema.TableIMU, newTableWriter[schema.IMU, *schema.IMU](r, schema.IMUTable, q[schema.TableIMU]), full)
	add(schema.TableEgo, newTableWriter[schema.Ego, *schema.Ego](r, schema.EgoTable, q[schema.TableEgo]), full)
	add(schema.TableFrames, newTableWriter[schema.Frame, *schema.Frame](r, schema.FramesTable, q[schema.TableFrames]), full)
	add(schema.TableObjects, newTableWriter[schema.Object, *schema.Object](r, schema.ObjectsTable, q[schema.TableObjects]), full)
	add(schema.TableTargets, newTableWriter[schema.Target, *schema.Target](r, schema.TargetsTable, q[schema.TableTargets]), full)
	add(schema.TableEvents, newTableWriter[schema.Event, *schema.Event](r, schema.EventsTable, q[schema.TableEvents]), full)
	add(schema.TableTruth, newTableWriter[schema.Truth, *schema.Truth](r, schema.TruthTable, q[schema.TableTruth]), full)
	add(schema.TableSync, newTableWriter[schema.SyncRow, *schema.SyncRow](r, schema.SyncTable, q[schema.TableSync]), full)
	for _, w := range r.tables {
		go w.run()
	}
	if _, err := r.segDir(0); err != nil {
		return nil, err
	}
	ev := schema.NewEvent(t0, schema.EvRecordStart, schema.SevInfo, "recorder", "recording started")
	ev.Input = input
	r.publish(ev)
	return r, nil
}

// checkWritable fails early, before anything starts, when the output folder cannot
// be written.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".roadlog-write-test-*")
	if err != nil {
		return fmt.Errorf("output folder %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// publish routes a sample into its queue without blocking.
func (r *recording) publish(s schema.Sample) {
	t := rowTime(s)
	for {
		m := r.maxT.Load()
		if t <= m || r.maxT.CompareAndSwap(m, t) {
			break
		}
	}
	if vf, ok := s.(*schema.VideoFrame); ok {
		w := r.camera(vf.Camera)
		if w == nil {
			return
		}
		if w.offer(vf) {
			r.rows.Add(1)
		} else {
			w.drop.drop(vf.T)
		}
		return
	}
	name := s.Table()
	w, ok := r.tables[name]
	if !ok {
		return
	}
	if ev, ok := s.(*schema.Event); ok && ev.Code == schema.EvMark {
		r.errMu.Lock()
		r.marks[r.seg.For(ev.T)] = true
		r.errMu.Unlock()
	}
	if w.offer(s) {
		r.rows.Add(1)
	} else {
		r.drops[name].drop(t)
	}
}

func (r *recording) camera(cam uint8) *cameraWriter {
	r.camMu.Lock()
	defer r.camMu.Unlock()
	if w, ok := r.cams[cam]; ok {
		return w
	}
	if r.closing {
		return nil
	}
	w := newCameraWriter(r, cam)
	r.cams[cam] = w
	go w.run()
	return w
}

func (r *recording) cameras() []*cameraWriter {
	r.camMu.Lock()
	defer r.camMu.Unlock()
	out := make([]*cameraWriter, 0, len(r.cams))
	for _, w := range r.cams {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cam < out[j].cam })
	return out
}

func (r *recording) framesMinOpen() int { return int(r.frameMin.Load()) }

// segDir returns the folder of segment seg, creating it on first use.
func (r *recording) segDir(seg int) (string, error) {
	dir := filepath.Join(r.dir, drive.SegmentDir(seg))
	r.dirMu.Lock()
	defer r.dirMu.Unlock()
	if r.dirs[seg] {
		return dir, nil
	}
	if err := r.opt.FS.MkdirAll(dir); err != nil {
		return "", fmt.Errorf("create segment folder: %w", err)
	}
	if err := drive.SyncDir(r.dir); err != nil {
		r.opt.Log.Warn("sync drive folder", "err", err)
	}
	r.dirs[seg] = true
	return dir, nil
}

// event writes an event row now.
func (r *recording) event(code schema.EventCode, sev schema.Severity, source, msg string) {
	r.e.Publish(schema.NewEvent(r.e.Now(), code, sev, source, msg))
}

func (r *recording) slowSync(file string, d time.Duration) {
	ev := schema.NewEvent(r.e.Now(), schema.EvSlowSync, schema.SevWarn, file, fmt.Sprintf("fsync took %v", d.Round(time.Millisecond)))
	ev.Value = d.Seconds()
	r.e.Publish(ev)
	r.opt.Log.Warn("slow fsync", "file", file, "took", d)
}

// writeFailed records a write failure; the manager stops the drive.
func (r *recording) writeFailed(err error) {
	r.errMu.Lock()
	r.errs = append(r.errs, err)
	r.errMu.Unlock()
	select {
	case r.failCh <- struct{}{}:
	default:
	}
}

// damaged notes a file that a failed write left without a valid end.
func (r *recording) damaged(rel string) {
	r.errMu.Lock()
	r.damagedFiles = append(r.damagedFiles, rel)
	r.errMu.Unlock()
}

func (r *recording) requestStop(reason, input string) {
	select {
	case r.stopCh <- stopReq{reason, input}:
	default:
	}
}

func (r *recording) progress() Progress {
	var drops int64
	for _, d := range r.drops {
		drops += d.n.Load()
	}
	for _, c := range r.cameras() {
		drops += c.drop.n.Load() + c.wait.n.Load()
	}
	return Progress{Elapsed: time.Since(r.handle.Started), Rows: r.rows.Load(), Bytes: r.bytes.Load(),
		Drops: drops, Segment: r.seg.For(r.maxT.Load()), SpanT: r.maxT.Load() - r.t0}
}

// manage is the drive's owner goroutine: segment closes, drop episodes, the disk
// guard, and the stop.
func (r *recording) manage() {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			r.rotate()
			r.reportDrops(now, false)
			if now.Sub(r.lastDisk) >= time.Second {
				r.lastDisk = now
				if reason := r.diskGuard(); reason != "" {
					r.finish(reason, "auto", schema.EvDiskFull)
					return
				}
			}
		case <-r.failCh:
			r.errMu.Lock()
			err := errors.Join(r.errs...)
			r.errMu.Unlock()
			code := schema.EvWriteError
			if errors.Is(err, syscall.ENOSPC) {
				code = schema.EvDiskFull
			}
			r.finish("write failed: "+err.Error(), "auto", code)
			return
		case req := <-r.stopCh:
			r.finish(req.reason, req.input, schema.EvRecordStop)
			return
		}
	}
}

// rotate closes every segment whose end the newest t has passed by CloseLag.
func (r *recording) rotate() {
	maxT := r.maxT.Load()
	if newest := r.seg.For(maxT); newest != r.newestSeg {
		r.newestSeg, r.segBytes0 = newest, r.bytes.Load()
	} else if r.opt.SegmentBytes > 0 && r.bytes.Load()-r.segBytes0 > r.opt.SegmentBytes {
		// size limit: the next segment starts just after the newest t
		r.seg.ForceBoundary(maxT + 1)
	}
	for {
		next := r.seg.Start(r.openSeg + 1)
		if maxT-int64(r.opt.CloseLag) < next {
			return
		}
		if !r.closeSegment(r.openSeg) {
			return
		}
	}
}

// closeSegment closes segment seg in every table once every camera has moved past it;
// it reports false when cameras are still writing into it.
func (r *recording) closeSegment(seg int) bool {
	idle := time.Now().Add(-2 * r.opt.FlushInterval).UnixNano()
	ready := true
	for _, c := range r.cameras() {
		if c.doneWith(seg) {
			continue
		}
		ready = false
		if c.lastWall.Load() < idle {
			select {
			case c.cmds <- camCmd{seg: seg}:
			default:
			}
		}
	}
	if !ready {
		return false
	}
	stats := r.closeTables(tableCmd{seg: seg})
	r.frameMin.Store(int64(seg + 1))
	r.finishSegments(stats, seg)
	r.openSeg = seg + 1
	return true
}

// closeTables sends c to every table writer and gathers the stats of the segments
// they closed.
func (r *recording) closeTables(c tableCmd) map[int]map[string]drive.TableStats {
	reply := make(chan tableReply, len(r.tables))
	for _, w := range r.tables {
		c.reply = reply
		w.command(c)
	}
	out := map[int]map[string]drive.TableStats{}
	for range r.tables {
		rep := <-reply
		for seg, st := range rep.stats {
			if out[seg] == nil {
				out[seg] = map[string]drive.TableStats{}
			}
			out[seg][string(rep.name)] = st
		}
	}
	return out
}

// finishSegments completes the manifest entries of closed segments (through last):
// empty files for tables that had no rows, figures, and an atomic manifest write.
func (r *recording) finishSegments(stats map[int]map[string]drive.TableStats, last int) {
	videos := map[int]map[string]drive.VideoStats{}
	for _, c := range r.cameras() {
		for seg, m := range c.takeStats(last) {
			if videos[seg] == nil {
				videos[seg] = map[string]drive.VideoStats{}
			}
			for k, v := range m {
				videos[seg][k] = v
			}
		}
	}
	for seg := r.openSeg; seg <= last; seg++ {
		r.dirMu.Lock()
		exists := r.dirs[seg]
		r.dirMu.Unlock()
		if !exists && stats[seg] == nil && videos[seg] == nil {
			continue
		}
		dir, err := r.segDir(seg)
		if err != nil {
			r.opt.Log.Error("segment folder", "err", err)
			continue
		}
		tables := stats[seg]
		if tables == nil {
			tables = map[string]drive.TableStats{}
		}
		for _, t := range schema.Tables() {
			if _, ok := tables[string(t.TableName())]; ok {
				continue
			}
			if err := writeEmptyTable(r.opt.FS, filepath.Join(dir, drive.TableFile(t.TableName())), t, drive.Codec(r.opt.Compression)); err != nil {
				r.opt.Log.Error("write empty table", "err", err)
				continue
			}
			tables[string(t.TableName())] = drive.TableStats{}
		}
		end := r.seg.Start(seg + 1)
		s := drive.Segment{Index: seg, Dir: drive.SegmentDir(seg), StartT: r.seg.Start(seg), EndT: end, Closed: true, Tables: tables, Videos: videos[seg]}
		r.man.Segments = append(r.man.Segments, s)
	}
	if err := drive.WriteManifest(r.dir, r.man); err != nil {
		r.opt.Log.Error("write manifest", "err", err)
	}
}

// finish stops the drive: it writes the stop event, closes every camera and table,
// completes the manifest and repairs files a failed write left damaged.
func (r *recording) finish(reason, input string, code schema.EventCode) {
	r.e.state.Store(int32(Stopping))
	failed := code != schema.EvRecordStop
	if failed {
		// Stop taking samples, drop queued video (it would eat the room needed to close),
		// then free the reserve: when the disk is full it is the room to close the drive.
		r.failed.Store(true)
	}
	r.releaseReserve()
	sev := schema.SevInfo
	if code != schema.EvRecordStop {
		sev = schema.SevError
		r.opt.Log.Error("recording stopped", "reason", reason)
		ev := schema.NewEvent(r.e.Now(), code, sev, "recorder", reason)
		r.publish(ev)
	}
	ev := schema.NewEvent(r.e.Now(), schema.EvRecordStop, schema.SevInfo, "recorder", "recording stopped: "+reason)
	ev.Input = input
	r.publish(ev)
	r.e.cur.Store(nil)
	r.camMu.Lock()
	r.closing = true
	cams := make([]*cameraWriter, 0, len(r.cams))
	for _, c := range r.cams {
		cams = append(cams, c)
	}
	r.camMu.Unlock()
	for _, c := range cams {
		reply := make(chan struct{})
		c.cmds <- camCmd{all: true, reply: reply}
		<-reply
	}
	r.reportDrops(time.Now(), true)
	stats := r.closeTables(tableCmd{all: true})
	last := r.openSeg
	for seg := range stats {
		if seg > last {
			last = seg
		}
	}
	r.finishSegments(stats, last)
	r.openSeg = last + 1

	r.errMu.Lock()
	damaged := append([]string(nil), r.damagedFiles...)
	r.errMu.Unlock()
	r.man.Status = drive.StatusClosed
	r.man.StopReason = reason
	r.man.EndT = r.maxT.Load()
	r.man.Drops = map[string]int64{}
	var drops int64
	for name, d := range r.drops {
		if n := d.n.Load(); n > 0 {
			r.man.Drops[string(name)] = n
			drops += n
		}
	}
	for _, c := range cams {
		if n := c.drop.n.Load() + c.wait.n.Load(); n > 0 {
			r.man.Drops[c.drop.name] = n
			drops += n
		}
	}
	if err := drive.WriteManifest(r.dir, r.man); err != nil {
		r.opt.Log.Error("write manifest", "err", err)
	}
	if failed || len(damaged) > 0 {
		// A write failed: some files may have been cut short. Run repair over the whole
		// drive, then record it as closed (with what repair cut) and why it stopped.
		rep, err := drive.Repair(r.dir, r.man.Software)
		if err != nil {
			r.opt.Log.Error("repair after write failure", "err", err)
		}
		if m, err := drive.ReadManifest(r.dir); err == nil {
			m.Status, m.StopReason, m.Drops = drive.StatusClosed, reason, r.man.Drops
			if rep != nil {
				m.Recovery = &drive.Recovery{At: time.Now().UTC(), Cuts: rep.Cuts, Damaged: drive.DamagedDir, Software: r.man.Software}
				for _, c := range rep.Cuts {
					damaged = append(damaged, c.File)
				}
			}
			r.man = m
			if err := drive.WriteManifest(r.dir, m); err != nil {
				r.opt.Log.Error("write manifest", "err", err)
			}
		}
	}
	sum := &Summary{ID: r.handle.ID, Dir: r.dir, StopReason: reason, Rows: map[string]int64{}, Bytes: r.bytes.Load(),
		Drops: drops, Segments: len(r.man.Segments), Damaged: damaged}
	for _, s := range r.man.Segments {
		for name, t := range s.Tables {
			sum.Rows[name] += t.Rows
		}
	}
	r.handle.summary.Store(sum)
	r.e.mu.Lock()
	r.e.last = sum
	r.e.state.Store(int32(Idle))
	r.e.mu.Unlock()
	close(r.handle.done)
}

// reportDrops writes finished drop episodes as events.
func (r *recording) reportDrops(now time.Time, force bool) {
	var cs []*dropCounter
	for _, d := range r.drops {
		cs = append(cs, d)
	}
	for _, c := range r.cameras() {
		cs = append(cs, c.drop, c.wait)
	}
	for _, d := range cs {
		if ev := d.episode(now, time.Second, force); ev != nil {
			r.opt.Log.Warn("samples dropped", "queue", d.name, "count", ev.Count, "reason", d.reason)
			if w, ok := r.tables[schema.TableEvents]; ok {
				w.send(ev)
			}
		}
	}
}
