// Package live tags objects and targets while recording: it feeds a pipeline.Runner
// from the recorder's sample stream (ego rows for the path corridor, and in simulated
// drives the truth rows of recent triggers for the truth-fed detector) and hands it
// frame sets through the runner's latest-wins queue, so the recorder never waits.
package live

import (
	gosync "sync"

	"roadlog/detect/pipeline"
	"roadlog/schema"
)

// keepTriggers bounds the truth rows held for frame sets still being assembled.
const keepTriggers = 128

// Tagger connects the recorder's stream to a detection runner.
type Tagger struct {
	r *pipeline.Runner

	mu    gosync.Mutex // guards truth, order
	truth map[int64][]schema.Truth
	order []int64
}

// New returns a tagger feeding r.
func New(r *pipeline.Runner) *Tagger {
	return &Tagger{r: r, truth: map[int64][]schema.Truth{}}
}

// Observe sees every published sample; it never blocks.
func (t *Tagger) Observe(s schema.Sample) {
	switch x := s.(type) {
	case *schema.Ego:
		t.r.Ego(x)
	case *schema.Truth:
		t.mu.Lock()
		if _, ok := t.truth[x.TriggerID]; !ok {
			t.order = append(t.order, x.TriggerID)
			if len(t.order) > keepTriggers {
				delete(t.truth, t.order[0])
				t.order = t.order[1:]
			}
		}
		t.truth[x.TriggerID] = append(t.truth[x.TriggerID], *x)
		t.mu.Unlock()
	}
}

// Submit queues one frame set for detection (latest wins), with the truth rows of its
// trigger when there are any.
func (t *Tagger) Submit(fs *pipeline.FrameSet) {
	t.mu.Lock()
	fs.Truth = t.truth[fs.TriggerID]
	t.mu.Unlock()
	t.r.Submit(fs)
}

// Sink returns a sink that shows every sample to the tagger and passes it on to next.
func (t *Tagger) Sink(next schema.Sink) schema.Sink {
	return schema.SinkFunc(func(s schema.Sample) {
		t.Observe(s)
		next.Publish(s)
	})
}
