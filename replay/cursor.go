package replay

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

// counts are what a cursor delivered.
type counts struct {
	rows   int64 // rows (frames: video frames)
	damage int64 // damage events
	late   int64 // rows delivered after a row with a larger t (late beyond the reorder window)
}

// loaded is one decoded batch with rows left to deliver.
type loaded struct {
	raw  *rawBatch
	rec  arrow.RecordBatch // built on first use (record)
	ts   []int64
	perm []int32 // row order by t when the batch is not already in t order; nil otherwise
	pos  int
	file *batchFile
	keep []bool // rows the filter keeps (nil: all)
	// escaped: something built from the arena (an arrow record, a row's strings)
	// may outlive the batch, so the arena is not reused
	escaped bool
	pool    batchPool
	// prepared by the producer when samples are decoded ahead: the rows ([]R by row
	// index), or for frames the video frames and why one could not be read
	rows    any
	prep    []schema.Sample
	prepErr []*DamageError
	// the frames cursor's, with frames read ahead: the batch's number, and whether its
	// frames were handed to the reading goroutine
	serial int64
	sent   bool
}

func newLoaded(raw *rawBatch, f *batchFile, pool batchPool) *loaded {
	l := &loaded{raw: raw, ts: raw.ts, file: f, pool: pool}
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

func (l *loaded) t() int64    { return l.ts[l.row()] }
func (l *loaded) done() bool  { return l.pos >= len(l.ts) }
func (l *loaded) last() int64 { return l.ts[l.rowAt(len(l.ts)-1)] }

func (l *loaded) rowAt(k int) int {
	if l.perm == nil {
		return k
	}
	return int(l.perm[k])
}

// record returns the batch as an arrow record (built once); the arena then stays
// with the batch.
func (l *loaded) record(sch *arrow.Schema) arrow.RecordBatch {
	if l.rec == nil {
		l.rec = l.raw.record(sch)
		l.escaped = true
	}
	return l.rec
}

// release gives the arena back for the next batch, unless something built from it
// may still be in use.
func (l *loaded) release() {
	if l.rec != nil {
		l.rec.Release()
		l.rec = nil
	}
	if !l.escaped && l.raw != nil {
		l.pool.put(l.raw)
	}
	l.raw = nil
}

// skipBelow moves past the rows with t < floor.
func (l *loaded) skipBelow(floor int64) {
	l.pos += sort.Search(len(l.ts)-l.pos, func(k int) bool { return l.ts[l.rowAt(l.pos+k)] >= floor })
}

// batchPool keeps the raw batches (arenas) of released batches for the next ones;
// it is shared by a cursor and its producer goroutine. Past its capacity, and when
// the cursor closes, their arenas go to the table's spares, for the next reader.
type batchPool struct {
	ch    chan *rawBatch
	arena *arenaSource
}

// arenaSource is where a cursor's batches take a new arena: a spare of the table's
// that fits, or a new one sized for the cursor's largest batch so far.
type arenaSource struct {
	spare  *spareList[[]byte]
	sizing atomic.Int64 // the largest arena one of the cursor's batches needed
}

// spareArenas holds, per table, arenas that no reader uses: a reader opened after
// another one closed decodes into them instead of allocating (and zeroing)
// megabytes anew. Per table, because arenas come in the sizes of their table's
// batches. (Not sync.Pools: a collection empties those, and a reader's own garbage
// starts one about every pass over a short drive.)
var spareArenas sync.Map // schema.TableName → *spareList[[]byte]

func newBatchPool(table schema.TableName, n int) batchPool {
	sp, ok := spareArenas.Load(table)
	if !ok {
		sp, _ = spareArenas.LoadOrStore(table, &spareList[[]byte]{size: func(b []byte) int { return cap(b) }})
	}
	return batchPool{ch: make(chan *rawBatch, n), arena: &arenaSource{spare: sp.(*spareList[[]byte])}}
}

func (p batchPool) get() *rawBatch {
	select {
	case b := <-p.ch:
		return b
	default:
		return &rawBatch{src: p.arena}
	}
}

func (p batchPool) put(b *rawBatch) {
	select {
	case p.ch <- b:
	default:
		p.giveBack(b)
	}
}

// drain hands the pool's arenas to the spares.
func (p batchPool) drain() {
	for {
		select {
		case b := <-p.ch:
			p.giveBack(b)
		default:
			return
		}
	}
}

func (p batchPool) giveBack(b *rawBatch) {
	if cap(b.arena) > 0 {
		p.arena.spare.put(b.arena[:0])
	}
	b.arena = nil
}

// newArena gives b an arena for a batch of total bytes, at most 2*total+arenaSlack:
// a fitting spare, or a new one (an eighth more than total, or what the cursor's
// largest batch needed, within that bound). The arena b had goes to the spares.
func (a *arenaSource) newArena(b *rawBatch, total int) {
	lo, hi := total, 2*total+arenaSlack
	if cap(b.arena) > 0 {
		a.spare.put(b.arena[:0])
	}
	if s, ok := a.spare.getFit(lo, hi); ok {
		b.arena = s
		return
	}
	n := total + total/8
	for {
		m := a.sizing.Load()
		if int64(n) <= m {
			n = min(int(m), hi)
			break
		}
		if a.sizing.CompareAndSwap(m, int64(n)) {
			break
		}
	}
	b.arena = make([]byte, 0, n)
}

// arenaSlack is how much larger than twice its batch an arena may be and still be
// used for it: what a consumer keeps of a batch (samples alias its strings, records
// its buffers) keeps all of its arena.
const arenaSlack = 256 << 10

// spareBytes bounds the bytes all spare lists hold together.
const spareBytes = 64 << 20

// sparesHeld is the bytes all spare lists hold.
var sparesHeld atomic.Int64

// spareList keeps a few released buffers for the next user, sorted by size, within
// spareBytes over all lists.
type spareList[T any] struct {
	mu    sync.Mutex
	items []T // smallest first
	size  func(T) int
}

// spareListLen is how many buffers one list keeps.
const spareListLen = 8

// get takes the largest item (a decoder's read-ahead window: the largest serves every
// file).
func (s *spareList[T]) get() (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) == 0 {
		var zero T
		return zero, false
	}
	return s.take(len(s.items) - 1), true
}

// getFit takes the smallest item whose size is within [lo, hi].
func (s *spareList[T]) getFit(lo, hi int) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.search(lo)
	if i == len(s.items) || s.size(s.items[i]) > hi {
		var zero T
		return zero, false
	}
	return s.take(i), true
}

// put keeps it, in place of the smallest item when the list is full and it is larger
// (the list keeps what fits the most batches); else it is left to the collector.
func (s *spareList[T]) put(it T) {
	n := int64(s.size(it))
	s.mu.Lock()
	defer s.mu.Unlock()
	held := sparesHeld.Load()
	if len(s.items) >= spareListLen {
		m := int64(s.size(s.items[0]))
		if n <= m || held-m+n > spareBytes {
			return
		}
		s.take(0)
	} else if held+n > spareBytes {
		return
	}
	sparesHeld.Add(n)
	s.items = slices.Insert(s.items, s.search(int(n)), it)
}

// search returns the index of the first item of at least n bytes (s.mu held).
func (s *spareList[T]) search(n int) int {
	i, _ := slices.BinarySearchFunc(s.items, n, func(it T, n int) int { return s.size(it) - n })
	return i
}

// take removes item i and returns it (s.mu held).
func (s *spareList[T]) take(i int) T {
	it := s.items[i]
	s.items = slices.Delete(s.items, i, i+1)
	sparesHeld.Add(-int64(s.size(it)))
	return it
}

// rowSource turns the rows of one table into samples.
type rowSource interface {
	// prepare runs in the producer on each batch when samples are decoded ahead
	// (Next): rows decoded, frames read from the video.
	prepare(l *loaded)
	// sample returns row's sample, prepared or decoded now; damage is why a frame's
	// bytes cannot be read (no sample then). Decoding marks the batch escaped.
	sample(l *loaded, row int) (schema.Sample, *DamageError)
}

// cursor yields one table's rows in t order, across its files, a batch at a time.
type cursor struct {
	name   schema.TableName
	sch    *arrow.Schema
	files  []*batchFile
	window int64                            // reorder window (ns) for files not known to be in t order
	filter func(*rawBatch, int) bool        // rows to deliver (nil: all)
	rows   rowSource                        // samples of rows
	damage func(*DamageError) *schema.Event // makes the event that reports damage
	ahead  *atomic.Bool                     // decode samples in the producer (the reader's Next mode)
	async  *bool                            // run the producer in a prefetch goroutine (the reader's)
	frame  *frameCols                       // the frames table's: where FrameData finds a frame
	fa     *frameAhead                      // the frames table's, with prefetch: frame bytes read ahead

	prefetch int          // batches decoded ahead in a goroutine (0: inline)
	dec      batchDecoder // the producer's; the cursor's own while the producer is halted
	scratch  rawBatch     // for bounds looked up by a seek
	pool     batchPool
	prod     *producer   // the batches from the current position
	pf       *prefetcher // running prod, when prefetching
	sorted   bool        // the last batch loaded came from a file in t order

	active    []*loaded
	maxLoaded int64
	floor     int64
	lastT     int64
	pending   []*schema.Event // damage to report, oldest first
	reported  map[string]bool // video files whose damage this pass reported
	n         counts
	headT     int64
	hasHead   bool
}

func (c *cursor) updateHead() {
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
func (c *cursor) pendingT() int64 {
	if c.lastT != 0 {
		return c.lastT
	}
	if len(c.active) > 0 {
		return c.active[c.minActive()].t()
	}
	return c.floor
}

func (c *cursor) minActive() int {
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
func (c *cursor) fill() {
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
func (c *cursor) loadNext() bool {
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

func (c *cursor) report(d *DamageError) {
	if ev := c.damage(d); ev != nil {
		c.pending = append(c.pending, ev)
	}
}

// doneWith is told that the caller is through with batch l (the caller's goroutine).
func (c *cursor) doneWith(l *loaded) {
	if c.fa != nil && l.serial != 0 {
		c.fa.done(l.serial)
	}
}

// takeRow hands out the next row: a damage event (ev), or row row of batch l, which
// ok says the filters keep. done says l has no rows left: the caller releases it
// once done with the row. The caller asks head again after each call.
func (c *cursor) takeRow() (l *loaded, row int, ev *schema.Event, done, ok bool) {
	if len(c.pending) > 0 {
		ev = c.pending[0]
		ev.T = c.pendingT()
		c.pending = c.pending[1:]
		c.n.damage++
		c.updateHead()
		return nil, 0, ev, false, true
	}
	if len(c.active) == 0 {
		return nil, 0, nil, false, false
	}
	// the common case: one batch of a file in t order, rows left in it
	if len(c.active) == 1 && c.sorted {
		l = c.active[0]
		if l.perm == nil && l.pos+1 < len(l.ts) {
			row = l.pos
			t := l.ts[row]
			l.pos++
			c.headT = l.ts[l.pos]
			if t < c.floor || (l.keep != nil && !l.keep[row]) {
				return l, row, nil, false, false
			}
			if t < c.lastT {
				c.n.late++
			}
			c.lastT = t
			return l, row, nil, false, true
		}
	}
	k := c.minActive()
	l = c.active[k]
	row = l.row()
	t := l.t()
	l.pos++
	if l.done() {
		done = true
		c.active = slices.Delete(c.active, k, k+1)
	}
	ok = t >= c.floor && (l.keep == nil || l.keep[row])
	if ok {
		if t < c.lastT {
			c.n.late++
		}
		c.lastT = t
	}
	c.fill()
	c.updateHead()
	return l, row, nil, done, ok
}

// take hands out the next sample (for Next); ok is false when the row gave none (left
// out by a filter, or a frame whose bytes cannot be read).
func (c *cursor) take() (schema.Sample, bool) {
	l, row, ev, done, ok := c.takeRow()
	if ev != nil {
		return ev, true
	}
	var s schema.Sample
	if ok {
		var dmg *DamageError
		s, dmg = c.rows.sample(l, row)
		if dmg != nil && !c.reported[dmg.Path] {
			c.reported[dmg.Path] = true
			c.report(dmg)
			c.updateHead()
		}
		if ok = s != nil; ok {
			c.n.rows++
		}
	}
	if done {
		l.release()
	}
	return s, ok
}

func (c *cursor) seek(t int64) {
	c.halt()
	for _, l := range c.active {
		l.release()
	}
	c.active, c.pending, c.lastT, c.floor = c.active[:0], nil, 0, t
	clear(c.reported)
	for _, f := range c.files {
		f.reported, f.nextDamage = false, 0
	}
	p := &producer{files: c.files, floor: t, dec: &c.dec, pool: c.pool, filter: c.filter, rows: c.rows, ahead: c.ahead}
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
	if *c.async {
		c.startPrefetch()
	}
	c.fill()
	c.updateHead()
}

// startPrefetch hands the producer, from where it is, to a prefetch goroutine.
func (c *cursor) startPrefetch() {
	if c.prefetch > 0 && c.pf == nil && c.prod != nil {
		if c.fa != nil {
			c.fa.start()
			for _, l := range c.active { // decoded before the goroutines started (for NextRow)
				if l.serial == 0 && !c.ahead.Load() {
					c.fa.add(l, c.frame)
				}
			}
			c.prod.fa, c.prod.fc = c.fa, c.frame
		}
		c.pf = startPrefetch(c.prod, c.prefetch)
	}
}

// halt stops the prefetch goroutine, if any: the files are the cursor's again.
func (c *cursor) halt() {
	if c.pf != nil {
		if c.fa != nil {
			c.fa.halt() // first: the producer may be waiting to hand it a batch
		}
		c.pf.halt()
		c.pf = nil
		c.prod.fa = nil
	}
}

func (c *cursor) boundsOf(f *batchFile, b int) (bounds, bool) {
	return f.boundsOf(b, &c.dec, &c.scratch)
}

// fileFirstT returns the first t of file i (from the manifest when it says), false
// for a file with no readable rows.
func (c *cursor) fileFirstT(i int) (int64, bool) {
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
			if bd, ok := c.boundsOf(f, b); ok && bd.rows > 0 && (!found || bd.min < min) {
				min, found = bd.min, true
			}
		}
		return min, found
	}
	for b := 0; b < f.numBatches(); b++ {
		if bd, ok := c.boundsOf(f, b); ok && bd.rows > 0 {
			return bd.min, true
		}
	}
	return 0, false
}

// findFile returns the last file whose first row is at or before t (0 if none).
func (c *cursor) findFile(t int64) int {
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
func (c *cursor) findBatch(f *batchFile, t int64) int {
	if t == 0 || (f.ref.sorted && f.ref.firstT != 0 && t <= f.ref.firstT) {
		return 0 // the start: nothing to search (and nothing to decode twice)
	}
	f.open()
	n := f.numBatches()
	reaches := func(i int) bool {
		bd, ok := c.boundsOf(f, i)
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
		bd, ok := c.boundsOf(f, k-1)
		if ok && (bd.rows == 0 || bd.max < t) {
			break
		}
		k--
	}
	return k
}

func (c *cursor) close() error {
	c.halt()
	for _, l := range c.active {
		l.release()
	}
	c.active = nil
	c.pool.drain()
	c.dec.close()
	var err error
	if c.fa != nil {
		err = c.fa.close()
	}
	for _, f := range c.files {
		if e := f.close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// DamageEvent is the schema.EvReplayDamage event at t that a Reader puts in its
// stream where it skips damage d of a table: for consumers of NextRow that skip what
// they cannot read (a frame whose bytes FrameData or FramePath cannot reach) and report
// it as Next would.
func DamageEvent(table schema.TableName, t int64, d *DamageError) *schema.Event {
	ev := schema.NewEvent(t, schema.EvReplayDamage, schema.SevWarn, string(table), "replay skipped damage: "+d.Error())
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
