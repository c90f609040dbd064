package frameset_test

import (
	"fmt"
	"time"

	"roadlog/schema"
	"roadlog/sync/frameset"
)

// Camera sources pass every frame through the Assembler before publishing it: Add
// fills TriggerID; the detector gets the frame sets.
func Example() {
	a := frameset.New(frameset.Config{
		Trigger: frameset.Trigger{Rate: 30, Phase: 0},
		Cameras: 2,
		Latency: 2 * time.Millisecond,
	}, func(s *frameset.Set) {
		fmt.Println("set", s.TriggerID%30, "members", len(s.Members), "missing", s.Missing)
	})
	sec := int64(1796026500) * 1e9
	for i := range int64(4) {
		t := sec + i*33_333_333 + 2e6
		a.Add(&schema.VideoFrame{Frame: schema.Frame{Camera: 0, Seq: 100 + i, T: t}})
		if i != 2 { // camera 1 drops a frame
			a.Add(&schema.VideoFrame{Frame: schema.Frame{Camera: 1, Seq: 7 + i, T: t + 300_000}})
		}
	}
	a.Flush()
	// Output:
	// set 0 members 2 missing []
	// set 1 members 2 missing []
	// set 2 members 1 missing [1]
	// set 3 members 2 missing []
}
