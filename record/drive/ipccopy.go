package drive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
)

// This file appends record batches read back from a table file to a writer column by
// column — the values' bytes copied as they are, no Go row built per row — for the
// rewrite of a segment's files into large batches when the segment closes.

// errNoCopy reports a batch that cannot be copied column by column (rows out of t
// order, a null where the writer has no validity, an unexpected array layout): the
// rewrite then goes through Go rows.
var errNoCopy = errors.New("batch cannot be copied column by column")

// AppendRecord appends every row of rec, a record batch of the writer's table as read
// back from one of its files, column by column. It refuses (errNoCopy, nothing
// appended) a batch whose schema differs from the table's or whose t column would put
// a row before the rows already appended.
func (w *TableWriter[R]) AppendRecord(rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if err := w.tbl.Check(rec.Schema()); err != nil {
		return fmt.Errorf("%w: %w", errNoCopy, err)
	}
	tcol := rec.Column(0)
	tb, err := fixedValues(tcol, 8)
	if err != nil || tcol.NullN() > 0 {
		return fmt.Errorf("%w: t column: %v (%d nulls)", errNoCopy, err, tcol.NullN())
	}
	ts := arrow.Int64Traits.CastFromBytes(tb)
	prev := w.LastT
	if w.Rows+int64(w.pendingRows) == 0 {
		prev = math.MinInt64
	}
	for k, t := range ts {
		if t < prev {
			return fmt.Errorf("%w: row %d is late (t %d after %d)", errNoCopy, k, t, prev)
		}
		prev = t
	}
	if err := w.iw.appendRecord(rec); err != nil {
		return err
	}
	if w.Rows+int64(w.pendingRows) == 0 {
		w.FirstT = ts[0]
	}
	w.LastT = ts[n-1]
	w.pendingRows += n
	return nil
}

// appendRecord appends rec's columns. The encoders are checked first, so a refused
// batch leaves every column as it was.
func (iw *ipcWriter[R]) appendRecord(rec arrow.RecordBatch) error {
	if int(rec.NumCols()) != len(iw.encs) {
		return fmt.Errorf("%w: %d columns, the table has %d", errNoCopy, rec.NumCols(), len(iw.encs))
	}
	for i, e := range iw.encs {
		if err := e.canCopy(rec.Column(i)); err != nil {
			return fmt.Errorf("%w: column %d: %w", errNoCopy, i, err)
		}
	}
	for i, e := range iw.encs {
		e.copyFrom(rec.Column(i))
	}
	iw.rows += int(rec.NumRows())
	return nil
}

// arrayBytes returns buffer k of a, or nil when the array has none.
func arrayBytes(a arrow.Array, k int) []byte {
	bufs := a.Data().Buffers()
	if k >= len(bufs) || bufs[k] == nil {
		return nil
	}
	return bufs[k].Bytes()
}

// fixedValues checks that a holds size-byte values and returns the bytes of its rows.
func fixedValues(a arrow.Array, size int) ([]byte, error) {
	fw, ok := a.DataType().(arrow.FixedWidthDataType)
	if !ok || fw.BitWidth() != 8*size {
		return nil, fmt.Errorf("type %s is not %d bytes wide", a.DataType(), size)
	}
	v := arrayBytes(a, 1)
	lo, hi := a.Data().Offset()*size, (a.Data().Offset()+a.Len())*size
	if hi > len(v) {
		return nil, fmt.Errorf("values buffer of %d bytes, want %d", len(v), hi)
	}
	return v[lo:hi], nil
}

// addBits appends the validity of a's rows.
func (v *validity) addBits(a arrow.Array) {
	if a.NullN() == 0 && v.nulls == 0 {
		v.n += a.Len()
		return
	}
	for i := 0; i < a.Len(); i++ {
		v.add(a.IsValid(i))
	}
}

func (e *int64Enc[R]) canCopy(a arrow.Array) error {
	if a.NullN() > 0 {
		return errors.New("nulls in a column without validity")
	}
	_, err := fixedValues(a, 8)
	return err
}

func (e *int64Enc[R]) copyFrom(a arrow.Array) {
	v, _ := fixedValues(a, 8)
	e.vals = append(e.vals, v...)
}

func (e *fixedEnc[R, T]) canCopy(a arrow.Array) error {
	if a.NullN() > 0 && e.null == nil {
		return errors.New("nulls in a column without validity")
	}
	_, err := fixedValues(a, e.size)
	return err
}

func (e *fixedEnc[R, T]) copyFrom(a arrow.Array) {
	v, _ := fixedValues(a, e.size)
	e.vals = append(e.vals, v...)
	if e.null != nil {
		e.valid.addBits(a)
	}
}

func (e *boolEnc[R]) canCopy(a arrow.Array) error {
	if a.NullN() > 0 {
		return errors.New("nulls in a column without validity")
	}
	if a.DataType().ID() != arrow.BOOL {
		return fmt.Errorf("type %s is not bool", a.DataType())
	}
	if need := (a.Data().Offset() + a.Len() + 7) / 8; len(arrayBytes(a, 1)) < need {
		return errors.New("bool buffer too short")
	}
	return nil
}

func (e *boolEnc[R]) copyFrom(a arrow.Array) {
	bits, off := arrayBytes(a, 1), a.Data().Offset()
	for i := 0; i < a.Len(); i++ {
		if e.n%8 == 0 {
			e.bits = append(e.bits, 0)
		}
		if bitutil.BitIsSet(bits, off+i) {
			e.bits[e.n/8] |= 1 << (e.n % 8)
		}
		e.n++
	}
}

func (e *varEnc[R]) canCopy(a arrow.Array) error {
	if a.NullN() > 0 {
		return errors.New("nulls in a column without validity")
	}
	if id := a.DataType().ID(); id != arrow.STRING && id != arrow.BINARY {
		return fmt.Errorf("type %s is not string or binary", a.DataType())
	}
	offs, data := arrayBytes(a, 1), arrayBytes(a, 2)
	lo, hi := a.Data().Offset(), a.Data().Offset()+a.Len()
	if 4*(hi+1) > len(offs) {
		return errors.New("offsets buffer too short")
	}
	prev := int32(binary.LittleEndian.Uint32(offs[4*lo:]))
	for k := lo + 1; k <= hi; k++ {
		o := int32(binary.LittleEndian.Uint32(offs[4*k:]))
		if o < prev || int(o) > len(data) {
			return fmt.Errorf("offset %d of row %d outside the %d-byte data", o, k, len(data))
		}
		prev = o
	}
	if prev < 0 {
		return errors.New("negative offset")
	}
	return nil
}

func (e *varEnc[R]) copyFrom(a arrow.Array) {
	offs, data := arrayBytes(a, 1), arrayBytes(a, 2)
	lo, hi := a.Data().Offset(), a.Data().Offset()+a.Len()
	if len(e.offs) == 0 {
		e.offs = binary.LittleEndian.AppendUint32(e.offs, 0)
	}
	first := binary.LittleEndian.Uint32(offs[4*lo:])
	base := uint32(len(e.data)) - first
	for k := lo + 1; k <= hi; k++ {
		e.offs = binary.LittleEndian.AppendUint32(e.offs, binary.LittleEndian.Uint32(offs[4*k:])+base)
	}
	e.data = append(e.data, data[first:binary.LittleEndian.Uint32(offs[4*hi:])]...)
}
