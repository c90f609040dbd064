package replay

import (
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

// ErrNotFrame reports asking a row that is not a camera frame for frame bytes.
var ErrNotFrame = errors.New("not a camera frame")

// Row is one row of the merged stream as NextRow hands it out: its table and t, and
// where it lies in its decoded batch (every column decompressed and checked). No Go
// value is built for it until the consumer asks: Sample decodes the row into a new
// one, ReadRow into one the caller reuses, FrameData reads a camera frame's bytes,
// Batch gives the columns as an arrow record. A Row, and the
// bytes FrameData returns, are valid until the reader's next call (NextRow, Next,
// SeekTime, SeekFrame, Close); what Sample, ReadRow and Batch return stays valid.
type Row struct {
	r   *Reader
	c   *cursor
	l   *loaded // nil for a damage event
	idx int     // the row in l
	t   int64
	ev  *schema.Event
}

// Table returns the row's table (events for a damage event).
func (w *Row) Table() schema.TableName {
	if w.ev != nil {
		return schema.TableEvents
	}
	if w.c == nil {
		return ""
	}
	return w.c.name
}

// T returns the row's t.
func (w *Row) T() int64 { return w.t }

// frameCols are the columns of the frames table FrameData reads.
type frameCols struct{ camera, seq, file, offset, size int }

// NextRow returns the next row of the merged stream, in the same order and under the
// same options as Next (filters, range; where replay skipped damage, an
// EvReplayDamage event row), io.EOF after the last. Unlike Next it builds no Go value
// and copies nothing per row: batches and buffers are reused as the merge moves on.
// Camera frames come as rows of the frames table whatever NoVideoData says; their
// bytes are read when FrameData asks (a frame whose bytes cannot be read is not
// skipped: FrameData returns the damage).
func (r *Reader) NextRow() (*Row, error) {
	r.release()
	if r.ahead.Load() {
		r.ahead.Store(false) // the producers stop decoding samples ahead
	}
	if !r.async {
		r.goAsync()
	}
	for len(r.heap) > 0 {
		h := r.heap[0]
		if r.opts.To != 0 && h.t > r.opts.To {
			r.heap = r.heap[:0]
			break
		}
		c := r.curs[h.i]
		l, row, ev, done, ok := c.takeRow()
		r.fix(c)
		if done {
			if !ok {
				c.doneWith(l)
				l.release()
				continue
			}
			r.held = l
		}
		if !ok {
			continue
		}
		r.t = h.t
		// field by field, and only what changed: the row is written once per row, and
		// a whole-struct copy costs a bulk write barrier while the collector runs
		w := &r.row
		if w.r == nil {
			w.r = r
		}
		if w.c != c {
			w.c = c
		}
		if w.l != l {
			w.l = l
		}
		if w.ev != ev {
			w.ev = ev
		}
		w.idx, w.t = row, h.t
		if ev == nil {
			c.n.rows++
		}
		return w, nil
	}
	return nil, io.EOF
}

// Sample decodes the row into a new Go value — what Next would have returned for it
// (a camera frame: a *schema.VideoFrame with a copy of its bytes, or a *schema.Frame
// with NoVideoData). The sample is the caller's. The error is a *DamageError when a
// frame's bytes cannot be read.
func (w *Row) Sample() (schema.Sample, error) {
	if w.ev != nil {
		return w.ev, nil
	}
	if w.l == nil {
		return nil, io.EOF
	}
	s, dmg := w.c.rows.sample(w.l, w.idx)
	if dmg != nil {
		return nil, dmg
	}
	return s, nil
}

// ReadRow decodes the row into dst when it is a row of tbl (false otherwise), with
// no allocation of its own: dst is the caller's to reuse row after row (byte columns
// are appended into dst's slices). Strings in dst share the batch's memory, which
// then stays with them.
func ReadRow[R any](w *Row, tbl *schema.Table[R], dst *R) bool {
	if w.Table() != tbl.Name {
		return false
	}
	if w.ev != nil {
		e, ok := any(dst).(*schema.Event)
		if ok {
			*e = *w.ev
		}
		return ok
	}
	if w.l == nil {
		return false
	}
	tbl.Read(w.l.record(w.c.sch), w.idx, dst)
	return true
}

// Batch returns the record batch the row lies in and its index there (nil, -1 for a
// damage event), for consumers that read columns. The record belongs to the reader
// until its next call: Retain it to keep it longer (its memory is then not reused).
func (w *Row) Batch() (arrow.RecordBatch, int) {
	if w.l == nil {
		return nil, -1
	}
	return w.l.record(w.c.sch), w.idx
}

// FrameData returns the bytes of a camera frame row (the frame's encoded image or
// access unit), read from its video file into a buffer the reader reuses: valid until
// the reader's next call. The error is a *DamageError when the bytes cannot be read,
// ErrNotFrame for a row of another table.
func (w *Row) FrameData() ([]byte, error) {
	if w.l == nil || w.c.frame == nil {
		return nil, fmt.Errorf("frame data of a %s row: %w", w.Table(), ErrNotFrame)
	}
	b, i, fc := w.l.raw, w.idx, w.c.frame
	off, size := b.i64(fc.offset, i), b.i32(fc.size, i)
	if fa := w.c.fa; fa != nil {
		fa.used = true
		if w.l.sent && size >= 0 {
			if data, ok := fa.view(w.l.file.ref.dir, b.bytesAt(fc.file, i), off, int(size), w.l.serial, int32(w.l.pos-1)); ok {
				return data, nil
			}
		}
	}
	vf, dmg := w.r.now.locate(w.l.file.ref.dir, b.bytesAt(fc.file, i), b.u8(fc.camera, i), b.i64(fc.seq, i), off, size)
	if dmg != nil {
		return nil, dmg
	}
	data, err := vf.view(off, int(size))
	if err != nil {
		return nil, &DamageError{Path: vf.rel, Batch: -1, Offset: off, Err: fmt.Errorf("read frame: %w", err)}
	}
	return data, nil
}

// FramePath returns the path of the video file a camera frame row names: the file in
// the folder of the segment whose frames table holds the row (a frames row's file is
// relative to its own segment, whatever the manifest says of segment times). It
// checks, without reading them, that the frame's bytes lie within the file, as
// FrameData does: the error is then a *DamageError; ErrNotFrame for a row of another
// table. For consumers that decode the frame from the file itself (H.264/H.265 by its
// sample number): no bytes are copied, and the path is the same string for every
// frame of a file.
func (w *Row) FramePath() (string, error) {
	if w.l == nil || w.c.frame == nil {
		return "", fmt.Errorf("frame file of a %s row: %w", w.Table(), ErrNotFrame)
	}
	b, i, fc := w.l.raw, w.idx, w.c.frame
	vf, dmg := w.r.now.locate(w.l.file.ref.dir, b.bytesAt(fc.file, i), b.u8(fc.camera, i), b.i64(fc.seq, i), b.i64(fc.offset, i), b.i32(fc.size, i))
	if dmg != nil {
		return "", dmg
	}
	return vf.path, nil
}
