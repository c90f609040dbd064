package camera

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"roadlog/schema"
)

// rawPicture makes picture i of a moving test pattern in format p.
func rawPicture(p PixelFormat, w, h, i int) []byte {
	b := make([]byte, p.FrameSize(w, h))
	luma := func(x, y int) byte { return byte((x*4 + y*2 + i*8) & 0xFF) }
	switch p {
	case PixYUYV, PixUYVY:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x += 2 {
				o := (y*w + x) * 2
				u, v := byte(64+x), byte(192-y)
				if p == PixYUYV {
					b[o], b[o+1], b[o+2], b[o+3] = luma(x, y), u, luma(x+1, y), v
				} else {
					b[o], b[o+1], b[o+2], b[o+3] = u, luma(x, y), v, luma(x+1, y)
				}
			}
		}
	case PixNV12:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				b[y*w+x] = luma(x, y)
			}
		}
		uv := b[w*h:]
		for y := 0; y < h/2; y++ {
			for x := 0; x < w/2; x++ {
				uv[(y*w/2+x)*2], uv[(y*w/2+x)*2+1] = byte(64+2*x), byte(192-2*y)
			}
		}
	}
	return b
}

func TestRawYCbCr(t *testing.T) {
	for _, p := range []PixelFormat{PixYUYV, PixUYVY, PixNV12} {
		t.Run(p.String(), func(t *testing.T) {
			const w, h = 16, 8
			f := RawFrame{Pix: rawPicture(p, w, h, 3), Format: p, Width: w, Height: h}
			img, err := f.YCbCr()
			if err != nil {
				t.Fatal(err)
			}
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					c := img.YCbCrAt(x, y)
					if want := byte((x*4 + y*2 + 24) & 0xFF); c.Y != want {
						t.Fatalf("Y(%d,%d) = %d, want %d", x, y, c.Y, want)
					}
					if c.Cb != byte(64+x/2*2) {
						t.Fatalf("Cb(%d,%d) = %d, want %d", x, y, c.Cb, 64+x/2*2)
					}
				}
			}
			f.Pix = f.Pix[:10]
			if _, err := f.YCbCr(); err == nil {
				t.Fatal("short picture accepted")
			}
		})
	}
}

// runEncoder runs an encoder stage into a collector while feed runs (it should return
// when its context ends), until stop returns true or 20 s have passed.
func runEncoder(t *testing.T, enc *Encoder, feed func(context.Context), stop func(*collector) bool) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &collector{}
	done := make(chan error, 1)
	go func() { done <- enc.Run(ctx, c) }()
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		feed(ctx)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !stop(c) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-fed
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	return c
}

// TestEncoderX264 encodes raw YUYV, UYVY and NV12 pictures with ffmpeg/libx264: one
// H.264 frame per picture with the picture's seq and times, keyframes every GOP, and a
// stream ffmpeg decodes to as many pictures.
func TestEncoderX264(t *testing.T) {
	needFFmpeg(t)
	for _, p := range []PixelFormat{PixYUYV, PixUYVY, PixNV12} {
		t.Run(p.String(), func(t *testing.T) {
			const w, h, n, gop = 64, 48, 30, 10
			enc := NewEncoder(EncoderConfig{GOP: gop, Bitrate: 500_000, FPS: 30, Queue: n}, 4, "", nil)
			var fed atomic.Bool // every picture handed over: only then may the stream end
			c := runEncoder(t, enc, func(context.Context) {
				for i := 0; i < n; i++ {
					if !enc.Encode(RawFrame{Pix: rawPicture(p, w, h, i), Format: p, Width: w, Height: h,
						T: int64(1000 + i), THost: int64(2000 + i), TDevice: int64(3000 + i), Seq: int64(100 + i), TriggerID: int64(i)}) {
						t.Errorf("picture %d dropped", i)
					}
				}
				fed.Store(true)
			}, func(c *collector) bool { return fed.Load() && c.count() >= n-2 }) // the encoder and the splitter each hold one picture until the stream ends
			if len(c.frames) != n {
				t.Fatalf("%d frames, want %d (events %v)", len(c.frames), n, c)
			}
			for i, f := range c.frames {
				if f.Seq != int64(100+i) || f.T != int64(1000+i) || f.THost != int64(2000+i) || f.TDevice != int64(3000+i) ||
					f.TriggerID != int64(i) || f.Codec != schema.CodecH264 || f.Width != w || f.Height != h || f.Camera != 4 {
					t.Fatalf("frame %d: %+v", i, f.Frame)
				}
				if f.Keyframe != (i%gop == 0) {
					t.Fatalf("frame %d keyframe %v", i, f.Keyframe)
				}
			}
			path := filepath.Join(t.TempDir(), "enc.h264")
			if err := os.WriteFile(path, elementary(t, c.frames), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := framemd5(t, "h264", path); len(got) != n {
				t.Fatalf("ffmpeg decodes %d pictures, want %d", len(got), n)
			}
		})
	}
}

// TestEncoderDies: an encoder process that exits mid-stream is reported and
// restarted; every picture is either recorded or counted as lost.
func TestEncoderDies(t *testing.T) {
	needFFmpeg(t)
	const w, h = 64, 48
	// this encoder quits after 8 pictures
	cmd := []string{"ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-f", "rawvideo", "-pix_fmt", "{pix_fmt}",
		"-s", "{width}x{height}", "-i", "pipe:0", "-frames:v", "8", "-pix_fmt", "yuv420p", "-c:v", "libx264",
		"-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "4", "-f", "h264", "pipe:1"}
	enc := NewEncoder(EncoderConfig{Kind: EncCommand, Command: cmd, Codec: schema.CodecH264, Queue: 64}, 0, "", nil)
	fed := 0
	c := runEncoder(t, enc, func(ctx context.Context) {
		for i := 0; ctx.Err() == nil; i++ {
			if enc.Encode(RawFrame{Pix: rawPicture(PixYUYV, w, h, i), Format: PixYUYV, Width: w, Height: h, T: int64(i + 1), Seq: int64(i)}) {
				fed++
			}
			time.Sleep(20 * time.Millisecond)
		}
	}, func(c *collector) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		restarts := 0
		for _, e := range c.events {
			if e.Code == schema.EvEncoderError {
				restarts++
			}
		}
		return restarts >= 2 && len(c.frames) >= 16
	})
	restarts, lost := 0, int64(0)
	for _, e := range c.events {
		switch e.Code {
		case schema.EvEncoderError:
			restarts++
		case schema.EvVideoError:
			lost += e.Count
		}
	}
	if restarts < 2 || len(c.frames) < 16 {
		t.Fatalf("%d restarts, %d frames (events %v)", restarts, len(c.frames), c)
	}
	for i := 1; i < len(c.frames); i++ {
		if c.frames[i].Seq <= c.frames[i-1].Seq {
			t.Fatalf("frame %d: seq %d after %d", i, c.frames[i].Seq, c.frames[i-1].Seq)
		}
	}
	if int64(len(c.frames))+lost > int64(fed) || len(c.frames) == fed {
		t.Fatalf("%d frames + %d lost for %d pictures fed", len(c.frames), lost, fed)
	}
}

// TestEncoderDrops: a full queue drops pictures without blocking, and the drop is
// written as an EvDrop event with its count.
func TestEncoderDrops(t *testing.T) {
	enc := NewEncoder(EncoderConfig{Kind: EncMJPEG, Queue: 2}, 0, "", nil)
	dropped := 0
	for i := 0; i < 50; i++ {
		if !enc.Encode(RawFrame{Pix: rawPicture(PixNV12, 16, 16, i), Format: PixNV12, Width: 16, Height: 16, T: int64(i + 1), Seq: int64(i)}) {
			dropped++
		}
	}
	if dropped != 48 {
		t.Fatalf("%d dropped, want 48", dropped)
	}
	c := runEncoder(t, enc, func(context.Context) {}, func(c *collector) bool { return c.count() >= 2 })
	var n int64
	for _, e := range c.events {
		if e.Code == schema.EvDrop {
			n += e.Count
			if e.TFirst != 3 || e.TLast != 50 {
				t.Fatalf("drop event spans %d..%d", e.TFirst, e.TLast)
			}
		}
	}
	if n != 48 || len(c.frames) != 2 {
		t.Fatalf("drop events count %d, %d frames", n, len(c.frames))
	}
}

// TestEncoderFallback: without the encoder program the stage records MJPEG made in
// process, and says so.
func TestEncoderFallback(t *testing.T) {
	const w, h = 32, 16
	enc := NewEncoder(EncoderConfig{FFmpeg: "/nonexistent/ffmpeg", Queue: 4}, 1, "", nil)
	pix := rawPicture(PixYUYV, w, h, 0)
	c := runEncoder(t, enc, func(context.Context) {
		enc.Encode(RawFrame{Pix: pix, Format: PixYUYV, Width: w, Height: h, T: 7, Seq: 9})
	}, func(c *collector) bool { return c.count() >= 1 })
	if len(c.frames) != 1 || c.frames[0].Codec != schema.CodecMJPEG || c.frames[0].Seq != 9 || c.frames[0].T != 7 {
		t.Fatalf("frames %v", c.frames)
	}
	config := false
	for _, e := range c.events {
		config = config || e.Code == schema.EvConfig
	}
	if !config {
		t.Fatal("no event says the encoder fell back to MJPEG")
	}
	img, err := jpeg.Decode(bytes.NewReader(c.frames[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := (&RawFrame{Pix: pix, Format: PixYUYV, Width: w, Height: h}).YCbCr()
	d := 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := int(img.(*image.YCbCr).YCbCrAt(x, y).Y) - int(src.YCbCrAt(x, y).Y)
			d += max(v, -v)
		}
	}
	if mean := float64(d) / (w * h); mean > 4 {
		t.Fatalf("JPEG differs from the picture by %.1f levels on average", mean)
	}
}

// TestEncoderGivesUp: an encoder that never produces a frame (a GPU encoder on a
// machine without the GPU) is replaced by MJPEG in process after a few tries.
func TestEncoderGivesUp(t *testing.T) {
	const w, h = 32, 16
	enc := NewEncoder(EncoderConfig{Kind: EncCommand, Command: []string{"sh", "-c", "exit 1"}, Codec: schema.CodecH264, Queue: 4}, 0, "", nil)
	c := runEncoder(t, enc, func(ctx context.Context) {
		for i := 0; ctx.Err() == nil; i++ {
			enc.Encode(RawFrame{Pix: rawPicture(PixYUYV, w, h, i), Format: PixYUYV, Width: w, Height: h, T: int64(i + 1), Seq: int64(i)})
			time.Sleep(20 * time.Millisecond)
		}
	}, func(c *collector) bool { return c.count() >= 3 })
	if len(c.frames) < 3 || c.frames[0].Codec != schema.CodecMJPEG {
		t.Fatalf("%d frames (events %v)", len(c.frames), c)
	}
	errs := 0
	for _, e := range c.events {
		if e.Code == schema.EvEncoderError {
			errs++
		}
	}
	if errs != maxEncoderFails {
		t.Fatalf("%d encoder_error events, want %d", errs, maxEncoderFails)
	}
}

// TestEncoderKeepsPictures: with KeepPicture every encoded frame carries the raw
// picture it was encoded from (the same bytes, layout and size, matched by seq through
// the encoder's delay); without it, none.
func TestEncoderKeepsPictures(t *testing.T) {
	needFFmpeg(t)
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			const w, h, n = 64, 48, 12
			p := PixYUYV
			enc := NewEncoder(EncoderConfig{GOP: 5, Bitrate: 500_000, FPS: 30, Queue: n, KeepPicture: keep}, 2, "", nil)
			var fed atomic.Bool // every picture handed over: only then may the stream end
			c := runEncoder(t, enc, func(context.Context) {
				for i := 0; i < n; i++ {
					if !enc.Encode(RawFrame{Pix: rawPicture(p, w, h, i), Format: p, Width: w, Height: h, T: int64(1000 + i), Seq: int64(i)}) {
						t.Errorf("picture %d dropped", i)
					}
				}
				fed.Store(true)
			}, func(c *collector) bool { return fed.Load() && c.count() >= n-2 })
			if len(c.frames) != n {
				t.Fatalf("%d frames, want %d", len(c.frames), n)
			}
			for i, f := range c.frames {
				if !keep {
					if f.Picture != nil {
						t.Fatalf("frame %d carries a picture without KeepPicture", i)
					}
					continue
				}
				raw, ok := f.Picture.(*RawImage)
				if !ok {
					t.Fatalf("frame %d: picture %T, want *RawImage", i, f.Picture)
				}
				layout, pix, pw, ph := raw.RawPix()
				if layout != "yuyv" || pw != w || ph != h || !bytes.Equal(pix, rawPicture(p, w, h, int(f.Seq))) {
					t.Fatalf("frame %d (seq %d): picture %s %dx%d, not the picture fed with that seq", i, f.Seq, layout, pw, ph)
				}
			}
		})
	}
}
