package rerun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRerun re-runs the 16 s, 4-camera simulated drive (640×360 MJPEG) through
// the truth-fed perception: with images=false the frame sets carry sizes only (the
// pipeline's own cost and the writing of the run); with images=true every frame is
// also read and decoded as a CPU image detector needs (image/jpeg), the part of
// re-inference that does not depend on the model. x-realtime is drive seconds per
// wall second. The network's own cost is measured by the perception engines'
// benchmarks; 'roadlog replay --detect --device gpu' runs the GPU engine.
func BenchmarkRerun(b *testing.B) {
	d := copyDriveB(b, simDrive(nil))
	for _, images := range []bool{false, true} {
		b.Run(fmt.Sprintf("images=%v", images), func(b *testing.B) {
			var frames, media float64
			i := 0
			for b.Loop() {
				p := Truth()
				p.NeedImages = images
				info, err := Run(context.Background(), d, Options{RunID: fmt.Sprintf("bench-%v-%d", images, i), Perception: p})
				if err != nil {
					b.Fatal(err)
				}
				i++
				frames += float64(info.Stats.Frames)
				media += info.Stats.MediaSeconds
				os.RemoveAll(filepath.Join(d.Dir, "runs", info.RunID))
			}
			b.ReportMetric(frames/b.Elapsed().Seconds(), "frames/s")
			b.ReportMetric(media/b.Elapsed().Seconds(), "x-realtime")
		})
	}
}
