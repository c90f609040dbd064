package ring

import (
	"roadlog/record"
	"roadlog/schema"
)

// buffer is the pre-trigger ring: the newest samples, in arrival order, covering at
// most pre of reference time and at most maxBytes of (estimated) memory. It is owned
// by the ring's goroutine.
type buffer struct {
	items    []item
	head     int // items[head:] are live
	bytes    int64
	newest   int64
	pre      int64
	maxBytes int64

	overflow int64 // samples evicted by the byte cap while still inside pre

	// codec parameter sets of each camera as of the oldest buffered frame: what a
	// window starting at that frame needs when the frame itself does not carry them
	params map[uint8][][]byte
}

type item struct {
	s    schema.Sample
	t    int64
	size int64
}

func newBuffer(pre, maxBytes int64) *buffer {
	return &buffer{pre: pre, maxBytes: maxBytes, params: map[uint8][][]byte{}}
}

// sampleBytes estimates the memory a sample holds: its payloads plus a fixed cost
// for the row and its pointer.
func sampleBytes(s schema.Sample) int64 {
	const row = 192
	switch r := s.(type) {
	case *schema.VideoFrame:
		n := int64(len(r.Data)) + row
		for _, p := range r.Params {
			n += int64(len(p))
		}
		return n
	case *schema.CAN:
		return row + int64(len(r.Data))
	case *schema.GNSS:
		return row + int64(len(r.Raw))
	case *schema.Event:
		return row + int64(len(r.Message)+len(r.Detail)+len(r.Source)+len(r.Category))
	}
	return row
}

func (b *buffer) len() int { return len(b.items) - b.head }

// push appends s and evicts what falls out of the window or over the byte cap.
func (b *buffer) push(s schema.Sample) {
	t := record.SampleTime(s)
	if t > b.newest {
		b.newest = t
	}
	it := item{s: s, t: t, size: sampleBytes(s)}
	b.items = append(b.items, it)
	b.bytes += it.size
	b.evict()
}

func (b *buffer) evict() {
	for b.len() > 0 {
		front := b.items[b.head]
		old := front.t < b.newest-b.pre
		if !old && b.bytes <= b.maxBytes {
			break
		}
		if !old {
			b.overflow++
		}
		if vf, ok := front.s.(*schema.VideoFrame); ok && len(vf.Params) > 0 {
			b.params[vf.Camera] = vf.Params
		}
		b.items[b.head] = item{}
		b.head++
		b.bytes -= front.size
	}
	// compact once the dead prefix is the larger part, so memory stays bounded
	if b.head > 1024 && b.head*2 > len(b.items) {
		n := copy(b.items, b.items[b.head:])
		clear(b.items[n:])
		b.items = b.items[:n]
		b.head = 0
	}
}

// span returns the reference time the buffer covers (from its oldest arrival).
func (b *buffer) span() int64 {
	if b.len() == 0 {
		return 0
	}
	return max(0, b.newest-b.items[b.head].t)
}

// drain empties the buffer and returns its samples from reference time from on, in
// order, ready to start a window: each camera begins at its first keyframe (frames
// before it could not be decoded), and that keyframe carries the codec parameter
// sets when its codec needs them. Eviction goes by arrival order, so late samples
// older than from may still be buffered; they are left out. The samples' ownership
// passes to the caller.
func (b *buffer) drain(from int64) []schema.Sample {
	out := make([]schema.Sample, 0, b.len())
	started := map[uint8]bool{}
	params := b.params // updated in place: after the drain it holds the newest sets
	for _, it := range b.items[b.head:] {
		vf, ok := it.s.(*schema.VideoFrame)
		if ok && len(vf.Params) > 0 {
			params[vf.Camera] = vf.Params
		}
		if it.t > 0 && it.t < from {
			continue
		}
		if !ok {
			out = append(out, it.s)
			continue
		}
		if !started[vf.Camera] {
			if !vf.Keyframe {
				continue
			}
			if vf.Codec != schema.CodecMJPEG && len(vf.Params) == 0 {
				p := params[vf.Camera]
				if p == nil {
					continue // no parameter sets seen yet: wait for a frame with them
				}
				cp := *vf
				cp.Params = p
				vf = &cp
			}
			started[vf.Camera] = true
		}
		out = append(out, vf)
	}
	b.reset()
	return out
}

// takeAll empties the buffer and returns its samples in order as they are (for an
// open window whose streams continue).
func (b *buffer) takeAll() []schema.Sample {
	out := make([]schema.Sample, 0, b.len())
	for _, it := range b.items[b.head:] {
		b.noteParams(it.s)
		out = append(out, it.s)
	}
	b.reset()
	return out
}

func (b *buffer) reset() {
	clear(b.items)
	b.items = b.items[:0]
	b.head = 0
	b.bytes = 0
}

// noteParams records the parameter sets of a frame that bypassed the buffer (it
// went straight into an open window), for the next window.
func (b *buffer) noteParams(s schema.Sample) {
	if vf, ok := s.(*schema.VideoFrame); ok && len(vf.Params) > 0 {
		b.params[vf.Camera] = vf.Params
	}
}
