package replay

import (
	"bytes"
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

// batchFile reads one Arrow table file a batch at a time: through its footer when it
// has a valid one, else as a stream from the offsets drive.ScanArrow found.
type batchFile struct {
	ref fileRef

	opened  bool
	openErr error // the file cannot be read at all
	f       *os.File
	fr      *ipc.FileReader  // footer path
	scan    *drive.ArrowScan // stream path
	damage  []*DamageError   // found when opening (stream path), in offset order
	bounds  []bounds         // per batch, filled as batches are decoded
	msgBuf  []byte           // stream path: schema + batch message

	// what the current pass has reported
	reported   bool // openErr
	nextDamage int  // damage[:nextDamage]
}

func (b *batchFile) open() {
	if b.opened {
		return
	}
	b.opened = true
	f, err := os.Open(b.ref.path)
	if err != nil {
		b.openErr = &DamageError{Path: b.ref.rel, Batch: -1, Offset: -1, Err: err}
		return
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		b.openErr = &DamageError{Path: b.ref.rel, Batch: -1, Offset: -1, Err: err}
		return
	}
	if hasFooter(f, st.Size()) {
		if fr, err := newFileReader(f); err == nil {
			b.f, b.fr = f, fr
			b.bounds = make([]bounds, fr.NumRecords())
			return
		}
	}
	f.Close()
	// No footer (being written, or left by a crash) or a damaged one: scan the stream.
	s, err := drive.ScanArrow(b.ref.path)
	if err != nil {
		b.openErr = &DamageError{Path: b.ref.rel, Batch: -1, Offset: offsetOf(err), Err: err}
		return
	}
	for _, d := range s.Damage {
		b.damage = append(b.damage, &DamageError{Path: b.ref.rel, Batch: -1, Offset: d.Offset, Err: d.Err})
	}
	if f, err = os.Open(b.ref.path); err != nil {
		b.openErr = &DamageError{Path: b.ref.rel, Batch: -1, Offset: -1, Err: err}
		return
	}
	b.f, b.scan = f, s
	b.bounds = make([]bounds, len(s.Batches))
	b.ref.sorted = false // a footerless file may hold late rows across batches
}

func offsetOf(err error) int64 {
	var ce *drive.CorruptionError
	if errors.As(err, &ce) {
		return ce.Offset
	}
	return -1
}

// newFileReader opens the footer; arrow-go panics on some malformed footers.
func newFileReader(f *os.File) (fr *ipc.FileReader, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed arrow footer: %v", p)
		}
	}()
	return ipc.NewFileReader(f, ipc.WithMetadataSizeLimit(drive.MaxMetadataSize), ipc.WithBodySizeLimit(drive.MaxBodySize))
}

var arrowMagic = []byte("ARROW1")

func hasFooter(r io.ReaderAt, size int64) bool {
	if size < 8+10 {
		return false
	}
	var tail [6]byte
	if _, err := r.ReadAt(tail[:], size-6); err != nil {
		return false
	}
	return bytes.Equal(tail[:], arrowMagic)
}

// numBatches returns the number of batches (after open).
func (b *batchFile) numBatches() int { return len(b.bounds) }

// batch decodes batch i. The caller releases it.
func (b *batchFile) batch(i int) (rec arrow.RecordBatch, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed record batch: %v", p)
		}
		if err != nil {
			if rec != nil {
				rec.Release()
				rec = nil
			}
			off := int64(-1)
			if b.scan != nil {
				off = b.scan.Batches[i].Offset
			}
			err = &DamageError{Path: b.ref.rel, Batch: i, Offset: off, Err: err}
		}
	}()
	if b.fr != nil {
		rec, err = b.fr.RecordBatchAt(i)
	} else {
		rec, err = b.streamBatch(i)
	}
	if err != nil {
		return nil, err
	}
	if err := validate(rec); err != nil {
		return rec, err
	}
	if !b.bounds[i].known {
		b.bounds[i] = batchBounds(rec)
	}
	return rec, nil
}

// streamBatch decodes batch i of a footerless file: its message, behind the schema
// message, read by an IPC stream reader.
func (b *batchFile) streamBatch(i int) (arrow.RecordBatch, error) {
	bi := b.scan.Batches[i]
	n := len(b.scan.SchemaBytes) + int(bi.Length)
	if cap(b.msgBuf) < n {
		b.msgBuf = make([]byte, n)
	}
	buf := b.msgBuf[:n]
	copy(buf, b.scan.SchemaBytes)
	if _, err := b.f.ReadAt(buf[len(b.scan.SchemaBytes):], bi.Offset); err != nil {
		return nil, err
	}
	rd, err := ipc.NewReader(bytes.NewReader(buf), ipc.WithMetadataSizeLimit(drive.MaxMetadataSize), ipc.WithBodySizeLimit(drive.MaxBodySize))
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	if !rd.Next() {
		if rd.Err() != nil {
			return nil, rd.Err()
		}
		return nil, errors.New("no record batch in message")
	}
	rec := rd.RecordBatch()
	rec.Retain()
	return rec, nil
}

// validate checks a decoded batch's arrays, so that a damaged file cannot make a row
// read go out of bounds.
func validate(rec arrow.RecordBatch) error {
	type fullValidator interface{ ValidateFull() error }
	if rec.NumCols() == 0 {
		return errors.New("batch has no columns")
	}
	if _, ok := rec.Column(0).(*array.Timestamp); !ok {
		return fmt.Errorf("first column is %s, not the t timestamp", rec.Column(0).DataType())
	}
	for i, c := range rec.Columns() {
		if int64(c.Len()) != rec.NumRows() {
			return fmt.Errorf("column %d has %d rows, batch has %d", i, c.Len(), rec.NumRows())
		}
		if v, ok := c.(fullValidator); ok {
			if err := v.ValidateFull(); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
	}
	return nil
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
	if b.fr != nil {
		err = b.fr.Close()
	}
	if b.f != nil {
		err = errors.Join(err, b.f.Close())
	}
	b.f, b.fr, b.scan, b.opened = nil, nil, nil, false
	return err
}
