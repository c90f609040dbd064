package videoread_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"roadlog/acquire/camera"
	"roadlog/internal/shared"
	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/record/videoread"
	"roadlog/schema"
)

func needFFmpeg(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		tb.Skipf("ffmpeg is not installed (apt-get install -y ffmpeg): %v", err)
	}
}

// testsrc returns ffmpeg arguments that encode n frames of testsrc at fps (a keyframe
// every gop frames, no B-frames) as an elementary stream to out.
func testsrc(codec schema.Codec, w, h, fps, n, gop int, out string) []string {
	a := []string{"-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i",
		"testsrc=size=" + strconv.Itoa(w) + "x" + strconv.Itoa(h) + ":rate=" + strconv.Itoa(fps),
		"-frames:v", strconv.Itoa(n)}
	g := strconv.Itoa(gop)
	switch codec {
	case schema.CodecH264:
		a = append(a, "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", g,
			"-keyint_min", g, "-sc_threshold", "0", "-f", "h264")
	case schema.CodecH265:
		a = append(a, "-pix_fmt", "yuv420p", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
			"bframes=0:keyint="+g+":min-keyint="+g+":scenecut=0:log-level=error", "-f", "hevc")
	case schema.CodecMJPEG:
		a = append(a, "-pix_fmt", "yuvj420p", "-c:v", "mjpeg", "-q:v", "5", "-f", "mjpeg")
	}
	return append(a, out)
}

// framemd5 decodes an elementary stream file with ffmpeg: one md5 per yuv420p picture.
func framemd5(t *testing.T, codec schema.Codec, path string) []string {
	t.Helper()
	f := map[schema.Codec]string{schema.CodecH264: "h264", schema.CodecH265: "hevc", schema.CodecMJPEG: "mjpeg"}[codec]
	out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-f", f, "-i", path, "-pix_fmt", "yuv420p",
		"-fps_mode", "passthrough", "-f", "framemd5", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg framemd5: %v", err)
	}
	var sums []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		p := strings.Split(l, ",")
		sums = append(sums, strings.TrimSpace(p[len(p)-1]))
	}
	return sums
}

func sum(img image.Image) string {
	y := img.(*image.YCbCr)
	h := md5.New()
	h.Write(y.Y)
	h.Write(y.Cb)
	h.Write(y.Cr)
	return hex.EncodeToString(h.Sum(nil))
}

// tee publishes into the recorder and remembers each camera frame's t by seq.
type tee struct {
	e  *record.Engine
	mu sync.Mutex // guards t
	t  map[int64]int64
}

func (s *tee) Publish(x schema.Sample) {
	if vf, ok := x.(*schema.VideoFrame); ok {
		s.mu.Lock()
		s.t[vf.Seq] = vf.T
		s.mu.Unlock()
	}
	s.e.Publish(x)
}

// recorded is one frame of a drive, as frames.arrow and the video file give it back.
type recorded struct {
	row schema.Frame
	seg int
	md5 string // of the decoded picture
	raw []byte // the stored sample
}

// readDrive decodes every frame of every segment of a drive, through frames.arrow and
// videoread, and returns them by seq. It fails on a frame indexed twice.
func readDrive(t *testing.T, dir string) (map[int64]recorded, *drive.Manifest) {
	t.Helper()
	m, err := drive.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]recorded{}
	for _, s := range m.Segments {
		var rows []schema.Frame
		if _, err := drive.ReadRows(filepath.Join(dir, s.Dir, "frames.arrow"), schema.FramesTable, func(r *schema.Frame) error {
			rows = append(rows, *r)
			return nil
		}); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		files := map[string]bool{}
		for _, r := range rows {
			files[r.File] = true
		}
		for f := range files {
			r, err := videoread.Open(filepath.Join(dir, s.Dir, f), rows, videoread.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Frame(0).Keyframe {
				t.Errorf("segment %d %s starts with a non-keyframe", s.Index, f)
			}
			err = r.Sequence(context.Background(), 0, r.Len()-1, func(i int, img image.Image) error {
				fr := r.Frame(i)
				if _, dup := out[fr.Seq]; dup {
					t.Fatalf("seq %d recorded twice", fr.Seq)
				}
				raw, err := r.Sample(i)
				if err != nil {
					return err
				}
				md := ""
				if y, ok := img.(*image.YCbCr); ok && y.SubsampleRatio == image.YCbCrSubsampleRatio420 {
					md = sum(img)
				}
				out[fr.Seq] = recorded{row: fr, seg: s.Index, md5: md, raw: raw}
				return nil
			})
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out, m
}

// TestRecordPipelineDecode records ffmpeg's testsrc through the pipeline source into a
// drive, for H.264, H.265 and MJPEG, then decodes the drive's video through frames.arrow:
// the same frame count, order and timestamps, and (H.264/H.265) the same pictures as
// ffmpeg decoding its own stream.
func TestRecordPipelineDecode(t *testing.T) {
	needFFmpeg(t)
	for _, codec := range []schema.Codec{schema.CodecH264, schema.CodecH265, schema.CodecMJPEG} {
		t.Run(codec.String(), func(t *testing.T) {
			const n, gop = 60, 15
			dir := t.TempDir()
			ref := filepath.Join(dir, "ref")
			if out, err := exec.Command("ffmpeg", testsrc(codec, 192, 108, 30, n, gop, ref)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v %s", err, out)
			}
			e, err := record.New(record.Options{Root: dir, Vehicle: "e2e", FlushInterval: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Start("test")
			if err != nil {
				t.Fatal(err)
			}
			sink := &tee{e: e, t: map[int64]int64{}}
			src := &camera.Pipeline{Camera: 0, Codec: codec, Timebase: e.Options().Timebase,
				Command: append([]string{"ffmpeg"}, testsrc(codec, 192, 108, 30, n, gop, "pipe:1")...)}
			if err := src.Run(context.Background(), sink); !errors.Is(err, camera.ErrEnded) {
				t.Fatalf("pipeline: %v", err)
			}
			if _, err := e.Stop("test over", "test"); err != nil {
				t.Fatal(err)
			}
			rep, err := drive.Verify(d.Dir)
			if err != nil || !rep.OK() {
				rep.Print(os.Stderr)
				t.Fatalf("verify: %v", err)
			}
			got, _ := readDrive(t, d.Dir)
			want := framemd5(t, codec, ref)
			if len(got) != n || len(want) != n {
				t.Fatalf("%d frames recorded, ffmpeg decodes %d, want %d", len(got), len(want), n)
			}
			units := splitFile(t, codec, ref)
			for i := int64(0); i < n; i++ {
				g := got[i]
				if g.row.T != sink.t[i] || g.row.Camera != 0 || g.row.Width != 192 || g.row.Height != 108 || g.row.Codec != codec {
					t.Fatalf("frame %d: row %+v, published t %d", i, g.row, sink.t[i])
				}
				if i > 0 && g.row.T < got[i-1].row.T {
					t.Fatalf("frame %d: t goes back", i)
				}
				if codec == schema.CodecMJPEG {
					if string(g.raw) != string(units[i].JPEG) {
						t.Fatalf("frame %d: stored JPEG differs from ffmpeg's", i)
					}
					continue
				}
				if g.md5 != want[i] {
					t.Fatalf("frame %d decodes to %s, ffmpeg's stream to %s", i, g.md5, want[i])
				}
			}
		})
	}
}

func splitFile(t *testing.T, codec schema.Codec, path string) []camera.AccessUnit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sp interface {
		Push([]byte, int64) ([]camera.AccessUnit, []error)
		Flush() ([]camera.AccessUnit, []error)
	}
	if codec == schema.CodecMJPEG {
		sp = &camera.JPEGSplitter{}
	} else {
		sp = &camera.AnnexBSplitter{Codec: codec}
	}
	aus, _ := sp.Push(b, 0)
	aus = append([]camera.AccessUnit(nil), aus...)
	rest, _ := sp.Flush()
	return append(aus, rest...)
}

// TestSegmentBoundaries plays an 11 s H.264 file (1 s per segment, a keyframe every
// 0.5 s) into a drive: 10 rotations, each segment's video starts with a keyframe, and
// no frame is lost or duplicated across the boundaries — every picture decodes to
// what ffmpeg decodes from the source.
func TestSegmentBoundaries(t *testing.T) {
	needFFmpeg(t)
	const n, fps, gop = 330, 30, 15
	dir := t.TempDir()
	src := filepath.Join(dir, "src.h264")
	if out, err := exec.Command("ffmpeg", testsrc(schema.CodecH264, 128, 72, fps, n, gop, src)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	e, err := record.New(record.Options{Root: dir, Vehicle: "seg", SegmentDuration: time.Second,
		CloseLag: 300 * time.Millisecond, FlushInterval: 100 * time.Millisecond, CameraQueue: n})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Start("test")
	if err != nil {
		t.Fatal(err)
	}
	sink := &tee{e: e, t: map[int64]int64{}}
	f := &camera.File{Camera: 0, Path: src, FPS: fps, Speed: 10, Timebase: e.Options().Timebase}
	if err := f.Run(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	sum, err := e.Stop("test over", "test")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Drops != 0 {
		t.Fatalf("%d drops", sum.Drops)
	}
	rep, err := drive.Verify(d.Dir)
	if err != nil || !rep.OK() {
		rep.Print(os.Stderr)
		t.Fatalf("verify: %v", err)
	}
	got, m := readDrive(t, d.Dir)
	want := framemd5(t, schema.CodecH264, src)
	if len(got) != n || len(want) != n {
		t.Fatalf("%d frames recorded, %d in the source, want %d", len(got), len(want), n)
	}
	segs := map[int]bool{}
	for i := int64(0); i < n; i++ {
		g, ok := got[i]
		if !ok {
			t.Fatalf("frame %d lost", i)
		}
		if g.md5 != want[i] || g.row.T != sink.t[i] {
			t.Fatalf("frame %d: picture %s (ffmpeg %s), t %d (published %d)", i, g.md5, want[i], g.row.T, sink.t[i])
		}
		segs[g.seg] = true
	}
	if len(m.Segments) < 11 || len(segs) < 11 {
		t.Fatalf("%d segments, %d with video: want 11 (10 rotations)", len(m.Segments), len(segs))
	}
	// each segment holds the frames from its first keyframe on: a frame of segment k
	// never has a larger t than a frame of segment k+1
	order := make([]int64, 0, n)
	for i := range got {
		order = append(order, i)
	}
	sort.Slice(order, func(a, b int) bool { return order[a] < order[b] })
	for k := 1; k < len(order); k++ {
		if got[order[k]].seg < got[order[k-1]].seg {
			t.Fatalf("frame %d in segment %d after frame %d in segment %d", order[k], got[order[k]].seg, order[k-1], got[order[k-1]].seg)
		}
	}
}

// TestRecordResolutionChange: a camera whose stream changes picture size mid-drive
// (two ffmpeg runs back to back on one pipe) is recorded into a second file of the
// segment, says so in events, and every frame of both sizes decodes.
func TestRecordResolutionChange(t *testing.T) {
	needFFmpeg(t)
	const n = 20
	dir := t.TempDir()
	a := strings.Join(testsrc(schema.CodecH264, 160, 96, 30, n, 10, "pipe:1"), " ")
	b := strings.Join(testsrc(schema.CodecH264, 128, 64, 30, n, 10, "pipe:1"), " ")
	e, err := record.New(record.Options{Root: dir, Vehicle: "res", FlushInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Start("test")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []*schema.Event
	sink := schema.SinkFunc(func(s schema.Sample) {
		if ev, ok := s.(*schema.Event); ok {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
		e.Publish(s)
	})
	src := &camera.Pipeline{Codec: schema.CodecH264, Timebase: e.Options().Timebase,
		Command: []string{"sh", "-c", "ffmpeg " + a + " && ffmpeg " + b}}
	if err := src.Run(context.Background(), sink); !errors.Is(err, camera.ErrEnded) {
		t.Fatalf("pipeline: %v", err)
	}
	if _, err := e.Stop("test over", "test"); err != nil {
		t.Fatal(err)
	}
	rep, err := drive.Verify(d.Dir)
	if err != nil || !rep.OK() {
		rep.Print(os.Stderr)
		t.Fatalf("verify: %v", err)
	}
	got, _ := readDrive(t, d.Dir)
	if len(got) != 2*n {
		t.Fatalf("%d frames, want %d", len(got), 2*n)
	}
	files := map[string]bool{}
	for i := int64(0); i < 2*n; i++ {
		w := uint16(160)
		if i >= n {
			w = 128
		}
		if got[i].row.Width != w || got[i].md5 == "" {
			t.Fatalf("frame %d: width %d, decoded %v", i, got[i].row.Width, got[i].md5 != "")
		}
		files[got[i].row.File] = true
	}
	if len(files) != 2 {
		t.Fatalf("files %v, want two", files)
	}
	format := false
	for _, ev := range events {
		format = format || ev.Code == schema.EvVideoFormat
	}
	if !format {
		t.Fatal("no video_format event from the source")
	}
}

// TestFileFastIntoRecorder: the dash-cam video replayed as fast as possible into a
// drive, paced by the recorder's congestion signal: every frame recorded, no drop, and
// the drive's frames decode.
func TestFileFastIntoRecorder(t *testing.T) {
	needFFmpeg(t)
	p := shared.Path(t, "testdata/images/video/udacity_lanes_solidWhiteRight.mp4")
	dir := t.TempDir()
	e, err := record.New(record.Options{Root: dir, Vehicle: "dashcam", SegmentDuration: 3 * time.Second,
		CloseLag: 300 * time.Millisecond, CameraQueue: 8})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Start("test")
	if err != nil {
		t.Fatal(err)
	}
	src := &camera.File{Camera: 0, Path: p, Fast: true, Congested: e.Congested, Timebase: e.Options().Timebase}
	if err := src.Run(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	sum, err := e.Stop("test over", "test")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Drops != 0 || sum.Rows["frames"] != 221 {
		t.Fatalf("%d drops, %d frames", sum.Drops, sum.Rows["frames"])
	}
	rep, err := drive.Verify(d.Dir)
	if err != nil || !rep.OK() || rep.Segments < 3 {
		t.Fatalf("verify: %v, %d segments", err, rep.Segments)
	}
	got, _ := readDrive(t, d.Dir)
	if len(got) != 221 {
		t.Fatalf("%d frames decode", len(got))
	}
	for i := int64(1); i < 221; i++ {
		if got[i].row.T-got[i-1].row.T != 40_000_000 || got[i].row.Width != 960 {
			t.Fatalf("frame %d: t step %d, width %d", i, got[i].row.T-got[i-1].row.T, got[i].row.Width)
		}
	}
}
