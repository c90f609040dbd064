package drive

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Arrow-go trusts the counts and lengths inside IPC metadata: a damaged schema can make
// it allocate a slice of billions of fields, and a damaged compressed buffer can make it
// allocate its declared uncompressed length. Recovery reads damaged files, so every
// message is checked here before arrow-go decodes it: vector lengths must fit in the
// metadata, buffers in the body, and declared uncompressed sizes under a cap.
// (Hand-written because arrow-go's flatbuffer bindings are internal.)

// MaxUncompressedBuffer caps the uncompressed size a compressed buffer may declare.
const MaxUncompressedBuffer = 64 << 20

var errFB = errors.New("malformed flatbuffer")

type fbuf []byte

func (b fbuf) u32(at int) (uint32, bool) {
	if at < 0 || at+4 > len(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[at:]), true
}

func (b fbuf) u16(at int) (uint16, bool) {
	if at < 0 || at+2 > len(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b[at:]), true
}

// field returns the absolute position of field i of the table at pos (0: absent).
func (b fbuf) field(pos, i int) (int, error) {
	so, ok := b.u32(pos)
	if !ok {
		return 0, errFB
	}
	vt := pos - int(int32(so))
	vtLen, ok := b.u16(vt)
	if !ok || vtLen < 4 || vt+int(vtLen) > len(b) {
		return 0, errFB
	}
	at := vt + 4 + 2*i
	if at+2 > vt+int(vtLen) {
		return 0, nil
	}
	o, _ := b.u16(at)
	if o == 0 {
		return 0, nil
	}
	if pos+int(o) >= len(b) {
		return 0, errFB
	}
	return pos + int(o), nil
}

// table follows the offset stored at field i of the table at pos to a sub-table.
func (b fbuf) table(pos, i int) (int, error) {
	at, err := b.field(pos, i)
	if err != nil || at == 0 {
		return 0, err
	}
	o, ok := b.u32(at)
	if !ok || at+int(o) >= len(b) {
		return 0, errFB
	}
	return at + int(o), nil
}

// vector returns the start and length of the vector at field i, checking that
// n elements of elem bytes fit in the buffer.
func (b fbuf) vector(pos, i, elem int) (start, n int, err error) {
	at, err := b.field(pos, i)
	if err != nil || at == 0 {
		return 0, 0, err
	}
	o, ok := b.u32(at)
	if !ok {
		return 0, 0, errFB
	}
	vp := at + int(o)
	cnt, ok := b.u32(vp)
	if !ok || int64(cnt)*int64(elem) > int64(len(b)-vp-4) {
		return 0, 0, fmt.Errorf("%w: vector of %d elements does not fit", errFB, cnt)
	}
	return vp + 4, int(cnt), nil
}

// checkMessage checks an IPC message (metadata flatbuffer meta, body) before arrow-go
// decodes it.
func checkMessage(meta, body []byte) error {
	b := fbuf(meta)
	root, ok := b.u32(0)
	if !ok || int(root) >= len(b) {
		return errFB
	}
	typAt, err := b.field(int(root), 1)
	if err != nil {
		return err
	}
	hdr, err := b.table(int(root), 2)
	if err != nil || hdr == 0 {
		return errFB
	}
	var typ byte
	if typAt != 0 {
		typ = meta[typAt]
	}
	switch typ {
	case 1: // Schema
		return checkSchema(b, hdr)
	case 3: // RecordBatch
		return checkBatch(b, hdr, body)
	}
	return nil
}

func checkSchema(b fbuf, schema int) error {
	start, n, err := b.vector(schema, 1, 4)
	if err != nil {
		return err
	}
	if _, _, err := b.vector(schema, 2, 4); err != nil {
		return err
	}
	for k := 0; k < n; k++ {
		if err := checkField(b, start+4*k, 0); err != nil {
			return err
		}
	}
	return nil
}

func checkField(b fbuf, at, depth int) error {
	if depth > 64 {
		return fmt.Errorf("%w: fields nested too deep", errFB)
	}
	o, ok := b.u32(at)
	if !ok || at+int(o) >= len(b) {
		return errFB
	}
	f := at + int(o)
	for _, i := range []int{0} { // name: a string (byte vector)
		if _, _, err := b.vector(f, i, 1); err != nil {
			return err
		}
	}
	cs, cn, err := b.vector(f, 5, 4) // children
	if err != nil {
		return err
	}
	if _, _, err := b.vector(f, 6, 4); err != nil { // custom_metadata
		return err
	}
	for k := 0; k < cn; k++ {
		if err := checkField(b, cs+4*k, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func checkBatch(b fbuf, rb int, body []byte) error {
	comp, err := b.field(rb, 3)
	if err != nil {
		return err
	}
	compressed := comp != 0
	if _, _, err := b.vector(rb, 1, 16); err != nil { // nodes: struct FieldNode {length, null_count}
		return err
	}
	bs, bn, err := b.vector(rb, 2, 16) // buffers: struct Buffer {offset, length}
	if err != nil {
		return err
	}
	if _, _, err := b.vector(rb, 4, 8); err != nil { // variadicBufferCounts
		return err
	}
	for k := 0; k < bn; k++ {
		off := int64(binary.LittleEndian.Uint64(b[bs+16*k:]))
		ln := int64(binary.LittleEndian.Uint64(b[bs+16*k+8:]))
		if off < 0 || ln < 0 || off+ln > int64(len(body)) {
			return fmt.Errorf("buffer %d [%d,+%d) outside the %d-byte body", k, off, ln, len(body))
		}
		if compressed && ln >= 8 {
			if u := int64(binary.LittleEndian.Uint64(body[off:])); u > MaxUncompressedBuffer || u < -1 {
				return fmt.Errorf("buffer %d declares %d uncompressed bytes", k, u)
			}
		}
	}
	return nil
}
