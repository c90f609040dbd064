package record

import (
	"fmt"
	"path/filepath"
	gosync "sync"
	"sync/atomic"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
)

// cameraWriter is the goroutine that owns one camera's video: it writes frames into
// the camera's fMP4 file of the current segment, one fragment at most FragmentMax
// long, starting fragments at keyframes, and sends a frames row for every written
// frame. It moves to the next segment at the first keyframe at or after the
// segment's start, so every segment's video starts with a keyframe.
type cameraWriter struct {
	r    *recording
	cam  uint8
	q    chan *schema.VideoFrame
	cmds chan camCmd
	drop *dropCounter // queue overflow
	wait *dropCounter // frames that could not start a file (no keyframe/parameters yet)

	seg      int // segment of the open file
	part     int // file part within the segment (format changes)
	vw       *drive.VideoWriter
	firstAt  time.Time    // wall time the oldest pending frame arrived
	syncAt   time.Time    // when the open file is next synced (as the tables: every SyncInterval)
	curSeg   atomic.Int64 // segment of the open file; seg+1 once closed; -1 before the first file
	closed   int          // newest segment whose file this camera closed (-1: none)
	lastWall atomic.Int64 // wall ns of the latest frame

	params [][]byte // the camera's latest parameter sets (sources send them only when they change)

	statsMu gosync.Mutex // guards stats
	stats   map[int]map[string]drive.VideoStats
}

type camCmd struct {
	seg   int // close the file if it belongs to a segment ≤ seg
	all   bool
	reply chan struct{}
}

func newCameraWriter(r *recording, cam uint8) *cameraWriter {
	w := &cameraWriter{r: r, cam: cam, q: make(chan *schema.VideoFrame, r.opt.CameraQueue),
		cmds: make(chan camCmd, 2), stats: map[int]map[string]drive.VideoStats{},
		drop: &dropCounter{name: camNames[cam], reason: "camera queue full (the disk or the video writer fell behind)"},
		wait: &dropCounter{name: camNames[cam], reason: "waiting for a keyframe with codec parameters"}}
	w.curSeg.Store(-1)
	w.closed = -1
	w.lastWall.Store(time.Now().UnixNano())
	return w
}

func (w *cameraWriter) offer(vf *schema.VideoFrame) bool {
	select {
	case w.q <- vf:
		return true
	default:
		return false
	}
}

func (w *cameraWriter) run() {
	tick := time.NewTicker(w.r.opt.FlushInterval / 4)
	defer tick.Stop()
	w.syncAt = time.Now().Add(w.r.opt.SyncInterval)
	for {
		select {
		case vf := <-w.q:
			w.lastWall.Store(time.Now().UnixNano())
			w.handle(vf)
		case now := <-tick.C:
			if w.vw != nil {
				if n, _ := w.vw.Pending(); n > 0 && now.Sub(w.firstAt) >= w.r.opt.FlushInterval-w.r.opt.FlushInterval/4 {
					w.flush()
				}
				if now.After(w.syncAt) {
					w.sync()
					w.syncAt = now.Add(w.r.opt.SyncInterval)
				}
			}
		case c := <-w.cmds:
			if c.all {
				for {
					select {
					case vf := <-w.q:
						if w.r.failed.Load() {
							w.drop.drop(vf.T) // the disk is full: do not write queued video
						} else {
							w.handle(vf)
						}
						continue
					default:
					}
					break
				}
				w.closeFile()
				c.reply <- struct{}{}
				return
			}
			if w.vw != nil && w.seg <= c.seg {
				w.closeFile()
			}
			if c.reply != nil {
				c.reply <- struct{}{}
			}
		}
	}
}

func (w *cameraWriter) handle(vf *schema.VideoFrame) {
	// Sources send parameter sets on a camera's first frame and when they change
	// (schema.VideoFrame); the file a keyframe starts at a segment rotation needs them.
	if len(vf.Params) > 0 {
		w.params = vf.Params
	} else if vf.Keyframe && vf.Codec != schema.CodecMJPEG {
		vf.Params = w.params
	}
	target := w.r.seg.For(vf.T)
	if m := w.r.framesMinOpen(); target < m {
		target = m
	}
	if target <= w.closed {
		// This camera already closed its file of that segment (it looked idle and the
		// manager closed it): never reopen (and truncate) it; the frame starts the next.
		target = w.closed + 1
	}
	switch {
	case w.vw == nil:
		w.open(target, vf)
	case target > w.seg && vf.Keyframe:
		w.closeFile()
		w.open(target, vf)
	case !w.vw.SameFormat(vf):
		w.r.event(schema.EvVideoFormat, schema.SevWarn, w.drop.name,
			fmt.Sprintf("camera %d changed format to %v %dx%d: new file", w.cam, vf.Codec, vf.Width, vf.Height))
		seg, closed := w.seg, w.closed
		w.closeFile()
		w.closed = closed // a new part of the same segment, not the segment's end
		w.part++
		w.openPart(seg, vf)
	}
	if w.vw == nil {
		w.wait.drop(vf.T)
		return
	}
	if vf.Keyframe && vf.Codec != schema.CodecMJPEG {
		// start fragments at keyframes so a reader can decode from a fragment's start
		if n, _ := w.vw.Pending(); n > 0 {
			w.flush()
		}
	}
	if n, _ := w.vw.Pending(); n == 0 {
		w.firstAt = time.Now()
	}
	w.vw.Add(vf)
	if _, span := w.vw.Pending(); span >= int64(w.r.opt.FragmentMax)-int64(time.Second/60) || w.vw.PendingBytes() >= 8<<20 {
		w.flush()
	}
}

// open starts the camera's file in segment seg with vf as its first frame; a frame
// that cannot start a file (no keyframe, no parameter sets) leaves vw nil.
func (w *cameraWriter) open(seg int, vf *schema.VideoFrame) {
	if seg != w.seg {
		w.part = 0
	}
	w.openPart(seg, vf)
}

func (w *cameraWriter) openPart(seg int, vf *schema.VideoFrame) {
	if !vf.Keyframe || (vf.Codec != schema.CodecMJPEG && len(vf.Params) == 0) {
		return
	}
	dir, err := w.r.segDir(seg)
	if err != nil {
		w.r.writeFailed(err)
		return
	}
	name := drive.VideoFile(w.cam, w.part)
	path := filepath.Join(dir, name)
	fh, err := w.r.opt.FS.Create(path)
	if err != nil {
		w.r.writeFailed(fmt.Errorf("create %s: %w", path, err))
		return
	}
	vw, err := drive.NewVideoWriter(fh, name, vf)
	if err != nil {
		fh.Close()
		w.r.event(schema.EvVideoError, schema.SevError, w.drop.name, err.Error())
		return
	}
	w.r.bytes.Add(vw.Bytes())
	w.vw, w.seg = vw, seg
	w.curSeg.Store(int64(seg))
}

func (w *cameraWriter) flush() {
	before := w.vw.Bytes()
	rows, err := w.vw.Flush()
	w.r.bytes.Add(w.vw.Bytes() - before)
	if err != nil {
		w.r.writeFailed(fmt.Errorf("camera %d: %w", w.cam, err))
		w.r.damaged(filepath.Join(drive.SegmentDir(w.seg), w.vw.Name()))
		return
	}
	frames := w.r.tables[schema.TableFrames]
	for i := range rows {
		frames.send(&segFrame{seg: w.seg, row: rows[i]})
	}
}

// sync fdatasyncs the open video file, as the table writers do theirs: flushed
// fragments reach the disk at most SyncInterval after they were written. A failed
// write has already stopped the drive (and been reported): nothing more to sync.
func (w *cameraWriter) sync() {
	if w.r.failed.Load() {
		return
	}
	start := time.Now()
	if err := w.vw.Sync(); err != nil {
		w.r.writeFailed(fmt.Errorf("camera %d: sync %s: %w", w.cam, w.vw.Name(), err))
		return
	}
	if d := time.Since(start); d > w.r.opt.SlowSync {
		w.r.slowSync(filepath.Join(drive.SegmentDir(w.seg), w.vw.Name()), d)
	}
}

func (w *cameraWriter) closeFile() {
	if w.vw == nil {
		return
	}
	if n, _ := w.vw.Pending(); n > 0 {
		w.flush()
	}
	if err := w.vw.Close(); err != nil {
		w.r.writeFailed(fmt.Errorf("camera %d: %w", w.cam, err))
		w.r.damaged(filepath.Join(drive.SegmentDir(w.seg), w.vw.Name()))
	}
	w.statsMu.Lock()
	if w.stats[w.seg] == nil {
		w.stats[w.seg] = map[string]drive.VideoStats{}
	}
	w.stats[w.seg][w.vw.Name()] = w.vw.Stats()
	w.statsMu.Unlock()
	w.vw = nil
	w.closed = max(w.closed, w.seg)
	// Publishing the segment after the last frames row was queued lets the manager
	// close the frames table of that segment.
	w.curSeg.Store(int64(w.seg) + 1)
}

// takeStats returns and forgets the stats of the files of segments ≤ seg.
func (w *cameraWriter) takeStats(seg int) map[int]map[string]drive.VideoStats {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	out := map[int]map[string]drive.VideoStats{}
	for s, m := range w.stats {
		if s <= seg {
			out[s] = m
			delete(w.stats, s)
		}
	}
	return out
}

// doneWith reports whether the camera will write no more frames into segment seg.
func (w *cameraWriter) doneWith(seg int) bool {
	c := w.curSeg.Load()
	return c < 0 || c > int64(seg)
}
