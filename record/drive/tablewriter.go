package drive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"roadlog/schema"
)

// Codec names an Arrow IPC buffer compression.
type Codec string

// Codecs.
const (
	CodecZSTD Codec = "zstd"
	// CodecZSTDSmall is zstd with every buffer of 512 bytes or more compressed, however
	// little it saves: smaller tables that read slower (see minSaving).
	CodecZSTDSmall Codec = "zstd-small"
	CodecLZ4       Codec = "lz4"
	CodecNone      Codec = "none"
)

func (c Codec) option() []ipc.Option {
	switch c {
	case CodecLZ4:
		return []ipc.Option{ipc.WithLZ4()}
	case CodecNone:
		return nil
	default:
		return []ipc.Option{ipc.WithZstd()}
	}
}

// TableWriter writes rows of one table into one Arrow IPC file. Rows are buffered by
// Append and written as one record batch by Flush, so each batch reaches the file as
// soon as it is flushed; Close writes the footer. The schema is on disk as soon as the
// writer exists. A TableWriter is used by one goroutine at a time.
type TableWriter[R any] struct {
	tbl    *schema.Table[R]
	f      File
	cw     *countingWriter
	iw     *ipcWriter[R]
	closed bool
	failed error // a write failed: the file is left footerless for repair

	Rows, Batches int64
	Late          int64 // rows appended with t before an earlier row's t
	FirstT, LastT int64
	pendingRows   int
}

// NewTableWriter starts an Arrow IPC file for table tbl on f and writes the magic and
// the schema at once, so even a file cut short right away is a valid empty table after
// repair.
func NewTableWriter[R any](f File, tbl *schema.Table[R], codec Codec) (*TableWriter[R], error) {
	cw := &countingWriter{w: f}
	iw, err := newIPCWriter(cw, tbl, codec)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", f.Name(), err)
	}
	return &TableWriter[R]{tbl: tbl, f: f, cw: cw, iw: iw}, nil
}

// Append buffers one row; rowT is the row's t (for order and range bookkeeping).
func (w *TableWriter[R]) Append(r *R, rowT int64) {
	w.iw.append(r)
	if w.Rows+int64(w.pendingRows) == 0 {
		w.FirstT = rowT
	} else if rowT < w.LastT {
		w.Late++
	}
	if rowT > w.LastT || w.Rows+int64(w.pendingRows) == 0 {
		w.LastT = rowT
	}
	w.pendingRows++
}

// Pending returns the number of rows appended but not yet flushed.
func (w *TableWriter[R]) Pending() int { return w.pendingRows }

// Flush writes the buffered rows as one record batch. After a failed write the file
// is left as it is (footerless, possibly with a partial batch at the end) for repair,
// and every later call returns the same error.
func (w *TableWriter[R]) Flush() error {
	if w.failed != nil {
		return w.failed
	}
	if w.pendingRows == 0 {
		return nil
	}
	if err := w.iw.flush(); err != nil {
		w.failed = fmt.Errorf("write batch to %s: %w", w.f.Name(), err)
		return w.failed
	}
	w.Rows += int64(w.pendingRows)
	w.pendingRows = 0
	w.Batches++
	return nil
}

// Bytes returns the bytes written to the file so far.
func (w *TableWriter[R]) Bytes() int64 { return w.cw.n }

// Sync flushes the file's data to the disk (fdatasync).
func (w *TableWriter[R]) Sync() error {
	if w.failed != nil {
		return w.failed
	}
	return w.f.Sync()
}

// Close flushes, writes the footer, syncs and closes the file. After a write failure
// it only closes the file (which repair then rebuilds from its complete batches).
func (w *TableWriter[R]) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.iw.release()
	if err := w.Flush(); err != nil {
		return fmt.Errorf("close %s: %w (closed without footer)", w.f.Name(), errjoin(err, w.f.Close()))
	}
	if err := w.iw.close(); err != nil {
		w.failed = err
		return fmt.Errorf("close %s: %w", w.f.Name(), errjoin(err, w.f.Close()))
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", w.f.Name(), errjoin(err, w.f.Close()))
	}
	return w.f.Close()
}

// discard closes the file without a footer, as it is (the caller removes it).
func (w *TableWriter[R]) discard() {
	if w.closed {
		return
	}
	w.closed = true
	w.iw.release()
	w.f.Close()
}

// Stats returns the writer's figures in manifest form.
func (w *TableWriter[R]) Stats() TableStats {
	return TableStats{Rows: w.Rows, Batches: int(w.Batches), Bytes: w.cw.n, RawBytes: w.iw.raw, Late: w.Late, FirstT: w.FirstT, LastT: w.LastT}
}

type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func errjoin(a, b error) error {
	if b == nil {
		return a
	}
	return fmt.Errorf("%w; %w", a, b)
}

// WriteEmpty writes a valid Arrow file with t's schema and no rows, and closes f.
func WriteEmpty(f File, t schema.AnyTable, codec Codec) error {
	opts := append([]ipc.Option{ipc.WithSchema(t.Schema())}, codec.option()...)
	w, err := ipc.NewFileWriter(f, opts...)
	if err != nil {
		f.Close()
		return fmt.Errorf("write empty %s: %w", f.Name(), err)
	}
	rec := array.NewRecordBuilder(memory.DefaultAllocator, t.Schema()).NewRecordBatch()
	err = w.Write(rec)
	rec.Release()
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write empty %s: %w", f.Name(), err)
	}
	return nil
}

// RewriteBatchRows is the size of the batches a rewritten table file holds (a
// flushed batch larger than that is copied whole). 16384 rows — seconds of the
// densest tables — keep a batch's columns within the CPU's caches while a reader
// decodes and merges them, and let replay decode the next batches on another core
// while it hands out the rows of this one (with 65536-row batches a minute of a
// segment decoded up front). 65536-row batches came out 0.3–1.4 % smaller.
const RewriteBatchRows = 1 << 14

// RewriteTableFile rewrites a table file (closed, or footerless after a failed write)
// with every readable row plus extra rows, all in t order (stable), in batches of up
// to 65,536 rows. It writes a temp file next to it, fdatasyncs and closes it, renames
// it over the original and syncs the folder: a crash before the rename leaves the
// original as it was (and the temp file, which Repair removes). A file whose rows are
// in t order, with no extra rows, is copied batch by batch, column by column (memory:
// one output batch); otherwise every row is read into memory and sorted.
func RewriteTableFile[R any](fs FS, path string, tbl *schema.Table[R], codec Codec, extra []R) (TableStats, error) {
	tmp := path + ".sort"
	var w *TableWriter[R]
	var err error
	if len(extra) == 0 {
		w, err = copyTable(fs, path, tmp, tbl, codec)
		if errors.Is(err, errNoCopy) {
			w, err = nil, nil
		}
	}
	if w == nil && err == nil {
		w, err = sortTable(fs, path, tmp, tbl, codec, extra)
	}
	if err != nil {
		return TableStats{}, fmt.Errorf("rewrite %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		fs.Remove(tmp)
		return TableStats{}, fmt.Errorf("rewrite %s: %w", path, err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return TableStats{}, err
	}
	return w.Stats(), nil
}

// copyTable copies the readable batches of path into a new file tmp column by column,
// joined into batches of up to RewriteBatchRows; errNoCopy when a batch cannot be
// copied (rows out of t order), tmp then removed. The writer returned is closed.
func copyTable[R any](fs FS, path, tmp string, tbl *schema.Table[R], codec Codec) (*TableWriter[R], error) {
	w, err := createTable(fs, tmp, tbl, codec)
	if err != nil {
		return nil, err
	}
	_, err = ReadTable(path, func(rec arrow.RecordBatch) error {
		if w.Pending() > 0 && w.Pending()+int(rec.NumRows()) > RewriteBatchRows {
			if err := w.Flush(); err != nil {
				return err
			}
		}
		return w.AppendRecord(rec)
	})
	var ce *CorruptionError
	if err != nil && !errors.As(err, &ce) { // a file that cannot be read at all has no rows
		w.discard()
		fs.Remove(tmp)
		return nil, err
	}
	if err := w.Close(); err != nil {
		fs.Remove(tmp)
		return nil, err
	}
	return w, nil
}

// sortTable writes the readable rows of path plus extra, sorted by t (stable), into a
// new file tmp. The writer returned is closed.
func sortTable[R any](fs FS, path, tmp string, tbl *schema.Table[R], codec Codec, extra []R) (*TableWriter[R], error) {
	var rows []R
	if _, err := ReadTable(path, func(rec arrow.RecordBatch) error {
		if err := tbl.Check(rec.Schema()); err != nil {
			return err
		}
		// each row read into its own value: byte columns are read into the value's
		// slices, which must not be shared between rows
		rows = append(rows, tbl.Rows(rec)...)
		return nil
	}); err != nil {
		var ce *CorruptionError
		if !errors.As(err, &ce) { // a file that cannot be read at all has no rows
			return nil, err
		}
	}
	rows = append(rows, extra...)
	sort.SliceStable(rows, func(i, j int) bool { return tbl.T(&rows[i]) < tbl.T(&rows[j]) })
	w, err := createTable(fs, tmp, tbl, codec)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		w.Append(&rows[i], tbl.T(&rows[i]))
		if w.Pending() >= RewriteBatchRows {
			if err := w.Flush(); err != nil {
				w.discard()
				fs.Remove(tmp)
				return nil, err
			}
		}
	}
	if err := w.Close(); err != nil {
		fs.Remove(tmp)
		return nil, err
	}
	return w, nil
}

// createTable creates a table file at path and starts its writer.
func createTable[R any](fs FS, path string, tbl *schema.Table[R], codec Codec) (*TableWriter[R], error) {
	f, err := fs.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := NewTableWriter(f, tbl, codec)
	if err != nil {
		f.Close()
		fs.Remove(path)
		return nil, err
	}
	return w, nil
}
