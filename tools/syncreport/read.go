// Package syncreport reads the sync tables of a drive (seg-*/sync.arrow) and reports
// the health of every clock estimate: how long it was locked, its drift, and p50/p99
// of its jitter, uncertainty and offset wander, with a PNG plot of offset over time.
// It is the logic behind `roadlog inspect --sync DRIVE`.
package syncreport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"roadlog/schema"
)

// ErrNoSyncData is returned when a drive has no readable sync rows.
var ErrNoSyncData = errors.New("no sync data")

// CorruptionError says which sync file could not be read (fully), and where.
type CorruptionError struct {
	Path   string
	Offset int64 // byte offset of the damage when known (−1: unknown)
	Err    error
}

func (e *CorruptionError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s: damaged at byte %d: %v", e.Path, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// Files returns the drive's sync tables, in segment order.
func Files(drive string) ([]string, error) {
	if st, err := os.Stat(drive); err != nil {
		return nil, fmt.Errorf("open drive: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("open drive %s: not a folder", drive)
	}
	m, err := filepath.Glob(filepath.Join(drive, "seg-*", string(schema.TableSync)+".arrow"))
	if err != nil {
		return nil, fmt.Errorf("list sync tables: %w", err)
	}
	sort.Strings(m)
	return m, nil
}

// arrowMagic opens an Arrow IPC file; the stream format follows it.
var arrowMagic = []byte("ARROW1\x00\x00")

// ReadFile returns the rows of one sync.arrow. A file without its footer (a segment
// still being written, or cut by a crash) is read as the stream after its magic, and
// every complete record batch is kept; the damage is then returned as a
// *CorruptionError alongside the rows.
func ReadFile(path string) ([]schema.SyncRow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sync table: %w", err)
	}
	if fr, err := ipc.NewFileReader(bytes.NewReader(data)); err == nil {
		defer fr.Close()
		if err := schema.SyncTable.Check(fr.Schema()); err != nil {
			return nil, &CorruptionError{Path: path, Offset: -1, Err: err}
		}
		var rows []schema.SyncRow
		for i := range fr.NumRecords() {
			rec, err := fr.RecordBatch(i)
			if err != nil {
				return rows, &CorruptionError{Path: path, Offset: -1, Err: fmt.Errorf("record batch %d: %w", i, err)}
			}
			rows = append(rows, schema.SyncTable.Rows(rec)...)
		}
		return rows, nil
	}
	// no footer: the stream after the magic
	if !bytes.HasPrefix(data, arrowMagic) {
		return nil, &CorruptionError{Path: path, Offset: 0, Err: errors.New("not an Arrow IPC file")}
	}
	cr := &countingReader{r: bytes.NewReader(data[len(arrowMagic):])}
	sr, err := ipc.NewReader(cr)
	if err != nil {
		return nil, &CorruptionError{Path: path, Offset: int64(len(arrowMagic)), Err: err}
	}
	defer sr.Release()
	if err := schema.SyncTable.Check(sr.Schema()); err != nil {
		return nil, &CorruptionError{Path: path, Offset: -1, Err: err}
	}
	var rows []schema.SyncRow
	for sr.Next() {
		rows = append(rows, schema.SyncTable.Rows(sr.RecordBatch())...)
	}
	damage := sr.Err()
	if damage == nil {
		damage = errors.New("no footer")
	}
	return rows, &CorruptionError{Path: path, Offset: int64(len(arrowMagic)) + cr.n, Err: damage}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

var _ arrow.RecordBatch // the rows come from record batches
