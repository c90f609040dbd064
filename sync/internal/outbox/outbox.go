// Package outbox is the bounded queue in which the sync estimators keep the events and
// sync rows they produce until their owner publishes them: producing never blocks and
// never grows without bound; what overflows is counted and reported as an EvDrop.
package outbox

import (
	"strconv"

	"roadlog/schema"
)

// Max is the number of samples a Box holds before it drops.
const Max = 1024

// Box is a bounded queue of samples. The zero value is ready. It is not safe for
// concurrent use; its owner's lock guards it.
type Box struct {
	q       []schema.Sample
	dropped int64
}

// Push queues s, or counts it as dropped when the box is full.
func (b *Box) Push(s schema.Sample) {
	if len(b.q) >= Max {
		b.dropped++
		return
	}
	b.q = append(b.q, s)
}

// Len returns the number of queued samples.
func (b *Box) Len() int { return len(b.q) }

// Drain publishes every queued sample to sink, then, if any were dropped, one EvDrop
// event from source at reference time t.
func (b *Box) Drain(sink schema.Sink, source string, t int64) {
	for i, s := range b.q {
		sink.Publish(s)
		b.q[i] = nil
	}
	b.q = b.q[:0]
	if b.dropped > 0 {
		e := schema.NewEvent(t, schema.EvDrop, schema.SevWarn, source,
			"sync events and rows dropped: nobody drained them ("+strconv.FormatInt(b.dropped, 10)+")")
		e.Count = b.dropped
		sink.Publish(e)
		b.dropped = 0
	}
}
