package export

import (
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"roadlog/schema"
	"roadlog/tools/tableout"
)

// tableFiles writes one table of a clip as Parquet and/or CSV.
type tableFiles struct {
	table   clipTable
	schema  *arrow.Schema
	closers []io.Closer
	writers []tableout.Writer
}

// clipTable is a table a clip writes: one of the drive's (a schema.AnyTable) or one
// the export derives (decoded CAN).
type clipTable interface {
	TableName() schema.TableName
	Schema() *arrow.Schema
}

// checker is the part of schema.Table that checks a file's schema.
type checker interface {
	Check(*arrow.Schema) error
}

func newTableFiles(c *clipWriter, base string, t clipTable, parquet, csv bool) (*tableFiles, error) {
	tf := &tableFiles{table: t, schema: t.Schema()}
	if parquet {
		w, err := c.create(base + ".parquet")
		if err != nil {
			return nil, err
		}
		tf.closers = append(tf.closers, w)
		p, err := tableout.NewParquet(w, tf.schema)
		if err != nil {
			tf.abort()
			return nil, err
		}
		tf.writers = append(tf.writers, p)
	}
	if csv {
		w, err := c.create(base + ".csv")
		if err != nil {
			tf.abort()
			return nil, err
		}
		tf.closers = append(tf.closers, w)
		cw, err := tableout.NewCSV(w, tf.schema)
		if err != nil {
			tf.abort()
			return nil, err
		}
		tf.writers = append(tf.writers, cw)
	}
	return tf, nil
}

// write takes one batch of the table's rows; it is checked against the table's schema
// and written with it (so that every clip's files have the same schema).
func (tf *tableFiles) write(rec arrow.RecordBatch) error {
	if ck, ok := tf.table.(checker); ok {
		if err := ck.Check(rec.Schema()); err != nil {
			return err
		}
	}
	r := array.NewRecordBatch(tf.schema, rec.Columns(), rec.NumRows())
	defer r.Release()
	for _, w := range tf.writers {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	return nil
}

func (tf *tableFiles) close() error {
	var err error
	for _, w := range tf.writers {
		err = errors.Join(err, w.Close())
	}
	for _, c := range tf.closers {
		err = errors.Join(err, c.Close())
	}
	return err
}

func (tf *tableFiles) abort() {
	for _, c := range tf.closers {
		c.Close()
	}
}

// batchRows is how many rows go into one record batch of a clip's table.
const batchRows = 8192

// appender builds record batches of one table from replay's rows.
type appender struct {
	b   *array.RecordBuilder
	add func(schema.Sample) bool
	n   int
}

func newAppender(t schema.AnyTable) *appender {
	b := array.NewRecordBuilder(memory.NewGoAllocator(), t.Schema())
	return &appender{b: b, add: func(s schema.Sample) bool { return t.AppendSample(b, s) }}
}

// batch returns the rows appended since the last batch (nil when none).
func (a *appender) batch() arrow.RecordBatch {
	if a.n == 0 {
		return nil
	}
	a.n = 0
	return a.b.NewRecordBatch()
}

func (a *appender) release() { a.b.Release() }
