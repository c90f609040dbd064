package replay

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

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

func (e *DamageError) Unwrap() error { return e.Err }

// bounds are the smallest and largest t of one batch.
type bounds struct {
	min, max int64
	rows     int64
	known    bool
}

// batchFile reads one Arrow table file a batch at a time: the batches its footer
// lists when it has a valid one, else those drive.ScanArrow finds in the stream.
type batchFile struct {
	ref   fileRef
	check func(*arrow.Schema) error // the file's schema must pass it

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
	if blocks, err := footerBlocks(f, st.Size()); err == nil {
		end := st.Size()
		if len(blocks) > 0 {
			end = blocks[0].offset
		}
		if sch, err := readSchema(f, end); err == nil {
			b.schema, b.blocks = sch, blocks
		}
	}
	if b.schema == nil {
		// No footer (being written, or left by a crash) or a damaged one: scan the stream.
		s, err := drive.ScanArrow(b.ref.path)
		if err != nil {
			b.fail(offsetOf(err), err)
			return
		}
		for _, d := range s.Damage {
			b.damage = append(b.damage, &DamageError{Path: b.ref.rel, Batch: -1, Offset: d.Offset, Err: d.Err})
		}
		b.schema = s.Schema
		for _, bi := range s.Batches {
			b.blocks = append(b.blocks, block{offset: bi.Offset, body: bi.Length})
		}
		b.ref.sorted = false // a footerless file may hold late rows across batches
	}
	if b.check != nil {
		if err := b.check(b.schema); err != nil {
			b.fail(8, err)
			return
		}
	}
	b.bounds = make([]bounds, len(b.blocks))
}

// readSchema decodes the schema message that follows the magic.
func readSchema(r io.ReaderAt, end int64) (s *arrow.Schema, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed schema: %v", p)
		}
	}()
	if end <= 8 || end-8 > drive.MaxMetadataSize {
		return nil, errors.New("no room for a schema")
	}
	rd, err := ipc.NewReader(io.NewSectionReader(r, 8, end-8), ipc.WithMetadataSizeLimit(drive.MaxMetadataSize))
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	return rd.Schema(), nil
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
