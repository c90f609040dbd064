// Package tableout writes the Arrow record batches of a drive's tables as Parquet
// (arrow-go pqarrow) and as CSV, batch by batch, so that memory stays bounded by one
// row group whatever the table's length. Export writes a clip's signals with it and
// convert whole drives.
//
// Parquet files keep the Arrow schema (field units and docs in the metadata, stored as
// ARROW:schema) and are zstd-compressed with at most RowGroupRows rows per row group.
// Nothing time- or host-dependent goes into a file: the same rows give the same bytes.
//
// CSV files have a header row of column names; t and the other timestamp columns are
// RFC 3339 UTC with nine fractional digits (2026-11-30T08:15:00.033333333Z); integers
// and floats are decimal (floats in the shortest form that reads back exactly);
// booleans true/false; binary columns lowercase hex; enumerated columns (those whose
// field metadata has "codes") the code's name, or its number when it has none; null is
// the empty field.
package tableout

import (
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// RowGroupRows is the most rows a Parquet row group holds.
const RowGroupRows = 1 << 16

// Writer takes the record batches of one table.
type Writer interface {
	Write(rec arrow.RecordBatch) error
	// Close finishes the file (footer, flush); it does not close the underlying writer.
	Close() error
	// Rows returns the rows written.
	Rows() int64
}

// Parquet writes one Parquet file.
type Parquet struct {
	fw   *pqarrow.FileWriter
	rows int64
	done bool
}

// NewParquet starts a Parquet file for schema s on w. String columns are
// dictionary-encoded (bus names, labels, sources repeat); numeric columns are not (a
// dictionary of sensor readings costs a hash lookup per value and saves nothing).
func NewParquet(w io.Writer, s *arrow.Schema) (*Parquet, error) {
	opts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithMaxRowGroupLength(RowGroupRows),
		parquet.WithDictionaryDefault(false),
		parquet.WithStats(true),
	}
	for _, f := range s.Fields() {
		if f.Type.ID() == arrow.STRING {
			opts = append(opts, parquet.WithDictionaryFor(f.Name, true))
		}
	}
	props := parquet.NewWriterProperties(opts...)
	fw, err := pqarrow.NewFileWriter(s, nopCloser{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, fmt.Errorf("start parquet file: %w", err)
	}
	return &Parquet{fw: fw}, nil
}

// nopCloser keeps pqarrow from closing the caller's writer.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Write appends rec's rows to the current row group, starting a new one every
// RowGroupRows rows.
func (p *Parquet) Write(rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if err := p.fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("write parquet rows: %w", err)
	}
	p.rows += rec.NumRows()
	return nil
}

// Close writes the footer.
func (p *Parquet) Close() error {
	if p.done {
		return nil
	}
	p.done = true
	if err := p.fw.Close(); err != nil {
		return fmt.Errorf("close parquet file: %w", err)
	}
	return nil
}

// Rows returns the rows written.
func (p *Parquet) Rows() int64 { return p.rows }

// CSV writes one CSV file.
type CSV struct {
	w    *csv.Writer
	cols []colFormat
	rec  []string
	buf  []byte
	rows int64
}

type colFormat struct {
	codes map[uint64]string
}

// NewCSV starts a CSV file for schema s on w and writes the header row.
func NewCSV(w io.Writer, s *arrow.Schema) (*CSV, error) {
	c := &CSV{w: csv.NewWriter(w), cols: make([]colFormat, s.NumFields()), rec: make([]string, s.NumFields())}
	for i, f := range s.Fields() {
		c.rec[i] = f.Name
		if v, ok := f.Metadata.GetValue("codes"); ok {
			c.cols[i].codes = parseCodes(v)
		}
	}
	if err := c.w.Write(c.rec); err != nil {
		return nil, fmt.Errorf("write csv header: %w", err)
	}
	return c, nil
}

// parseCodes reads "0=unknown,1=ego,…" (schema's "codes" field metadata).
func parseCodes(s string) map[uint64]string {
	m := map[uint64]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			continue
		}
		m[n] = v
	}
	return m
}

// TimeLayout is how CSV writes timestamps.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// Write appends rec's rows.
func (c *CSV) Write(rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		for j := range c.rec {
			c.rec[j] = c.cell(rec.Column(j), i, &c.cols[j])
		}
		if err := c.w.Write(c.rec); err != nil {
			return fmt.Errorf("write csv row: %w", err)
		}
	}
	c.rows += int64(n)
	return nil
}

func (c *CSV) cell(a arrow.Array, i int, f *colFormat) string {
	if a.IsNull(i) {
		return ""
	}
	code := func(v uint64) string {
		if f.codes != nil {
			if n, ok := f.codes[v]; ok {
				return n
			}
		}
		return strconv.FormatUint(v, 10)
	}
	switch a := a.(type) {
	case *array.Timestamp:
		return time.Unix(0, int64(a.Value(i))).UTC().Format(TimeLayout)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int8:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Uint64:
		return code(a.Value(i))
	case *array.Uint32:
		return code(uint64(a.Value(i)))
	case *array.Uint16:
		return code(uint64(a.Value(i)))
	case *array.Uint8:
		return code(uint64(a.Value(i)))
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		c.buf = hex.AppendEncode(c.buf[:0], a.Value(i))
		return string(c.buf)
	}
	return a.ValueStr(i)
}

// Close flushes the buffered rows.
func (c *CSV) Close() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("flush csv: %w", err)
	}
	return nil
}

// Rows returns the rows written.
func (c *CSV) Rows() int64 { return c.rows }
