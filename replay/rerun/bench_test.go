package rerun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	itestdrive "roadlog/internal/testdrive"
	"roadlog/replay"
)

// BenchmarkRerun re-runs the 16 s, 4-camera simulated drive (640×360 MJPEG):
//   - model=truth: the truth-fed detector through detect/pipeline, frame sets with
//     sizes only (the pipeline, the run's tables);
//   - model=truth-decode: the same with every frame read and decoded (image/jpeg), the
//     part of re-inference that does not depend on the network;
//   - model=centernet: the COCO CenterNet on the CPU engine, camera 0 for 2 s (the
//     CPU re-inference rate; 'roadlog replay --detect --device gpu' is the command
//     for the GPU engine);
//   - model=truth-decode,codec=h264: truth-decode over a 6 s, 4-camera 320×192 H.264
//     drive (internal/testdrive, 3 segments), decoded through ffmpeg (skipped without
//     ffmpeg).
//
// frames/s counts camera frames; x-realtime is drive seconds per wall second for the
// cameras run.
func BenchmarkRerun(b *testing.B) {
	mjpeg := copyDriveB(b, simDrive(nil))
	cases := []struct {
		name    string
		model   string
		images  bool
		cameras []uint8
		span    time.Duration
		h264    bool
	}{
		{"model=truth", ModelTruth, false, nil, 0, false},
		{"model=truth-decode", ModelTruth, true, nil, 0, false},
		{"model=centernet", ModelCenterNet, true, []uint8{0}, 2 * time.Second, false},
		{"model=truth-decode,codec=h264", ModelTruth, true, nil, 0, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := mjpeg
			if c.h264 {
				info, err := itestdrive.Write(b.TempDir(), itestdrive.Options{Duration: 6 * time.Second, Segment: 2 * time.Second,
					Cameras: 4, Width: 320, Height: 192, H264: true})
				if errors.Is(err, itestdrive.ErrNoFFmpeg) {
					b.Skip(err)
				}
				if err != nil {
					b.Fatal(err)
				}
				if d, err = replay.Open(info.Dir); err != nil {
					b.Fatal(err)
				}
			}
			var frames, media float64
			i := 0
			for b.Loop() {
				p, err := Select(d, c.model, DeviceCPU)
				if err != nil {
					b.Fatal(err)
				}
				p.NeedImages = p.NeedImages || c.images
				opt := Options{RunID: fmt.Sprintf("bench-%d", i), Perception: p, Cameras: c.cameras}
				if c.span > 0 {
					opt.From, opt.To = d.StartT()+int64(time.Second), d.StartT()+int64(time.Second+c.span)
				}
				info, err := Run(context.Background(), d, opt)
				if err != nil {
					b.Fatal(err)
				}
				if info.Stats.DecodeErrors != 0 {
					b.Fatalf("%d frames not decoded", info.Stats.DecodeErrors)
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
