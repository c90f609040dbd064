package convert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"roadlog/record/drive"
	"roadlog/schema"
	"roadlog/tools/tableout"
)

// checker is the part of schema.Table that checks a file's schema.
type checker interface{ Check(*arrow.Schema) error }

// copyTable streams one table file into w: each batch is checked against the table's
// schema and written with it.
func copyTable(ctx context.Context, path string, t schema.AnyTable, w tableout.Writer) (int64, error) {
	var rows int64
	_, err := drive.ReadTable(path, func(rec arrow.RecordBatch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ck, ok := t.(checker); ok {
			if err := ck.Check(rec.Schema()); err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
		}
		r := array.NewRecordBatch(t.Schema(), rec.Columns(), rec.NumRows())
		defer r.Release()
		rows += r.NumRows()
		return w.Write(r)
	})
	return rows, err
}

// HivePath returns where the Parquet file of a table's segment goes:
// <out>/<table>/drive=<id>/seg=<NNNNNN>/part.parquet.
func HivePath(out string, table schema.TableName, driveID string, seg int) string {
	return filepath.Join(out, string(table), "drive="+driveID, fmt.Sprintf("seg=%06d", seg), "part.parquet")
}

func (c *converter) parquet(ctx context.Context) error {
	for _, seg := range c.segs {
		for _, t := range c.tables() {
			src := c.segPath(seg, drive.TableFile(t.TableName()))
			if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
				continue
			}
			f, err := createAtomic(HivePath(c.opt.Out, t.TableName(), c.id, seg))
			if err != nil {
				return fmt.Errorf("convert to parquet: %w", err)
			}
			p, err := tableout.NewParquet(f, t.Schema())
			if err != nil {
				f.Abort()
				return err
			}
			n, err := copyTable(ctx, src, t, p)
			if err == nil {
				err = p.Close()
			}
			if err != nil {
				f.Abort()
				return fmt.Errorf("convert %s to parquet: %w", src, err)
			}
			if err := f.Commit(c); err != nil {
				return err
			}
			c.sum.Rows += n
			c.read(src)
		}
	}
	return nil
}

func (c *converter) csv(ctx context.Context) error {
	for _, t := range c.tables() {
		f, err := createAtomic(filepath.Join(c.opt.Out, c.id, string(t.TableName())+".csv"))
		if err != nil {
			return fmt.Errorf("convert to csv: %w", err)
		}
		w, err := tableout.NewCSV(f, t.Schema())
		if err != nil {
			f.Abort()
			return err
		}
		for _, seg := range c.segs {
			src := c.segPath(seg, drive.TableFile(t.TableName()))
			if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
				continue
			}
			n, err := copyTable(ctx, src, t, w)
			if err != nil {
				f.Abort()
				return fmt.Errorf("convert %s to csv: %w", src, err)
			}
			c.sum.Rows += n
			c.read(src)
		}
		if err := w.Close(); err != nil {
			f.Abort()
			return err
		}
		if err := f.Commit(c); err != nil {
			return err
		}
	}
	return nil
}
