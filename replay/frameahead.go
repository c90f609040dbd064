package replay

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
)

// frameAhead reads the bytes of camera frames ahead of NextRow's caller, in a
// goroutine of its own, while the caller merges: the frames producer hands it each
// batch's frames (file, offset, size) in the order the cursor delivers them, it reads
// them out of the video files in windows (one read serves the frames that follow in
// the file: a camera's frames follow each other in its file), and FrameData finds
// the row's bytes in a window already read. On a drive of small frames reading them
// was a third of the caller's time (page-cache copies); the copies now run on
// another CPU. Without a window for the row (damage, a row taken out of the order
// the producer saw, a seek), FrameData reads the bytes itself as before.
//
// Its memory is bounded: at most aheadWindows windows in flight plus one per video
// file being read. It runs only while the reader prefetches and the caller asks for
// frame bytes: when a whole batch passes without FrameData, the producer stops
// asking for reads until FrameData is called again.
type frameAhead struct {
	files *videoFiles // the goroutine's
	reqs  chan *frameReq
	out   chan frameWin
	stop  chan struct{}
	wg    sync.WaitGroup
	spare chan *frameReq // requests given back by the goroutine

	// the producer's
	serial int64 // of the last batch handed out
	// read ahead: set by the caller when FrameData was called for the last batch
	// released, cleared when a batch passed without it
	wanted atomic.Bool

	// the caller's
	wins    []frameWin // the newest window of each file being read
	peek    frameWin   // the next window or end mark, taken out of out (ok: there is one)
	peekOK  bool
	closed  bool // out is closed: the goroutine has stopped
	used    bool // FrameData was called since the last batch was released
	running bool
	served  int64 // frames FrameData found in a window

	reads atomic.Int64 // windows read (the goroutine's)
	asked atomic.Int64 // batches handed to the goroutine (the producer's)
}

// frameReq is one batch's frames, in the order the cursor delivers its rows.
type frameReq struct {
	serial int64
	dir    string
	names  [][]byte // the batch's video files (a frames batch names a camera's file per row)
	ents   []frameEnt
}

// frameEnt is one frame of a request.
type frameEnt struct {
	pos  int32 // the row's position in the batch's delivery order
	name int32 // index in names
	size int32
	cam  uint8
	seq  int64
	off  int64
}

// frameWin is a window of a video file read for the row at position pos of batch
// serial (and for the frames after it that it covers), or, with end set, the mark
// that batch serial's frames were all read.
type frameWin struct {
	serial int64
	pos    int32
	end    bool
	dir    string
	name   string
	off    int64
	data   []byte
}

const (
	// aheadWindow is how much of a video file one read takes.
	aheadWindow = 256 << 10
	// aheadWindows is how many windows and marks may wait for the caller.
	aheadWindows = 8
)

// spareWindows keeps the windows of every frameAhead, for the next reader (as the
// spare arenas do).
var spareWindows = make(chan []byte, aheadWindows+8)

func newFrameAhead() *frameAhead {
	a := &frameAhead{files: newVideoFiles(), spare: make(chan *frameReq, 4)}
	a.wanted.Store(true)
	return a
}

// start runs the goroutine (the cursor's prefetch starts).
func (a *frameAhead) start() {
	a.reqs = make(chan *frameReq, 4)
	a.out = make(chan frameWin, aheadWindows)
	a.stop = make(chan struct{})
	a.running, a.closed, a.peekOK = true, false, false
	a.wg.Add(1)
	go a.run(a.reqs, a.out, a.stop)
}

// halt stops the goroutine and forgets what it read (a seek, the reader's close):
// after halt, nothing of the old pass is handed out. The producer must be stopped
// after it (its sends give up when stop closes).
func (a *frameAhead) halt() {
	if !a.running {
		return
	}
	close(a.stop)
	a.wg.Wait()
	a.running = false
	for w := range a.out { // closed by the goroutine
		a.giveBack(w.data)
	}
	if a.peekOK {
		a.giveBack(a.peek.data)
	}
	for _, w := range a.wins {
		a.giveBack(w.data)
	}
	a.wins, a.peekOK, a.closed = a.wins[:0], false, true
}

// close closes the goroutine's files (after halt).
func (a *frameAhead) close() error { return a.files.close() }

// add numbers batch l of the frames producer and, when the caller reads frame bytes,
// hands the goroutine its frames (the producer's goroutine, before l reaches the
// cursor).
func (a *frameAhead) add(l *loaded, fc *frameCols) {
	a.serial++
	l.serial = a.serial
	if !a.wanted.Load() {
		return
	}
	req := a.newReq()
	req.serial, req.dir = l.serial, l.file.ref.dir
	b := l.raw
	for k := l.pos; k < len(l.ts); k++ {
		row := l.rowAt(k)
		if l.keep != nil && !l.keep[row] {
			continue
		}
		name := b.bytesAt(fc.file, row)
		ni := slices.IndexFunc(req.names, func(n []byte) bool { return bytes.Equal(n, name) })
		if ni < 0 {
			ni = len(req.names)
			req.names = append(req.names, bytes.Clone(name))
		}
		req.ents = append(req.ents, frameEnt{pos: int32(k), name: int32(ni), size: b.i32(fc.size, row), cam: b.u8(fc.camera, row),
			seq: b.i64(fc.seq, row), off: b.i64(fc.offset, row)})
	}
	l.sent = a.request(req)
	if l.sent {
		a.asked.Add(1)
	}
}

// request hands the goroutine a batch's frames (the producer's goroutine); false when
// the goroutine has stopped.
func (a *frameAhead) request(req *frameReq) bool {
	select {
	case a.reqs <- req:
		return true
	case <-a.stop:
		return false
	}
}

// newReq returns an empty request (a given-back one when there is one).
func (a *frameAhead) newReq() *frameReq {
	select {
	case r := <-a.spare:
		r.names, r.ents = r.names[:0], r.ents[:0]
		return r
	default:
		return &frameReq{}
	}
}

func (a *frameAhead) run(reqs <-chan *frameReq, out chan<- frameWin, stop <-chan struct{}) {
	defer a.wg.Done()
	defer close(out)
	send := func(w frameWin) bool {
		select {
		case out <- w:
			return true
		case <-stop:
			return false
		}
	}
	for {
		var req *frameReq
		select {
		case req = <-reqs:
		case <-stop:
			return
		}
		for _, e := range req.ents {
			vf, dmg := a.files.locate(req.dir, req.names[e.name], e.cam, e.seq, e.off, e.size)
			if dmg != nil {
				continue // FrameData reads it and reports the damage
			}
			if e.off >= vf.aheadOff && e.off+int64(e.size) <= vf.aheadEnd {
				continue // in the window read last
			}
			n := max(int64(aheadWindow), int64(e.size))
			n = min(n, vf.size-e.off)
			buf := a.window(int(n))
			k, _ := vf.f.ReadAt(buf[:n], e.off)
			if k < int(e.size) {
				a.giveBack(buf)
				vf.aheadOff, vf.aheadEnd = 0, 0
				continue
			}
			vf.aheadOff, vf.aheadEnd = e.off, e.off+int64(k)
			a.reads.Add(1)
			if !send(frameWin{serial: req.serial, pos: e.pos, dir: req.dir, name: vf.name, off: e.off, data: buf[:k]}) {
				return
			}
		}
		if !send(frameWin{serial: req.serial, end: true}) {
			return
		}
		select {
		case a.spare <- req:
		default:
		}
	}
}

// window returns a buffer of at least n bytes: a given-back one when it is large
// enough.
func (a *frameAhead) window(n int) []byte {
	select {
	case b := <-spareWindows:
		if cap(b) >= n {
			return b[:cap(b)]
		}
	default:
	}
	return make([]byte, max(n, aheadWindow))
}

func (a *frameAhead) giveBack(b []byte) {
	if cap(b) < aheadWindow || cap(b) > 4*aheadWindow {
		return // a large frame's: not kept
	}
	select {
	case spareWindows <- b:
	default:
	}
}

// next returns the next window or mark without taking it; false once the goroutine
// has stopped and everything it sent was taken. With wait unset it does not block.
func (a *frameAhead) next(wait bool) (frameWin, bool) {
	if a.peekOK {
		return a.peek, true
	}
	if a.closed || !a.running {
		return frameWin{}, false
	}
	var w frameWin
	var ok bool
	if wait {
		w, ok = <-a.out
	} else {
		select {
		case w, ok = <-a.out:
		default:
			return frameWin{}, false
		}
	}
	if !ok {
		a.closed = true
		return frameWin{}, false
	}
	a.peek, a.peekOK = w, true
	return w, true
}

// take consumes the window or mark next returned: a window becomes its file's.
func (a *frameAhead) take() {
	w := a.peek
	a.peek, a.peekOK = frameWin{}, false
	if w.end {
		return
	}
	for i := range a.wins {
		if a.wins[i].name == w.name && a.wins[i].dir == w.dir {
			a.giveBack(a.wins[i].data)
			a.wins[i] = w
			return
		}
	}
	if len(a.wins) > 0 && a.wins[0].dir != w.dir { // a new segment: the old one's files are done
		for _, o := range a.wins {
			a.giveBack(o.data)
		}
		a.wins = a.wins[:0]
	}
	a.wins = append(a.wins, w)
}

// view returns the n bytes at off of video file name in folder dir for the row at
// position pos of batch serial, when a window read ahead holds them; false when the
// caller must read them itself.
func (a *frameAhead) view(dir string, name []byte, off int64, n int, serial int64, pos int32) ([]byte, bool) {
	a.used = true
	for {
		for i := range a.wins {
			w := &a.wins[i]
			if w.dir == dir && w.name == string(name) && off >= w.off && off+int64(n) <= w.off+int64(len(w.data)) {
				k := off - w.off
				a.served++
				return w.data[k : k+int64(n) : k+int64(n)], true
			}
		}
		w, ok := a.next(true)
		if !ok || w.serial > serial || (w.serial == serial && (w.end || w.pos > pos)) {
			return nil, false // not read for this row
		}
		a.take()
	}
}

// done is told that the caller is through with batch serial: what was read for it
// becomes the files' windows without waiting for the goroutine, and when no frame of
// the batch was asked for, the producer stops asking for reads.
func (a *frameAhead) done(serial int64) {
	for {
		w, ok := a.next(false)
		if !ok || w.serial > serial {
			break
		}
		a.take()
	}
	if a.used != a.wanted.Load() {
		a.wanted.Store(a.used)
	}
	a.used = false
}
