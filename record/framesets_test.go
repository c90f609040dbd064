package record

import (
	"image"
	"sync"
	"testing"

	"roadlog/schema"
	"roadlog/sync/frameset"
)

// A frame's uncompressed picture (kept by a raw camera's encoder for the live
// detector) goes out with its frame set and never reaches the recorder's queues: the
// stage takes it off the frame before it passes the frame on.
func TestFrameSetsTakePictures(t *testing.T) {
	var mu sync.Mutex
	var passed []*schema.VideoFrame
	var sets []*frameset.Set
	next := schema.SinkFunc(func(s schema.Sample) {
		if vf, ok := s.(*schema.VideoFrame); ok {
			mu.Lock()
			passed = append(passed, vf)
			mu.Unlock()
		}
	})
	fs := NewFrameSets(frameset.Config{Trigger: frameset.Trigger{Rate: 10}, Cameras: 2, Wait: 1}, next, func(s *frameset.Set) {
		mu.Lock()
		sets = append(sets, s)
		mu.Unlock()
	})
	pics := map[[2]int64]image.Image{}
	const n = 6
	for i := range int64(n) {
		for c := range uint8(2) {
			pic := image.NewGray(image.Rect(0, 0, 4+int(c), 4))
			vf := &schema.VideoFrame{Frame: schema.Frame{Camera: c, Seq: i, T: 1_000_000_000 + i*100_000_000, Codec: schema.CodecH264}, Picture: pic}
			if c == 1 && i == 3 {
				vf.Picture = nil // a frame without one
			} else {
				pics[[2]int64{int64(c), i}] = pic
			}
			fs.Publish(vf)
		}
	}
	fs.asm.Flush()
	mu.Lock()
	defer mu.Unlock()
	if len(passed) != 2*n {
		t.Fatalf("%d frames passed on, want %d", len(passed), 2*n)
	}
	for _, vf := range passed {
		if vf.Picture != nil {
			t.Fatalf("camera %d frame %d reached the recorder with its picture", vf.Camera, vf.Seq)
		}
	}
	members := 0
	for _, s := range sets {
		for _, m := range s.Members {
			members++
			want := pics[[2]int64{int64(m.Camera), m.Frame.Seq}]
			if m.Picture != want {
				t.Fatalf("set %d camera %d: picture %v, want %v", s.TriggerID, m.Camera, m.Picture, want)
			}
		}
	}
	if members != 2*n {
		t.Fatalf("%d members in %d sets, want %d", members, len(sets), 2*n)
	}
}
