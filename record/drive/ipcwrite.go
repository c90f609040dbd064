package drive

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	gosync "sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cespare/xxhash/v2"
	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"roadlog/schema"
)

// This file writes Arrow IPC files (format version V5) by hand, column by column,
// straight from Go rows. arrow-go writes the same format, but on the recorder's hot
// path it costs too much: every row goes through a generic array builder, every batch
// allocates its buffers anew, and each buffer is compressed by a streaming zstd encoder
// at the default level that allocates its history window per buffer. Here each column
// appends into a reused byte slice, buffers are compressed with one reused zstd
// encoder at its fastest level (EncodeAll into a reused slice), and the flatbuffer
// metadata (Schema, RecordBatch, Footer; Arrow's format/Message.fbs, Schema.fbs,
// File.fbs) is built with the flatbuffers builder. Files are read back by arrow-go,
// pyarrow and Apache Arrow's JavaScript reader in the tests.

const metadataV5 = 4 // MetadataVersion.V5

// colEncoder accumulates one column of a batch.
type colEncoder[R any] interface {
	add(r *R)
	// buffers returns the column's Arrow buffers in IPC order (validity first) and
	// its null count.
	buffers() ([][]byte, int)
	reset()
	// canCopy checks that copyFrom can append the rows of a (an array of the
	// column read back from a file); copyFrom appends them (ipccopy.go).
	canCopy(a arrow.Array) error
	copyFrom(a arrow.Array)
}

// validity tracks a nullable column's validity bitmap; it is only materialised when a
// null appears (an empty validity buffer means "no nulls").
type validity struct {
	bits  []byte
	n     int
	nulls int
}

func (v *validity) add(valid bool) {
	if !valid && v.nulls == 0 {
		// first null: materialise the bitmap for the rows so far (all valid)
		v.bits = v.bits[:0]
		for i := 0; i < (v.n+8)/8; i++ {
			v.bits = append(v.bits, 0xFF)
		}
		if rem := v.n % 8; rem != 0 {
			v.bits[len(v.bits)-1] = byte(1<<rem) - 1
		} else {
			v.bits[len(v.bits)-1] = 0
		}
	}
	if v.nulls > 0 || !valid {
		if v.n%8 == 0 && v.n/8 >= len(v.bits) {
			v.bits = append(v.bits, 0)
		}
		if valid {
			v.bits[v.n/8] |= 1 << (v.n % 8)
		}
	}
	if !valid {
		v.nulls++
	}
	v.n++
}

func (v *validity) buf() []byte {
	if v.nulls == 0 {
		return nil
	}
	return v.bits
}

func (v *validity) reset() { v.bits, v.n, v.nulls = v.bits[:0], 0, 0 }

// fixedEnc encodes a fixed-width column of size-byte little-endian values; bits
// converts a value to its raw bits (the value itself for integers).
type fixedEnc[R any, T any] struct {
	get   func(*R) T
	null  func(*R) bool
	bits  func(T) uint64
	size  int
	vals  []byte
	valid validity
}

func (e *fixedEnc[R, T]) add(r *R) {
	var u uint64
	if e.null != nil {
		isNull := e.null(r)
		e.valid.add(!isNull)
		if !isNull {
			u = e.bits(e.get(r))
		}
	} else {
		u = e.bits(e.get(r))
	}
	switch e.size {
	case 8:
		e.vals = binary.LittleEndian.AppendUint64(e.vals, u)
	case 4:
		e.vals = binary.LittleEndian.AppendUint32(e.vals, uint32(u))
	case 2:
		e.vals = binary.LittleEndian.AppendUint16(e.vals, uint16(u))
	default:
		e.vals = append(e.vals, byte(u))
	}
}

func (e *fixedEnc[R, T]) buffers() ([][]byte, int) {
	return [][]byte{e.valid.buf(), e.vals}, e.valid.nulls
}

func (e *fixedEnc[R, T]) reset() { e.vals = e.vals[:0]; e.valid.reset() }

// int64Enc is fixedEnc for the commonest column, int64/timestamp without nulls, with
// no conversion call per value.
type int64Enc[R any] struct {
	get  func(*R) int64
	vals []byte
}

func (e *int64Enc[R]) add(r *R) {
	e.vals = binary.LittleEndian.AppendUint64(e.vals, uint64(e.get(r)))
}
func (e *int64Enc[R]) buffers() ([][]byte, int) { return [][]byte{nil, e.vals}, 0 }
func (e *int64Enc[R]) reset()                   { e.vals = e.vals[:0] }

// boolEnc encodes a boolean column (bit-packed values).
type boolEnc[R any] struct {
	get  func(*R) bool
	bits []byte
	n    int
}

func (e *boolEnc[R]) add(r *R) {
	if e.n%8 == 0 {
		e.bits = append(e.bits, 0)
	}
	if e.get(r) {
		e.bits[e.n/8] |= 1 << (e.n % 8)
	}
	e.n++
}

func (e *boolEnc[R]) buffers() ([][]byte, int) { return [][]byte{nil, e.bits}, 0 }
func (e *boolEnc[R]) reset()                   { e.bits, e.n = e.bits[:0], 0 }

// varEnc encodes a utf8 or binary column (int32 offsets + data).
type varEnc[R any] struct {
	getS func(*R) string
	getB func(*R) []byte
	offs []byte
	data []byte
}

func (e *varEnc[R]) add(r *R) {
	if len(e.offs) == 0 {
		e.offs = binary.LittleEndian.AppendUint32(e.offs, 0)
	}
	if e.getS != nil {
		e.data = append(e.data, e.getS(r)...)
	} else {
		e.data = append(e.data, e.getB(r)...)
	}
	e.offs = binary.LittleEndian.AppendUint32(e.offs, uint32(len(e.data)))
}

func (e *varEnc[R]) buffers() ([][]byte, int) {
	if len(e.offs) == 0 {
		e.offs = binary.LittleEndian.AppendUint32(e.offs, 0)
	}
	return [][]byte{nil, e.offs, e.data}, 0
}

func (e *varEnc[R]) reset() { e.offs, e.data = e.offs[:0], e.data[:0] }

func newEncoder[R any](c *schema.Column[R]) (colEncoder[R], error) {
	switch g := c.Get.(type) {
	case func(*R) int64:
		if c.Null == nil {
			return &int64Enc[R]{get: g}, nil
		}
		return &fixedEnc[R, int64]{get: g, null: c.Null, size: 8, bits: func(v int64) uint64 { return uint64(v) }}, nil
	case func(*R) int32:
		return &fixedEnc[R, int32]{get: g, null: c.Null, size: 4, bits: func(v int32) uint64 { return uint64(uint32(v)) }}, nil
	case func(*R) uint32:
		return &fixedEnc[R, uint32]{get: g, null: c.Null, size: 4, bits: func(v uint32) uint64 { return uint64(v) }}, nil
	case func(*R) uint16:
		return &fixedEnc[R, uint16]{get: g, null: c.Null, size: 2, bits: func(v uint16) uint64 { return uint64(v) }}, nil
	case func(*R) uint8:
		return &fixedEnc[R, uint8]{get: g, null: c.Null, size: 1, bits: func(v uint8) uint64 { return uint64(v) }}, nil
	case func(*R) int8:
		return &fixedEnc[R, int8]{get: g, null: c.Null, size: 1, bits: func(v int8) uint64 { return uint64(uint8(v)) }}, nil
	case func(*R) float32:
		return &fixedEnc[R, float32]{get: g, null: c.Null, size: 4, bits: func(v float32) uint64 { return uint64(math.Float32bits(v)) }}, nil
	case func(*R) float64:
		return &fixedEnc[R, float64]{get: g, null: c.Null, size: 8, bits: math.Float64bits}, nil
	case func(*R) bool:
		return &boolEnc[R]{get: g}, nil
	case func(*R) string:
		return &varEnc[R]{getS: g}, nil
	case func(*R) []byte:
		return &varEnc[R]{getB: g}, nil
	}
	return nil, fmt.Errorf("column %s: no encoder for %T", c.Field.Name, c.Get)
}

// ipcWriter writes one Arrow IPC file of rows of type R.
type ipcWriter[R any] struct {
	tbl   *schema.Table[R]
	w     *countingWriter
	codec Codec
	// the share of a buffer's bytes zstd must save for it to be written compressed
	minSaving float64
	encs      []colEncoder[R]
	rows      int
	zenc      *zstd.Encoder
	lz        *lz4.Writer
	lzBuf     bytes.Buffer
	fb        *flatbuffers.Builder
	body      []byte
	scratch   []byte
	raw       int64      // uncompressed bytes of the buffers written
	nodes     [][2]int64 // length, null count
	bufs      [][2]int64 // offset, length within the body
	blocks    []block
}

type block struct {
	offset  int64
	metaLen int32
	bodyLen int64
}

// zstd encoders are expensive to make; writers of one process share a pool.
var zstdEncoders = make(chan *zstd.Encoder, 16)

func getZstd() *zstd.Encoder {
	select {
	case e := <-zstdEncoders:
		return e
	default:
	}
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true), zstd.WithEncoderCRC(true))
	if err != nil {
		panic(err) // only bad options fail
	}
	return e
}

func putZstd(e *zstd.Encoder) {
	select {
	case zstdEncoders <- e:
	default:
	}
}

func newIPCWriter[R any](w *countingWriter, tbl *schema.Table[R], codec Codec) (*ipcWriter[R], error) {
	for _, f := range tbl.Schema().Fields() {
		switch f.Type.ID() {
		case arrow.INT8, arrow.UINT8, arrow.UINT16, arrow.INT32, arrow.UINT32, arrow.INT64, arrow.FLOAT32,
			arrow.FLOAT64, arrow.BINARY, arrow.STRING, arrow.BOOL, arrow.TIMESTAMP:
		default:
			return nil, fmt.Errorf("table %s column %s: no IPC encoding for %s", tbl.Name, f.Name, f.Type)
		}
	}
	iw := &ipcWriter[R]{tbl: tbl, w: w, codec: codec, minSaving: minSaving, fb: flatbuffers.NewBuilder(1024)}
	if codec == CodecZSTDSmall {
		iw.codec, iw.minSaving = CodecZSTD, 0
	}
	select {
	case pooled := <-encoderPool(tbl):
		// the column buffers of a closed file of the same table: no regrowing them
		iw.encs = pooled.([]colEncoder[R])
	default:
		for i := range tbl.Columns {
			e, err := newEncoder(&tbl.Columns[i])
			if err != nil {
				return nil, err
			}
			iw.encs = append(iw.encs, e)
		}
	}
	switch iw.codec {
	case CodecZSTD:
		iw.zenc = getZstd()
	case CodecLZ4:
		iw.lz = lz4.NewWriter(nil)
		if err := iw.lz.Apply(lz4.ChecksumOption(false), lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
			return nil, err
		}
	}
	// magic, then the schema message
	if _, err := w.Write([]byte("ARROW1\x00\x00")); err != nil {
		return nil, err
	}
	iw.fb.Reset()
	sch := buildSchema(iw.fb, tbl.Schema())
	msg := buildMessage(iw.fb, 1, sch, 0)
	iw.fb.Finish(msg)
	if err := iw.writeMessage(iw.fb.FinishedBytes(), nil); err != nil {
		return nil, err
	}
	return iw, nil
}

func (iw *ipcWriter[R]) append(r *R) {
	for _, e := range iw.encs {
		e.add(r)
	}
	iw.rows++
}

// compress appends buffer b to the body in the file's codec after its 8-byte
// uncompressed length. With zstd, a buffer under storeBelow bytes, or one whose
// compressed frame would save less than minSaving of its bytes, goes into a frame
// that stores it as it is. With LZ4, a buffer that does not shrink is stored raw
// (length -1).
func (iw *ipcWriter[R]) compress(b []byte) {
	start := len(iw.body)
	iw.raw += int64(len(b))
	if len(b) == 0 {
		iw.bufs = append(iw.bufs, [2]int64{int64(start), 0})
		return
	}
	switch iw.codec {
	case CodecZSTD:
		iw.body = binary.LittleEndian.AppendUint64(iw.body, uint64(len(b)))
		before := len(iw.body)
		if len(b) >= storeBelow {
			iw.body = iw.zenc.EncodeAll(b, iw.body)
			if float64(len(iw.body)-before) <= (1-iw.minSaving)*float64(len(b)) {
				break
			}
		}
		iw.body = appendStoredFrame(iw.body[:before], b)
	case CodecLZ4:
		iw.body = binary.LittleEndian.AppendUint64(iw.body, uint64(len(b)))
		before := len(iw.body)
		iw.lzBuf.Reset()
		iw.lz.Reset(&iw.lzBuf)
		iw.lz.Write(b)
		iw.lz.Close()
		iw.body = append(iw.body, iw.lzBuf.Bytes()...)
		if len(iw.body)-before >= len(b) {
			iw.body = iw.body[:before-8]
			iw.body = binary.LittleEndian.AppendUint64(iw.body, math.MaxUint64) // -1: raw
			iw.body = append(iw.body, b...)
		}
	default:
		iw.body = append(iw.body, b...)
	}
	iw.bufs = append(iw.bufs, [2]int64{int64(start), int64(len(iw.body) - start)})
	for len(iw.body)%8 != 0 {
		iw.body = append(iw.body, 0)
	}
}

// storeBelow is the size under which a buffer's zstd frame stores it as it is (one
// raw block, with the frame's checksum) instead of compressing it: a compressed frame
// costs a reader about a microsecond to set up whatever its size — more than copying
// a few hundred bytes — and would save a few hundred bytes at most. Batches written
// every flush are made of such buffers; the large batches of a closed segment hardly
// hold any. Unlike a buffer stored outside a frame (length -1), it stays covered by a
// checksum that verify and repair check.
const storeBelow = 512

// minSaving is the share of its bytes a buffer's zstd frame must save for the buffer
// to be written compressed; one that saves less is stored as it is, in raw blocks
// (Arrow C++'s IPC writer has the same policy: IpcWriteOptions.min_space_savings).
//
// Tables of sensor data hold many columns that zstd shrinks by half to three quarters
// — timestamps, IMU and GNSS floats, CAN payloads — and decodes slowly (at 0.6–0.8 GB/s
// here: each value is a short literal and a match), while the columns it shrinks by
// 90 % or more (ids, flags, near-constant values) decode fast. Stored, the former read
// at memory speed: a compacted minute of the replay benchmark's road drive (1,650 CAN
// frames/s, a 1 kHz IMU, 4 cameras' index) reads 1.3–1.6× faster single-threaded, for
// 8.1 MB of tables instead of 4.2 MB — about as much as the same data in MCAP with
// zstd chunks (8.6 MB), and a few percent of a minute of 1080p video. docs/recorder.md has
// the measurements. CodecZSTDSmall compresses every buffer instead.
const minSaving = 0.9

// appendStoredFrame appends a zstd frame holding b in raw blocks (RFC 8878: a
// single-segment frame with its content size and checksum, no dictionary; blocks of
// at most 128 KiB).
func appendStoredFrame(dst, b []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, 0xFD2FB528) // magic
	switch {
	case len(b) < 256:
		dst = append(dst, 0x24, byte(len(b))) // single segment, checksum; 1-byte size
	case len(b) < 256+1<<16:
		dst = append(dst, 0x64) // single segment, checksum; 2-byte size − 256
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(b)-256))
	default:
		dst = append(dst, 0xA4) // single segment, checksum; 4-byte size
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b)))
	}
	rest := b
	for {
		n := min(len(rest), maxRawBlock)
		bh := uint32(n) << 3 // raw block (type 0)
		if n == len(rest) {
			bh |= 1 // last
		}
		dst = append(dst, byte(bh), byte(bh>>8), byte(bh>>16))
		dst = append(dst, rest[:n]...)
		rest = rest[n:]
		if len(rest) == 0 {
			break
		}
	}
	return binary.LittleEndian.AppendUint32(dst, uint32(xxhash.Sum64(b)))
}

// maxRawBlock is the largest zstd block (RFC 8878 Block_Maximum_Size).
const maxRawBlock = 128 << 10

// flush writes the appended rows as one record batch.
func (iw *ipcWriter[R]) flush() error {
	iw.body, iw.nodes, iw.bufs = iw.body[:0], iw.nodes[:0], iw.bufs[:0]
	for _, e := range iw.encs {
		bufs, nulls := e.buffers()
		iw.nodes = append(iw.nodes, [2]int64{int64(iw.rows), int64(nulls)})
		for _, b := range bufs {
			iw.compress(b)
		}
		e.reset()
	}
	fb := iw.fb
	fb.Reset()
	rb := buildBatch(fb, int64(iw.rows), iw.nodes, iw.bufs, iw.codec)
	msg := buildMessage(fb, 3, rb, int64(len(iw.body)))
	fb.Finish(msg)
	iw.rows = 0
	return iw.writeMessage(fb.FinishedBytes(), iw.body)
}

// writeMessage frames and writes one message (continuation marker, padded metadata
// length, metadata, body) and records its block for the footer.
func (iw *ipcWriter[R]) writeMessage(meta, body []byte) error {
	pad := (8 - (8+len(meta))%8) % 8
	b := iw.scratch[:0]
	b = binary.LittleEndian.AppendUint32(b, 0xFFFFFFFF)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(meta)+pad))
	b = append(b, meta...)
	for i := 0; i < pad; i++ {
		b = append(b, 0)
	}
	iw.scratch = b
	blk := block{offset: iw.w.n, metaLen: int32(len(b)), bodyLen: int64(len(body))}
	if _, err := iw.w.Write(b); err != nil {
		return err
	}
	if len(body) > 0 {
		if _, err := iw.w.Write(body); err != nil {
			return err
		}
		iw.blocks = append(iw.blocks, blk)
	}
	return nil
}

// close writes the end-of-stream marker and the footer.
func (iw *ipcWriter[R]) close() error {
	defer iw.release()
	fb := iw.fb
	fb.Reset()
	sch := buildSchema(fb, iw.tbl.Schema())
	fb.StartVector(24, len(iw.blocks), 8)
	for i := len(iw.blocks) - 1; i >= 0; i-- {
		b := iw.blocks[i]
		fb.Prep(8, 24)
		fb.PrependInt64(b.bodyLen)
		fb.Pad(4)
		fb.PrependInt32(b.metaLen)
		fb.PrependInt64(b.offset)
	}
	recs := fb.EndVector(len(iw.blocks))
	fb.StartObject(5) // Footer
	fb.PrependInt16Slot(0, metadataV5, 0)
	fb.PrependUOffsetTSlot(1, sch, 0)
	fb.PrependUOffsetTSlot(3, recs, 0)
	fb.Finish(fb.EndObject())
	footer := fb.FinishedBytes()
	out := iw.scratch[:0]
	out = binary.LittleEndian.AppendUint32(out, 0xFFFFFFFF)
	out = binary.LittleEndian.AppendUint32(out, 0)
	out = append(out, footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	out = append(out, "ARROW1"...)
	_, err := iw.w.Write(out)
	return err
}

func (iw *ipcWriter[R]) release() {
	if iw.zenc != nil {
		putZstd(iw.zenc)
		iw.zenc = nil
	}
	if iw.encs != nil {
		for _, e := range iw.encs {
			e.reset()
		}
		select {
		case encoderPool(iw.tbl) <- iw.encs:
		default:
		}
		iw.encs = nil
	}
}

// encoderPools keeps, per table, the column encoders (and their grown buffers) of a
// few closed files for the next files of the same table (a channel, not a sync.Pool,
// which every garbage collection empties).
var encoderPools gosync.Map // *schema.Table[R] → chan any

func encoderPool[R any](tbl *schema.Table[R]) chan any {
	if p, ok := encoderPools.Load(tbl); ok {
		return p.(chan any)
	}
	p, _ := encoderPools.LoadOrStore(tbl, make(chan any, 4))
	return p.(chan any)
}

// buildMessage builds a Message table around a header (1 Schema, 3 RecordBatch).
func buildMessage(fb *flatbuffers.Builder, headerType byte, header flatbuffers.UOffsetT, bodyLen int64) flatbuffers.UOffsetT {
	fb.StartObject(5)
	fb.PrependInt64Slot(3, bodyLen, 0)
	fb.PrependUOffsetTSlot(2, header, 0)
	fb.PrependByteSlot(1, headerType, 0)
	fb.PrependInt16Slot(0, metadataV5, 0)
	return fb.EndObject()
}

func buildBatch(fb *flatbuffers.Builder, length int64, nodes, bufs [][2]int64, codec Codec) flatbuffers.UOffsetT {
	var comp flatbuffers.UOffsetT
	if codec == CodecZSTD || codec == CodecLZ4 {
		fb.StartObject(2) // BodyCompression
		var c byte        // LZ4_FRAME
		if codec == CodecZSTD {
			c = 1
		}
		fb.PrependByteSlot(0, c, 0)
		comp = fb.EndObject()
	}
	fb.StartVector(16, len(bufs), 8)
	for i := len(bufs) - 1; i >= 0; i-- {
		fb.Prep(8, 16)
		fb.PrependInt64(bufs[i][1])
		fb.PrependInt64(bufs[i][0])
	}
	bv := fb.EndVector(len(bufs))
	fb.StartVector(16, len(nodes), 8)
	for i := len(nodes) - 1; i >= 0; i-- {
		fb.Prep(8, 16)
		fb.PrependInt64(nodes[i][1])
		fb.PrependInt64(nodes[i][0])
	}
	nv := fb.EndVector(len(nodes))
	fb.StartObject(5) // RecordBatch
	fb.PrependInt64Slot(0, length, 0)
	fb.PrependUOffsetTSlot(1, nv, 0)
	fb.PrependUOffsetTSlot(2, bv, 0)
	if comp != 0 {
		fb.PrependUOffsetTSlot(3, comp, 0)
	}
	return fb.EndObject()
}

func buildKeyValues(fb *flatbuffers.Builder, md arrow.Metadata) flatbuffers.UOffsetT {
	kvs := make([]flatbuffers.UOffsetT, md.Len())
	for i := range kvs {
		k := fb.CreateString(md.Keys()[i])
		v := fb.CreateString(md.Values()[i])
		fb.StartObject(2)
		fb.PrependUOffsetTSlot(0, k, 0)
		fb.PrependUOffsetTSlot(1, v, 0)
		kvs[i] = fb.EndObject()
	}
	fb.StartVector(4, len(kvs), 4)
	for i := len(kvs) - 1; i >= 0; i-- {
		fb.PrependUOffsetT(kvs[i])
	}
	return fb.EndVector(len(kvs))
}

// buildSchema encodes the Schema table for the types roadlog's tables use.
func buildSchema(fb *flatbuffers.Builder, s *arrow.Schema) flatbuffers.UOffsetT {
	fields := make([]flatbuffers.UOffsetT, s.NumFields())
	for i, f := range s.Fields() {
		name := fb.CreateString(f.Name)
		typType, typ := buildType(fb, f.Type)
		md := buildKeyValues(fb, f.Metadata)
		fb.StartVector(4, 0, 4)
		children := fb.EndVector(0)
		fb.StartObject(7) // Field
		fb.PrependUOffsetTSlot(0, name, 0)
		fb.PrependBoolSlot(1, f.Nullable, false)
		fb.PrependByteSlot(2, typType, 0)
		fb.PrependUOffsetTSlot(3, typ, 0)
		fb.PrependUOffsetTSlot(5, children, 0)
		fb.PrependUOffsetTSlot(6, md, 0)
		fields[i] = fb.EndObject()
	}
	fb.StartVector(4, len(fields), 4)
	for i := len(fields) - 1; i >= 0; i-- {
		fb.PrependUOffsetT(fields[i])
	}
	fv := fb.EndVector(len(fields))
	md := buildKeyValues(fb, s.Metadata())
	fb.StartObject(4)            // Schema
	fb.PrependInt16Slot(0, 0, 0) // little endian
	fb.PrependUOffsetTSlot(1, fv, 0)
	fb.PrependUOffsetTSlot(2, md, 0)
	return fb.EndObject()
}

// buildType encodes a field's type: the union tag (Schema.fbs `union Type`) and table.
func buildType(fb *flatbuffers.Builder, t arrow.DataType) (byte, flatbuffers.UOffsetT) {
	intType := func(bits int32, signed bool) (byte, flatbuffers.UOffsetT) {
		fb.StartObject(2)
		fb.PrependInt32Slot(0, bits, 0)
		fb.PrependBoolSlot(1, signed, false)
		return 2, fb.EndObject()
	}
	switch t.ID() {
	case arrow.INT8:
		return intType(8, true)
	case arrow.UINT8:
		return intType(8, false)
	case arrow.UINT16:
		return intType(16, false)
	case arrow.INT32:
		return intType(32, true)
	case arrow.UINT32:
		return intType(32, false)
	case arrow.INT64:
		return intType(64, true)
	case arrow.FLOAT32, arrow.FLOAT64:
		prec := int16(1)
		if t.ID() == arrow.FLOAT64 {
			prec = 2
		}
		fb.StartObject(1)
		fb.PrependInt16Slot(0, prec, 0)
		return 3, fb.EndObject()
	case arrow.BINARY:
		fb.StartObject(0)
		return 4, fb.EndObject()
	case arrow.STRING:
		fb.StartObject(0)
		return 5, fb.EndObject()
	case arrow.BOOL:
		fb.StartObject(0)
		return 6, fb.EndObject()
	case arrow.TIMESTAMP:
		ts := t.(*arrow.TimestampType)
		tz := fb.CreateString(ts.TimeZone)
		fb.StartObject(2)
		fb.PrependInt16Slot(0, int16(ts.Unit), 0)
		fb.PrependUOffsetTSlot(1, tz, 0)
		return 10, fb.EndObject()
	}
	// newIPCWriter rejected every other type before writing anything.
	panic("drive: no IPC encoding for type " + t.String() + " (" + strconv.Itoa(int(t.ID())) + ")")
}
