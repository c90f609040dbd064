package replay

import "roadlog/schema"

// Tee publishes every sample to each sink in turn. The sinks share each sample, so
// none of them may modify it. A Tee has room (Backpressure) when every sink that can
// say so has room.
func Tee(sinks ...schema.Sink) schema.Sink { return tee(sinks) }

type tee []schema.Sink

func (t tee) Publish(s schema.Sample) {
	for _, k := range t {
		k.Publish(s)
	}
}

// Ready implements Backpressure.
func (t tee) Ready() <-chan struct{} {
	for _, k := range t {
		if bp, ok := k.(Backpressure); ok {
			if ch := bp.Ready(); ch != nil {
				return ch
			}
		}
	}
	return nil
}
