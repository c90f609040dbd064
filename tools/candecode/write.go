package candecode

import (
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Schema is the Arrow schema of a decoded table.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "t", Type: arrow.FixedWidthTypes.Timestamp_ns},
	{Name: "bus", Type: arrow.BinaryTypes.String},
	{Name: "id", Type: arrow.PrimitiveTypes.Uint32},
	{Name: "message", Type: arrow.BinaryTypes.String},
	{Name: "signal", Type: arrow.BinaryTypes.String},
	{Name: "value", Type: arrow.PrimitiveTypes.Float64},
	{Name: "raw", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "unit", Type: arrow.BinaryTypes.String},
	{Name: "label", Type: arrow.BinaryTypes.String},
}, nil)

// batchRows is the number of rows per record batch of the Arrow output.
const batchRows = 1 << 16

// ArrowWriter writes decoded rows as an Arrow IPC file (ZSTD-compressed buffers).
type ArrowWriter struct {
	w *ipc.FileWriter
	b *array.RecordBuilder
	n int
}

// NewArrowWriter starts an Arrow file on w.
func NewArrowWriter(w io.Writer) (*ArrowWriter, error) {
	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(Schema), ipc.WithZstd())
	if err != nil {
		return nil, err
	}
	return &ArrowWriter{w: fw, b: array.NewRecordBuilder(memory.NewGoAllocator(), Schema)}, nil
}

// Write adds a row.
func (a *ArrowWriter) Write(r *Row) error {
	a.b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(r.T))
	a.b.Field(1).(*array.StringBuilder).Append(r.Bus)
	a.b.Field(2).(*array.Uint32Builder).Append(r.ID)
	a.b.Field(3).(*array.StringBuilder).Append(r.Message)
	a.b.Field(4).(*array.StringBuilder).Append(r.Signal)
	a.b.Field(5).(*array.Float64Builder).Append(r.Value)
	a.b.Field(6).(*array.Uint64Builder).Append(r.Raw)
	a.b.Field(7).(*array.StringBuilder).Append(r.Unit)
	a.b.Field(8).(*array.StringBuilder).Append(r.Label)
	a.n++
	if a.n == batchRows {
		return a.flush()
	}
	return nil
}

func (a *ArrowWriter) flush() error {
	if a.n == 0 {
		return nil
	}
	rec := a.b.NewRecordBatch()
	defer rec.Release()
	a.n = 0
	return a.w.Write(rec)
}

// Close writes the last batch and the footer.
func (a *ArrowWriter) Close() error {
	err := a.flush()
	a.b.Release()
	return errors.Join(err, a.w.Close())
}

// CSVWriter writes decoded rows as CSV with a header; t is RFC 3339 UTC with
// nanoseconds.
type CSVWriter struct {
	w   *csv.Writer
	rec []string
}

// NewCSVWriter starts a CSV table on w.
func NewCSVWriter(w io.Writer) (*CSVWriter, error) {
	c := &CSVWriter{w: csv.NewWriter(w), rec: make([]string, 9)}
	return c, c.w.Write([]string{"t", "bus", "id", "message", "signal", "value", "raw", "unit", "label"})
}

// Write adds a row.
func (c *CSVWriter) Write(r *Row) error {
	c.rec[0] = time.Unix(0, r.T).UTC().Format(time.RFC3339Nano)
	c.rec[1] = r.Bus
	c.rec[2] = "0x" + strconv.FormatUint(uint64(r.ID), 16)
	c.rec[3] = r.Message
	c.rec[4] = r.Signal
	c.rec[5] = strconv.FormatFloat(r.Value, 'g', -1, 64)
	c.rec[6] = strconv.FormatUint(r.Raw, 10)
	c.rec[7] = r.Unit
	c.rec[8] = r.Label
	return c.w.Write(c.rec)
}

// Close flushes.
func (c *CSVWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// Multi writes every row to each sink.
type Multi []Sink

// Write writes r to every sink.
func (m Multi) Write(r *Row) error {
	for _, s := range m {
		if err := s.Write(r); err != nil {
			return err
		}
	}
	return nil
}
