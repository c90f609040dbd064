package replay

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

// JSONOptions configure the JSON form of samples.
type JSONOptions struct {
	// Bytes writes binary payloads (video frames, their parameter sets) as base64;
	// without it they are left out and only their size (the frames row's size
	// column) says how large they were. CAN data is always written.
	Bytes bool
}

// JSONEncoder writes samples as JSON objects: "table", then every column of the
// sample's table under its column name, in column order. Nulls follow the on-disk
// contract (NaN floats, negative ids, zero optional times are null); enumerations are
// their numeric codes; binary columns are base64.
type JSONEncoder struct {
	opt   JSONOptions
	plans map[reflect.Type]*typePlan
}

type typePlan struct {
	table  schema.TableName
	fields []fieldPlan
}

type fieldPlan struct {
	name     string
	index    int
	nullNeg  bool // an id: negative is null
	nullZero bool // an optional time: 0 is null
	binary   bool
}

// errPlan reports a row type whose fields do not line up with its table's columns.
var errPlan = errors.New("row type does not match its table")

// NewJSONEncoder builds the encoder's field plans from the schema: the fields of each
// row type map one to one, in order, onto its table's columns.
func NewJSONEncoder(opt JSONOptions) (*JSONEncoder, error) {
	e := &JSONEncoder{opt: opt, plans: map[reflect.Type]*typePlan{}}
	rows := map[schema.TableName]any{
		schema.TableCAN: schema.CAN{}, schema.TableGNSS: schema.GNSS{}, schema.TableIMU: schema.IMU{},
		schema.TableEgo: schema.Ego{}, schema.TableFrames: schema.Frame{}, schema.TableObjects: schema.Object{},
		schema.TableTargets: schema.Target{}, schema.TableEvents: schema.Event{}, schema.TableTruth: schema.Truth{},
		schema.TableSync: schema.SyncRow{},
	}
	for _, t := range schema.Tables() {
		row, ok := rows[t.TableName()]
		if !ok {
			return nil, fmt.Errorf("%w: no row type for table %s", errPlan, t.TableName())
		}
		p, err := plan(t, reflect.TypeOf(row))
		if err != nil {
			return nil, err
		}
		e.plans[reflect.TypeOf(row)] = p
	}
	return e, nil
}

func plan(t schema.AnyTable, rt reflect.Type) (*typePlan, error) {
	sch := t.Schema()
	if rt.NumField() != sch.NumFields() {
		return nil, fmt.Errorf("%w: %s has %d fields, table %s %d columns", errPlan, rt, rt.NumField(), t.TableName(), sch.NumFields())
	}
	p := &typePlan{table: t.TableName()}
	for i := 0; i < rt.NumField(); i++ {
		f, sf := sch.Field(i), rt.Field(i)
		fp := fieldPlan{name: f.Name, index: i}
		k := sf.Type.Kind()
		ok := false
		switch f.Type.ID() {
		case arrow.TIMESTAMP:
			ok, fp.nullZero = k == reflect.Int64, f.Nullable
		case arrow.INT64:
			ok, fp.nullNeg = k == reflect.Int64, f.Nullable
		case arrow.INT32, arrow.INT8:
			ok = k == reflect.Int32 || k == reflect.Int8
		case arrow.UINT8, arrow.UINT16, arrow.UINT32:
			ok = k == reflect.Uint8 || k == reflect.Uint16 || k == reflect.Uint32
		case arrow.FLOAT32, arrow.FLOAT64:
			ok = k == reflect.Float32 || k == reflect.Float64
		case arrow.BOOL:
			ok = k == reflect.Bool
		case arrow.STRING:
			ok = k == reflect.String
		case arrow.BINARY:
			ok, fp.binary = k == reflect.Slice && sf.Type.Elem().Kind() == reflect.Uint8, true
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s.%s (%s) against column %s (%s)", errPlan, rt, sf.Name, sf.Type, f.Name, f.Type)
		}
		p.fields = append(p.fields, fp)
	}
	return p, nil
}

// Append appends the JSON object of s (no newline) to b.
func (e *JSONEncoder) Append(b []byte, s schema.Sample) ([]byte, error) {
	v := reflect.ValueOf(s)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return b, fmt.Errorf("encode %T: not a row", s)
	}
	v = v.Elem()
	var vf *schema.VideoFrame
	if f, ok := s.(*schema.VideoFrame); ok {
		vf, v = f, v.Field(0) // the embedded Frame
	}
	p := e.plans[v.Type()]
	if p == nil {
		return b, fmt.Errorf("encode %T: not a row of a table", s)
	}
	b = append(b, `{"table":`...)
	b = strconv.AppendQuote(b, string(p.table))
	for _, f := range p.fields {
		b = append(b, ',', '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		b = appendValue(b, v.Field(f.index), f)
	}
	if vf != nil && e.opt.Bytes {
		b = append(b, `,"data":"`...)
		b = base64.StdEncoding.AppendEncode(b, vf.Data)
		b = append(b, '"')
		if len(vf.Params) > 0 {
			b = append(b, `,"params":[`...)
			for i, ps := range vf.Params {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = base64.StdEncoding.AppendEncode(b, ps)
				b = append(b, '"')
			}
			b = append(b, ']')
		}
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v reflect.Value, f fieldPlan) []byte {
	switch v.Kind() {
	case reflect.Int64, reflect.Int32, reflect.Int8:
		n := v.Int()
		if (f.nullNeg && n < 0) || (f.nullZero && n == 0) {
			return append(b, "null"...)
		}
		return strconv.AppendInt(b, n, 10)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return strconv.AppendUint(b, v.Uint(), 10)
	case reflect.Float32:
		x := v.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, x, 'g', -1, 32)
	case reflect.Float64:
		x := v.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.String:
		return appendString(b, v.String())
	case reflect.Slice:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"')
	}
	return append(b, "null"...)
}

// appendString writes s as a JSON string (invalid UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// JSONSink writes each sample as one line of JSON to w. Publish blocks on w: a slow
// output slows a Player in front of it down (it never drops). The first write error
// stops output; Err returns it.
type JSONSink struct {
	enc *JSONEncoder
	w   io.Writer
	err error
	buf []byte
}

// NewJSONSink returns a sink writing JSON lines to w.
func NewJSONSink(w io.Writer, opt JSONOptions) (*JSONSink, error) {
	enc, err := NewJSONEncoder(opt)
	if err != nil {
		return nil, err
	}
	return &JSONSink{enc: enc, w: w}, nil
}

// Publish writes s.
func (j *JSONSink) Publish(s schema.Sample) {
	if j.err != nil {
		return
	}
	b, err := j.enc.Append(j.buf[:0], s)
	if err != nil {
		j.err = err
		return
	}
	j.buf = append(b, '\n')
	if _, err := j.w.Write(j.buf); err != nil {
		j.err = fmt.Errorf("write json: %w", err)
	}
}

// Err returns the error that stopped output, if any.
func (j *JSONSink) Err() error { return j.err }
