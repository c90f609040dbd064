// Package tableread reads time windows of a drive's Arrow table files without
// decoding the whole file for every window: the first read of a file with a footer
// notes the t range of each record batch, and later windows decode only the batches
// that overlap them (random access through the footer). A file without a footer (a
// drive being recorded, or never repaired) is read as a stream by record/drive, skipping
// damage, and filtered.
//
// Export asks for many short windows of the same files from several workers; the
// index is built once per file and shared (Cache).
package tableread

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"roadlog/record/drive"
	"roadlog/schema"
)

// batchRange is the t range of one record batch (rows with a null t are never
// written: t is not nullable).
type batchRange struct {
	min, max int64
	rows     int64
}

// File is one Arrow table file with its batch index.
type File struct {
	Path string

	once    sync.Once
	err     error
	footer  bool
	schema  *arrow.Schema
	batches []batchRange
}

// Cache shares File indexes between goroutines. The zero value is ready to use.
type Cache struct {
	mu    sync.Mutex // guards files
	files map[string]*File
}

// File returns the indexed file for path (indexed on first use).
func (c *Cache) File(path string) *File {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil {
		c.files = map[string]*File{}
	}
	f, ok := c.files[path]
	if !ok {
		f = &File{Path: path}
		c.files[path] = f
	}
	return f
}

// ErrNoTimeColumn reports a file whose first column is not the t timestamp column.
var ErrNoTimeColumn = errors.New("first column is not a timestamp t")

func (f *File) index() error {
	f.once.Do(func() {
		f.err = f.buildIndex()
	})
	return f.err
}

// buildIndex reads the file once through its footer and notes each batch's t range.
// A file without a usable footer is left unindexed (footer false).
func (f *File) buildIndex() (err error) {
	defer func() {
		if p := recover(); p != nil { // arrow-go panics on some malformed metadata
			f.footer, f.batches = false, nil
			err = nil
		}
	}()
	h, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("open table: %w", err)
	}
	defer h.Close()
	fr, err := ipc.NewFileReader(h, ipc.WithMetadataSizeLimit(drive.MaxMetadataSize), ipc.WithBodySizeLimit(drive.MaxBodySize))
	if err != nil {
		return nil // no footer: stream reads
	}
	defer fr.Close()
	f.schema = fr.Schema()
	if f.schema.NumFields() == 0 || f.schema.Field(0).Type.ID() != arrow.TIMESTAMP {
		return fmt.Errorf("index %s: %w", f.Path, ErrNoTimeColumn)
	}
	bs := make([]batchRange, fr.NumRecords())
	for i := range bs {
		rec, err := fr.RecordBatchAt(i)
		if err != nil {
			return nil // damaged: stream reads skip the damage
		}
		bs[i] = rangeOf(rec)
		rec.Release()
	}
	f.batches, f.footer = bs, true
	return nil
}

func rangeOf(rec arrow.RecordBatch) batchRange {
	r := batchRange{rows: rec.NumRows()}
	ts, ok := rec.Column(0).(*array.Timestamp)
	if !ok || ts.Len() == 0 {
		return r
	}
	vals := ts.TimestampValues()
	r.min, r.max = int64(vals[0]), int64(vals[0])
	for _, v := range vals[1:] {
		r.min = min(r.min, int64(v))
		r.max = max(r.max, int64(v))
	}
	return r
}

// Window calls fn with the rows of the file whose t lies in [from, to), as record
// batches sliced from the file's batches (several per file batch when rows within it
// are out of order), in file order. A file that does not exist has no rows. Slices
// are released after fn returns.
func (f *File) Window(from, to int64, fn func(arrow.RecordBatch) error) error {
	if _, err := os.Stat(f.Path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := f.index(); err != nil {
		return err
	}
	if !f.footer {
		_, err := drive.ReadTable(f.Path, func(rec arrow.RecordBatch) error { return slices(rec, from, to, fn) })
		return err
	}
	return f.windowIndexed(from, to, fn)
}

func (f *File) windowIndexed(from, to int64, fn func(arrow.RecordBatch) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &drive.CorruptionError{Path: f.Path, Err: fmt.Errorf("malformed record batch: %v", p)}
		}
	}()
	var h *os.File
	var fr *ipc.FileReader
	defer func() {
		if fr != nil {
			fr.Close()
		}
		if h != nil {
			h.Close()
		}
	}()
	for i, b := range f.batches {
		if b.rows == 0 || b.max < from || b.min >= to {
			continue
		}
		if fr == nil {
			if h, err = os.Open(f.Path); err != nil {
				return fmt.Errorf("read table: %w", err)
			}
			if fr, err = ipc.NewFileReader(h, ipc.WithMetadataSizeLimit(drive.MaxMetadataSize), ipc.WithBodySizeLimit(drive.MaxBodySize)); err != nil {
				return &drive.CorruptionError{Path: f.Path, Err: err}
			}
		}
		rec, err := fr.RecordBatchAt(i)
		if err != nil {
			return &drive.CorruptionError{Path: f.Path, Err: fmt.Errorf("batch %d: %w", i, err)}
		}
		err = slices(rec, from, to, fn)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// slices calls fn with each run of consecutive rows of rec whose t is in [from, to).
func slices(rec arrow.RecordBatch, from, to int64, fn func(arrow.RecordBatch) error) error {
	ts, ok := rec.Column(0).(*array.Timestamp)
	if !ok {
		return ErrNoTimeColumn
	}
	n := ts.Len()
	if n == 0 {
		return nil
	}
	vals := ts.TimestampValues()
	if int64(vals[0]) >= from && int64(vals[n-1]) < to && sorted(vals) {
		return fn(rec)
	}
	start := -1
	for i := 0; i <= n; i++ {
		in := i < n && int64(vals[i]) >= from && int64(vals[i]) < to
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			s := rec.NewSlice(int64(start), int64(i))
			err := fn(s)
			s.Release()
			if err != nil {
				return err
			}
			start = -1
		}
	}
	return nil
}

func sorted(v []arrow.Timestamp) bool {
	for i := 1; i < len(v); i++ {
		if v[i] < v[i-1] {
			return false
		}
	}
	return true
}

// Rows calls fn with every row of f in [from, to) as a Go row of table t, after
// checking the file's schema against the table's.
func Rows[R any](f *File, t *schema.Table[R], from, to int64, fn func(*R) error) error {
	var r R
	checked := false
	return f.Window(from, to, func(rec arrow.RecordBatch) error {
		if !checked {
			if err := t.Check(rec.Schema()); err != nil {
				return fmt.Errorf("read %s: %w", f.Path, err)
			}
			checked = true
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			t.Read(rec, i, &r)
			if err := fn(&r); err != nil {
				return err
			}
		}
		return nil
	})
}
