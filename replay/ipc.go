package replay

// Reading Arrow IPC files by hand, for speed: arrow-go's reader starts a new zstd
// stream decoder (with its goroutines) for every compressed buffer of every batch,
// which costs more than the rest of a replay together, and builds arrays a merge
// that only needs the t column does not. This file parses the flatbuffer metadata
// (every offset bounds-checked) and the footer; rawbatch.go decodes a batch's buffers
// into a reused arena with one reused synchronous decompressor, and builds arrow
// arrays over them only when a consumer asks. It handles the flat column types
// roadlog tables use (timestamps, integers, floats, booleans, strings, binary);
// anything else is an error.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"roadlog/record/drive"
)

// fb is a flatbuffer table inside b.
type fb struct {
	b          []byte
	pos        int // the table
	vt, vtSize int // its vtable
}

var errFlatbuf = errors.New("malformed flatbuffer")

func u32(b []byte, at int) (int, bool) {
	if at < 0 || at+4 > len(b) {
		return 0, false
	}
	return int(binary.LittleEndian.Uint32(b[at:])), true
}

// fbRoot returns the root table of a flatbuffer.
func fbRoot(b []byte) (fb, error) {
	off, ok := u32(b, 0)
	if !ok {
		return fb{}, errFlatbuf
	}
	return fbAt(b, off)
}

func fbAt(b []byte, pos int) (fb, error) {
	soff, ok := u32(b, pos)
	if !ok {
		return fb{}, errFlatbuf
	}
	vt := pos - int(int32(soff))
	if vt < 0 || vt+4 > len(b) {
		return fb{}, errFlatbuf
	}
	size := int(binary.LittleEndian.Uint16(b[vt:]))
	if size < 4 || vt+size > len(b) {
		return fb{}, errFlatbuf
	}
	return fb{b: b, pos: pos, vt: vt, vtSize: size}, nil
}

// field returns the absolute position of field i, or -1 when absent.
func (t fb) field(i int) int {
	at := t.vt + 4 + 2*i
	if at+2 > t.vt+t.vtSize {
		return -1
	}
	o := int(binary.LittleEndian.Uint16(t.b[at:]))
	if o == 0 {
		return -1
	}
	return t.pos + o
}

func (t fb) int64(i int, def int64) (int64, error) {
	p := t.field(i)
	if p < 0 {
		return def, nil
	}
	if p+8 > len(t.b) {
		return 0, errFlatbuf
	}
	return int64(binary.LittleEndian.Uint64(t.b[p:])), nil
}

func (t fb) byte(i int, def byte) (byte, error) {
	p := t.field(i)
	if p < 0 {
		return def, nil
	}
	if p >= len(t.b) {
		return 0, errFlatbuf
	}
	return t.b[p], nil
}

func (t fb) table(i int) (fb, bool, error) {
	p := t.field(i)
	if p < 0 {
		return fb{}, false, nil
	}
	off, ok := u32(t.b, p)
	if !ok {
		return fb{}, false, errFlatbuf
	}
	s, err := fbAt(t.b, p+off)
	return s, err == nil, err
}

// vector returns the start and length of a vector of structs of elem bytes.
func (t fb) vector(i, elem int) (start, n int, err error) {
	p := t.field(i)
	if p < 0 {
		return 0, 0, nil
	}
	off, ok := u32(t.b, p)
	if !ok {
		return 0, 0, errFlatbuf
	}
	v := p + off
	n, ok = u32(t.b, v)
	if !ok || n < 0 || v+4+n*elem > len(t.b) {
		return 0, 0, errFlatbuf
	}
	return v + 4, n, nil
}

// block is where one record batch message lies in a file.
type block struct {
	offset int64
	meta   int64 // bytes of the prefix and metadata
	body   int64
}

// footerBlocks reads the record batch blocks of an Arrow file's footer.
func footerBlocks(r io.ReaderAt, size int64) ([]block, error) {
	if size < 8+10 {
		return nil, errors.New("file too short for a footer")
	}
	var tail [10]byte
	if _, err := r.ReadAt(tail[:], size-10); err != nil {
		return nil, err
	}
	if !bytes.Equal(tail[4:], arrowMagic) {
		return nil, drive.ErrNoFooter
	}
	n := int64(int32(binary.LittleEndian.Uint32(tail[:4])))
	if n <= 0 || n > drive.MaxMetadataSize || n > size-10-8 {
		return nil, fmt.Errorf("footer length %d out of range", n)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-10-n); err != nil {
		return nil, err
	}
	root, err := fbRoot(buf)
	if err != nil {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	start, cnt, err := root.vector(3, 24)
	if err != nil {
		return nil, fmt.Errorf("read footer: %w", err)
	}
	out := make([]block, cnt)
	for i := range out {
		e := buf[start+24*i:]
		out[i] = block{
			offset: int64(binary.LittleEndian.Uint64(e)),
			meta:   int64(int32(binary.LittleEndian.Uint32(e[8:]))),
			body:   int64(binary.LittleEndian.Uint64(e[16:])),
		}
		b := out[i]
		if b.offset < 8 || b.meta < 8 || b.body < 0 || b.meta > drive.MaxMetadataSize || b.body > drive.MaxBodySize ||
			b.offset+b.meta+b.body > size {
			return nil, fmt.Errorf("footer block %d (offset %d, %d+%d bytes) out of range", i, b.offset, b.meta, b.body)
		}
	}
	return out, nil
}

// Limits on what a batch may claim (STYLE: every length from a file is capped).
const (
	// maxBatchRows caps a batch's rows; the recorder writes at most 65536.
	maxBatchRows = 1 << 24
	// maxRatio caps a buffer's compression ratio: zstd reaches about 30000:1 on runs
	// of zeros; a larger claim is damage, not data (and must not be allocated).
	maxRatio = 1 << 15
)
