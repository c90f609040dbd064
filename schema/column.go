package schema

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Column describes one column of a table of row type R: its Arrow field (name, type,
// unit and meaning in the field metadata) and how to move a value between a row and
// an Arrow builder or array. One accessor, returning a pointer into the row, serves
// both directions so the two can never disagree.
type Column[R any] struct {
	Field  arrow.Field
	Unit   string
	Doc    string
	append func(b array.Builder, r *R)
	read   func(a arrow.Array, i int, r *R)
	time   func(*R) *int64 // set for timestamp columns

	// Get reads the column's value from a row, for writers that encode columns
	// themselves: one of func(*R) int64, int32, uint32, uint16, uint8, int8, float32,
	// float64, bool, string or []byte, matching Field.Type's physical layout.
	Get any
	// Null reports whether the row's value is written as null (nil: never).
	Null func(*R) bool
}

// fieldMeta builds the per-field metadata every roadlog column carries.
func fieldMeta(unit, doc string, extra ...string) arrow.Metadata {
	keys := []string{"unit", "doc"}
	vals := []string{unit, doc}
	for i := 0; i+1 < len(extra); i += 2 {
		keys = append(keys, extra[i])
		vals = append(vals, extra[i+1])
	}
	return arrow.NewMetadata(keys, vals)
}

func col[R any](name string, typ arrow.DataType, nullable bool, unit, doc string,
	app func(array.Builder, *R), rd func(arrow.Array, int, *R), extra ...string) Column[R] {
	return Column[R]{
		Field: arrow.Field{Name: name, Type: typ, Nullable: nullable, Metadata: fieldMeta(unit, doc, extra...)},
		Unit:  unit, Doc: doc, append: app, read: rd,
	}
}

// Time is a timestamp[ns, UTC] column holding nanoseconds since the Unix epoch.
func Time[R any](name, doc string, f func(*R) *int64) Column[R] {
	c := col(name, arrow.FixedWidthTypes.Timestamp_ns, false, "ns", doc,
		func(b array.Builder, r *R) { b.(*array.TimestampBuilder).Append(arrow.Timestamp(*f(r))) },
		func(a arrow.Array, i int, r *R) { *f(r) = int64(a.(*array.Timestamp).Value(i)) })
	c.time = f
	c.Get = func(r *R) int64 { return *f(r) }
	return c
}

// OptTime is a nullable timestamp[ns, UTC] column; 0 in the row means null.
func OptTime[R any](name, doc string, f func(*R) *int64) Column[R] {
	c := col(name, arrow.FixedWidthTypes.Timestamp_ns, true, "ns", doc+" (null when unknown)",
		func(b array.Builder, r *R) {
			v := *f(r)
			if v == 0 {
				b.AppendNull()
				return
			}
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(v))
		},
		func(a arrow.Array, i int, r *R) {
			if a.IsNull(i) {
				*f(r) = 0
				return
			}
			*f(r) = int64(a.(*array.Timestamp).Value(i))
		})
	c.Get = func(r *R) int64 { return *f(r) }
	c.Null = func(r *R) bool { return *f(r) == 0 }
	return c
}

// Int64 is a plain int64 column.
func Int64[R any](name, unit, doc string, f func(*R) *int64) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Int64, false, unit, doc,
		func(b array.Builder, r *R) { b.(*array.Int64Builder).Append(*f(r)) },
		func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Int64).Value(i) })
	c.Get = func(r *R) int64 { return *f(r) }
	return c
}

// ID is a nullable int64 identifier column: a negative value in the row means "none"
// and is written as null.
func ID[R any](name, doc string, f func(*R) *int64) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Int64, true, "", doc+" (null when none)",
		func(b array.Builder, r *R) {
			v := *f(r)
			if v < 0 {
				b.AppendNull()
				return
			}
			b.(*array.Int64Builder).Append(v)
		},
		func(a arrow.Array, i int, r *R) {
			if a.IsNull(i) {
				*f(r) = -1
				return
			}
			*f(r) = a.(*array.Int64).Value(i)
		})
	c.Get = func(r *R) int64 { return *f(r) }
	c.Null = func(r *R) bool { return *f(r) < 0 }
	return c
}

// Int32 is a plain int32 column.
func Int32[R any](name, unit, doc string, f func(*R) *int32) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Int32, false, unit, doc,
		func(b array.Builder, r *R) { b.(*array.Int32Builder).Append(*f(r)) },
		func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Int32).Value(i) })
	c.Get = func(r *R) int32 { return *f(r) }
	return c
}

// Uint32 is a plain uint32 column.
func Uint32[R any](name, unit, doc string, f func(*R) *uint32) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Uint32, false, unit, doc,
		func(b array.Builder, r *R) { b.(*array.Uint32Builder).Append(*f(r)) },
		func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Uint32).Value(i) })
	c.Get = func(r *R) uint32 { return *f(r) }
	return c
}

// Uint16 is a plain uint16 column.
func Uint16[R any](name, unit, doc string, f func(*R) *uint16) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Uint16, false, unit, doc,
		func(b array.Builder, r *R) { b.(*array.Uint16Builder).Append(*f(r)) },
		func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Uint16).Value(i) })
	c.Get = func(r *R) uint16 { return *f(r) }
	return c
}

// Uint8 is a plain uint8 column.
func Uint8[R any](name, unit, doc string, f func(*R) *uint8) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Uint8, false, unit, doc,
		func(b array.Builder, r *R) { b.(*array.Uint8Builder).Append(*f(r)) },
		func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Uint8).Value(i) })
	c.Get = func(r *R) uint8 { return *f(r) }
	return c
}

// Int8 is a plain int8 column.
func Int8[R any](name, unit, doc string, f func(*R) *int8) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Int8, false, unit, doc,
		func(b array.Builder, r *R) { b.(*array.Int8Builder).Append(*f(r)) },
		func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Int8).Value(i) })
	c.Get = func(r *R) int8 { return *f(r) }
	return c
}

// Enum is a uint8 column whose values are the explicit codes of an enumeration; the
// codes and their names are written into the field metadata ("codes": "0=unknown,1=…").
func Enum[R any, E ~uint8](name, doc string, names map[E]string, f func(*R) *E) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Uint8, false, "code", doc,
		func(b array.Builder, r *R) { b.(*array.Uint8Builder).Append(uint8(*f(r))) },
		func(a arrow.Array, i int, r *R) { *f(r) = E(a.(*array.Uint8).Value(i)) },
		"codes", codeList(names))
	c.Get = func(r *R) uint8 { return uint8(*f(r)) }
	return c
}

// Enum16 is Enum for uint16 codes.
func Enum16[R any, E ~uint16](name, doc string, names map[E]string, f func(*R) *E) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Uint16, false, "code", doc,
		func(b array.Builder, r *R) { b.(*array.Uint16Builder).Append(uint16(*f(r))) },
		func(a arrow.Array, i int, r *R) { *f(r) = E(a.(*array.Uint16).Value(i)) },
		"codes", codeList(names))
	c.Get = func(r *R) uint16 { return uint16(*f(r)) }
	return c
}

func codeList[E ~uint8 | ~uint16](names map[E]string) string {
	var max E
	for k := range names {
		if k > max {
			max = k
		}
	}
	var sb strings.Builder
	for k := E(0); k <= max; k++ {
		n, ok := names[k]
		if !ok {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%d=%s", k, n)
	}
	return sb.String()
}

// Float64 is a float64 column; NaN in the row is written as null and read back as NaN.
func Float64[R any](name, unit, doc string, f func(*R) *float64) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Float64, true, unit, doc,
		func(b array.Builder, r *R) {
			v := *f(r)
			if math.IsNaN(v) {
				b.AppendNull()
				return
			}
			b.(*array.Float64Builder).Append(v)
		},
		func(a arrow.Array, i int, r *R) {
			if a.IsNull(i) {
				*f(r) = math.NaN()
				return
			}
			*f(r) = a.(*array.Float64).Value(i)
		})
	c.Get = func(r *R) float64 { return *f(r) }
	c.Null = func(r *R) bool { return math.IsNaN(*f(r)) }
	return c
}

// Float32 is a float32 column; NaN in the row is written as null and read back as NaN.
func Float32[R any](name, unit, doc string, f func(*R) *float32) Column[R] {
	c := col(name, arrow.PrimitiveTypes.Float32, true, unit, doc,
		func(b array.Builder, r *R) {
			v := *f(r)
			if v != v {
				b.AppendNull()
				return
			}
			b.(*array.Float32Builder).Append(v)
		},
		func(a arrow.Array, i int, r *R) {
			if a.IsNull(i) {
				*f(r) = float32(math.NaN())
				return
			}
			*f(r) = a.(*array.Float32).Value(i)
		})
	c.Get = func(r *R) float32 { return *f(r) }
	c.Null = func(r *R) bool { v := *f(r); return v != v }
	return c
}

// Bool is a plain boolean column.
func Bool[R any](name, doc string, f func(*R) *bool) Column[R] {
	c := col(name, arrow.FixedWidthTypes.Boolean, false, "", doc,
		func(b array.Builder, r *R) { b.(*array.BooleanBuilder).Append(*f(r)) },
		func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Boolean).Value(i) })
	c.Get = func(r *R) bool { return *f(r) }
	return c
}

// String is a utf8 column.
func String[R any](name, unit, doc string, f func(*R) *string) Column[R] {
	c := col(name, arrow.BinaryTypes.String, false, unit, doc,
		func(b array.Builder, r *R) { b.(*array.StringBuilder).Append(*f(r)) },
		func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.String).Value(i) })
	c.Get = func(r *R) string { return *f(r) }
	return c
}

// Binary is a variable-length binary column. Reading copies the bytes so the row
// outlives the record batch.
func Binary[R any](name, unit, doc string, f func(*R) *[]byte) Column[R] {
	c := col(name, arrow.BinaryTypes.Binary, false, unit, doc,
		func(b array.Builder, r *R) { b.(*array.BinaryBuilder).Append(*f(r)) },
		func(a arrow.Array, i int, r *R) {
			v := a.(*array.Binary).Value(i)
			*f(r) = append((*f(r))[:0], v...)
		})
	c.Get = func(r *R) []byte { return *f(r) }
	return c
}
