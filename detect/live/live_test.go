package live_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/labels"
	"roadlog/detect/live"
	"roadlog/detect/pipeline"
	"roadlog/detect/ranging"
	"roadlog/internal/shared"
	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rows collects what the runner publishes.
type rows struct {
	mu  sync.Mutex // guards all
	all []schema.Sample
}

func (r *rows) Publish(s schema.Sample) {
	r.mu.Lock()
	r.all = append(r.all, s)
	r.mu.Unlock()
}

func (r *rows) targets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.all {
		if _, ok := s.(*schema.Target); ok {
			n++
		}
	}
	return n
}

// TestBadInputLive runs the real detector (CenterNet on the CPU engine) live through
// live.Images and a pipeline.Runner on frame sets of two cameras: camera 0 sees a
// nuScenes street (and has its calibration), camera 1 has no calibration in the rig
// and in the first frame set sends a JPEG that does not decode. Each frame set must
// give a targets row (detection goes on); the bad frame is counted as a detector
// error, reported as a source_error event naming the camera, and the other camera's
// objects of that frame set are kept; camera 1's objects of the next frame set are
// detected but not ranged, and one ranging_disabled warning says why.
func TestBadInputLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CNN on the CPU")
	}
	dir := shared.Path(t, "testdata/images/nuscenes")
	imgs, err := labels.LoadNuScenes(dir)
	if err != nil {
		t.Fatal(err)
	}
	var street *labels.Image
	for i := range imgs {
		if filepath.Base(imgs[i].Path) == "n015-2018-07-24-11-22-45+0800__CAM_FRONT__1532402927612460.jpg" {
			street = &imgs[i]
		}
	}
	if street == nil {
		t.Fatal("the nuScenes front image is not in the corpus")
	}
	jpg, err := os.ReadFile(street.Path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := centernet.NewCPU(centernet.Config{Thresholds: detect.RoadThresholds()}, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := pipeline.New(pipeline.Config{Cameras: map[uint8]ranging.Calibration{0: street.Calibration}})
	r := pipeline.NewRunner(live.Images(d), p, pipeline.RunnerConfig{StatsInterval: time.Hour})
	sink := &rows{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx, sink) }()

	w, h := street.Calibration.Width, street.Calibration.Height
	garbage := append([]byte{0xff, 0xd8, 0xff, 0xe0}, make([]byte, 500)...) // a JPEG header, then nothing
	for i, cam1 := range [][]byte{garbage, jpg, jpg} {
		r.Submit(&pipeline.FrameSet{T: int64(i+1) * 1e9 / 30, TriggerID: int64(i + 1), Frames: []pipeline.Frame{
			{Camera: 0, Seq: int64(i), Width: w, Height: h, JPEG: jpg},
			{Camera: 1, Seq: int64(i), Width: w, Height: h, JPEG: cam1},
		}})
		for deadline := time.Now().Add(2 * time.Minute); sink.targets() <= i; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("frame set %d: no targets row after 2 minutes", i+1)
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	objs := map[[2]int64]int{} // (trigger, camera) → objects
	var ranged1, ranged0 int
	var badFrame, disabled []*schema.Event
	var st pipeline.Stats
	for _, s := range sink.all {
		switch x := s.(type) {
		case *schema.Object:
			objs[[2]int64{x.TriggerID, int64(x.Camera)}]++
			if !math.IsNaN(float64(x.Distance)) {
				if x.Camera == 1 {
					ranged1++
				} else {
					ranged0++
				}
			}
		case *schema.Event:
			switch {
			case x.Code == schema.EvSourceError:
				badFrame = append(badFrame, x)
			case x.Code == schema.EvConfig && x.Category == "ranging_disabled":
				disabled = append(disabled, x)
			case x.Code == schema.EvDetectorStats:
				if err := json.Unmarshal([]byte(x.Detail), &st); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	t.Logf("objects per (frame set, camera): %v; ranged: camera 0 %d, camera 1 %d; stats %+v", objs, ranged0, ranged1, st)
	if objs[[2]int64{1, 0}] == 0 || objs[[2]int64{1, 1}] != 0 {
		t.Errorf("frame set 1: %d objects of camera 0 (want some), %d of camera 1 (want none: its frame does not decode)", objs[[2]int64{1, 0}], objs[[2]int64{1, 1}])
	}
	if objs[[2]int64{3, 1}] == 0 || ranged1 != 0 || ranged0 == 0 {
		t.Errorf("frame set 3: %d objects of camera 1 (want some, unranged); ranged objects: camera 0 %d, camera 1 %d", objs[[2]int64{3, 1}], ranged0, ranged1)
	}
	if len(badFrame) != 1 || badFrame[0].Category != "bad_frame" || badFrame[0].Count != 1 || badFrame[0].T != int64(1e9)/30 {
		t.Errorf("source_error events %+v: want one bad_frame event of frame set 1", badFrame)
	}
	if st.Errors != 1 || st.Processed != 3 || st.Submitted != 3 {
		t.Errorf("detector stats %+v: want 3 submitted, 3 processed, 1 error", st)
	}
	if len(disabled) != 1 || disabled[0].Severity != schema.SevWarn || disabled[0].Detail != `{"camera":1}` {
		t.Errorf("ranging_disabled events %+v: want one warning for camera 1", disabled)
	}
}
