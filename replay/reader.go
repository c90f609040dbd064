package replay

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

// Options select what a Reader delivers. The zero value delivers every table and
// camera of the live run, with video payloads, from start to end.
type Options struct {
	Tables   []schema.TableName // tables to deliver (nil: all); frames stands for the cameras
	Cameras  []uint8            // frames, objects and truth rows of these cameras only (nil: all)
	CANBuses []string           // CAN rows of these buses only (nil: all)
	CANIDs   []uint32           // CAN rows with these identifiers only (nil: all)
	From, To int64              // reference-time range, inclusive (0: open end)

	// NoVideoData delivers frames as *schema.Frame rows without reading the video
	// files; by default they come as *schema.VideoFrame with their bytes.
	NoVideoData bool
	// Run takes objects, targets and events from runs/<Run>/ instead of the live
	// ones ("" or LiveRun: live).
	Run string
	// ReorderWindow is how far rows of a file not known to be in t order (a segment
	// still being written or left by a crash) may be late and still come out in
	// order (default 2 s).
	ReorderWindow time.Duration
	// Prefetch is how many record batches of each table are decoded ahead by a
	// goroutine of that table (default 2 where the process may use two CPUs or
	// more, else none; negative: none, everything is decoded in the caller's
	// goroutine). The goroutines start with the first Next or NextRow; opening and
	// seeking decode the tables' first batches in parallel too. Close stops them.
	Prefetch int
}

// ErrBadOptions reports reader options that cannot be satisfied.
var ErrBadOptions = errors.New("invalid replay options")

// Stats count what a Reader delivered.
type Stats struct {
	Rows       map[schema.TableName]int64 // samples per table since the reader opened (frames: video frames)
	Damage     int64                      // EvReplayDamage events inserted
	OutOfOrder int64                      // rows late beyond the reorder window, delivered late
	T          int64                      // t of the last sample
}

// Reader delivers a drive's samples in reference-time order: a k-way merge over one
// cursor per table, each reading a batch at a time. Ties between tables go in the
// order of schema.Tables; within a table, file order. Not safe for concurrent use.
//
// Next hands out each row as a Go value (a sample, the caller's); NextRow hands out
// a reference to the row in its decoded batch (every column decompressed and
// checked), and builds no Go value unless the consumer asks for one.
type Reader struct {
	d      *Drive
	opts   Options
	curs   []*cursor
	heap   []head      // the cursors with rows left, a min-heap on (t, index)
	bound  head        // the smallest head of the heap's other cursors (none: math.MaxInt64)
	video  *videoFiles // read by the producers (Next decodes frames ahead)
	now    *videoFiles // read by the caller's goroutine (NextRow, and frames not decoded ahead)
	ahead  atomic.Bool // producers decode samples ahead: the reader is read with Next
	async  bool        // producers run in prefetch goroutines
	frames *frameIndex // for SeekFrame, built on first use
	t      int64       // of the last sample
	row    Row         // what NextRow returned last
	held   *loaded     // the batch of that row, once the cursor is done with it
}

// head is a cursor's next t, in the merge's heap.
type head struct {
	t int64
	i int
}

// NewReader opens a merged reader over the drive, positioned at opts.From.
func (d *Drive) NewReader(opts Options) (*Reader, error) {
	if opts.From != 0 && opts.To != 0 && opts.To < opts.From {
		return nil, fmt.Errorf("%w: range ends (%d) before it starts (%d)", ErrBadOptions, opts.To, opts.From)
	}
	if opts.ReorderWindow == 0 {
		opts.ReorderWindow = 2 * time.Second
	}
	switch {
	case opts.Prefetch == 0 && runtime.GOMAXPROCS(0) > 1:
		opts.Prefetch = 2
	case opts.Prefetch < 0:
		opts.Prefetch = 0
	}
	for _, t := range opts.Tables {
		if _, ok := schema.Lookup(t); !ok {
			return nil, fmt.Errorf("%w: unknown table %q", ErrBadOptions, t)
		}
	}
	// samples are decoded ahead once Next is called: until then (and after NextRow)
	// the producers decode batches, not rows
	r := &Reader{d: d, opts: opts, video: newVideoFiles(), now: newVideoFiles()}
	for _, t := range schema.Tables() {
		name := t.TableName()
		if opts.Tables != nil && !slices.Contains(opts.Tables, name) {
			continue
		}
		refs, err := d.tableFiles(name, opts.Run)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		files := make([]*batchFile, len(refs))
		for i, ref := range refs {
			files[i] = &batchFile{ref: ref}
		}
		r.curs = append(r.curs, r.newCursor(name, files))
	}
	r.SeekTime(opts.From)
	return r, nil
}

// colIndex returns the index of a table's column.
func colIndex(sch *arrow.Schema, name string) int {
	if i := sch.FieldIndices(name); len(i) > 0 {
		return i[0]
	}
	panic("replay: no column " + name) // schema and replay disagree: a programming error
}

func (r *Reader) newCursor(name schema.TableName, files []*batchFile) *cursor {
	c := &cursor{name: name, files: files, window: int64(r.opts.ReorderWindow), prefetch: r.opts.Prefetch,
		ahead: &r.ahead, async: &r.async, pool: newBatchPool(name, r.opts.Prefetch+2), reported: map[string]bool{},
		damage: func(d *DamageError) *schema.Event { return DamageEvent(name, 0, d) }}
	c.dec.table = name
	cams := r.opts.Cameras
	camera := func(sch *arrow.Schema, none uint8, hasNone bool) func(*rawBatch, int) bool {
		if cams == nil {
			return nil
		}
		k := colIndex(sch, "camera")
		return func(b *rawBatch, i int) bool {
			cam := b.u8(k, i)
			return (hasNone && cam == none) || slices.Contains(cams, cam)
		}
	}
	switch name {
	case schema.TableCAN:
		c.sch = schema.CANTable.Schema()
		rows := &tableRows[schema.CAN, *schema.CAN]{tbl: schema.CANTable, sch: c.sch}
		carveCAN(rows)
		c.rows = rows
		if buses, ids := r.opts.CANBuses, r.opts.CANIDs; buses != nil || ids != nil {
			kb, ki := colIndex(c.sch, "bus"), colIndex(c.sch, "id")
			c.filter = func(b *rawBatch, i int) bool {
				if ids != nil && !slices.Contains(ids, b.u32(ki, i)) {
					return false
				}
				if buses == nil {
					return true
				}
				bus := b.bytesAt(kb, i)
				for _, want := range buses {
					if string(bus) == want {
						return true
					}
				}
				return false
			}
		}
	case schema.TableGNSS:
		c.sch = schema.GNSSTable.Schema()
		c.rows = &tableRows[schema.GNSS, *schema.GNSS]{tbl: schema.GNSSTable, sch: c.sch}
	case schema.TableIMU:
		c.sch = schema.IMUTable.Schema()
		c.rows = &tableRows[schema.IMU, *schema.IMU]{tbl: schema.IMUTable, sch: c.sch}
	case schema.TableEgo:
		c.sch = schema.EgoTable.Schema()
		c.rows = &tableRows[schema.Ego, *schema.Ego]{tbl: schema.EgoTable, sch: c.sch}
	case schema.TableFrames:
		c.sch = schema.FramesTable.Schema()
		rows := &tableRows[schema.Frame, *schema.Frame]{tbl: schema.FramesTable, sch: c.sch}
		c.rows = rows
		if !r.opts.NoVideoData {
			c.rows = &videoRows{frames: rows, ahead: r.video, now: r.now}
		}
		c.frame = &frameCols{camera: colIndex(c.sch, "camera"), seq: colIndex(c.sch, "seq"), file: colIndex(c.sch, "file"),
			offset: colIndex(c.sch, "offset"), size: colIndex(c.sch, "size")}
		if !r.opts.NoVideoData && r.opts.Prefetch > 0 {
			c.fa = newFrameAhead()
		}
		c.filter = camera(c.sch, 0, false)
	case schema.TableObjects:
		c.sch = schema.ObjectsTable.Schema()
		c.rows = &tableRows[schema.Object, *schema.Object]{tbl: schema.ObjectsTable, sch: c.sch}
		c.filter = camera(c.sch, 0, false)
	case schema.TableTargets:
		c.sch = schema.TargetsTable.Schema()
		c.rows = &tableRows[schema.Target, *schema.Target]{tbl: schema.TargetsTable, sch: c.sch}
	case schema.TableEvents:
		c.sch = schema.EventsTable.Schema()
		c.rows = &tableRows[schema.Event, *schema.Event]{tbl: schema.EventsTable, sch: c.sch}
	case schema.TableTruth:
		c.sch = schema.TruthTable.Schema()
		c.rows = &tableRows[schema.Truth, *schema.Truth]{tbl: schema.TruthTable, sch: c.sch}
		c.filter = camera(c.sch, schema.TruthNoCamera, true)
	case schema.TableSync:
		c.sch = schema.SyncTable.Schema()
		c.rows = &tableRows[schema.SyncRow, *schema.SyncRow]{tbl: schema.SyncTable, sch: c.sch}
	default:
		panic("replay: no cursor for table " + string(name)) // schema.Tables and this switch disagree: a programming error
	}
	for _, f := range files {
		f.want = c.sch
	}
	return c
}

// Next returns the next sample: a row of a table (*schema.CAN, *schema.GNSS, …), a
// *schema.VideoFrame for a camera frame (a *schema.Frame with NoVideoData), or a
// *schema.Event with code EvReplayDamage where replay skipped damage. It returns
// io.EOF after the last sample (or past To). The sample is the caller's.
func (r *Reader) Next() (schema.Sample, error) {
	r.release()
	if !r.ahead.Load() {
		r.ahead.Store(true)
	}
	r.goAsync()
	for len(r.heap) > 0 {
		h := r.heap[0]
		if r.opts.To != 0 && h.t > r.opts.To {
			r.heap = r.heap[:0]
			break
		}
		c := r.curs[h.i]
		s, ok := c.take()
		r.fix(c)
		if !ok {
			continue
		}
		r.t = h.t
		return s, nil
	}
	return nil, io.EOF
}

// goAsync starts the cursors' prefetch goroutines, once.
func (r *Reader) goAsync() {
	if r.async {
		return
	}
	r.async = true
	for _, c := range r.curs {
		c.startPrefetch()
	}
}

// fix puts the heap's top cursor, just advanced, back in place. While its new head
// still comes before every other cursor's (bound), it stays on top without a sift:
// a run of rows of one table costs one comparison per row.
func (r *Reader) fix(c *cursor) {
	if !c.hasHead {
		r.pop()
		r.setBound()
		return
	}
	top := &r.heap[0]
	top.t = c.headT
	if top.t < r.bound.t || (top.t == r.bound.t && top.i < r.bound.i) {
		return
	}
	r.down(0)
	r.setBound()
}

// setBound finds the smallest head after the top's (the smaller child of the root).
func (r *Reader) setBound() {
	r.bound = head{math.MaxInt64, math.MaxInt}
	switch n := len(r.heap); {
	case n == 2 || (n > 2 && r.less(1, 2)):
		r.bound = r.heap[1]
	case n > 2:
		r.bound = r.heap[2]
	}
}

// release lets go of the batch of the row NextRow returned last.
func (r *Reader) release() {
	if r.held != nil {
		r.row.c.doneWith(r.held)
		r.held.release()
		r.held, r.row.l = nil, nil
	}
}

// SeekTime positions every cursor on its first row with t ≥ t (t below the drive's start
// or 0: the beginning), within the reader's range.
func (r *Reader) SeekTime(t int64) {
	if t < r.opts.From {
		t = r.opts.From
	}
	r.release()
	r.row.l, r.row.ev = nil, nil // the cursors release their batches
	for _, c := range r.curs {
		c.halt() // the frames producer reads video files in its goroutine
	}
	r.video.rewind()
	r.now.rewind()
	r.heap = r.heap[:0]
	r.seekAll(t)
	for i, c := range r.curs {
		if c.hasHead {
			r.heap = append(r.heap, head{c.headT, i})
		}
	}
	for i := len(r.heap)/2 - 1; i >= 0; i-- {
		r.down(i)
	}
	r.setBound()
}

// seekAll seeks every cursor to t. A seek decodes each table's first batch(es), and
// the cursors share nothing while they do (each has its files, decoder and arenas;
// only the frames cursor reads video), so with prefetch on they seek in parallel, as
// many at a time as there are CPUs: opening a drive whose segments were compacted
// into a batch or two per table is nearly all decoding.
func (r *Reader) seekAll(t int64) {
	workers := min(runtime.GOMAXPROCS(0), len(r.curs))
	if r.opts.Prefetch == 0 || workers < 2 {
		for _, c := range r.curs {
			c.seek(t)
		}
		return
	}
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(r.curs) {
					return
				}
				r.curs[i].seek(t)
			}
		})
	}
	wg.Wait()
}

// Stats returns what the reader delivered so far.
func (r *Reader) Stats() Stats {
	s := Stats{Rows: map[schema.TableName]int64{}, T: r.t}
	for _, c := range r.curs {
		s.Rows[c.name] += c.n.rows
		s.Damage += c.n.damage
		s.OutOfOrder += c.n.late
	}
	return s
}

// Drive returns the drive being read.
func (r *Reader) Drive() *Drive { return r.d }

// Options returns the reader's options (with defaults filled in).
func (r *Reader) Options() Options { return r.opts }

// Close releases every batch and file.
func (r *Reader) Close() error {
	r.release()
	r.row.l, r.row.ev = nil, nil
	var err error
	for _, c := range r.curs {
		err = errors.Join(err, c.close())
	}
	r.curs, r.heap = nil, nil
	if r.frames != nil {
		r.frames.close()
		r.frames = nil
	}
	return errors.Join(err, r.video.close(), r.now.close())
}

func (r *Reader) less(a, b int) bool {
	ha, hb := r.heap[a], r.heap[b]
	return ha.t < hb.t || (ha.t == hb.t && ha.i < hb.i)
}

func (r *Reader) down(i int) {
	n := len(r.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if rr := l + 1; rr < n && r.less(rr, l) {
			m = rr
		}
		if !r.less(m, i) {
			return
		}
		r.heap[i], r.heap[m] = r.heap[m], r.heap[i]
		i = m
	}
}

func (r *Reader) pop() {
	n := len(r.heap) - 1
	r.heap[0] = r.heap[n]
	r.heap = r.heap[:n]
	if n > 0 {
		r.down(0)
	}
}
