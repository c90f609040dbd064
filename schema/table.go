package schema

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Metadata keys written into every table's Arrow schema.
const (
	MetaFormat  = "roadlog.format"  // always "roadlog-drive"
	MetaVersion = "roadlog.version" // FormatVersion, decimal
	MetaTable   = "roadlog.table"   // the table's name, e.g. "can"
	MetaDoc     = "roadlog.doc"     // one line on what a row is
)

// FormatName is the value of MetaFormat.
const FormatName = "roadlog-drive"

// ErrSchemaMismatch reports a file whose schema is not the one roadlog expects for
// its table (wrong columns, or a newer format version).
var ErrSchemaMismatch = errors.New("schema mismatch")

// Table is the description of one table of a drive: its name, its version, and its
// columns. Append and Read move rows of type R in and out of Arrow.
type Table[R any] struct {
	Name    TableName
	Version int
	Doc     string
	Columns []Column[R]
	schema  *arrow.Schema
}

func newTable[R any](name TableName, version int, doc string, cols ...Column[R]) *Table[R] {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.Field
	}
	md := arrow.NewMetadata(
		[]string{MetaFormat, MetaVersion, MetaTable, MetaDoc},
		[]string{FormatName, strconv.Itoa(version), string(name), doc})
	if len(cols) == 0 || cols[0].time == nil || cols[0].Field.Name != "t" {
		panic("schema: table " + string(name) + " must start with its t column") // a programming error in this package
	}
	t := &Table[R]{Name: name, Version: version, Doc: doc, Columns: cols}
	t.schema = arrow.NewSchema(fields, &md)
	return t
}

// Schema returns the table's Arrow schema, metadata included.
func (t *Table[R]) Schema() *arrow.Schema { return t.schema }

// Append adds one row to b, which must have been made for t.Schema().
func (t *Table[R]) Append(b *array.RecordBuilder, r *R) {
	for i := range t.Columns {
		t.Columns[i].append(b.Field(i), r)
	}
}

// Read fills r from row i of rec. rec must match t.Schema() (see Check).
func (t *Table[R]) Read(rec arrow.RecordBatch, i int, r *R) {
	for c := range t.Columns {
		t.Columns[c].read(rec.Column(c), i, r)
	}
}

// T returns a row's t (the first column, which every table has).
func (t *Table[R]) T(r *R) int64 { return *t.Columns[0].time(r) }

// Rows returns every row of rec.
func (t *Table[R]) Rows(rec arrow.RecordBatch) []R {
	out := make([]R, rec.NumRows())
	for i := range out {
		t.Read(rec, i, &out[i])
	}
	return out
}

// Check reports whether s can be read as this table: the same column names and types in
// the same order, and a format version this code knows. Older versions are accepted
// as long as their columns match.
func (t *Table[R]) Check(s *arrow.Schema) error {
	if v, ok := s.Metadata().GetValue(MetaVersion); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n > t.Version {
			return fmt.Errorf("%w: table %s has format version %q, this roadlog reads up to %d",
				ErrSchemaMismatch, t.Name, v, t.Version)
		}
	}
	if s.NumFields() != len(t.Columns) {
		return fmt.Errorf("%w: table %s has %d columns, want %d", ErrSchemaMismatch, t.Name, s.NumFields(), len(t.Columns))
	}
	for i, c := range t.Columns {
		f := s.Field(i)
		if f.Name != c.Field.Name || !arrow.TypeEqual(f.Type, c.Field.Type) {
			return fmt.Errorf("%w: table %s column %d is %s %s, want %s %s",
				ErrSchemaMismatch, t.Name, i, f.Name, f.Type, c.Field.Name, c.Field.Type)
		}
	}
	return nil
}

// AnyTable is the part of Table that does not depend on the row type; the recorder,
// verify and inspect work with it.
type AnyTable interface {
	TableName() TableName
	Schema() *arrow.Schema
	// AppendSample appends s as a row when it is of the table's row type (false
	// when it is not): for callers that hold tables and samples without their
	// types.
	AppendSample(b *array.RecordBuilder, s Sample) bool
}

// AppendSample appends s as a row when it is an *R.
func (t *Table[R]) AppendSample(b *array.RecordBuilder, s Sample) bool {
	r, ok := any(s).(*R)
	if ok {
		t.Append(b, r)
	}
	return ok
}

// TableName returns the table's name.
func (t *Table[R]) TableName() TableName { return t.Name }
