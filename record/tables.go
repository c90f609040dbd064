package record

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
)

// rowPtr is a pointer to a row type that is also a Sample (e.g. *schema.CAN).
type rowPtr[R any] interface {
	*R
	schema.Sample
}

// segFrame is a frames row addressed to the segment whose video file holds the frame
// (camera writers send these; the segment is not derived from t).
type segFrame struct {
	seg int
	row schema.Frame
}

func (*segFrame) Table() schema.TableName { return schema.TableFrames }

// tableCmd asks a table writer to close every segment up to and including seg
// (all: every segment, then exit).
type tableCmd struct {
	seg   int
	all   bool
	reply chan tableReply
}

type tableReply struct {
	name  schema.TableName
	stats map[int]drive.TableStats
}

// tableWriter is the goroutine that owns one table: it drains the table's queue, holds
// rows for Holdback so that late rows of other sources still land in t order, writes
// them as record batches into the file of their segment, and syncs on a cadence.
type tableWriter interface {
	offer(s schema.Sample) bool
	send(s schema.Sample)
	run()
	command(c tableCmd)
	queueLen() int
}

type pend[P any] struct {
	row     P
	t       int64
	arrival int64 // wall ns
	seg     int   // -1: by t
}

type tableWriterOf[R any, P rowPtr[R]] struct {
	r        *recording
	tbl      *schema.Table[R]
	q        chan schema.Sample
	cmds     chan tableCmd
	pending  []pend[P]
	files    map[int]*drive.TableWriter[R]
	minOpen  int
	closed   map[int]drive.TableStats
	syncAt   time.Time
	failed   bool // a write failed: the recording is being stopped
	holdback time.Duration
	// held keeps the rows of segments whose file failed (or could not be created),
	// to be written when the file is rebuilt at close, after the reserve is freed.
	held   map[int][]pend[P]
	broken map[int]bool
}

func newTableWriter[R any, P rowPtr[R]](r *recording, tbl *schema.Table[R], queue int) tableWriter {
	w := &tableWriterOf[R, P]{r: r, tbl: tbl, q: make(chan schema.Sample, queue), cmds: make(chan tableCmd, 4),
		files: map[int]*drive.TableWriter[R]{}, closed: map[int]drive.TableStats{}, holdback: r.opt.Holdback,
		held: map[int][]pend[P]{}, broken: map[int]bool{}}
	if tbl.Name == schema.TableFrames {
		// Frames rows come from the camera writers a fragment at a time, up to FragmentMax
		// after their frames: wait that long so the table stays in t order. A crash loses
		// no frames rows for that: repair rebuilds them from the video files.
		w.holdback += r.opt.FragmentMax + r.opt.FlushInterval
	}
	return w
}

func (w *tableWriterOf[R, P]) offer(s schema.Sample) bool {
	select {
	case w.q <- s:
		return true
	default:
		return false
	}
}

// send enqueues a sample that must not be lost (frames rows of written video): it
// waits for room.
func (w *tableWriterOf[R, P]) send(s schema.Sample) { w.q <- s }

func (w *tableWriterOf[R, P]) command(c tableCmd) { w.cmds <- c }
func (w *tableWriterOf[R, P]) queueLen() int      { return len(w.q) }

func (w *tableWriterOf[R, P]) run() {
	o := &w.r.opt
	tick := time.NewTicker(o.FlushInterval - o.Holdback)
	defer tick.Stop()
	w.syncAt = time.Now().Add(o.SyncInterval)
	for {
		select {
		case s := <-w.q:
			w.add(s)
			if len(w.pending) >= o.FlushRows {
				w.flush(time.Now(), -1, true)
			}
		case now := <-tick.C:
			w.flush(now, -1, false)
			if now.After(w.syncAt) {
				w.sync()
				w.syncAt = now.Add(o.SyncInterval)
			}
		case c := <-w.cmds:
			w.drain()
			if c.all {
				w.flush(time.Now(), 1<<30, true)
				w.closeThrough(1 << 30)
			} else {
				w.flush(time.Now(), c.seg, false)
				w.closeThrough(c.seg)
			}
			c.reply <- tableReply{name: w.tbl.Name, stats: w.takeClosed()}
			if c.all {
				return
			}
		}
	}
}

func (w *tableWriterOf[R, P]) drain() {
	for {
		select {
		case s := <-w.q:
			w.add(s)
		default:
			return
		}
	}
}

func (w *tableWriterOf[R, P]) add(s schema.Sample) {
	seg := -1
	if sf, ok := s.(*segFrame); ok {
		seg = sf.seg
		s = any(&sf.row).(schema.Sample)
	}
	p, ok := s.(P)
	if !ok {
		w.r.e.opt.Log.Error("sample routed to the wrong table", "table", w.tbl.Name, "type", fmt.Sprintf("%T", s))
		return
	}
	w.pending = append(w.pending, pend[P]{row: p, t: rowTime(s), arrival: time.Now().UnixNano(), seg: seg})
}

// flush writes pending rows that have waited Holdback (all of them when force), and
// every row of segments up to throughSeg, in t order, one batch per segment file.
func (w *tableWriterOf[R, P]) flush(now time.Time, throughSeg int, force bool) {
	if len(w.pending) == 0 {
		return
	}
	cut := now.UnixNano() - int64(w.holdback)
	var ready, keep []pend[P]
	for _, p := range w.pending {
		seg := p.seg
		if seg < 0 {
			seg = w.r.seg.For(p.t)
		}
		if force || p.arrival <= cut || seg <= throughSeg {
			p.seg = seg // resolved once: the loop below writes it there
			ready = append(ready, p)
		} else {
			keep = append(keep, p)
		}
	}
	w.pending = append(w.pending[:0], keep...)
	if len(ready) == 0 {
		return
	}
	byT := func(a, b pend[P]) int { return cmp.Compare(a.t, b.t) }
	if !slices.IsSortedFunc(ready, byT) {
		slices.SortStableFunc(ready, byT)
	}
	touched := map[int]*drive.TableWriter[R]{}
	for _, p := range ready {
		seg := p.seg
		if seg < w.minOpen {
			seg = w.minOpen // a late row: it goes into the oldest open segment
		}
		f := w.file(seg)
		if f == nil || w.broken[seg] {
			p.seg = seg
			w.held[seg] = append(w.held[seg], p)
			continue
		}
		f.Append((*R)(p.row), p.t)
		touched[seg] = f
	}
	for seg, f := range touched {
		before := f.Bytes()
		if err := f.Flush(); err != nil {
			w.broken[seg] = true
			w.fail(err)
			continue
		}
		w.r.bytes.Add(f.Bytes() - before)
	}
}

// file returns the open writer of segment seg, creating the file on first use.
func (w *tableWriterOf[R, P]) file(seg int) *drive.TableWriter[R] {
	if f, ok := w.files[seg]; ok {
		return f
	}
	if w.broken[seg] {
		return nil
	}
	dir, err := w.r.segDir(seg)
	if err != nil {
		w.broken[seg] = true
		w.fail(err)
		return nil
	}
	path := filepath.Join(dir, drive.TableFile(w.tbl.Name))
	fh, err := w.r.opt.FS.Create(path)
	if err != nil {
		w.broken[seg] = true
		w.fail(fmt.Errorf("create %s: %w", path, err))
		return nil
	}
	f, err := drive.NewTableWriter(fh, w.tbl, drive.Codec(w.r.opt.Compression))
	if err != nil {
		fh.Close()
		w.fs().Remove(path)
		w.broken[seg] = true
		w.fail(err)
		return nil
	}
	w.r.bytes.Add(f.Bytes())
	w.files[seg] = f
	return f
}

func (w *tableWriterOf[R, P]) sync() {
	for seg, f := range w.files {
		start := time.Now()
		if err := f.Sync(); err != nil {
			w.fail(err)
			continue
		}
		if d := time.Since(start); d > w.r.opt.SlowSync {
			w.r.slowSync(fmt.Sprintf("%s/%s", drive.SegmentDir(seg), drive.TableFile(w.tbl.Name)), d)
		}
	}
}

func (w *tableWriterOf[R, P]) fs() drive.FS { return w.r.opt.FS }

func (w *tableWriterOf[R, P]) closeThrough(seg int) {
	segs := map[int]bool{}
	for s := range w.files {
		segs[s] = true
	}
	for s := range w.held {
		segs[s] = true
	}
	for s := range segs {
		if s > seg {
			continue
		}
		rel := filepath.Join(drive.SegmentDir(s), drive.TableFile(w.tbl.Name))
		path := filepath.Join(w.r.dir, rel)
		f := w.files[s]
		var st drive.TableStats
		if f != nil {
			st = f.Stats()
			if err := f.Close(); err != nil && !w.broken[s] {
				w.broken[s] = true
				w.fail(err)
			}
		}
		if w.broken[s] || st.Late > 0 || st.Batches > 1 {
			// Rebuild the closed file from its readable rows plus any held ones, in t order,
			// in large batches: after a failed write (footerless, or never created; this
			// runs once the reserve is freed), when rows came in after later ones, and to
			// compact the many small batches written while recording (one per flush) —
			// readers decompress far fewer buffers and the file is about a third smaller.
			// Durability while recording is unchanged: the small batches were on disk.
			extra := make([]R, len(w.held[s]))
			for i, p := range w.held[s] {
				extra[i] = *(*R)(p.row)
			}
			if f == nil {
				if fh, err := w.fs().Create(path); err == nil {
					if tw, err := drive.NewTableWriter(fh, w.tbl, drive.Codec(w.r.opt.Compression)); err == nil {
						tw.Close()
					} else {
						fh.Close()
					}
				}
			}
			rebuilt, err := drive.RewriteTableFile(w.fs(), path, w.tbl, drive.Codec(w.r.opt.Compression), extra)
			if err != nil {
				w.r.opt.Log.Error("rebuild table file", "file", rel, "err", err)
				w.r.damaged(rel)
			} else {
				st = rebuilt
			}
		}
		w.closed[s] = st
		delete(w.files, s)
		delete(w.held, s)
	}
	if seg+1 > w.minOpen {
		w.minOpen = seg + 1
	}
}

func (w *tableWriterOf[R, P]) takeClosed() map[int]drive.TableStats {
	c := w.closed
	w.closed = map[int]drive.TableStats{}
	return c
}

func (w *tableWriterOf[R, P]) fail(err error) {
	if !w.failed {
		w.failed = true
		w.r.writeFailed(fmt.Errorf("table %s: %w", w.tbl.Name, err))
	}
}

// SampleTime returns a sample's reference time t (0 for a sample kind it does not know).
func SampleTime(s schema.Sample) int64 { return rowTime(s) }

func rowTime(s schema.Sample) int64 {
	if f, ok := s.(*segFrame); ok {
		return f.row.T
	}
	return schema.TimeOf(s)
}
