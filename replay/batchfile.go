package replay

import (
	"errors"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"roadlog/record/drive"
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
	schema  *arrow.Schema
	blocks  []block        // where each batch lies
	damage  []*DamageError // found by a stream scan, in offset order
	bounds  []bounds       // per batch, filled as batches are decoded
	dec     batchDecoder
	msgBuf  []byte // reused for compressed batches

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
	b.schema = b.want
	b.bounds = make([]bounds, len(b.blocks))
}

func offsetOf(err error) int64 {
	var ce *drive.CorruptionError
	if errors.As(err, &ce) {
		return ce.Offset
	}
	return -1
}

var arrowMagic = []byte("ARROW1")

// numBatches returns the number of batches (after open).
func (b *batchFile) numBatches() int { return len(b.bounds) }

// batch decodes batch i. The caller releases it.
func (b *batchFile) batch(i int) (rec arrow.RecordBatch, err error) {
	blk := b.blocks[i]
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed record batch: %v", p)
		}
		if err != nil {
			if rec != nil {
				rec.Release()
				rec = nil
			}
			err = &DamageError{Path: b.ref.rel, Batch: i, Offset: blk.offset, Err: err}
		}
	}()
	n := int(blk.meta + blk.body)
	if cap(b.msgBuf) < n {
		b.msgBuf = make([]byte, n)
	}
	msg := b.msgBuf[:n]
	if _, err := b.f.ReadAt(msg, blk.offset); err != nil {
		return nil, err
	}
	rec, aliased, err := b.dec.decode(b.schema, msg)
	if err != nil {
		return nil, err
	}
	if aliased { // the arrays point into msg: the next batch needs a new buffer
		b.msgBuf = nil
	}
	if _, ok := rec.Column(0).(*array.Timestamp); !ok {
		return rec, fmt.Errorf("first column is %s, not the t timestamp", rec.Column(0).DataType())
	}
	if !b.bounds[i].known {
		b.bounds[i] = batchBounds(rec)
	}
	return rec, nil
}

func batchBounds(rec arrow.RecordBatch) bounds {
	ts := rec.Column(0).(*array.Timestamp).TimestampValues()
	bd := bounds{rows: int64(len(ts)), known: true}
	for k, v := range ts {
		if k == 0 || int64(v) < bd.min {
			bd.min = int64(v)
		}
		if k == 0 || int64(v) > bd.max {
			bd.max = int64(v)
		}
	}
	return bd
}

// boundsOf returns batch i's bounds, decoding it if they are not known yet. A batch
// that does not decode has unknown bounds (ok false).
func (b *batchFile) boundsOf(i int) (bounds, bool) {
	if b.bounds[i].known {
		return b.bounds[i], true
	}
	rec, err := b.batch(i)
	if err != nil {
		return bounds{}, false
	}
	rec.Release()
	return b.bounds[i], true
}

func (b *batchFile) close() error {
	var err error
	if b.f != nil {
		err = b.f.Close()
	}
	b.dec.close()
	b.f, b.opened, b.blocks, b.bounds, b.damage, b.schema, b.openErr = nil, false, nil, nil, nil, nil, nil
	return err
}
