package replay

import (
	"math"
	"sync"
	"sync/atomic"
)

// item is what a producer hands a cursor: a decoded batch with rows at or past the
// floor, or damage found on the way.
type item struct {
	l   *loaded
	dmg *DamageError
}

// producer walks a table's files from a position, decoding batch after batch. It
// runs either inline (the cursor calls next) or in a prefetch goroutine; either way
// only one goroutine uses it, its decoder and the files at a time.
type producer struct {
	files   []*batchFile
	fi, bi  int
	floor   int64
	pending []*DamageError
	dec     *batchDecoder
	pool    batchPool
	filter  func(*rawBatch, int) bool // rows to deliver (nil: all)
	rows    rowSource
	ahead   *atomic.Bool // prepare samples (rows decoded, frames read) ahead
	// in a prefetch goroutine, the frames producer's: the goroutine reading frame
	// bytes ahead of NextRow's caller, and where a batch's frames lie
	fa *frameAhead
	fc *frameCols
}

// next returns the next item, false at the end of the files.
func (p *producer) next() (item, bool) {
	for {
		if len(p.pending) > 0 {
			d := p.pending[0]
			p.pending = p.pending[1:]
			return item{dmg: d}, true
		}
		if p.fi >= len(p.files) {
			return item{}, false
		}
		f := p.files[p.fi]
		if !f.opened {
			f.open()
		}
		if f.openErr != nil {
			if !f.reported {
				f.reported = true
				p.pending = append(p.pending, f.openErr.(*DamageError))
			}
			p.fi, p.bi = p.fi+1, 0
			continue
		}
		if p.bi >= f.numBatches() {
			p.damageBefore(f, math.MaxInt64)
			p.fi, p.bi = p.fi+1, 0
			continue
		}
		if p.damageBefore(f, f.blocks[p.bi].offset) {
			continue // hand out the damage first, then this batch
		}
		i := p.bi
		p.bi++
		if bd := f.bounds[i]; bd.known && (bd.rows == 0 || bd.max < p.floor) {
			continue
		}
		raw := p.pool.get()
		if err := f.batch(i, p.dec, raw); err != nil {
			p.pool.put(raw) // a decode overwrites all of it
			return item{dmg: err.(*DamageError)}, true
		}
		if raw.rows == 0 {
			p.pool.put(raw)
			continue
		}
		l := newLoaded(raw, f, p.pool)
		l.skipBelow(p.floor)
		if l.done() {
			l.release()
			continue
		}
		if p.filter != nil {
			keep := raw.keep[:0]
			for k := range raw.rows {
				keep = append(keep, p.filter(raw, k))
			}
			raw.keep, l.keep = keep, keep
		}
		if p.rows != nil && p.ahead.Load() {
			p.rows.prepare(l)
		} else if p.fa != nil {
			p.fa.add(l, p.fc)
		}
		return item{l: l}, true
	}
}

// damageBefore queues the damage a scan found before offset off of f (damage comes
// out where it lies in the file); it reports whether it queued any.
func (p *producer) damageBefore(f *batchFile, off int64) bool {
	n := len(p.pending)
	for ; f.nextDamage < len(f.damage) && f.damage[f.nextDamage].Offset < off; f.nextDamage++ {
		p.pending = append(p.pending, f.damage[f.nextDamage])
	}
	return len(p.pending) > n
}

// prefetcher runs a producer in its own goroutine, depth items ahead of the cursor.
type prefetcher struct {
	ch   chan item
	stop chan struct{}
	wg   sync.WaitGroup
}

func startPrefetch(p *producer, depth int) *prefetcher {
	pf := &prefetcher{ch: make(chan item, depth), stop: make(chan struct{})}
	pf.wg.Add(1)
	go func() {
		defer pf.wg.Done()
		defer close(pf.ch)
		for {
			it, ok := p.next()
			if !ok {
				return
			}
			select {
			case pf.ch <- it:
			case <-pf.stop:
				if it.l != nil {
					it.l.release()
				}
				return
			}
		}
	}()
	return pf
}

// next returns the next item from the goroutine.
func (pf *prefetcher) next() (item, bool) {
	it, ok := <-pf.ch
	return it, ok
}

// halt stops the goroutine, releases what it decoded ahead, and waits for it: after
// halt the files are the caller's again.
func (pf *prefetcher) halt() {
	close(pf.stop)
	for it := range pf.ch {
		if it.l != nil {
			it.l.release()
		}
	}
	pf.wg.Wait()
}
