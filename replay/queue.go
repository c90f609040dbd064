package replay

import (
	"context"
	"sync/atomic"

	"roadlog/schema"
)

// Queue is a bounded sink with its own consumer goroutine: Publish never blocks (a
// sample that finds the queue full is dropped and counted), and Ready tells a Player
// when there is room, so that a player in front of it slows down instead of dropping.
type Queue struct {
	q       chan schema.Sample
	space   chan struct{} // a token after each sample taken
	fn      func(schema.Sample)
	dropped atomic.Int64
}

// NewQueue returns a queue of size samples whose consumer (started by Run) calls fn
// for each.
func NewQueue(size int, fn func(schema.Sample)) *Queue {
	if size < 1 {
		size = 1
	}
	return &Queue{q: make(chan schema.Sample, size), space: make(chan struct{}, 1), fn: fn}
}

// Publish queues s, or drops it when the queue is full.
func (q *Queue) Publish(s schema.Sample) {
	select {
	case q.q <- s:
	default:
		q.dropped.Add(1)
	}
}

// Ready returns nil when the queue has room, else a channel readable after the
// consumer takes a sample.
func (q *Queue) Ready() <-chan struct{} {
	if len(q.q) < cap(q.q) {
		return nil
	}
	return q.space
}

// Dropped returns the samples dropped because the queue was full.
func (q *Queue) Dropped() int64 { return q.dropped.Load() }

// Run consumes samples until ctx ends; then it calls fn for what is still queued and
// returns.
func (q *Queue) Run(ctx context.Context) {
	for {
		select {
		case s := <-q.q:
			q.take(s)
		case <-ctx.Done():
			for {
				select {
				case s := <-q.q:
					q.take(s)
				default:
					return
				}
			}
		}
	}
}

// Drain consumes what is queued now and returns.
func (q *Queue) Drain() {
	for {
		select {
		case s := <-q.q:
			q.take(s)
		default:
			return
		}
	}
}

func (q *Queue) take(s schema.Sample) {
	select {
	case q.space <- struct{}{}:
	default:
	}
	q.fn(s)
}
