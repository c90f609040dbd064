package record

import (
	"context"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/frameset"
)

// FrameSets sits between the camera sources and the recorder: it assigns every camera
// frame to its trigger (setting TriggerID from the camera's sequence counter and time
// stamp, never by nearest arrival alone), gathers the frames of one trigger into a
// frame set for the detector, and writes misses, duplicates and camera restarts as
// events. Other samples pass through untouched.
type FrameSets struct {
	asm  *frameset.Assembler
	next schema.Sink
}

// NewFrameSets returns the stage; emit receives each frame set (it must not block:
// hand it to a latest-wins queue).
func NewFrameSets(cfg frameset.Config, next schema.Sink, emit func(*frameset.Set)) *FrameSets {
	return &FrameSets{asm: frameset.New(cfg, emit), next: next}
}

// Publish assigns camera frames to their trigger, then passes every sample on.
func (f *FrameSets) Publish(s schema.Sample) {
	if vf, ok := s.(*schema.VideoFrame); ok {
		f.asm.Add(vf)
		// the set has the picture now; the recorder's queues must not hold it
		vf.Picture = nil
	}
	f.next.Publish(s)
}

// Run writes the stage's events once a second until ctx ends, then emits the sets
// still waiting for stragglers.
func (f *FrameSets) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f.asm.Flush()
			f.asm.Tick(clock.HostNow(), f.next)
			return nil
		case <-t.C:
			f.asm.Tick(clock.HostNow(), f.next)
		}
	}
}

// Stats returns what the stage has seen.
func (f *FrameSets) Stats() frameset.Stats { return f.asm.Stats() }
