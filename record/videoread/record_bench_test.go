package videoread_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"roadlog/acquire/camera"
	"roadlog/record"
	"roadlog/schema"
)

// clip1080 writes a 3 s 1080p30 H.264 elementary stream at 8 Mbit/s (testsrc2 with
// noise, so the bitrate is that of a real camera; a keyframe every second).
func clip1080(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "cam1080.h264")
	args := []string{"-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i",
		"testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t", "-frames:v", "90", "-pix_fmt", "yuv420p",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
		"-b:v", "8M", "-maxrate", "8M", "-bufsize", "8M", "-f", "h264", p}
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v %s", err, out)
	}
	return p
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

// counter forwards to the recorder and cancels a camera's source after n frames.
type counter struct {
	e      *record.Engine
	n      int64
	frames [8]atomic.Int64
	stop   [8]context.CancelFunc
}

func (c *counter) Publish(s schema.Sample) {
	if vf, ok := s.(*schema.VideoFrame); ok {
		k := c.frames[vf.Camera].Add(1)
		if k > c.n {
			return
		}
		if k == c.n {
			c.stop[vf.Camera]()
		}
	}
	c.e.Publish(s)
}

// BenchmarkRecord8Cameras records 8 cameras of pass-through H.264 1080p30 at
// 8 Mbit/s (10 s of drive each: the file source splits the stream, the recorder
// writes fMP4 and frames.arrow; the sources play as fast as the recorder takes
// them) and reports CPU seconds per drive second and the
// process's peak RSS, side by side with the peer: ffmpeg remuxing the same 8 streams
// into MP4 (-c copy), which does no indexing and no Arrow tables.
func BenchmarkRecord8Cameras(b *testing.B) {
	needFFmpeg(b)
	src := clip1080(b)
	const cams, frames, fps = 8, 300, 30
	driveS := float64(frames) / fps
	b.Run("impl=roadlog", func(b *testing.B) {
		var cpu time.Duration
		for b.Loop() {
			dir := b.TempDir()
			e, err := record.New(record.Options{Root: dir, Vehicle: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			c0 := cpuNow()
			d, err := e.Start("bench")
			if err != nil {
				b.Fatal(err)
			}
			sink := &counter{e: e, n: frames}
			var wg sync.WaitGroup
			for i := 0; i < cams; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				sink.stop[i] = cancel
				s := &camera.File{Camera: uint8(i), Path: src, FPS: fps, Fast: true, Congested: e.Congested, Loop: true,
					Timebase: e.Options().Timebase}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer cancel()
					if err := s.Run(ctx, sink); err != nil {
						b.Error(err)
					}
				}()
			}
			wg.Wait()
			sum, err := e.Stop("bench over", "bench")
			if err != nil {
				b.Fatal(err)
			}
			cpu += cpuNow() - c0
			if sum.Drops != 0 || sum.Rows["frames"] != cams*frames {
				b.Fatalf("%d drops, %d frames rows (drive %s)", sum.Drops, sum.Rows["frames"], d.Dir)
			}
		}
		b.ReportMetric(cpu.Seconds()/float64(b.N)/driveS, "cpu-s/drive-s")
		b.ReportMetric(float64(maxRSS())/(1<<20), "peak-RSS-MiB")
	})
	b.Run("impl=ffmpeg-copy", func(b *testing.B) {
		var cpu time.Duration
		for b.Loop() {
			dir := b.TempDir()
			for i := 0; i < cams; i++ {
				// the clip 10/3 times over: the same 10 s of drive per camera
				cmd := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-stream_loop", "3", "-r", strconv.Itoa(fps),
					"-f", "h264", "-i", src, "-frames:v", strconv.Itoa(frames), "-c", "copy",
					filepath.Join(dir, "cam"+strconv.Itoa(i)+".mp4"))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("ffmpeg: %v %s", err, out)
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
		}
		b.ReportMetric(cpu.Seconds()/float64(b.N)/driveS, "cpu-s/drive-s")
	})
}
