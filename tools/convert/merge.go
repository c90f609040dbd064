package convert

import (
	"container/heap"
	"errors"
	"iter"

	"roadlog/record/drive"
	"roadlog/schema"
)

// stream is one time-ordered source of a merge: a table file read row by row.
type stream struct {
	t    int64
	prio int // ties: lower first (objects before the frames they annotate)
	idx  int // then stream order, so that the output is deterministic
	next func() bool
	emit func() error
	stop func()
	err  *error // the read's error, known once the stream ends
}

var errStopRead = errors.New("stop reading")

// rowStream pulls the rows of one table file (drive.ReadRows, as a pull iterator) and
// emits each with fn. The row passed to fn is valid until the stream advances.
func rowStream[R any](path string, t *schema.Table[R], prio int, fn func(*R) error) *stream {
	var readErr error
	seq := func(yield func(*R) bool) {
		_, err := drive.ReadRows(path, t, func(r *R) error {
			if !yield(r) {
				return errStopRead
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopRead) {
			readErr = err
		}
	}
	next, stop := iter.Pull(seq)
	s := &stream{prio: prio, stop: stop, err: &readErr}
	var cur *R
	s.next = func() bool {
		r, ok := next()
		if !ok {
			return false
		}
		cur, s.t = r, t.T(r)
		return true
	}
	s.emit = func() error { return fn(cur) }
	return s
}

type streamHeap []*stream

func (h streamHeap) Len() int { return len(h) }
func (h streamHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	if h[i].prio != h[j].prio {
		return h[i].prio < h[j].prio
	}
	return h[i].idx < h[j].idx
}
func (h streamHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *streamHeap) Push(x any)   { *h = append(*h, x.(*stream)) }
func (h *streamHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}

// merge emits the rows of every stream in t order (ties by priority, then stream
// order) and returns the first error of an emit or a read.
func merge(streams []*stream, tick func() error) error {
	defer func() {
		for _, s := range streams {
			s.stop()
		}
	}()
	h := make(streamHeap, 0, len(streams))
	for i, s := range streams {
		s.idx = i
		if s.next() {
			h = append(h, s)
		}
	}
	heap.Init(&h)
	for h.Len() > 0 {
		s := h[0]
		if err := s.emit(); err != nil {
			return err
		}
		if err := tick(); err != nil {
			return err
		}
		if s.next() {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	for _, s := range streams {
		if *s.err != nil {
			return *s.err
		}
	}
	return nil
}
