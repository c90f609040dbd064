package pipeline

import (
	"context"
	"sync"
)

// Latest is a mailbox of one: Put replaces what is waiting (latest wins) and never
// blocks; Get waits for an item. It is how frame sets reach the detector without the
// recorder ever waiting for it: when the detector is slower than the cameras, the
// frame sets it cannot take are dropped and counted.
type Latest[T any] struct {
	mu      sync.Mutex // guards item, has, put, dropped
	item    T
	has     bool
	put     uint64
	dropped uint64
	ready   chan struct{} // holds a token while an item waits
}

// NewLatest returns an empty mailbox.
func NewLatest[T any]() *Latest[T] {
	return &Latest[T]{ready: make(chan struct{}, 1)}
}

// Put leaves v in the mailbox, replacing (and counting as dropped) any item still
// waiting, which it returns with replaced = true.
func (q *Latest[T]) Put(v T) (old T, replaced bool) {
	q.mu.Lock()
	old, replaced = q.item, q.has
	q.item, q.has = v, true
	q.put++
	if replaced {
		q.dropped++
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // a token is already there
	}
	return old, replaced
}

// Get takes the waiting item, waiting for one until ctx ends.
func (q *Latest[T]) Get(ctx context.Context) (T, error) {
	for {
		if v, ok := q.TryGet(); ok {
			return v, nil
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

// Ready returns a channel that receives when an item may be waiting; follow it with
// TryGet (which may find nothing if another reader was first).
func (q *Latest[T]) Ready() <-chan struct{} { return q.ready }

// TryGet takes the waiting item if there is one.
func (q *Latest[T]) TryGet() (T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	v, ok := q.item, q.has
	var zero T
	q.item, q.has = zero, false
	return v, ok
}

// Discard drops the waiting item, if any, counting it as dropped (a reader that stops
// for good leaves nothing unaccounted for); it reports whether there was one.
func (q *Latest[T]) Discard() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.has {
		return false
	}
	var zero T
	q.item, q.has = zero, false
	q.dropped++
	return true
}

// Counts returns how many items were put and how many of them were dropped unread.
func (q *Latest[T]) Counts() (put, dropped uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.put, q.dropped
}
