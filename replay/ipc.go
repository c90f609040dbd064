package replay

// A record batch decoder for Arrow IPC messages, hand-written for speed: arrow-go's
// reader starts a new zstd stream decoder (with its goroutines) for every compressed
// buffer of every batch, which costs more than the rest of a replay together. This one
// parses the message's flatbuffer metadata itself (every offset bounds-checked),
// decompresses each buffer with one reused synchronous decoder, and builds the arrays
// with arrow-go. It handles the flat column types roadlog tables use (timestamps,
// integers, floats, booleans, strings, binary); anything else is an error.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

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

// batchDecoder decodes record batch messages; it keeps its decompressors between
// batches. Not safe for concurrent use.
type batchDecoder struct {
	zstd *zstd.Decoder
	lz4  *lz4.Reader
}

func (d *batchDecoder) close() {
	if d.zstd != nil {
		d.zstd.Close()
		d.zstd = nil
	}
}

// decode decodes one whole message (continuation marker, length, metadata, body) of
// a record batch of schema sch. aliased says the batch's arrays point into msg (an
// uncompressed body), which must then not be reused.
func (d *batchDecoder) decode(sch *arrow.Schema, msg []byte) (rec arrow.RecordBatch, aliased bool, err error) {
	var metaLen, metaAt int
	if v, ok := u32(msg, 0); ok && uint32(v) == 0xFFFFFFFF {
		metaLen, _ = u32(msg, 4)
		metaAt = 8
	} else if ok {
		metaLen, metaAt = v, 4 // pre-1.0 framing without the continuation marker
	}
	metaLen = int(int32(metaLen))
	if metaLen <= 0 || metaAt+metaLen > len(msg) {
		return nil, false, fmt.Errorf("message metadata length %d out of range", metaLen)
	}
	meta := msg[metaAt : metaAt+metaLen]
	m, err := fbRoot(meta)
	if err != nil {
		return nil, false, fmt.Errorf("read message: %w", err)
	}
	if typ, err := m.byte(1, 0); err != nil || typ != 3 { // MessageHeader.RecordBatch
		return nil, false, fmt.Errorf("message is not a record batch (header type %d)", typ)
	}
	bodyLen, err := m.int64(3, 0)
	if err != nil {
		return nil, false, err
	}
	body := msg[metaAt+metaLen:]
	if bodyLen < 0 || bodyLen > int64(len(body)) {
		return nil, false, fmt.Errorf("body length %d, message holds %d", bodyLen, len(body))
	}
	body = body[:bodyLen]
	rb, ok, err := m.table(2)
	if err != nil || !ok {
		return nil, false, fmt.Errorf("record batch header missing: %v", err)
	}
	length, err := rb.int64(0, 0)
	if err != nil || length < 0 || length > maxBatchRows {
		return nil, false, fmt.Errorf("record batch length %d out of range", length)
	}
	nodeAt, nNodes, err := rb.vector(1, 16)
	if err != nil {
		return nil, false, err
	}
	bufAt, nBufs, err := rb.vector(2, 16)
	if err != nil {
		return nil, false, err
	}
	codec := -1
	if c, ok, err := rb.table(3); err != nil {
		return nil, false, err
	} else if ok {
		v, err := c.byte(0, 0)
		if err != nil {
			return nil, false, err
		}
		codec = int(v) // 0 LZ4_FRAME, 1 ZSTD
	}
	if nNodes != sch.NumFields() {
		return nil, false, fmt.Errorf("batch has %d columns, schema %d", nNodes, sch.NumFields())
	}
	// one allocation holds every decompressed buffer of the batch (8-byte aligned)
	var arena []byte
	if codec >= 0 {
		total := 0
		for k := 0; k < nBufs; k++ {
			e := meta[bufAt+16*k:]
			off, n := int64(binary.LittleEndian.Uint64(e)), int64(binary.LittleEndian.Uint64(e[8:]))
			if off < 0 || n < 8 || off+n > int64(len(body)) {
				continue // checked again below
			}
			size := int64(binary.LittleEndian.Uint64(body[off:]))
			if size > maxRatio*(n-8)+4096 {
				return nil, false, fmt.Errorf("buffer %d claims %d bytes from %d compressed", k, size, n-8)
			}
			if size > 0 {
				total += int(size+7) &^ 7
			}
		}
		if total > drive.MaxBodySize {
			return nil, false, fmt.Errorf("batch decompresses to %d bytes", total)
		}
		arena = make([]byte, 0, total)
	}
	nextBuf := 0
	buffer := func() (*memory.Buffer, error) {
		if nextBuf >= nBufs {
			return nil, errors.New("batch has fewer buffers than its columns need")
		}
		e := meta[bufAt+16*nextBuf:]
		nextBuf++
		off, n := int64(binary.LittleEndian.Uint64(e)), int64(binary.LittleEndian.Uint64(e[8:]))
		if off < 0 || n < 0 || off+n > int64(len(body)) {
			return nil, fmt.Errorf("buffer at %d+%d outside the %d-byte body", off, n, len(body))
		}
		raw := body[off : off+n]
		if n == 0 {
			return nil, nil
		}
		if codec < 0 {
			return memory.NewBufferBytes(raw), nil
		}
		if n < 8 {
			return nil, fmt.Errorf("compressed buffer of %d bytes", n)
		}
		size := int64(binary.LittleEndian.Uint64(raw))
		if size == -1 {
			aliased = true
			return memory.NewBufferBytes(raw[8:]), nil
		}
		if size < 0 || size > drive.MaxBodySize {
			return nil, fmt.Errorf("uncompressed size %d out of range", size)
		}
		var dst []byte
		if pos, sz := len(arena), int(size+7)&^7; pos+sz <= cap(arena) {
			dst = arena[pos : pos : pos+int(size)]
			arena = arena[:pos+sz]
		}
		out, err := d.decompress(codec, raw[8:], int(size), dst)
		if err != nil {
			return nil, err
		}
		return memory.NewBufferBytes(out), nil
	}
	cols := make([]arrow.Array, nNodes)
	release := func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}
	for i := range cols {
		e := meta[nodeAt+16*i:]
		n, nulls := int64(binary.LittleEndian.Uint64(e)), int64(binary.LittleEndian.Uint64(e[8:]))
		if n != length || nulls < 0 || nulls > n {
			release()
			return nil, false, fmt.Errorf("column %d: %d rows (%d null) in a batch of %d", i, n, nulls, length)
		}
		f := sch.Field(i)
		cols[i], err = loadColumn(f.Type, int(n), int(nulls), buffer)
		if err != nil {
			release()
			return nil, false, fmt.Errorf("column %d (%s): %w", i, f.Name, err)
		}
	}
	rec = array.NewRecordBatch(sch, cols, length)
	release()
	return rec, codec < 0 || aliased, nil
}

// decompress decompresses src, of size bytes uncompressed, into dst (a new slice when
// dst has no room).
func (d *batchDecoder) decompress(codec int, src []byte, size int, dst []byte) ([]byte, error) {
	out := dst[:0]
	if cap(out) < size {
		out = make([]byte, 0, size)
	}
	switch codec {
	case 1:
		if d.zstd == nil {
			z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(drive.MaxBodySize), zstd.IgnoreChecksum(true))
			if err != nil {
				return nil, err
			}
			d.zstd = z
		}
		out, err := d.zstd.DecodeAll(src, out)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		if len(out) != size {
			return nil, fmt.Errorf("zstd buffer holds %d bytes, header says %d", len(out), size)
		}
		return out, nil
	case 0:
		if d.lz4 == nil {
			d.lz4 = lz4.NewReader(nil)
		}
		d.lz4.Reset(bytes.NewReader(src))
		out = out[:size]
		if _, err := io.ReadFull(d.lz4, out); err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}

// loadColumn builds one column from its buffers.
func loadColumn(dt arrow.DataType, n, nulls int, buffer func() (*memory.Buffer, error)) (arrow.Array, error) {
	validity, err := buffer()
	if err != nil {
		return nil, err
	}
	if nulls > 0 && (validity == nil || validity.Len() < (n+7)/8) {
		return nil, errors.New("validity bitmap too short")
	}
	if nulls == 0 {
		validity = nil
	}
	var bufs []*memory.Buffer
	switch dt.ID() {
	case arrow.BOOL:
		v, err := buffer()
		if err != nil {
			return nil, err
		}
		if n > 0 && (v == nil || v.Len() < (n+7)/8) {
			return nil, errors.New("boolean buffer too short")
		}
		bufs = []*memory.Buffer{validity, v}
	case arrow.STRING, arrow.BINARY:
		offs, err := buffer()
		if err != nil {
			return nil, err
		}
		data, err := buffer()
		if err != nil {
			return nil, err
		}
		if offs == nil || offs.Len() < 4*(n+1) {
			if n > 0 || offs != nil {
				return nil, errors.New("offsets buffer too short")
			}
			offs = memory.NewBufferBytes(make([]byte, 4))
		}
		ob := offs.Bytes()
		dataLen := 0
		if data != nil {
			dataLen = data.Len()
		}
		prev := 0
		for k := 0; k <= n; k++ { // offsets must rise and stay within the data
			o := int(int32(binary.LittleEndian.Uint32(ob[4*k:])))
			if o < prev || o > dataLen {
				return nil, fmt.Errorf("offset %d of row %d outside the %d-byte data", o, k, dataLen)
			}
			prev = o
		}
		bufs = []*memory.Buffer{validity, offs, data}
	default:
		fw, ok := dt.(arrow.FixedWidthDataType)
		if !ok {
			return nil, fmt.Errorf("column type %s is not one replay decodes", dt)
		}
		v, err := buffer()
		if err != nil {
			return nil, err
		}
		if need := n * fw.BitWidth() / 8; n > 0 && (v == nil || v.Len() < need) {
			return nil, fmt.Errorf("values buffer shorter than %d bytes", need)
		}
		bufs = []*memory.Buffer{validity, v}
	}
	data := array.NewData(dt, n, bufs, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}
