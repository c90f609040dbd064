package videoread

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"image"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func needFFmpeg(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		tb.Skipf("ffmpeg is not installed (apt-get install -y ffmpeg): %v", err)
	}
}

// clip describes a fragmented MP4 made by ffmpeg for a test. The table feeds the
// tests and the benchmarks.
type clip struct {
	codec      schema.Codec
	w, h       int
	fps, n     int
	gop        int
	bitrate    string // "" : encoder default
	noise      bool   // add noise so the bitrate is that of a real camera
	fragmented bool
}

var clips = []clip{
	{codec: schema.CodecH264, w: 320, h: 240, fps: 30, n: 60, gop: 15, fragmented: true},
	{codec: schema.CodecH265, w: 320, h: 240, fps: 30, n: 40, gop: 10, fragmented: true},
	{codec: schema.CodecMJPEG, w: 320, h: 240, fps: 30, n: 20, gop: 1, fragmented: false},
}

// bench1080 is the seek benchmark's clip: 1080p30 H.264 at 8 Mbit/s, 1 s GOP.
var bench1080 = clip{codec: schema.CodecH264, w: 1920, h: 1080, fps: 30, n: 90, gop: 30, bitrate: "8M", noise: true, fragmented: true}

func (c clip) name() string {
	return c.codec.String() + "_" + strconv.Itoa(c.w) + "x" + strconv.Itoa(c.h) + "_gop" + strconv.Itoa(c.gop)
}

// make writes the clip into dir and returns its path.
func (c clip) make(tb testing.TB, dir string) string {
	tb.Helper()
	src := "testsrc=size=" + strconv.Itoa(c.w) + "x" + strconv.Itoa(c.h) + ":rate=" + strconv.Itoa(c.fps)
	if c.noise {
		src = "testsrc2=size=" + strconv.Itoa(c.w) + "x" + strconv.Itoa(c.h) + ":rate=" + strconv.Itoa(c.fps) + ",noise=alls=12:allf=t"
	}
	g := strconv.Itoa(c.gop)
	args := []string{"-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", src, "-frames:v", strconv.Itoa(c.n)}
	switch c.codec {
	case schema.CodecH264:
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-bf", "0", "-g", g, "-keyint_min", g, "-sc_threshold", "0")
	case schema.CodecH265:
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
			"-x265-params", "bframes=0:keyint="+g+":min-keyint="+g+":scenecut=0:log-level=error")
	case schema.CodecMJPEG:
		args = append(args, "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "4")
	}
	if c.bitrate != "" {
		args = append(args, "-b:v", c.bitrate, "-maxrate", c.bitrate, "-bufsize", c.bitrate)
	}
	if c.fragmented {
		args = append(args, "-movflags", "frag_keyframe+empty_moov+default_base_moof")
	}
	p := filepath.Join(dir, c.name()+".mp4")
	if out, err := exec.Command("ffmpeg", append(args, p)...).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v %s", err, out)
	}
	return p
}

// reference decodes the whole file with ffmpeg: one yuv420p picture per frame, as md5.
func reference(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-i", path, "-pix_fmt", "yuv420p",
		"-fps_mode", "passthrough", "-f", "framemd5", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg framemd5: %v", err)
	}
	var sums []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Split(l, ",")
		sums = append(sums, strings.TrimSpace(f[len(f)-1]))
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

// rowsOf makes the frames.arrow rows a recorder would write for the file, from the
// file's own index (the same fields the writer fills).
func rowsOf(t *testing.T, path string) []schema.Frame {
	t.Helper()
	r, err := OpenFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows := make([]schema.Frame, r.Len())
	for i := range rows {
		rows[i] = r.Frame(i)
		rows[i].Seq = int64(i)
		rows[i].T = 1_700_000_000_000_000_000 + rows[i].PTS
	}
	// shuffle: Open must not depend on the rows' order
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return append(rows, schema.Frame{File: "cam9.mp4", Sample: 0}) // another camera's row
}

func TestDecodeMatchesFFmpeg(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	ctx := context.Background()
	for _, c := range clips {
		t.Run(c.name(), func(t *testing.T) {
			p := c.make(t, dir)
			ref := reference(t, p)
			if len(ref) != c.n {
				t.Fatalf("ffmpeg decodes %d frames, want %d", len(ref), c.n)
			}
			rows := rowsOf(t, p)
			r, err := Open(p, rows, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Len() != c.n || r.Codec() != c.codec {
				t.Fatalf("%d frames %v", r.Len(), r.Codec())
			}
			for i := 0; i < r.Len(); i++ {
				f := r.Frame(i)
				if f.Sample != int64(i) || f.Seq != int64(i) || (i > 0 && f.T <= r.Frame(i-1).T) {
					t.Fatalf("frame %d: sample %d seq %d t %d: not in order", i, f.Sample, f.Seq, f.T)
				}
				if want := c.codec == schema.CodecMJPEG || i%c.gop == 0; f.Keyframe != want {
					t.Fatalf("frame %d keyframe %v", i, f.Keyframe)
				}
				if want := int64(i) * 1e9 / int64(c.fps); f.PTS != want {
					t.Fatalf("frame %d pts %d, want %d", i, f.PTS, want)
				}
			}
			if c.codec == schema.CodecMJPEG {
				// JPEG decoders are not bit-exact: compare with ffmpeg's picture loosely
				for _, i := range []int{0, 7, c.n - 1} {
					img, err := r.Decode(ctx, i)
					if err != nil {
						t.Fatal(err)
					}
					if img.Bounds() != image.Rect(0, 0, c.w, c.h) {
						t.Fatalf("frame %d bounds %v", i, img.Bounds())
					}
					checkClose(t, p, i, img.(*image.YCbCr))
				}
				return
			}
			// seek: any frame, in any order, decodes to exactly ffmpeg's picture, with
			// one decoder thread or frame threads
			for _, threads := range []int{1, 2} {
				rs, err := Open(p, rows, Options{SeekThreads: threads})
				if err != nil {
					t.Fatal(err)
				}
				for _, i := range []int{c.n - 1, 0, c.gop, c.gop - 1, c.gop + 3, 1, 2, c.n / 2, c.n - 2} {
					img, err := rs.Decode(ctx, i)
					if err != nil {
						t.Fatalf("threads %d: decode %d: %v", threads, i, err)
					}
					if got := sum(img); got != ref[i] {
						t.Fatalf("threads %d: frame %d decodes to %s, ffmpeg %s", threads, i, got, ref[i])
					}
				}
				rs.Close()
			}
			// a run of frames from the middle of a GOP
			from, to := c.gop/2, c.n-2
			next := from
			err = r.Sequence(ctx, from, to, func(i int, img image.Image) error {
				if i != next {
					t.Fatalf("sequence gave frame %d, want %d", i, next)
				}
				next++
				if got := sum(img); got != ref[i] {
					t.Fatalf("sequence frame %d decodes to %s, ffmpeg %s", i, got, ref[i])
				}
				return nil
			})
			if err != nil || next != to+1 {
				t.Fatalf("sequence ended at %d: %v", next, err)
			}
			// an error from the callback stops the run
			stop := errors.New("stop")
			if err := r.Sequence(ctx, 0, c.n-1, func(int, image.Image) error { return stop }); !errors.Is(err, stop) {
				t.Fatalf("sequence: %v, want the callback's error", err)
			}
		})
	}
}

// checkClose compares a decoded MJPEG frame with ffmpeg's decoding of it: the mean
// absolute luma difference must be below one level.
func checkClose(t *testing.T, path string, i int, img *image.YCbCr) {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-i", path, "-vf", "select=eq(n\\,"+strconv.Itoa(i)+")",
		"-fps_mode", "passthrough", "-pix_fmt", "gray", "-f", "rawvideo", "-").Output()
	if err != nil || len(out) != len(img.Y) {
		t.Fatalf("ffmpeg frame %d: %v, %d bytes", i, err, len(out))
	}
	d := 0
	for k := range out {
		v := int(out[k]) - int(img.Y[k])
		if v < 0 {
			v = -v
		}
		d += v
	}
	if mean := float64(d) / float64(len(out)); mean > 1 {
		t.Fatalf("frame %d differs from ffmpeg's by %.2f levels on average", i, mean)
	}
}

// TestOpenFileTorn: a file torn by a crash opens with its complete fragments.
func TestOpenFileTorn(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	p := clips[0].make(t, dir)
	r, err := OpenFile(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	last := r.Frame(r.Len() - 1)
	r.Close()
	b, _ := readAll(p)
	torn := filepath.Join(dir, "torn.mp4")
	writeFile(t, torn, b[:last.Offset+int64(last.Size)/2])
	r, err = OpenFile(torn, Options{})
	if err == nil || r == nil {
		t.Fatalf("torn file: reader %v err %v", r, err)
	}
	defer r.Close()
	if r.Len() == 0 || r.Len() >= clips[0].n {
		t.Fatalf("torn file keeps %d frames", r.Len())
	}
	if _, err := r.Decode(context.Background(), r.Len()-1); err != nil {
		t.Fatalf("decode the last complete frame: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	p := clips[0].make(t, dir)
	rows := rowsOf(t, p)
	for i := range rows {
		rows[i].Keyframe = false
	}
	r, err := Open(p, rows, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Decode(context.Background(), 3); !errors.Is(err, ErrNoKeyframe) {
		t.Fatalf("no keyframe: %v", err)
	}
	if _, err := r.Decode(context.Background(), r.Len()); !errors.Is(err, ErrRange) {
		t.Fatalf("out of range: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.mp4"), rows, Options{}); err == nil {
		t.Fatal("missing file opened")
	}
	r2, err := Open(p, rowsOf(t, p), Options{FFmpeg: "/nonexistent/ffmpeg"})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.Decode(context.Background(), 3); !errors.Is(err, ErrNoFFmpeg) {
		t.Fatalf("no ffmpeg: %v", err)
	}
}

// BenchmarkSeek measures the latency of decoding one random frame of a 1080p30 H.264
// clip at 8 Mbit/s with a 1 s GOP (goal ≤ 100 ms), side by side with the peer: the
// ffmpeg command line's own accurate seek (-ss before -i) of the same frame.
func BenchmarkSeek(b *testing.B) {
	needFFmpeg(b)
	dir := b.TempDir()
	p := bench1080.make(b, dir)
	r, err := OpenFile(p, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, threads := range []int{1, 2} {
		r, err := OpenFile(p, Options{SeekThreads: threads})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		b.Run("impl=videoread/threads="+strconv.Itoa(threads), func(b *testing.B) {
			n0 := nudges.Load()
			for b.Loop() {
				if _, err := r.Decode(context.Background(), rng.IntN(r.Len())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(nudges.Load()-n0)/float64(b.N), "nudges/op")
		})
	}
	b.Run("impl=ffmpeg-ss", func(b *testing.B) {
		for b.Loop() {
			i := rng.IntN(r.Len())
			ts := strconv.FormatFloat(float64(r.Frame(i).PTS)/1e9, 'f', 6, 64)
			out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-ss", ts, "-i", p, "-frames:v", "1",
				"-pix_fmt", "yuv420p", "-f", "rawvideo", "-").Output()
			if err != nil || len(out) != 1920*1080*3/2 {
				b.Fatalf("ffmpeg: %v, %d bytes", err, len(out))
			}
		}
	})
}

// BenchmarkDecode measures decoded frames per second of a sequential run through the
// 1080p clip, side by side with ffmpeg decoding the file to nothing.
func BenchmarkDecode(b *testing.B) {
	needFFmpeg(b)
	dir := b.TempDir()
	p := bench1080.make(b, dir)
	r, err := OpenFile(p, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.Run("impl=videoread", func(b *testing.B) {
		n := 0
		t0 := time.Now()
		for b.Loop() {
			if err := r.Sequence(context.Background(), 0, r.Len()-1, func(int, image.Image) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "frames/s")
	})
	// frame by frame through Decode, as a re-run reads each camera's video
	b.Run("impl=videoread-decode", func(b *testing.B) {
		n, n0 := 0, nudges.Load()
		t0 := time.Now()
		for b.Loop() {
			for i := 0; i < r.Len(); i++ {
				if _, err := r.Decode(context.Background(), i); err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "frames/s")
		b.ReportMetric(float64(nudges.Load()-n0)/float64(n), "nudges/frame")
	})
	b.Run("impl=ffmpeg", func(b *testing.B) {
		t0 := time.Now()
		n := 0
		for b.Loop() {
			if out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-i", p, "-pix_fmt", "yuv420p",
				"-f", "null", "-").CombinedOutput(); err != nil {
				b.Fatalf("ffmpeg: %v %s", err, out)
			}
			n += r.Len()
		}
		b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "frames/s")
	})
}

func readAll(p string) ([]byte, error) { return os.ReadFile(p) }

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
