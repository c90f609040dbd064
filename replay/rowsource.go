package replay

import (
	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

// rowPtr is the pointer type of a table row, which is a Sample.
type rowPtr[R any] interface {
	*R
	schema.Sample
}

// slabRows is how many rows are allocated at once: rows handed out one by one are
// carved from a slab so that a sample costs no allocation of its own.
const slabRows = 128

// decodeState is what decoding rows one goroutine at a time keeps: the slab rows
// are carved from, and an arena for byte columns (CAN payloads).
type decodeState[R any] struct {
	slab  []R
	arena []byte
}

// tableRows decodes the rows of table R into samples: the producer decodes a whole
// batch ahead (prepare), or a row is decoded when it is taken. Each side has its own
// state, so that the producer's goroutine and the reader's never share one.
type tableRows[R any, P rowPtr[R]] struct {
	tbl *schema.Table[R]
	sch *arrow.Schema
	// around each row read: lets a table carve its byte columns out of the state's
	// arena (CAN data) instead of allocating each
	beforeRead, kept func(r *R, arena *[]byte)

	ahead, now decodeState[R]
}

func (t *tableRows[R, P]) read(rec arrow.RecordBatch, row int, r *R, st *decodeState[R]) {
	if t.beforeRead != nil {
		t.beforeRead(r, &st.arena)
	}
	t.tbl.Read(rec, row, r)
	if t.kept != nil {
		t.kept(r, &st.arena)
	}
}

func (t *tableRows[R, P]) prepare(l *loaded) {
	rec := l.record(t.sch)
	rows := make([]R, len(l.ts))
	for k := l.pos; k < len(l.ts); k++ {
		row := l.rowAt(k)
		if l.keep == nil || l.keep[row] {
			t.read(rec, row, &rows[row], &t.ahead)
		}
	}
	l.rows = rows
}

func (t *tableRows[R, P]) sample(l *loaded, row int) (schema.Sample, *DamageError) {
	if rows, ok := l.rows.([]R); ok {
		return P(&rows[row]), nil
	}
	return P(t.decode(l, row)), nil
}

// decode decodes one row now, into the slab.
func (t *tableRows[R, P]) decode(l *loaded, row int) *R {
	st := &t.now
	if len(st.slab) == 0 {
		st.slab = make([]R, slabRows)
	}
	r := &st.slab[0]
	st.slab = st.slab[1:]
	t.read(l.record(t.sch), row, r, st)
	return r
}

// carveCAN reads CAN payloads (0–64 bytes) into a shared arena: the read appends into
// the arena's free tail, and a kept row's bytes are cut off it (capped, so that the
// consumer's appends cannot reach the next row's).
func carveCAN(rows *tableRows[schema.CAN, *schema.CAN]) {
	rows.beforeRead = func(f *schema.CAN, arena *[]byte) {
		a := *arena
		if cap(a)-len(a) < 64 {
			a = make([]byte, 0, 16<<10)
			*arena = a
		}
		f.Data = a[len(a):len(a):cap(a)]
	}
	rows.kept = func(f *schema.CAN, arena *[]byte) {
		a := *arena
		n := len(f.Data)
		switch {
		case n == 0:
			f.Data = nil
		case len(a)+n <= cap(a) && &a[:len(a)+n][len(a)] == &f.Data[0]:
			*arena = a[:len(a)+n]
			f.Data = f.Data[:n:n]
		}
	}
}

// videoRows turns frames rows into video frames with their bytes, read from the
// segment's video files by the offset and size the row gives: by the producer ahead
// (its own files), or when the frame is taken.
type videoRows struct {
	frames     *tableRows[schema.Frame, *schema.Frame]
	ahead, now *videoFiles
}

func (v *videoRows) prepare(l *loaded) {
	rec := l.record(v.frames.sch)
	l.prep = make([]schema.Sample, len(l.ts))
	l.prepErr = make([]*DamageError, len(l.ts))
	var f schema.Frame
	for k := l.pos; k < len(l.ts); k++ {
		row := l.rowAt(k)
		if l.keep != nil && !l.keep[row] {
			continue
		}
		schema.FramesTable.Read(rec, row, &f)
		vf, err := v.ahead.frame(l.file.ref.dir, &f)
		if err != nil {
			l.prepErr[row] = err
			continue
		}
		l.prep[row] = vf
	}
}

func (v *videoRows) sample(l *loaded, row int) (schema.Sample, *DamageError) {
	if l.prep != nil {
		if d := l.prepErr[row]; d != nil {
			return nil, d
		}
		return l.prep[row], nil
	}
	var f schema.Frame
	schema.FramesTable.Read(l.record(v.frames.sch), row, &f)
	vf, err := v.now.frame(l.file.ref.dir, &f)
	if err != nil {
		return nil, err
	}
	return vf, nil
}
