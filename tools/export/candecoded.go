package export

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"roadlog/dbc"
	"roadlog/schema"
	"roadlog/tools/candecode"
)

// TableCANDecoded is the clip table of CAN signals decoded with the drive's DBC files:
// one row per signal of each frame (t, bus, id, message, signal, value, raw, unit,
// label; the schema of tools/candecode).
const TableCANDecoded schema.TableName = "can_decoded"

// ErrNoDBC reports a decoded-CAN table asked of a drive without DBC files.
var ErrNoDBC = errors.New("the drive has no DBC files")

// DBC compiles the drive's DBC files (dbc/ in the drive, as the manifest lists them).
func (d *Drive) DBC() (*dbc.Database, error) {
	d.dbcOnce.Do(func() {
		var files []*dbc.File
		for _, rel := range d.Manifest.DBC {
			p := filepath.Join(d.Dir, filepath.FromSlash(rel))
			b, err := os.ReadFile(p)
			if err != nil {
				d.dbcErr = fmt.Errorf("read DBC: %w", err)
				return
			}
			f, err := dbc.Parse(p, b)
			if err != nil {
				d.dbcErr = fmt.Errorf("parse DBC: %w", err)
				return
			}
			files = append(files, f)
		}
		if len(files) == 0 {
			d.dbcErr = fmt.Errorf("decode CAN of %s: %w", d.ID(), ErrNoDBC)
			return
		}
		d.dbc = dbc.Compile(files...)
	})
	return d.dbc, d.dbcErr
}

// decodedBatch is how many decoded rows go into one record batch.
const decodedBatch = 1 << 14

// writeCANDecoded decodes the window's CAN frames into the clip's can_decoded files.
func (c *clipWriter) writeCANDecoded() error {
	db, err := c.x.d.DBC()
	if err != nil {
		return err
	}
	tw, err := newTableFiles(c, "tables/"+string(TableCANDecoded), decodedTable{}, c.x.opt.Parquet, c.x.opt.CSV)
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(memory.NewGoAllocator(), candecode.Schema)
	defer b.Release()
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		n = 0
		return tw.write(rec)
	}
	dmg, err := c.x.d.rows(schema.TableCAN, "", c.w.From, c.w.To, nil, func(smp schema.Sample) error {
		r := smp.(*schema.CAN)
		if r.Err || r.RTR {
			return nil
		}
		m := db.Message(r.ID, r.Ext)
		if m == nil {
			return nil
		}
		m.Decode(r.Data, func(s *dbc.Signal, raw uint64, v float64) {
			label, _ := s.Label(raw)
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(r.T))
			b.Field(1).(*array.StringBuilder).Append(r.Bus)
			b.Field(2).(*array.Uint32Builder).Append(r.ID)
			b.Field(3).(*array.StringBuilder).Append(m.Name)
			b.Field(4).(*array.StringBuilder).Append(s.Name)
			b.Field(5).(*array.Float64Builder).Append(v)
			b.Field(6).(*array.Uint64Builder).Append(raw)
			b.Field(7).(*array.StringBuilder).Append(s.Unit)
			b.Field(8).(*array.StringBuilder).Append(label)
			n++
		})
		if n >= decodedBatch {
			return flush()
		}
		return nil
	})
	c.damage += dmg
	if err == nil {
		err = flush()
	}
	if err != nil {
		tw.abort()
		return err
	}
	return tw.close()
}

// decodedTable gives the decoded-CAN schema the shape of a clipTable.
type decodedTable struct{}

func (decodedTable) TableName() schema.TableName { return TableCANDecoded }
func (decodedTable) Schema() *arrow.Schema       { return candecode.Schema }
