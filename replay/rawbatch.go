package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"roadlog/record/drive"
	"roadlog/schema"
)

// rawCol is one column of a decoded batch: its buffers, decompressed and checked
// against the column's type, not yet arrow arrays.
type rawCol struct {
	nulls    int
	validity []byte // nil when the column has no nulls
	offsets  []byte // string and binary columns: n+1 int32 offsets, rising, within values
	values   []byte // fixed-width values, boolean bits, or string/binary data
}

// rawBatch is one record batch decoded into an arena: what the merge needs (the t
// column, the columns a filter reads) is read straight from the buffers, and arrow
// arrays are built only when a consumer asks for them (record). The arena is reused
// batch after batch when nothing built from it escaped.
type rawBatch struct {
	rows  int
	cols  []rawCol
	ts    []int64      // the t column's values
	arena []byte       // every buffer of the batch, 8-byte aligned
	keep  []bool       // filter result per row (reused; see loaded.keep)
	src   *arenaSource // where a new arena comes from (nil: allocated)
}

func (b *rawBatch) u8(c, i int) uint8 { return b.cols[c].values[i] }

func (b *rawBatch) u32(c, i int) uint32 {
	return binary.LittleEndian.Uint32(b.cols[c].values[4*i:])
}

func (b *rawBatch) i32(c, i int) int32 { return int32(b.u32(c, i)) }

func (b *rawBatch) i64(c, i int) int64 {
	return int64(binary.LittleEndian.Uint64(b.cols[c].values[8*i:]))
}

// bytesAt returns the bytes of a string or binary value (aliasing the arena).
func (b *rawBatch) bytesAt(c, i int) []byte {
	col := &b.cols[c]
	lo := binary.LittleEndian.Uint32(col.offsets[4*i:])
	hi := binary.LittleEndian.Uint32(col.offsets[4*i+4:])
	return col.values[lo:hi]
}

// record builds the batch's arrow record over the arena (no copy). The caller
// releases it; the arena must then outlive every value read from it.
func (b *rawBatch) record(sch *arrow.Schema) arrow.RecordBatch {
	cols := make([]arrow.Array, len(b.cols))
	for i := range b.cols {
		c := &b.cols[i]
		var validity *memory.Buffer
		if c.nulls > 0 {
			validity = memory.NewBufferBytes(c.validity)
		}
		bufs := []*memory.Buffer{validity, memory.NewBufferBytes(c.values)}
		if c.offsets != nil {
			bufs = []*memory.Buffer{validity, memory.NewBufferBytes(c.offsets), memory.NewBufferBytes(c.values)}
		}
		data := array.NewData(sch.Field(i).Type, b.rows, bufs, nil, c.nulls, 0)
		cols[i] = array.MakeFromData(data)
		data.Release()
	}
	rec := array.NewRecordBatch(sch, cols, int64(b.rows))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// batchDecoder decodes record batch messages into raw batches; it keeps its
// decompressors between batches (one zstd decoder, DecodeAll into the arena: no
// stream decoder per buffer). Not safe for concurrent use.
type batchDecoder struct {
	zstd *zstd.Decoder
	lz4  *lz4.Reader
	// a read-ahead window over the file being read (reused)
	win     []byte
	winOff  int64
	winFile *batchFile
	// decoded copies of the last buffers that compressed at least sameRatio times
	// (the same bytes batch after batch: a constant column, a sensor name, a camera's
	// file name, an IMU without magnetometer); DecodeAll writes such a buffer at
	// 2–3 GB/s however small its frame, while finding it here costs a comparison of
	// its few compressed bytes
	same      []sameBuf
	sameTick  uint64
	table     schema.TableName // whose remembered buffers it takes over (spareSame)
	sameTaken bool             // it looked in spareSame
}

// sameBuf is a buffer a decoder decoded: its compressed bytes and what they decode to
// (read-only: batches share it).
type sameBuf struct {
	src, out []byte
	last     uint64 // sameTick when last found
}

const (
	sameMin   = 16 << 10 // decoded size of a buffer worth remembering
	sameRatio = 32       // and how much smaller its frame must be
	sameLen   = 16       // buffers a decoder remembers
	sameBytes = 2 << 20  // decoded bytes a decoder remembers
)

// sameAs returns the decoded copy of a buffer compressed as src, of size bytes.
func (d *batchDecoder) sameAs(src []byte, size int64) ([]byte, bool) {
	if !d.sameTaken {
		d.sameTaken = true
		if v, ok := spareSame.LoadAndDelete(d.table); ok && d.table != "" && d.same == nil {
			d.same = v.([]sameBuf)
		}
	}
	d.sameTick++
	for i := range d.same {
		e := &d.same[i]
		if int64(len(e.out)) == size && bytes.Equal(e.src, src) {
			e.last = d.sameTick
			return e.out, true
		}
	}
	return nil, false
}

// remember keeps a copy of a decoded buffer (src its frame), in place of the least
// recently found ones when the decoder holds too many.
func (d *batchDecoder) remember(src, out []byte) {
	held := len(out) + sameHeld(d.same)
	for len(d.same) > 0 && (len(d.same) >= sameLen || held > sameBytes) {
		k := 0
		for i := range d.same {
			if d.same[i].last < d.same[k].last {
				k = i
			}
		}
		held -= len(d.same[k].out)
		d.same = slices.Delete(d.same, k, k+1)
	}
	if held <= sameBytes {
		d.same = append(d.same, sameBuf{src: bytes.Clone(src), out: bytes.Clone(out), last: d.sameTick})
	}
}

// spareDecoders keeps the zstd decoders and read-ahead windows of closed decoders
// for the next ones (a reader opens a decoder per table).
var spareDecoders = &spareList[*spareDecoder]{size: func(s *spareDecoder) int { return cap(s.win) }}

// spareDecoder is what spareDecoders holds.
type spareDecoder struct {
	zstd *zstd.Decoder
	win  []byte
}

// reuse takes a closed decoder's parts, if there is one spare.
func (d *batchDecoder) reuse() {
	if s, ok := spareDecoders.get(); ok {
		if d.zstd == nil {
			d.zstd = s.zstd
		}
		if d.win == nil {
			d.win = s.win[:0]
		}
	}
}

// close hands the decoder's parts to the next decoder, and the buffers it remembers
// to the next decoder of its table (most likely the ones that one meets).
func (d *batchDecoder) close() {
	if d.zstd != nil || cap(d.win) > 0 {
		spareDecoders.put(&spareDecoder{zstd: d.zstd, win: d.win})
	}
	if len(d.same) > 0 && d.table != "" {
		spareSame.Store(d.table, d.same)
	}
	d.zstd, d.win, d.winFile, d.same, d.sameTaken = nil, nil, nil, nil, false
}

// spareSame keeps, per table, the buffers the last closed decoder remembered
// (sameBytes at most each).
var spareSame sync.Map // schema.TableName → []sameBuf

// sameHeld returns the decoded bytes a decoder remembers.
func sameHeld(same []sameBuf) int {
	n := 0
	for _, e := range same {
		n += len(e.out)
	}
	return n
}

// decode decodes one whole message (continuation marker, length, metadata, body) of
// a record batch of schema sch into b, reusing b's arena and slices. Every buffer is
// copied or decompressed into the arena: msg may be reused as soon as decode returns.
func (d *batchDecoder) decode(sch *arrow.Schema, msg []byte, b *rawBatch) error {
	var metaLen, metaAt int
	if v, ok := u32(msg, 0); ok && uint32(v) == 0xFFFFFFFF {
		metaLen, _ = u32(msg, 4)
		metaAt = 8
	} else if ok {
		metaLen, metaAt = v, 4 // pre-1.0 framing without the continuation marker
	}
	metaLen = int(int32(metaLen))
	if metaLen <= 0 || metaAt+metaLen > len(msg) {
		return fmt.Errorf("message metadata length %d out of range", metaLen)
	}
	meta := msg[metaAt : metaAt+metaLen]
	m, err := fbRoot(meta)
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	if typ, err := m.byte(1, 0); err != nil || typ != 3 { // MessageHeader.RecordBatch
		return fmt.Errorf("message is not a record batch (header type %d)", typ)
	}
	bodyLen, err := m.int64(3, 0)
	if err != nil {
		return err
	}
	body := msg[metaAt+metaLen:]
	if bodyLen < 0 || bodyLen > int64(len(body)) {
		return fmt.Errorf("body length %d, message holds %d", bodyLen, len(body))
	}
	body = body[:bodyLen]
	rb, ok, err := m.table(2)
	if err != nil || !ok {
		return fmt.Errorf("record batch header missing: %v", err)
	}
	length, err := rb.int64(0, 0)
	if err != nil || length < 0 || length > maxBatchRows {
		return fmt.Errorf("record batch length %d out of range", length)
	}
	nodeAt, nNodes, err := rb.vector(1, 16)
	if err != nil {
		return err
	}
	bufAt, nBufs, err := rb.vector(2, 16)
	if err != nil {
		return err
	}
	codec := -1
	if c, ok, err := rb.table(3); err != nil {
		return err
	} else if ok {
		v, err := c.byte(0, 0)
		if err != nil {
			return err
		}
		codec = int(v) // 0 LZ4_FRAME, 1 ZSTD
	}
	if nNodes != sch.NumFields() {
		return fmt.Errorf("batch has %d columns, schema %d", nNodes, sch.NumFields())
	}
	if sch.NumFields() == 0 || sch.Field(0).Type.ID() != arrow.TIMESTAMP {
		return errors.New("first column is not the t timestamp")
	}
	// one arena holds every buffer of the batch (8-byte aligned); sizes are checked
	// again as each buffer is read
	total := 0
	for k := 0; k < nBufs; k++ {
		e := meta[bufAt+16*k:]
		off, n := int64(binary.LittleEndian.Uint64(e)), int64(binary.LittleEndian.Uint64(e[8:]))
		if off < 0 || n < 0 || off+n > int64(len(body)) {
			continue
		}
		size := n
		if codec >= 0 && n >= 8 {
			if s := int64(binary.LittleEndian.Uint64(body[off:])); s != -1 {
				if s > maxRatio*(n-8)+4096 {
					return fmt.Errorf("buffer %d claims %d bytes from %d compressed", k, s, n-8)
				}
				size = s
			}
		}
		if size > 0 {
			total += int(size+7) &^ 7
		}
		if total > drive.MaxBodySize {
			return fmt.Errorf("batch decompresses to more than %d bytes", drive.MaxBodySize)
		}
	}
	total += zstdSlack
	// an arena far larger than the batch (of a larger batch before) is not used: what
	// a consumer keeps of a batch keeps all of its arena
	if cap(b.arena) < total || cap(b.arena) > 2*total+arenaSlack {
		if b.src != nil {
			b.src.newArena(b, total)
		} else {
			b.arena = make([]byte, 0, total)
		}
	}
	arena := b.arena[:0]
	nextBuf := 0
	buffer := func() ([]byte, error) {
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
		size := n
		if codec >= 0 {
			if n < 8 {
				return nil, fmt.Errorf("compressed buffer of %d bytes", n)
			}
			size = int64(binary.LittleEndian.Uint64(raw))
			raw = raw[8:]
			if size == -1 { // stored raw
				return d.place(&arena, raw, int64(len(raw)), -1)
			}
			if size < 0 || size > drive.MaxBodySize {
				return nil, fmt.Errorf("uncompressed size %d out of range", size)
			}
		}
		return d.place(&arena, raw, size, codec)
	}
	if cap(b.cols) < nNodes {
		b.cols = make([]rawCol, nNodes)
	}
	b.cols, b.rows = b.cols[:nNodes], int(length)
	for i := range b.cols {
		e := meta[nodeAt+16*i:]
		n, nulls := int64(binary.LittleEndian.Uint64(e)), int64(binary.LittleEndian.Uint64(e[8:]))
		if n != length || nulls < 0 || nulls > n {
			return fmt.Errorf("column %d: %d rows (%d null) in a batch of %d", i, n, nulls, length)
		}
		f := sch.Field(i)
		b.cols[i], err = readColumn(f.Type, int(n), int(nulls), buffer)
		if err != nil {
			return fmt.Errorf("column %d (%s): %w", i, f.Name, err)
		}
	}
	b.arena = arena
	b.ts = arrow.Int64Traits.CastFromBytes(b.cols[0].values[:8*b.rows])
	return nil
}

// zstdSlack is room left past each decompressed buffer: zstd decodes with wide copies
// (faster by a tenth or more) only when the output has 16 bytes to spare.
const zstdSlack = 16

// place puts one buffer into the arena's free tail: src decompressed (codec 0 LZ4,
// 1 zstd) or copied (-1), of size bytes.
func (d *batchDecoder) place(arena *[]byte, src []byte, size int64, codec int) ([]byte, error) {
	a := *arena
	pos, sz := len(a), int(size+7)&^7
	if pos+sz > cap(a) { // the sizes were summed from the same buffers: cannot happen
		return nil, fmt.Errorf("buffer of %d bytes does not fit the batch", size)
	}
	// the decompressor may write up to zstdSlack bytes past a buffer (into the next
	// one's place, not written yet, or the arena's slack) where that lets it copy in
	// wide blocks; a buffer that comes out longer than size is an error below
	dst := a[pos:pos:min(pos+int(size)+zstdSlack, cap(a))]
	*arena = a[:pos+sz]
	switch codec {
	case -1:
		return append(dst, src...), nil
	case 1:
		if out, ok := appendStored(dst, src); ok && int64(len(out)) == size {
			return out, nil // what DecodeAll would do, without setting up a frame decoder
		}
		same := size >= sameMin && int64(len(src))*sameRatio <= size
		if same {
			if out, ok := d.sameAs(src, size); ok {
				*arena = a[:pos] // its room in the arena is not needed
				return out, nil
			}
		}
		if d.zstd == nil {
			d.reuse()
		}
		if d.zstd == nil {
			z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(drive.MaxBodySize), zstd.IgnoreChecksum(true))
			if err != nil {
				return nil, err
			}
			d.zstd = z
		}
		out, err := d.zstd.DecodeAll(src, dst)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		if int64(len(out)) != size || (size > 0 && &out[0] != &a[pos : pos+1][0]) {
			return nil, fmt.Errorf("zstd buffer holds %d bytes, header says %d", len(out), size)
		}
		if same {
			d.remember(src, out)
		}
		return out, nil
	case 0:
		if d.lz4 == nil {
			d.lz4 = lz4.NewReader(nil)
		}
		d.lz4.Reset(bytes.NewReader(src))
		out := dst[:size]
		if _, err := io.ReadFull(d.lz4, out); err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}

// appendStored appends the content of a zstd frame that stores it in raw blocks —
// how the recorder writes buffers too small to compress, or that compress too little
// (drive's appendStoredFrame) — to dst; false for any other frame. The checksum is
// not checked (as DecodeAll here does not).
func appendStored(dst, src []byte) ([]byte, bool) {
	if len(src) < 6 || binary.LittleEndian.Uint32(src) != 0xFD2FB528 {
		return nil, false
	}
	fhd := src[4]
	if fhd&0x20 == 0 || fhd&0x0B != 0 { // single segment, no dictionary, reserved bit clear
		return nil, false
	}
	p := 5 + [4]int{1, 2, 4, 8}[fhd>>6]
	for {
		if len(src) < p+3 {
			return nil, false
		}
		bh := int(src[p]) | int(src[p+1])<<8 | int(src[p+2])<<16
		if bh&6 != 0 { // not a raw block
			return nil, false
		}
		n := bh >> 3
		p += 3
		if len(src) < p+n {
			return nil, false
		}
		dst = append(dst, src[p:p+n]...)
		p += n
		if bh&1 != 0 { // the last block
			break
		}
	}
	if fhd&0x04 != 0 {
		p += 4
	}
	return dst, p == len(src)
}

// readColumn reads one column's buffers and checks them against its type.
func readColumn(dt arrow.DataType, n, nulls int, buffer func() ([]byte, error)) (rawCol, error) {
	validity, err := buffer()
	if err != nil {
		return rawCol{}, err
	}
	if nulls > 0 && len(validity) < (n+7)/8 {
		return rawCol{}, errors.New("validity bitmap too short")
	}
	if nulls == 0 {
		validity = nil
	}
	c := rawCol{nulls: nulls, validity: validity}
	switch dt.ID() {
	case arrow.BOOL:
		if c.values, err = buffer(); err != nil {
			return rawCol{}, err
		}
		if len(c.values) < (n+7)/8 {
			return rawCol{}, errors.New("boolean buffer too short")
		}
	case arrow.STRING, arrow.BINARY:
		if c.offsets, err = buffer(); err != nil {
			return rawCol{}, err
		}
		if c.values, err = buffer(); err != nil {
			return rawCol{}, err
		}
		if len(c.offsets) < 4*(n+1) {
			if n > 0 || c.offsets != nil {
				return rawCol{}, errors.New("offsets buffer too short")
			}
			c.offsets = make([]byte, 4)
		}
		prev := 0
		for k := 0; k <= n; k++ { // offsets must rise and stay within the data
			o := int(int32(binary.LittleEndian.Uint32(c.offsets[4*k:])))
			if o < prev || o > len(c.values) {
				return rawCol{}, fmt.Errorf("offset %d of row %d outside the %d-byte data", o, k, len(c.values))
			}
			prev = o
		}
	default:
		fw, ok := dt.(arrow.FixedWidthDataType)
		if !ok {
			return rawCol{}, fmt.Errorf("column type %s is not one replay decodes", dt)
		}
		if c.values, err = buffer(); err != nil {
			return rawCol{}, err
		}
		if need := n * fw.BitWidth() / 8; len(c.values) < need {
			return rawCol{}, fmt.Errorf("values buffer shorter than %d bytes", need)
		}
	}
	return c, nil
}
