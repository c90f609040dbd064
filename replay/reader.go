package replay

import (
	"errors"
	"fmt"
	"io"
	"slices"
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
	// goroutine of that table (default 2; negative: none, everything is decoded in
	// Next). Close stops the goroutines.
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
type Reader struct {
	d      *Drive
	opts   Options
	curs   []cursor
	heap   []int // indices into curs, a min-heap on (head t, index)
	video  *videoFiles
	frames *frameIndex // for SeekFrame, built on first use
	t      int64       // of the last sample
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
	case opts.Prefetch == 0:
		opts.Prefetch = 2
	case opts.Prefetch < 0:
		opts.Prefetch = 0
	}
	for _, t := range opts.Tables {
		if _, ok := schema.Lookup(t); !ok {
			return nil, fmt.Errorf("%w: unknown table %q", ErrBadOptions, t)
		}
	}
	r := &Reader{d: d, opts: opts, video: newVideoFiles()}
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

func (r *Reader) newCursor(name schema.TableName, files []*batchFile) cursor {
	w := int64(r.opts.ReorderWindow)
	pf := r.opts.Prefetch
	dmg := func(d *DamageError) *schema.Event { return damageEvent(name, d) }
	cams := r.opts.Cameras
	checkAll := func(want *arrow.Schema) {
		for _, f := range files {
			f.want = want
		}
	}
	switch name {
	case schema.TableCAN:
		checkAll(schema.CANTable.Schema())
		c := &tableCursor[schema.CAN, *schema.CAN]{tbl: schema.CANTable, files: files, window: w, damage: dmg, prefetch: pf}
		// payloads (0–64 bytes) go into a shared arena: the read appends into the
		// arena's free tail, and a kept row's bytes are cut off it (capped, so the
		// consumer's appends cannot reach the next row's)
		var arena []byte
		c.beforeRead = func(f *schema.CAN) {
			if cap(arena)-len(arena) < 64 {
				arena = make([]byte, 0, 16<<10)
			}
			f.Data = arena[len(arena):len(arena):cap(arena)]
		}
		c.kept = func(f *schema.CAN) {
			n := len(f.Data)
			switch {
			case n == 0:
				f.Data = nil
			case len(arena)+n <= cap(arena) && &arena[:len(arena)+n][len(arena)] == &f.Data[0]:
				arena = arena[:len(arena)+n]
				f.Data = f.Data[:n:n]
			}
		}
		if r.opts.CANBuses != nil || r.opts.CANIDs != nil {
			buses, ids := r.opts.CANBuses, r.opts.CANIDs
			c.accept = func(f *schema.CAN) bool {
				return (buses == nil || slices.Contains(buses, f.Bus)) && (ids == nil || slices.Contains(ids, f.ID))
			}
		}
		return c
	case schema.TableGNSS:
		checkAll(schema.GNSSTable.Schema())
		return &tableCursor[schema.GNSS, *schema.GNSS]{tbl: schema.GNSSTable, files: files, window: w, damage: dmg, prefetch: pf}
	case schema.TableIMU:
		checkAll(schema.IMUTable.Schema())
		return &tableCursor[schema.IMU, *schema.IMU]{tbl: schema.IMUTable, files: files, window: w, damage: dmg, prefetch: pf}
	case schema.TableEgo:
		checkAll(schema.EgoTable.Schema())
		return &tableCursor[schema.Ego, *schema.Ego]{tbl: schema.EgoTable, files: files, window: w, damage: dmg, prefetch: pf}
	case schema.TableFrames:
		checkAll(schema.FramesTable.Schema())
		c := &tableCursor[schema.Frame, *schema.Frame]{tbl: schema.FramesTable, files: files, window: w, damage: dmg, prefetch: pf}
		if cams != nil {
			c.accept = func(f *schema.Frame) bool { return slices.Contains(cams, f.Camera) }
		}
		if !r.opts.NoVideoData {
			// the producer (a prefetch goroutine) reads each batch's frames from the
			// video files; take hands them out
			c.prepare = func(l *loaded) {
				l.prep = make([]schema.Sample, len(l.ts))
				l.prepErr = make([]*DamageError, len(l.ts))
				var f schema.Frame
				for k := l.pos; k < len(l.ts); k++ {
					row := l.rowAt(k)
					schema.FramesTable.Read(l.rec, row, &f)
					if cams != nil && !slices.Contains(cams, f.Camera) {
						continue
					}
					vf, file, err := r.video.frame(l.file.ref.dir, &f)
					if err != nil {
						if !file.reported {
							file.reported = true
							l.prepErr[row] = err.(*DamageError)
						}
						continue
					}
					l.prep[row] = vf
				}
			}
			c.emit = func(l *loaded, row int, _ *schema.Frame) (schema.Sample, bool) {
				if d := l.prepErr[row]; d != nil {
					c.report(d)
				}
				if vf := l.prep[row]; vf != nil {
					return vf, true
				}
				return nil, false
			}
		}
		return c
	case schema.TableObjects:
		checkAll(schema.ObjectsTable.Schema())
		c := &tableCursor[schema.Object, *schema.Object]{tbl: schema.ObjectsTable, files: files, window: w, damage: dmg, prefetch: pf}
		if cams != nil {
			c.accept = func(o *schema.Object) bool { return slices.Contains(cams, o.Camera) }
		}
		return c
	case schema.TableTargets:
		checkAll(schema.TargetsTable.Schema())
		return &tableCursor[schema.Target, *schema.Target]{tbl: schema.TargetsTable, files: files, window: w, damage: dmg, prefetch: pf}
	case schema.TableEvents:
		checkAll(schema.EventsTable.Schema())
		return &tableCursor[schema.Event, *schema.Event]{tbl: schema.EventsTable, files: files, window: w, damage: dmg, prefetch: pf}
	case schema.TableTruth:
		checkAll(schema.TruthTable.Schema())
		c := &tableCursor[schema.Truth, *schema.Truth]{tbl: schema.TruthTable, files: files, window: w, damage: dmg, prefetch: pf}
		if cams != nil {
			c.accept = func(o *schema.Truth) bool { return o.Camera == schema.TruthNoCamera || slices.Contains(cams, o.Camera) }
		}
		return c
	case schema.TableSync:
		checkAll(schema.SyncTable.Schema())
		return &tableCursor[schema.SyncRow, *schema.SyncRow]{tbl: schema.SyncTable, files: files, window: w, damage: dmg, prefetch: pf}
	}
	panic("replay: no cursor for table " + string(name)) // schema.Tables and this switch disagree: a programming error
}

// Next returns the next sample: a row of a table (*schema.CAN, *schema.GNSS, …), a
// *schema.VideoFrame for a camera frame (a *schema.Frame with NoVideoData), or a
// *schema.Event with code EvReplayDamage where replay skipped damage. It returns
// io.EOF after the last sample (or past To). The sample is the caller's.
func (r *Reader) Next() (schema.Sample, error) {
	for len(r.heap) > 0 {
		c := r.curs[r.heap[0]]
		t, _ := c.head()
		if r.opts.To != 0 && t > r.opts.To {
			r.heap = r.heap[:0]
			break
		}
		s, ok := c.take()
		if _, more := c.head(); more {
			r.down(0)
		} else {
			r.pop()
		}
		if !ok {
			continue
		}
		r.t = t
		return s, nil
	}
	return nil, io.EOF
}

// SeekTime positions every cursor on its first row with t ≥ t (t below the drive's start
// or 0: the beginning), within the reader's range.
func (r *Reader) SeekTime(t int64) {
	if t < r.opts.From {
		t = r.opts.From
	}
	for _, c := range r.curs {
		c.halt() // the frames producer reads video files in its goroutine
	}
	r.video.rewind()
	r.heap = r.heap[:0]
	for i, c := range r.curs {
		c.seek(t)
		if _, ok := c.head(); ok {
			r.heap = append(r.heap, i)
		}
	}
	for i := len(r.heap)/2 - 1; i >= 0; i-- {
		r.down(i)
	}
}

// Stats returns what the reader delivered so far.
func (r *Reader) Stats() Stats {
	s := Stats{Rows: map[schema.TableName]int64{}, T: r.t}
	for _, c := range r.curs {
		n := c.counts()
		s.Rows[c.table()] += n.rows
		s.Damage += n.damage
		s.OutOfOrder += n.late
	}
	return s
}

// Drive returns the drive being read.
func (r *Reader) Drive() *Drive { return r.d }

// Options returns the reader's options (with defaults filled in).
func (r *Reader) Options() Options { return r.opts }

// Close releases every batch and file.
func (r *Reader) Close() error {
	var err error
	for _, c := range r.curs {
		err = errors.Join(err, c.close())
	}
	r.curs, r.heap = nil, nil
	if r.frames != nil {
		r.frames.close()
		r.frames = nil
	}
	return errors.Join(err, r.video.close())
}

func (r *Reader) less(a, b int) bool {
	ta, _ := r.curs[r.heap[a]].head()
	tb, _ := r.curs[r.heap[b]].head()
	if ta != tb {
		return ta < tb
	}
	return r.heap[a] < r.heap[b]
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
