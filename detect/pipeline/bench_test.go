package pipeline_test

import (
	"strconv"
	"testing"

	"roadlog/detect/obs"
	"roadlog/detect/pipeline"
	"roadlog/detect/truthdet"
)

// BenchmarkProcess measures one frame set through tracking, ranging, the motion
// filters and the ADAS assessment (detections precomputed), for the scripted quiet
// scenario (three vehicles) and the simulator's 8-camera rig.
func BenchmarkProcess(b *testing.B) {
	sc := scenarios()[4]
	steps := sc.Run()
	det := truthdet.New(truthdet.Config{Seed: 1})
	dets := make([][]obs.Detection, len(steps))
	for i := range steps {
		dets[i] = det.Detections(&steps[i].FrameSet)
	}
	b.Run("cameras=1", func(b *testing.B) {
		p := pipeline.New(pipeline.Config{Cameras: frontRig})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := i % len(steps)
			if k == 0 {
				p.Reset()
			}
			p.Ego(&steps[k].Ego)
			_ = p.Process(&steps[k].FrameSet, dets[k])
			i++
		}
	})
	sim, cal := simDriveB(b)
	sdets := make([][]obs.Detection, len(sim))
	for i := range sim {
		sdets[i] = det.Detections(&sim[i].fs)
	}
	b.Run("cameras="+strconv.Itoa(len(cal)), func(b *testing.B) {
		p := pipeline.New(pipeline.Config{Cameras: cal})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := i % len(sim)
			if k == 0 {
				p.Reset()
			}
			for _, e := range sim[k].ego {
				p.Ego(e)
			}
			_ = p.Process(&sim[k].fs, sdets[k])
			i++
		}
	})
}
