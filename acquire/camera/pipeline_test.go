package camera

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func needFFmpeg(tb testing.TB) {
	tb.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s is not installed (apt-get install -y ffmpeg): %v", tool, err)
		}
	}
}

// encodeArgs returns ffmpeg arguments that encode n frames of testsrc (w×h at fps, a
// keyframe every gop frames, no B-frames) as an elementary stream to out.
func encodeArgs(codec schema.Codec, w, h, fps, n, gop int, out string) []string {
	a := []string{"-hide_banner", "-v", "error", "-f", "lavfi", "-i",
		"testsrc=size=" + strconv.Itoa(w) + "x" + strconv.Itoa(h) + ":rate=" + strconv.Itoa(fps),
		"-frames:v", strconv.Itoa(n), "-pix_fmt", "yuv420p"}
	g := strconv.Itoa(gop)
	switch codec {
	case schema.CodecH264:
		a = append(a, "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", g, "-keyint_min", g, "-sc_threshold", "0", "-f", "h264")
	case schema.CodecH265:
		a = append(a, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
			"bframes=0:keyint="+g+":min-keyint="+g+":scenecut=0:log-level=error", "-f", "hevc")
	case schema.CodecMJPEG:
		a = append(a, "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "5", "-f", "mjpeg")
	}
	return append(a, out)
}

// collector is a sink that keeps what it is given.
type collector struct {
	mu     sync.Mutex // guards frames, events
	frames []*schema.VideoFrame
	events []*schema.Event
}

func (c *collector) Publish(s schema.Sample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch v := s.(type) {
	case *schema.VideoFrame:
		c.frames = append(c.frames, v)
	case *schema.Event:
		c.events = append(c.events, v)
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

// elementary rebuilds an Annex-B (or MJPEG) stream from published frames.
func elementary(t *testing.T, frames []*schema.VideoFrame) []byte {
	t.Helper()
	var out []byte
	var params [][]byte
	for _, f := range frames {
		if f.Codec == schema.CodecMJPEG {
			out = append(out, f.Data...)
			continue
		}
		if f.Params != nil {
			params = f.Params
		}
		var p [][]byte
		if f.Keyframe {
			p = params
		}
		var err error
		if out, err = AppendAnnexB(out, p, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// framemd5 decodes a stream file with ffmpeg and returns the per-frame checksums.
func framemd5(t *testing.T, format, path string) []string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-f", format, "-i", path,
		"-f", "framemd5", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg framemd5 %s: %v", path, err)
	}
	var sums []string
	for _, l := range bytes.Split(out, []byte("\n")) {
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		f := bytes.Split(l, []byte(","))
		sums = append(sums, string(bytes.TrimSpace(f[len(f)-1])))
	}
	return sums
}

var ffFormat = map[schema.Codec]string{schema.CodecH264: "h264", schema.CodecH265: "hevc", schema.CodecMJPEG: "mjpeg"}

// TestPipelineFFmpeg records ffmpeg's testsrc through the pipeline source for each
// codec, and checks the frames decode to exactly what ffmpeg's own stream decodes to.
func TestPipelineFFmpeg(t *testing.T) {
	needFFmpeg(t)
	for _, codec := range []schema.Codec{schema.CodecH264, schema.CodecH265, schema.CodecMJPEG} {
		t.Run(codec.String(), func(t *testing.T) {
			t.Parallel()
			const n, gop = 30, 10
			dir := t.TempDir()
			ref := filepath.Join(dir, "ref")
			if out, err := exec.Command("ffmpeg", encodeArgs(codec, 160, 120, 30, n, gop, ref)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v %s", err, out)
			}
			var c collector
			p := &Pipeline{Camera: 3, Codec: codec, Command: append([]string{"ffmpeg"}, encodeArgs(codec, 160, 120, 30, n, gop, "pipe:1")...)}
			err := p.Run(context.Background(), &c)
			if !errors.Is(err, ErrEnded) {
				t.Fatalf("Run: %v, want ErrEnded", err)
			}
			if len(c.frames) != n {
				t.Fatalf("%d frames, want %d (events %v)", len(c.frames), n, c.events)
			}
			for i, f := range c.frames {
				wantKey := codec == schema.CodecMJPEG || i%gop == 0
				if f.Seq != int64(i) || f.Camera != 3 || f.Keyframe != wantKey || f.Width != 160 || f.Height != 120 {
					t.Fatalf("frame %d: seq %d cam %d key %v %dx%d", i, f.Seq, f.Camera, f.Keyframe, f.Width, f.Height)
				}
				if i > 0 && (f.T < c.frames[i-1].T || f.THost < c.frames[i-1].THost) {
					t.Fatalf("frame %d: time goes back", i)
				}
				if f.TriggerID != -1 || f.T == 0 || f.THost == 0 {
					t.Fatalf("frame %d: trigger %d t %d t_host %d", i, f.TriggerID, f.T, f.THost)
				}
			}
			if codec != schema.CodecMJPEG && len(c.frames[0].Params) == 0 {
				t.Fatal("first frame without parameter sets")
			}
			got := filepath.Join(dir, "got")
			if err := os.WriteFile(got, elementary(t, c.frames), 0o644); err != nil {
				t.Fatal(err)
			}
			want, have := framemd5(t, ffFormat[codec], ref), framemd5(t, ffFormat[codec], got)
			if len(want) != n || len(have) != n {
				t.Fatalf("decoded %d frames, ffmpeg's stream %d, want %d", len(have), len(want), n)
			}
			for i := range want {
				if want[i] != have[i] {
					t.Fatalf("frame %d decodes differently", i)
				}
			}
		})
	}
}

// TestPipelineStop: cancelling the context stops an endless pipeline and Run returns nil.
func TestPipelineStop(t *testing.T) {
	needFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c collector
	args := encodeArgs(schema.CodecH264, 160, 120, 30, 1_000_000, 30, "pipe:1")
	p := &Pipeline{Codec: schema.CodecH264, Command: append([]string{"ffmpeg", "-re"}, args...)}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, &c) }()
	for c.count() < 5 {
		select {
		case err := <-done:
			t.Fatalf("Run ended early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

// TestPipelineFailure: a process that fails is reported with its status and stderr.
func TestPipelineFailure(t *testing.T) {
	var c collector
	p := &Pipeline{Codec: schema.CodecH264, Command: []string{"sh", "-c", "echo no camera >&2; exit 3"}}
	err := p.Run(context.Background(), &c)
	var ee *exec.ExitError
	if !errors.Is(err, ErrEnded) || !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Run: %v", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("no camera")) {
		t.Fatalf("error %q lacks the process's stderr", err)
	}
	p.Command = []string{"/nonexistent/camera-pipeline"}
	if err := p.Run(context.Background(), &c); err == nil || errors.Is(err, ErrEnded) {
		t.Fatalf("Run of a missing program: %v", err)
	}
}

// TestPipelineBFrames: a stream with B-frames is refused with ErrBFrames.
func TestPipelineBFrames(t *testing.T) {
	needFFmpeg(t)
	var c collector
	p := &Pipeline{Codec: schema.CodecH264, Command: []string{"ffmpeg", "-hide_banner", "-v", "error",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-frames:v", "30", "-c:v", "libx264", "-bf", "2", "-f", "h264", "pipe:1"}}
	if err := p.Run(context.Background(), &c); !errors.Is(err, ErrBFrames) {
		t.Fatalf("Run: %v, want ErrBFrames", err)
	}
}

func (c *collector) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	for _, e := range c.events {
		b.WriteString(e.Kind + ": " + e.Message + "; ")
	}
	return b.String()
}

// TestPipelineBreaksMidFrame: a process that dies inside a picture: every complete
// picture is recorded, the cut one is dropped and counted, Run reports the end.
func TestPipelineBreaksMidFrame(t *testing.T) {
	b := readFixture(t, "h264_plain.h264")
	whole, _ := splitAll(schema.CodecH264, b, len(b))
	cut := whole[10].Offset + 100 // inside picture 10 (a keyframe of ~900 bytes)
	var c collector
	p := &Pipeline{Codec: schema.CodecH264, Command: []string{"sh", "-c",
		"head -c " + strconv.FormatInt(cut, 10) + " testdata/h264_plain.h264; exit 1"}}
	err := p.Run(context.Background(), &c)
	if !errors.Is(err, ErrEnded) {
		t.Fatalf("Run: %v", err)
	}
	if len(c.frames) != 10 {
		t.Fatalf("%d frames, want the 10 complete ones", len(c.frames))
	}
	var lost int64
	for _, e := range c.events {
		if e.Code == schema.EvVideoError {
			lost += e.Count
		}
	}
	if lost != 1 {
		t.Fatalf("%d pictures counted lost, want 1 (%v)", lost, &c)
	}
}
