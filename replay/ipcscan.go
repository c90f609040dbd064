package replay

// Reading the parts of an Arrow IPC file around the record batches — the schema
// message and the message framing of a footerless file — by hand, with every length
// checked: arrow-go trusts the vector lengths of a schema's flatbuffer and allocates
// what a damaged file claims (hundreds of gigabytes for one flipped byte), so a
// damaged table file must not reach it.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/record/drive"
	"roadlog/schema"
)

// maxFields caps the columns a schema may claim.
const maxFields = 4096

// str returns the string of field i ("" when absent).
func (t fb) str(i int) (string, error) {
	b, err := t.bytesOf(i)
	return string(b), err
}

// bytesOf returns the bytes of string field i (nil when absent), aliasing the buffer.
func (t fb) bytesOf(i int) ([]byte, error) {
	p := t.field(i)
	if p < 0 {
		return nil, nil
	}
	off, ok := u32(t.b, p)
	if !ok {
		return nil, errFlatbuf
	}
	s := p + off
	n, ok := u32(t.b, s)
	if !ok || n < 0 || s+4+n > len(t.b) {
		return nil, errFlatbuf
	}
	return t.b[s+4 : s+4+n], nil
}

// tables returns the tables of a vector of tables (field i).
func (t fb) tables(i int, max int) ([]fb, error) {
	start, n, err := t.vector(i, 4)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("vector of %d tables (at most %d)", n, max)
	}
	out := make([]fb, n)
	for k := range out {
		at := start + 4*k
		off, _ := u32(t.b, at)
		if out[k], err = fbAt(t.b, at+off); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readMessage reads the framing and metadata of the message at off: its metadata
// flatbuffer, the bytes of prefix and metadata, and the body length. io.EOF is the
// end-of-stream marker.
func readMessage(r io.ReaderAt, off, size int64) (meta []byte, metaBytes, body int64, err error) {
	var pre [8]byte
	if size-off < 8 {
		return nil, 0, 0, fmt.Errorf("truncated message prefix (%d bytes left)", size-off)
	}
	if _, err := r.ReadAt(pre[:], off); err != nil {
		return nil, 0, 0, err
	}
	if binary.LittleEndian.Uint32(pre[:4]) != 0xFFFFFFFF {
		return nil, 0, 0, errors.New("no continuation marker")
	}
	n := int64(int32(binary.LittleEndian.Uint32(pre[4:])))
	if n == 0 {
		return nil, 0, 0, io.EOF
	}
	if n < 8 || n > drive.MaxMetadataSize || off+8+n > size {
		return nil, 0, 0, fmt.Errorf("metadata length %d out of range", n)
	}
	meta = make([]byte, n)
	if _, err := r.ReadAt(meta, off+8); err != nil {
		return nil, 0, 0, err
	}
	m, err := fbRoot(meta)
	if err != nil {
		return nil, 0, 0, err
	}
	body, err = m.int64(3, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	if body < 0 || body > drive.MaxBodySize || off+8+n+body > size {
		return nil, 0, 0, fmt.Errorf("body length %d out of range (%d bytes left)", body, size-off-8-n)
	}
	return meta, 8 + n, body, nil
}

// messageType returns the header type of a message's metadata.
func messageType(meta []byte) (byte, error) {
	m, err := fbRoot(meta)
	if err != nil {
		return 0, err
	}
	return m.byte(1, 0)
}

// checkSchema reads the schema message at byte 8 and checks it against want: the
// same columns (names and types) in the same order, and a format version this code
// reads. It returns where the first message after the schema starts.
func checkSchema(r io.ReaderAt, size int64, want *arrow.Schema) (int64, error) {
	var magic [8]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:6]) != string(arrowMagic) {
		return 0, errors.New("no ARROW1 magic")
	}
	meta, n, body, err := readMessage(r, 8, size)
	if err != nil {
		return 0, fmt.Errorf("read schema: %w", err)
	}
	m, err := fbRoot(meta)
	if err != nil {
		return 0, fmt.Errorf("read schema: %w", err)
	}
	if typ, _ := m.byte(1, 0); typ != 1 {
		return 0, fmt.Errorf("first message is of type %d, not a schema", typ)
	}
	s, ok, err := m.table(2)
	if err != nil || !ok {
		return 0, fmt.Errorf("read schema: %v", err)
	}
	fields, err := s.tables(1, maxFields)
	if err != nil {
		return 0, fmt.Errorf("read schema fields: %w", err)
	}
	if err := checkVersion(s, want); err != nil {
		return 0, err
	}
	if len(fields) != want.NumFields() {
		return 0, fmt.Errorf("%w: %d columns, want %d", schema.ErrSchemaMismatch, len(fields), want.NumFields())
	}
	for i, f := range fields {
		if err := checkField(f, want.Field(i)); err != nil {
			return 0, fmt.Errorf("%w: column %d: %v", schema.ErrSchemaMismatch, i, err)
		}
	}
	return 8 + n + body, nil
}

func checkVersion(s fb, want *arrow.Schema) error {
	kvs, err := s.tables(2, 1024)
	if err != nil {
		return fmt.Errorf("read schema metadata: %w", err)
	}
	max, _ := want.Metadata().GetValue(schema.MetaVersion)
	for _, kv := range kvs {
		k, err := kv.str(0)
		if err != nil || k != schema.MetaVersion {
			continue
		}
		v, err := kv.str(1)
		if err != nil {
			return err
		}
		n, err1 := strconv.Atoi(v)
		m, err2 := strconv.Atoi(max)
		if err1 != nil || (err2 == nil && n > m) {
			return fmt.Errorf("%w: format version %q, this roadlog reads up to %s", schema.ErrSchemaMismatch, v, max)
		}
	}
	return nil
}

// Arrow flatbuffer Type union tags and enum values used by roadlog's tables.
const (
	fbTypeInt       = 2
	fbTypeFloat     = 3
	fbTypeBinary    = 4
	fbTypeUtf8      = 5
	fbTypeBool      = 6
	fbTypeTimestamp = 10
)

// fieldType is a column type as a schema's flatbuffer gives it (or as a wanted
// field's type maps to it): comparable, so that checking a file's columns makes no
// strings unless they differ.
type fieldType struct {
	tag    byte // the Type union tag
	bits   int32
	signed bool
	prec   int16  // floats: 0 half, 1 single, 2 double; timestamps: the unit
	tz     string // timestamps (of the wanted field only)
}

func (t fieldType) String() string {
	switch t.tag {
	case fbTypeInt:
		if t.signed {
			return fmt.Sprintf("int%d", t.bits)
		}
		return fmt.Sprintf("uint%d", t.bits)
	case fbTypeFloat:
		switch t.prec {
		case 1:
			return "float32"
		case 2:
			return "float64"
		}
		return "float16"
	case fbTypeBinary:
		return "binary"
	case fbTypeUtf8:
		return "utf8"
	case fbTypeBool:
		return "bool"
	case fbTypeTimestamp:
		return fmt.Sprintf("timestamp[%d,%s]", t.prec, t.tz)
	}
	return fmt.Sprintf("type %d", t.tag)
}

// wantType maps an arrow type of roadlog's tables to its fieldType.
func wantType(dt arrow.DataType) fieldType {
	switch dt := dt.(type) {
	case *arrow.TimestampType:
		return fieldType{tag: fbTypeTimestamp, prec: int16(dt.Unit), tz: dt.TimeZone}
	case *arrow.StringType:
		return fieldType{tag: fbTypeUtf8}
	case *arrow.BinaryType:
		return fieldType{tag: fbTypeBinary}
	case *arrow.BooleanType:
		return fieldType{tag: fbTypeBool}
	case *arrow.Float32Type:
		return fieldType{tag: fbTypeFloat, prec: 1}
	case *arrow.Float64Type:
		return fieldType{tag: fbTypeFloat, prec: 2}
	}
	if fw, ok := dt.(arrow.FixedWidthDataType); ok {
		id := dt.ID()
		return fieldType{tag: fbTypeInt, bits: int32(fw.BitWidth()),
			signed: id == arrow.INT8 || id == arrow.INT16 || id == arrow.INT32 || id == arrow.INT64}
	}
	return fieldType{tag: 0xFF}
}

func checkField(f fb, want arrow.Field) error {
	name, err := f.bytesOf(0)
	if err != nil {
		return err
	}
	if string(name) != want.Name {
		return fmt.Errorf("named %q, want %q", name, want.Name)
	}
	if p := f.field(4); p >= 0 {
		return errors.New("dictionary-encoded")
	}
	if _, n, err := f.vector(5, 4); err != nil || n != 0 {
		return errors.New("has children")
	}
	tag, err := f.byte(2, 0)
	if err != nil {
		return err
	}
	typ, ok, err := f.table(3)
	if err != nil {
		return err
	}
	if !ok && tag != 0 {
		typ = fb{b: []byte{4, 0, 4, 0}, vtSize: 4} // empty table: every field default
	}
	i32 := func(i int, def int32) int32 {
		p := typ.field(i)
		if p < 0 || p+4 > len(typ.b) {
			return def
		}
		return int32(binary.LittleEndian.Uint32(typ.b[p:]))
	}
	i16 := func(i int, def int16) int16 {
		p := typ.field(i)
		if p < 0 || p+2 > len(typ.b) {
			return def
		}
		return int16(binary.LittleEndian.Uint16(typ.b[p:]))
	}
	got := fieldType{tag: tag}
	var tz []byte
	switch tag {
	case fbTypeInt:
		signed, _ := typ.byte(1, 0)
		got.bits, got.signed = i32(0, 0), signed != 0
	case fbTypeFloat:
		got.prec = i16(0, 0)
	case fbTypeTimestamp:
		if tz, err = typ.bytesOf(1); err != nil {
			return err
		}
		got.prec = i16(0, 0)
	}
	exp := wantType(want.Type)
	if got.tz = exp.tz; got != exp || string(tz) != exp.tz {
		got.tz = string(tz)
		return fmt.Errorf("%s is %s, want %s", name, got, exp)
	}
	return nil
}

// scanStream finds the record batch messages of a file read as a stream (no usable
// footer) from off: every message that frames correctly, and where it is damaged.
// After damage it resynchronises at the next 8-byte-aligned record batch message.
func scanStream(r io.ReaderAt, off, size int64, rel string) (blocks []block, damage []*DamageError) {
	for off < size {
		meta, n, body, err := readMessage(r, off, size)
		if errors.Is(err, io.EOF) { // end-of-stream marker (a footer may follow)
			return blocks, damage
		}
		if err == nil {
			var typ byte
			if typ, err = messageType(meta); err == nil && typ != 3 {
				err = fmt.Errorf("unexpected message of type %d", typ)
			}
		}
		if err != nil {
			next := resyncStream(r, off+8, size)
			damage = append(damage, &DamageError{Path: rel, Batch: -1, Offset: off, Err: fmt.Errorf("%w (skipped %d bytes)", err, next-off)})
			off = next
			continue
		}
		blocks = append(blocks, block{offset: off, meta: n, body: body})
		off += n + body
	}
	return blocks, damage
}

// resyncStream returns the next 8-byte-aligned offset from where a record batch
// message frames correctly, or size.
func resyncStream(r io.ReaderAt, from, size int64) int64 {
	if rem := from % 8; rem != 0 {
		from += 8 - rem
	}
	var w [4]byte
	for off := from; off+8 <= size; off += 8 {
		if _, err := r.ReadAt(w[:], off); err != nil {
			return size
		}
		if binary.LittleEndian.Uint32(w[:]) != 0xFFFFFFFF {
			continue
		}
		if meta, _, _, err := readMessage(r, off, size); err == nil {
			if typ, err := messageType(meta); err == nil && typ == 3 {
				return off
			}
		}
	}
	return size
}
