package replay

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
)

// DamageError locates a damaged part of a drive file that replay skipped: a batch
// that does not decode, a file that cannot be opened, frame bytes outside their video
// file. Batch and Offset are -1 where they do not apply or are not known.
type DamageError struct {
	Path   string
	Batch  int
	Offset int64
	Err    error
}

// Error says what was skipped where.
func (e *DamageError) Error() string {
	s := e.Path
	if e.Batch >= 0 {
		s += fmt.Sprintf(": batch %d", e.Batch)
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at byte %d", e.Offset)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *DamageError) Unwrap() error { return e.Err }

// bounds are the smallest and largest t of one batch.
type bounds struct {
	min, max int64
	rows     int64
	known    bool
}

// batchFile reads one Arrow table file a batch at a time: the batches its footer
// lists when it has a valid one, else those a walk over the message stream finds.
type batchFile struct {
	ref  fileRef
	want *arrow.Schema // the table's schema: the file's must match it

	opened  bool
	openErr error // the file cannot be read at all
	f       *os.File
	size    int64          // when opened
	blocks  []block        // where each batch lies
	damage  []*DamageError // found by a stream scan, in offset order
	bounds  []bounds       // per batch, filled as batches are decoded

	// what the current pass has reported
	reported   bool // openErr
	nextDamage int  // damage[:nextDamage]
}

func (b *batchFile) fail(off int64, err error) {
	b.openErr = &DamageError{Path: b.ref.rel, Batch: -1, Offset: off, Err: err}
	if b.f != nil {
		b.f.Close()
		b.f = nil
	}
}

func (b *batchFile) open() {
	if b.opened {
		return
	}
	b.opened = true
	f, err := os.Open(b.ref.path)
	if err != nil {
		b.fail(-1, err)
		return
	}
	b.f = f
	st, err := f.Stat()
	if err != nil {
		b.fail(-1, err)
		return
	}
	size := st.Size()
	b.size = size
	first, err := checkSchema(f, size, b.want)
	if err != nil {
		b.fail(8, err)
		return
	}
	if blocks, err := footerBlocks(f, size); err == nil && (len(blocks) == 0 || blocks[0].offset >= first) {
		b.blocks = blocks
	} else {
		// No footer (being written, or left by a crash) or a damaged one: walk the
		// message stream.
		b.blocks, b.damage = scanStream(f, first, size, b.ref.rel)
		b.ref.sorted = false // a footerless file may hold late rows across batches
	}
	b.bounds = make([]bounds, len(b.blocks))
}

var arrowMagic = []byte("ARROW1")

// numBatches returns the number of batches (after open).
func (b *batchFile) numBatches() int { return len(b.bounds) }

// batch decodes batch i into into (its arena and slices reused) with dec.
func (b *batchFile) batch(i int, dec *batchDecoder, into *rawBatch) (err error) {
	blk := b.blocks[i]
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed record batch: %v", p)
		}
		if err != nil {
			err = &DamageError{Path: b.ref.rel, Batch: i, Offset: blk.offset, Err: err}
		}
	}()
	msg, err := dec.read(b, blk.offset, blk.meta+blk.body)
	if err != nil {
		return err
	}
	if err := dec.decode(b.want, msg, into); err != nil {
		return err
	}
	if !b.bounds[i].known {
		b.bounds[i] = tsBounds(into.ts)
	}
	return nil
}

// tableReadAhead is how much of a table file is read at once: batches are read in
// file order, and one read serves the batches of a second or more.
const tableReadAhead = 256 << 10

// read returns the n bytes at off of f, valid until the next read: out of the
// decoder's read-ahead window over the file when they lie in it, else read with what
// follows them.
func (d *batchDecoder) read(f *batchFile, off, n int64) ([]byte, error) {
	if d.winFile != f || off < d.winOff || off+n > d.winOff+int64(len(d.win)) {
		w := max(n, tableReadAhead)
		if rest := f.size - off; rest < w {
			w = max(rest, n)
		}
		if d.win == nil {
			d.reuse()
		}
		if int64(cap(d.win)) < w {
			d.win = make([]byte, w)
		}
		k, err := f.f.ReadAt(d.win[:w], off)
		if int64(k) < n {
			d.winFile = nil
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		d.win, d.winOff, d.winFile = d.win[:k], off, f
	}
	return d.win[off-d.winOff : off-d.winOff+n], nil
}

func tsBounds(ts []int64) bounds {
	bd := bounds{rows: int64(len(ts)), known: true}
	for k, v := range ts {
		if k == 0 || v < bd.min {
			bd.min = v
		}
		if k == 0 || v > bd.max {
			bd.max = v
		}
	}
	return bd
}

// boundsOf returns batch i's bounds, decoding it (with dec, into scratch) if they
// are not known yet. A batch that does not decode has unknown bounds (ok false).
func (b *batchFile) boundsOf(i int, dec *batchDecoder, scratch *rawBatch) (bounds, bool) {
	if b.bounds[i].known {
		return b.bounds[i], true
	}
	if err := b.batch(i, dec, scratch); err != nil {
		return bounds{}, false
	}
	return b.bounds[i], true
}

func (b *batchFile) close() error {
	var err error
	if b.f != nil {
		err = b.f.Close()
	}
	b.f, b.opened, b.blocks, b.bounds, b.damage, b.openErr = nil, false, nil, nil, nil, nil
	return err
}
