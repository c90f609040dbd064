package drive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"roadlog/schema"
)

// Limits on lengths read from a file; a length above them is treated as corruption
// rather than trusted (STYLE habit 7). They bound the memory a damaged file can make
// a reader allocate.
const (
	// MaxMetadataSize caps one IPC message's flatbuffer metadata.
	MaxMetadataSize = 16 << 20
	// MaxBodySize caps one record batch body. The recorder's batches are far smaller
	// (flush by rows or age); 256 MiB is arrow-go's own default.
	MaxBodySize = 256 << 20
)

var arrowMagic = []byte("ARROW1\x00\x00")

// BatchInfo locates one record batch message in an Arrow IPC file.
type BatchInfo struct {
	Offset int64 // first byte of the message (continuation marker)
	Length int64 // bytes of the whole message: prefix, metadata, body
	Rows   int64
}

// ArrowScan is what a message-by-message scan of an Arrow IPC file found: every
// record batch that decodes, every place that does not, and whether the file ends
// with a valid footer.
type ArrowScan struct {
	Path        string
	Size        int64
	Schema      *arrow.Schema
	SchemaBytes []byte // the schema message, as in the file
	Footer      bool   // a valid footer closes the file
	EOS         int64  // offset of the end-of-stream marker (0: none found)
	Batches     []BatchInfo
	Damage      []*CorruptionError
}

// Rows returns the number of rows in the readable batches.
func (s *ArrowScan) Rows() int64 {
	var n int64
	for _, b := range s.Batches {
		n += b.Rows
	}
	return n
}

// End returns the offset just past the last readable batch (where a repaired file's
// end-of-stream marker and footer go).
func (s *ArrowScan) End() int64 {
	if len(s.Batches) == 0 {
		return 8 + int64(len(s.SchemaBytes))
	}
	b := s.Batches[len(s.Batches)-1]
	return b.Offset + b.Length
}

// ScanArrow reads an Arrow IPC file message by message from byte 8, the way recovery
// must read a file whose footer is missing: it keeps every record batch that decodes,
// records every damaged region as a CorruptionError, and resynchronises after damage
// at the next 8-byte-aligned message that parses. It returns an error only when the
// file cannot be read at all (no magic, no schema).
func ScanArrow(path string) (*ArrowScan, error) { return scanArrow(path, nil) }

// scanArrow is ScanArrow that also passes every batch that decodes to fn (when not
// nil); fn's error stops the scan and is returned wrapped in fnError.
func scanArrow(path string, fn func(arrow.RecordBatch) error) (*ArrowScan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scan arrow file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("scan arrow file: %w", err)
	}
	s := &ArrowScan{Path: path, Size: st.Size()}
	head := make([]byte, 8)
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, arrowMagic) {
		if err == nil {
			err = errors.New("missing ARROW1 magic")
		}
		return s, &CorruptionError{Path: path, Offset: 0, Err: fmt.Errorf("read magic: %w", err)}
	}
	typ, n, err := messageAt(f, 8, s.Size)
	if err != nil || typ != ipc.MessageSchema {
		if err == nil {
			err = fmt.Errorf("first message is %v, not a schema", typ)
		}
		return s, &CorruptionError{Path: path, Offset: 8, Err: err}
	}
	s.SchemaBytes = make([]byte, n)
	if _, err := f.ReadAt(s.SchemaBytes, 8); err != nil {
		return s, &CorruptionError{Path: path, Offset: 8, Err: err}
	}
	if s.Schema, err = decodeSchema(s.SchemaBytes); err != nil {
		return s, &CorruptionError{Path: path, Offset: 8, Err: err}
	}
	off := 8 + n
	for off < s.Size {
		typ, n, err := messageAt(f, off, s.Size)
		switch {
		case errors.Is(err, io.EOF): // end-of-stream marker
			s.EOS = off
			s.Footer = checkFooter(f, off, s.Size)
			if s.Footer {
				if err := footerMatches(f, s); err != nil {
					s.Footer = false
					s.Damage = append(s.Damage, &CorruptionError{Path: path, Offset: off + 8, Err: fmt.Errorf("footer: %w", err)})
				}
			}
			return s, nil
		case err != nil:
			next := resync(f, off+8, s.Size)
			s.Damage = append(s.Damage, &CorruptionError{Path: path, Offset: off, Err: fmt.Errorf("%w (skipped %d bytes)", err, next-off)})
			off = next
			continue
		}
		if typ != ipc.MessageRecordBatch {
			s.Damage = append(s.Damage, &CorruptionError{Path: path, Offset: off, Err: fmt.Errorf("unexpected %v message", typ)})
			off += n
			continue
		}
		msg := make([]byte, n)
		if _, err := f.ReadAt(msg, off); err != nil {
			s.Damage = append(s.Damage, &CorruptionError{Path: path, Offset: off, Err: err})
			break
		}
		rows, err := decodeBatch(s.SchemaBytes, msg, fn)
		var stop fnError
		if errors.As(err, &stop) {
			return s, stop
		}
		if err != nil {
			s.Damage = append(s.Damage, &CorruptionError{Path: path, Offset: off, Err: fmt.Errorf("decode batch: %w", err)})
		} else {
			s.Batches = append(s.Batches, BatchInfo{Offset: off, Length: n, Rows: rows})
		}
		off += n
	}
	return s, nil
}

// messageAt parses the framing and metadata of the IPC message at off and returns its
// type and total length. io.EOF means an end-of-stream marker.
func messageAt(r io.ReaderAt, off, size int64) (typ ipc.MessageType, n int64, err error) {
	if size-off < 8 {
		return 0, 0, fmt.Errorf("truncated message prefix (%d bytes left)", size-off)
	}
	var pre [8]byte
	if _, err := r.ReadAt(pre[:], off); err != nil {
		return 0, 0, err
	}
	if binary.LittleEndian.Uint32(pre[:4]) != 0xFFFFFFFF {
		return 0, 0, fmt.Errorf("no continuation marker")
	}
	metaLen := int64(int32(binary.LittleEndian.Uint32(pre[4:])))
	if metaLen == 0 {
		return 0, 0, io.EOF
	}
	if metaLen < 4 || metaLen > MaxMetadataSize || off+8+metaLen > size {
		return 0, 0, fmt.Errorf("metadata length %d out of range", metaLen)
	}
	meta := make([]byte, metaLen)
	if _, err := r.ReadAt(meta, off+8); err != nil {
		return 0, 0, err
	}
	typ, body, err := parseMessageMeta(meta)
	if err != nil {
		return 0, 0, err
	}
	if body < 0 || body > MaxBodySize || off+8+metaLen+body > size {
		return 0, 0, fmt.Errorf("body length %d out of range (file has %d bytes after the metadata)", body, size-off-8-metaLen)
	}
	return typ, 8 + metaLen + body, nil
}

// resync finds the next 8-byte-aligned offset at or after from where a record batch
// message parses; it returns size when there is none.
func resync(r io.ReaderAt, from, size int64) int64 {
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
		if typ, _, err := messageAt(r, off, size); err == nil && typ == ipc.MessageRecordBatch {
			return off
		}
	}
	return size
}

// checkFooter reports whether a valid footer follows the end-of-stream marker at eos.
func checkFooter(r io.ReaderAt, eos, size int64) bool {
	if size < eos+8+10 {
		return false
	}
	tail := make([]byte, 10)
	if _, err := r.ReadAt(tail, size-10); err != nil {
		return false
	}
	if !bytes.Equal(tail[4:], arrowMagic[:6]) {
		return false
	}
	flen := int64(int32(binary.LittleEndian.Uint32(tail[:4])))
	return flen > 0 && size-10-flen == eos+8
}

// ReadTable calls fn with every readable record batch of an Arrow table file, in file
// order: a message-by-message pass that works the same on files with and without a
// footer (being written, or left by a crash), checks every message before arrow-go
// decodes it, and skips damage. The returned scan says what was found. fn's error
// stops the read and is returned as is. Batches are released after fn returns.
func ReadTable(path string, fn func(arrow.RecordBatch) error) (*ArrowScan, error) {
	s, err := scanArrow(path, fn)
	var stop fnError
	if errors.As(err, &stop) {
		return s, stop.err
	}
	return s, err
}

// ReadRows reads every row of a table file as Go rows, checking the file's schema
// against the table's.
func ReadRows[R any](path string, t *schema.Table[R], fn func(*R) error) (*ArrowScan, error) {
	var r R
	var checked bool
	return ReadTable(path, func(rec arrow.RecordBatch) error {
		if !checked {
			if err := t.Check(rec.Schema()); err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			checked = true
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			t.Read(rec, i, &r)
			if err := fn(&r); err != nil {
				return err
			}
		}
		return nil
	})
}

// fnError carries an error returned by a caller's callback through decodeBatch.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// decodeBatch decodes one record batch message (given the file's schema message) and,
// when fn is not nil, passes it to fn. arrow-go panics on some malformed metadata;
// damaged files are untrusted input, so a panic becomes an error here.
func decodeBatch(schemaMsg, batchMsg []byte, fn func(arrow.RecordBatch) error) (rows int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed record batch: %v", p)
		}
	}()
	if err := checkFramed(schemaMsg); err != nil {
		return 0, fmt.Errorf("schema: %w", err)
	}
	if err := checkFramed(batchMsg); err != nil {
		return 0, err
	}
	buf := make([]byte, 0, len(schemaMsg)+len(batchMsg))
	buf = append(append(buf, schemaMsg...), batchMsg...)
	rd, err := ipc.NewReader(bytes.NewReader(buf), ipc.WithMetadataSizeLimit(MaxMetadataSize), ipc.WithBodySizeLimit(MaxBodySize))
	if err != nil {
		return 0, err
	}
	defer rd.Release()
	if !rd.Next() {
		if rd.Err() != nil {
			return 0, rd.Err()
		}
		return 0, errors.New("no record batch in message")
	}
	rec := rd.RecordBatch()
	if err := validate(rec); err != nil {
		return 0, err
	}
	if fn != nil {
		if err := fn(rec); err != nil {
			return 0, fnError{err}
		}
	}
	return rec.NumRows(), nil
}

// validate checks a decoded batch's arrays (offsets within bounds, lengths agree).
func validate(rec arrow.RecordBatch) error {
	type fullValidator interface{ ValidateFull() error }
	for i, c := range rec.Columns() {
		if int64(c.Len()) != rec.NumRows() {
			return fmt.Errorf("column %d has %d rows, batch has %d", i, c.Len(), rec.NumRows())
		}
		if v, ok := c.(fullValidator); ok {
			if err := v.ValidateFull(); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
	}
	return nil
}

func decodeSchema(schemaMsg []byte) (s *arrow.Schema, err error) {
	if err := checkFramed(schemaMsg); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed schema: %v", p)
		}
	}()
	rd, err := ipc.NewReader(bytes.NewReader(schemaMsg))
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	return rd.Schema(), nil
}

// parseMessageMeta reads the header type and body length from an IPC message's
// flatbuffer metadata (table Message: version, header_type, header, bodyLength).
// Hand-written because arrow-go's flatbuffer bindings are internal and its
// MessageReader always reads the body too, which a scan over a damaged file must not
// trust. Every offset is bounds-checked.
func parseMessageMeta(b []byte) (ipc.MessageType, int64, error) {
	u16 := func(at int) (int, bool) {
		if at < 0 || at+2 > len(b) {
			return 0, false
		}
		return int(binary.LittleEndian.Uint16(b[at:])), true
	}
	if len(b) < 8 {
		return 0, 0, errors.New("metadata too short")
	}
	table := int(binary.LittleEndian.Uint32(b))
	if table < 4 || table+4 > len(b) {
		return 0, 0, fmt.Errorf("metadata root offset %d out of range", table)
	}
	vt := table - int(int32(binary.LittleEndian.Uint32(b[table:])))
	vtLen, ok := u16(vt)
	if !ok || vtLen < 4 || vt+vtLen > len(b) {
		return 0, 0, errors.New("metadata vtable out of range")
	}
	field := func(i int) int { // offset of field i within the table, 0 if absent
		at := vt + 4 + 2*i
		if at+2 > vt+vtLen {
			return 0
		}
		o, _ := u16(at)
		return o
	}
	var typ ipc.MessageType
	if o := field(1); o != 0 {
		if table+o >= len(b) {
			return 0, 0, errors.New("metadata header type out of range")
		}
		typ = ipc.MessageType(b[table+o])
	}
	var body int64
	if o := field(3); o != 0 {
		if table+o+8 > len(b) {
			return 0, 0, errors.New("metadata body length out of range")
		}
		body = int64(binary.LittleEndian.Uint64(b[table+o:]))
	}
	if typ == ipc.MessageNone || typ > ipc.MessageSparseTensor {
		return 0, 0, fmt.Errorf("unknown message type %d", typ)
	}
	return typ, body, nil
}

// footerMatches reads the footer flatbuffer (table Footer: version, schema,
// dictionaries, recordBatches) by hand and checks that its blocks are exactly the
// record batches the scan found. arrow-go is not trusted with a damaged footer: it
// reads whatever the blocks claim.
func footerMatches(r io.ReaderAt, s *ArrowScan) error {
	flen := s.Size - 10 - (s.EOS + 8)
	if flen <= 0 || flen > MaxMetadataSize {
		return fmt.Errorf("footer length %d out of range", flen)
	}
	buf := make([]byte, flen)
	if _, err := r.ReadAt(buf, s.EOS+8); err != nil {
		return err
	}
	b := fbuf(buf)
	root, ok := b.u32(0)
	if !ok || int(root) >= len(b) {
		return errFB
	}
	start, n, err := b.vector(int(root), 3, 24)
	if err != nil {
		return err
	}
	// arrow-go writers (and WriteEmpty) put empty batches in the footer too; count the
	// scan's batches the same way.
	if n != len(s.Batches) {
		return fmt.Errorf("lists %d batches, the file holds %d", n, len(s.Batches))
	}
	for i := 0; i < n; i++ {
		blk := buf[start+24*i:]
		off := int64(binary.LittleEndian.Uint64(blk))
		meta := int64(int32(binary.LittleEndian.Uint32(blk[8:])))
		body := int64(binary.LittleEndian.Uint64(blk[16:]))
		if off != s.Batches[i].Offset || meta+body != s.Batches[i].Length {
			return fmt.Errorf("block %d is [%d, +%d+%d), the batch is at %d (+%d)", i, off, meta, body, s.Batches[i].Offset, s.Batches[i].Length)
		}
	}
	return nil
}

// checkFramed checks a whole framed message (continuation, length, metadata, body).
func checkFramed(msg []byte) error {
	if len(msg) < 8 {
		return errors.New("message too short")
	}
	n := int64(int32(binary.LittleEndian.Uint32(msg[4:])))
	if n < 4 || 8+n > int64(len(msg)) {
		return fmt.Errorf("metadata length %d out of range", n)
	}
	return checkMessage(msg[8:8+n], msg[8+n:])
}
