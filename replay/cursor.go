package replay

import (
	"encoding/json"
	"math"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"roadlog/schema"
)

// cursor yields one table's rows in t order, across its files, a batch at a time.
type cursor interface {
	table() schema.TableName
	// head returns the t of the next item, false when the cursor is exhausted.
	head() (int64, bool)
	// take returns the next item and moves on; ok is false when the row was left out
	// by a filter (the caller asks head again).
	take() (s schema.Sample, ok bool)
	// seek positions the cursor on the first row with t ≥ t.
	seek(t int64)
	counts() counts
	// halt stops the cursor's prefetch goroutine until the next seek.
	halt()
	close() error
}

// counts are what a cursor delivered.
type counts struct {
	rows   int64 // rows (frames: video frames)
	damage int64 // damage events
	late   int64 // rows delivered after a row with a larger t (late beyond the reorder window)
}

// rowPtr is the pointer type of a table row, which is a Sample.
type rowPtr[R any] interface {
	*R
	schema.Sample
}

// loaded is one decoded batch with rows left to deliver.
type loaded struct {
	rec  arrow.RecordBatch
	ts   []arrow.Timestamp
	perm []int32 // row order by t when the batch is not already in t order; nil otherwise
	pos  int
	file *batchFile
	// prepared per row by the producer (frames: the video frame, or why it could
	// not be read — reported once per file)
	prep    []schema.Sample
	prepErr []*DamageError
	// the rows, read by the producer ([]R by row index), and which the filter keeps
	// (nil: all)
	rows any
	keep []bool
}

func newLoaded(rec arrow.RecordBatch, f *batchFile) *loaded {
	l := &loaded{rec: rec, ts: rec.Column(0).(*array.Timestamp).TimestampValues(), file: f}
	if !slices.IsSorted(l.ts) {
		l.perm = make([]int32, len(l.ts))
		for i := range l.perm {
			l.perm[i] = int32(i)
		}
		sort.SliceStable(l.perm, func(a, b int) bool { return l.ts[l.perm[a]] < l.ts[l.perm[b]] })
	}
	return l
}

func (l *loaded) row() int {
	if l.perm == nil {
		return l.pos
	}
	return int(l.perm[l.pos])
}

func (l *loaded) t() int64    { return int64(l.ts[l.row()]) }
func (l *loaded) done() bool  { return l.pos >= len(l.ts) }
func (l *loaded) release()    { l.rec.Release() }
func (l *loaded) last() int64 { return int64(l.ts[l.rowAt(len(l.ts)-1)]) }

func (l *loaded) rowAt(k int) int {
	if l.perm == nil {
		return k
	}
	return int(l.perm[k])
}

// skipBelow moves past the rows with t < floor.
func (l *loaded) skipBelow(floor int64) {
	l.pos += sort.Search(len(l.ts)-l.pos, func(k int) bool { return int64(l.ts[l.rowAt(l.pos+k)]) >= floor })
}

// slabRows is how many rows are allocated at once: rows handed to the sink are
// carved from a slab so that a sample costs no allocation of its own.
const slabRows = 128

// tableCursor is the cursor of a table with row type R.
type tableCursor[R any, P rowPtr[R]] struct {
	tbl    *schema.Table[R]
	files  []*batchFile
	window int64                                                // reorder window (ns) for files not known to be in t order
	accept func(*R) bool                                        // row filter; nil keeps every row
	emit   func(l *loaded, row int, r *R) (schema.Sample, bool) // turns a row into the sample (frames → video frames); nil: the row itself
	damage func(*DamageError) *schema.Event                     // makes the event that reports damage
	// around each row read: lets a table carve its byte columns out of a shared
	// arena (CAN data) instead of allocating each
	beforeRead, kept func(*R)

	prefetch int           // batches decoded ahead in a goroutine (0: inline)
	prepare  func(*loaded) // runs on each decoded batch, in the producer
	prod     *producer     // the batches from the current position
	pf       *prefetcher   // running prod, when prefetching
	sorted   bool          // the last batch loaded came from a file in t order

	active    []*loaded
	maxLoaded int64
	floor     int64
	lastT     int64
	pending   []*schema.Event // damage to report, oldest first
	slab      []R
	n         counts
	headT     int64
	hasHead   bool
}

func (c *tableCursor[R, P]) table() schema.TableName { return c.tbl.Name }
func (c *tableCursor[R, P]) counts() counts          { return c.n }

func (c *tableCursor[R, P]) head() (int64, bool) { return c.headT, c.hasHead }

func (c *tableCursor[R, P]) updateHead() {
	if len(c.pending) > 0 {
		c.headT, c.hasHead = c.pendingT(), true
		return
	}
	if len(c.active) == 0 {
		c.hasHead = false
		return
	}
	c.headT, c.hasHead = c.active[c.minActive()].t(), true
}

// pendingT is the time damage is reported at: just after the last row delivered
// (so that the stream stays in order), or at the next row when none was delivered yet.
func (c *tableCursor[R, P]) pendingT() int64 {
	if c.lastT != 0 {
		return c.lastT
	}
	if len(c.active) > 0 {
		return c.active[c.minActive()].t()
	}
	return c.floor
}

func (c *tableCursor[R, P]) minActive() int {
	best := 0
	for i := 1; i < len(c.active); i++ {
		if c.active[i].t() < c.active[best].t() {
			best = i
		}
	}
	return best
}

// fill loads batches until the next row is known: one batch at a time for files in
// t order; for others, until the loaded rows reach window past the smallest head, so
// that late rows within the window come out in order.
func (c *tableCursor[R, P]) fill() {
	for {
		if len(c.active) > 0 {
			w := int64(0)
			if !c.sorted {
				w = c.window
			}
			if w == 0 || c.maxLoaded-w >= c.active[c.minActive()].t() {
				return
			}
		}
		if !c.loadNext() {
			return
		}
	}
}

// loadNext takes the next batch from the producer (reporting damage on the way);
// false when there is none.
func (c *tableCursor[R, P]) loadNext() bool {
	if c.prod == nil {
		return false
	}
	for {
		var it item
		var ok bool
		if c.pf != nil {
			it, ok = c.pf.next()
		} else {
			it, ok = c.prod.next()
		}
		if !ok {
			return false
		}
		if it.dmg != nil {
			c.report(it.dmg)
			continue
		}
		l := it.l
		if m := l.last(); len(c.active) == 0 || m > c.maxLoaded {
			c.maxLoaded = m
		}
		c.sorted = l.file.ref.sorted
		c.active = append(c.active, l)
		return true
	}
}

func (c *tableCursor[R, P]) report(d *DamageError) {
	if ev := c.damage(d); ev != nil {
		c.pending = append(c.pending, ev)
	}
}

func (c *tableCursor[R, P]) take() (schema.Sample, bool) {
	if len(c.pending) > 0 {
		ev := c.pending[0]
		ev.T = c.pendingT()
		c.pending = c.pending[1:]
		c.n.damage++
		c.updateHead()
		return ev, true
	}
	if len(c.active) == 0 {
		return nil, false
	}
	k := c.minActive()
	l := c.active[k]
	row := l.row()
	t := l.t()
	var r *R
	var ok bool
	if l.rows != nil { // read by the producer
		r = &l.rows.([]R)[row]
		ok = t >= c.floor && (l.keep == nil || l.keep[row])
	} else {
		if len(c.slab) == 0 {
			c.slab = make([]R, slabRows)
		}
		r = &c.slab[0]
		if c.beforeRead != nil {
			c.beforeRead(r)
		}
		c.tbl.Read(l.rec, row, r)
		ok = t >= c.floor && (c.accept == nil || c.accept(r))
	}
	l.pos++
	if l.done() {
		l.release()
		c.active = slices.Delete(c.active, k, k+1)
	}
	var out schema.Sample
	if ok {
		if t < c.lastT {
			c.n.late++
		}
		c.lastT = t
		switch {
		case c.emit != nil:
			out, ok = c.emit(l, row, r)
		case l.rows != nil:
			out = P(r)
		default:
			out = P(r)
			c.slab = c.slab[1:]
			if c.kept != nil {
				c.kept(r)
			}
		}
		if ok {
			c.n.rows++
		}
	}
	c.fill()
	c.updateHead()
	return out, ok
}

// materialize reads a batch's rows (from its position on) in the producer, so that
// the merge only hands them out: decoding rows runs beside the merge on another core.
func (c *tableCursor[R, P]) materialize(l *loaded) {
	rows := make([]R, len(l.ts))
	var keep []bool
	if c.accept != nil {
		keep = make([]bool, len(l.ts))
	}
	for k := l.pos; k < len(l.ts); k++ {
		row := l.rowAt(k)
		r := &rows[row]
		if c.beforeRead != nil {
			c.beforeRead(r)
		}
		c.tbl.Read(l.rec, row, r)
		if keep != nil {
			if keep[row] = c.accept(r); !keep[row] {
				continue
			}
		}
		if c.kept != nil {
			c.kept(r)
		}
	}
	l.rows, l.keep = rows, keep
}

func (c *tableCursor[R, P]) seek(t int64) {
	c.halt()
	for _, l := range c.active {
		l.release()
	}
	c.active, c.pending, c.lastT, c.floor = c.active[:0], nil, 0, t
	for _, f := range c.files {
		f.reported, f.nextDamage = false, 0
	}
	p := &producer{files: c.files, floor: t, prepare: c.prepare}
	if p.prepare == nil {
		p.prepare = c.materialize
	}
	p.fi = c.findFile(t)
	if p.fi < len(c.files) {
		f := c.files[p.fi]
		p.bi = c.findBatch(f, t)
		if p.bi > 0 { // damage before the seek point is not on the way
			off := int64(math.MaxInt64)
			if p.bi < len(f.blocks) {
				off = f.blocks[p.bi].offset
			}
			for f.nextDamage < len(f.damage) && f.damage[f.nextDamage].Offset < off {
				f.nextDamage++
			}
		}
	}
	c.prod = p
	if c.prefetch > 0 {
		c.pf = startPrefetch(p, c.prefetch)
	}
	c.fill()
	c.updateHead()
}

// halt stops the prefetch goroutine, if any: the files are the cursor's again.
func (c *tableCursor[R, P]) halt() {
	if c.pf != nil {
		c.pf.halt()
		c.pf = nil
	}
}

// fileFirstT returns the first t of file i (from the manifest when it says), false
// for a file with no readable rows.
func (c *tableCursor[R, P]) fileFirstT(i int) (int64, bool) {
	f := c.files[i]
	if f.ref.firstT != 0 && f.ref.sorted {
		return f.ref.firstT, true
	}
	f.open()
	if f.openErr != nil {
		return 0, false
	}
	if !f.ref.sorted {
		var min int64
		found := false
		for b := 0; b < f.numBatches(); b++ {
			if bd, ok := f.boundsOf(b); ok && bd.rows > 0 && (!found || bd.min < min) {
				min, found = bd.min, true
			}
		}
		return min, found
	}
	for b := 0; b < f.numBatches(); b++ {
		if bd, ok := f.boundsOf(b); ok && bd.rows > 0 {
			return bd.min, true
		}
	}
	return 0, false
}

// findFile returns the last file whose first row is at or before t (0 if none).
func (c *tableCursor[R, P]) findFile(t int64) int {
	if t == 0 {
		return 0
	}
	lo, hi := 0, len(c.files) // invariant: files before lo start ≤ t; files from hi start > t
	for lo < hi {
		mid := (lo + hi) / 2
		// an empty file stands for the next non-empty one
		j := mid
		ft, ok := c.fileFirstT(j)
		for !ok && j+1 < hi {
			j++
			ft, ok = c.fileFirstT(j)
		}
		if !ok {
			hi = mid
			continue
		}
		if ft <= t {
			lo = j + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0
	}
	return lo - 1
}

// findBatch returns the first batch of f that may hold rows with t ≥ t.
func (c *tableCursor[R, P]) findBatch(f *batchFile, t int64) int {
	if t == 0 || (f.ref.sorted && f.ref.firstT != 0 && t <= f.ref.firstT) {
		return 0 // the start: nothing to search (and nothing to decode twice)
	}
	f.open()
	n := f.numBatches()
	reaches := func(i int) bool {
		bd, ok := f.boundsOf(i)
		return ok && bd.rows > 0 && bd.max >= t
	}
	if !f.ref.sorted {
		for i := 0; i < n; i++ {
			if reaches(i) {
				return i
			}
		}
		return n
	}
	k := sort.Search(n, reaches)
	// a batch that does not decode reads as "before t" to the search: step back over
	// such batches, and over any that do reach t, so that no row at or after t is lost.
	for k > 0 {
		bd, ok := f.boundsOf(k - 1)
		if ok && (bd.rows == 0 || bd.max < t) {
			break
		}
		k--
	}
	return k
}

func (c *tableCursor[R, P]) close() error {
	c.halt()
	for _, l := range c.active {
		l.release()
	}
	c.active = nil
	var err error
	for _, f := range c.files {
		if e := f.close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// damageEvent builds the event replay inserts where it skipped damage.
func damageEvent(table schema.TableName, d *DamageError) *schema.Event {
	ev := schema.NewEvent(0, schema.EvReplayDamage, schema.SevWarn, string(table), "replay skipped damage: "+d.Error())
	detail := map[string]any{"file": d.Path}
	if d.Batch >= 0 {
		detail["batch"] = d.Batch
	}
	if d.Offset >= 0 {
		detail["offset"] = d.Offset
	}
	b, _ := json.Marshal(detail)
	ev.Detail = string(b)
	ev.Value = math.NaN()
	return ev
}
