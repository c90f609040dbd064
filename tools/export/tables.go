package export

import (
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"roadlog/schema"
	"roadlog/tools/tableout"
)

// tableFiles writes one table of a clip as Parquet and/or CSV.
type tableFiles struct {
	table   schema.AnyTable
	schema  *arrow.Schema
	closers []io.Closer
	writers []tableout.Writer
}

// checker is the part of schema.Table that checks a file's schema.
type checker interface {
	Check(*arrow.Schema) error
}

func newTableFiles(c *clipWriter, base string, t schema.AnyTable, parquet, csv bool) (*tableFiles, error) {
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
