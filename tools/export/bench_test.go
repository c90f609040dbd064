package export

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"roadlog/internal/testdrive"
	"roadlog/record/drive"
	"roadlog/schema"
)

// benchRun is the replay run the benchmark writes into the benchmark drive from its
// truth tables (the recorded simulated drive has no live labels).
const benchRun = "truth-bench"

// benchDrive opens the 10-minute 4-camera simulated drive recorded by
// roadlog record --sim --duration 10m --speed 0 --camera-size 320x192 into
// <repo>/.cache/bench/drives (ROADLOG_BENCH_DRIVE overrides); the benchmark skips
// without it.
func benchDrive(b *testing.B) (*Drive, *Labels) {
	dir := os.Getenv("ROADLOG_BENCH_DRIVE")
	if dir == "" {
		ds, _ := filepath.Glob(filepath.Join("..", "..", ".cache", "bench", "drives", "*_sim"))
		if len(ds) == 0 {
			b.Skip("no benchmark drive: roadlog record --sim --duration 10m --speed 0 --camera-size 320x192 --out .cache/bench/drives")
		}
		dir = ds[0]
	}
	if err := testdrive.AddTruthRun(dir, benchRun); err != nil {
		b.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	l, err := d.Labels(benchRun)
	if err != nil {
		b.Fatal(err)
	}
	return d, l
}

// benchSelection is what the benchmark exports: a 10 s clip every 30 s of the drive
// (20 clips of a 10-minute drive), the way a dataset team samples a drive. (Event and
// query selection is not used: the simulator's scenario has warnings and cut-ins in
// its first minute only.)
func benchSelection(d *Drive) Selection {
	var sel Selection
	for t := d.StartT + 5e9; t+10e9 <= min(d.EndT, d.StartT+600e9); t += 30e9 {
		sel.Ranges = append(sel.Ranges, Range{t, t + 10e9})
	}
	return sel
}

func maxRSS() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

// BenchmarkExport exports the clips of benchSelection: frames as JPEG with every label
// format and table (frames=jpeg), or remuxed into MP4 (frames=mp4), beside the peer
// of cutting the same camera ranges with ffmpeg -c copy (its frames/s assumes 30 fps).
// It reports clips/s, frames/s and the process's peak RSS so far (getrusage never
// goes down: a later sub-benchmark's figure includes the earlier ones' peak).
func BenchmarkExport(b *testing.B) {
	d, l := benchDrive(b)
	ws, err := Select(context.Background(), d, l, benchSelection(d))
	if err != nil {
		b.Fatal(err)
	}
	if len(ws) == 0 {
		b.Fatal("nothing selected")
	}
	var span time.Duration
	for _, w := range ws {
		span += time.Duration(w.To - w.From)
	}
	b.Logf("%d clips, %s of drive", len(ws), span)
	for _, c := range []struct {
		name          string
		images, video bool
		labels        []LabelFormat
	}{
		{"frames=jpeg", true, false, []LabelFormat{COCO, YOLO, KITTI}},
		{"frames=mp4", false, true, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			var frames int64
			var bytes int64
			for i := 0; i < b.N; i++ {
				out := b.TempDir()
				opt := Options{Out: out, Images: c.images, Video: c.video, Labels: c.labels, Parquet: true, CSV: c.images, Software: "bench"}
				if !c.images {
					opt.Tables = []schema.TableName{}
				}
				sum, err := Export(context.Background(), d, l, ws, opt)
				if err != nil {
					b.Fatal(err)
				}
				frames += sum.Frames
				bytes += sum.Bytes
				os.RemoveAll(out)
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N*len(ws))/s, "clips/s")
			b.ReportMetric(float64(frames)/s, "frames/s")
			b.ReportMetric(float64(bytes)/1e6/s, "MB/s")
			b.ReportMetric(maxRSS(), "peakRSS-MB")
		})
	}
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		return
	}
	b.Run("peer=ffmpeg-copy", func(b *testing.B) {
		var frames int64
		for i := 0; i < b.N; i++ {
			out := b.TempDir()
			for k, w := range ws {
				for _, seg := range d.segs {
					if seg.to < w.From || seg.from >= w.To {
						continue
					}
					m := d.Manifest.Segments
					var start int64
					for _, ms := range m {
						if filepath.Join(d.Dir, ms.Dir) == seg.dir {
							start = ms.StartT
						}
					}
					for _, cam := range d.Cameras {
						src := filepath.Join(seg.dir, drive.VideoFile(cam.Index, 0))
						if _, err := os.Stat(src); err != nil {
							continue
						}
						from := max(float64(w.From-start)/1e9, 0)
						dst := filepath.Join(out, fmt.Sprintf("%d_%s_cam%d.mp4", k, filepath.Base(seg.dir), cam.Index))
						cmd := exec.Command(ff, "-v", "error", "-ss", fmt.Sprintf("%.3f", from), "-t", fmt.Sprintf("%.3f", float64(w.To-w.From)/1e9),
							"-i", src, "-c", "copy", "-y", dst)
						if o, err := cmd.CombinedOutput(); err != nil {
							b.Fatalf("ffmpeg: %v: %s", err, o)
						}
					}
				}
				frames += (w.To - w.From) * 30 / 1e9 * int64(len(d.Cameras))
			}
			os.RemoveAll(out)
		}
		s := b.Elapsed().Seconds()
		b.ReportMetric(float64(b.N*len(ws))/s, "clips/s")
		b.ReportMetric(float64(frames)/s, "frames/s")
	})
}
