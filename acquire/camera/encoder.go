package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"roadlog/internal/tail"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// Encoder kinds: which program turns raw pictures into video.
const (
	EncX264     = "libx264"       // ffmpeg with libx264 (CPU), H.264
	EncNVENC    = "h264_nvenc"    // ffmpeg with NVIDIA NVENC, H.264
	EncNVENCH   = "hevc_nvenc"    // ffmpeg with NVIDIA NVENC, H.265
	EncJetson   = "nvv4l2h265enc" // GStreamer on a Jetson (hardware H.265)
	EncJetson4  = "nvv4l2h264enc" // GStreamer on a Jetson (hardware H.264)
	EncMJPEG    = "mjpeg"         // in process, image/jpeg: the fallback when no encoder exists
	EncCommand  = "command"       // EncoderConfig.Command
	encRestarts = time.Second     // pause before an encoder process is restarted
)

// EncoderConfig configures the encoder stage of a raw camera.
type EncoderConfig struct {
	Kind    string  // one of the Enc* kinds (default EncX264)
	Bitrate int     // bit/s (default 8 Mbit/s)
	GOP     int     // frames between keyframes (default: one second of frames)
	Preset  string  // encoder preset (x264 default "ultrafast", NVENC "p1")
	FPS     float64 // nominal frame rate of the camera (default 30)
	Queue   int     // raw pictures waiting for the encoder (default 8); more are dropped
	Quality int     // MJPEG quality 1–100 (default 85)
	FFmpeg  string  // ffmpeg program (default "ffmpeg")
	// Command is the argv of a custom encoder (Kind EncCommand) that reads raw
	// pictures on stdin and writes an Annex-B stream of Codec on stdout, one access
	// unit per picture, in order. {width} {height} {fps} {pix_fmt} {gst_format}
	// {bitrate} {gop} are replaced.
	Command []string
	Codec   schema.Codec // output of Command
	// KeepPicture hands each raw picture on with its encoded frame
	// (schema.VideoFrame.Picture), for a live detector: it then needs no decoder.
	KeepPicture bool
}

func (c EncoderConfig) withDefaults() EncoderConfig {
	if c.Kind == "" {
		c.Kind = EncX264
	}
	if c.Bitrate <= 0 {
		c.Bitrate = 8_000_000
	}
	if c.FPS <= 0 {
		c.FPS = 30
	}
	if c.GOP <= 0 {
		c.GOP = int(c.FPS + 0.5)
	}
	if c.Queue <= 0 {
		c.Queue = 8
	}
	if c.Quality <= 0 || c.Quality > 100 {
		c.Quality = 85
	}
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	return c
}

// Encoder is the encoder stage of a raw camera (YUYV, UYVY, NV12): capture hands it
// pictures with Encode, which never blocks — a bounded queue holds them, and when it
// is full the picture is dropped and counted (EvDrop events, one per second with the
// count). Run owns an external encoder process (ffmpeg or GStreamer) fed on stdin
// and read on stdout; its access units are matched, in order, with the pictures'
// times and counters and published as frames. When the process dies, Run writes an
// EvEncoderError event and starts it again; pictures in flight are lost and counted.
// When the encoder program does not exist, or fails maxEncoderFails times in a row
// without a frame, Run encodes MJPEG in process instead (image/jpeg) and says so.
type Encoder struct {
	cfg    EncoderConfig
	camera uint8
	name   string
	tb     clock.Timebase
	q      chan RawFrame
	carry  *RawFrame // the picture that starts the next process (a format change); Run's goroutine

	mu      sync.Mutex // guards dropped, dropT0, dropT1
	dropped int64
	dropT0  int64
	dropT1  int64
}

// NewEncoder returns the encoder stage of camera (named name in events).
func NewEncoder(cfg EncoderConfig, camera uint8, name string, tb clock.Timebase) *Encoder {
	cfg = cfg.withDefaults()
	if tb == nil {
		tb = clock.NewSystem()
	}
	return &Encoder{cfg: cfg, camera: camera, name: nameOr(name, camera), tb: tb, q: make(chan RawFrame, cfg.Queue)}
}

// Encode queues a picture; it reports false when the queue was full and the picture
// was dropped. It never blocks.
func (e *Encoder) Encode(f RawFrame) bool {
	select {
	case e.q <- f:
		return true
	default:
		e.mu.Lock()
		if e.dropped == 0 {
			e.dropT0 = f.T
		}
		e.dropped++
		e.dropT1 = f.T
		e.mu.Unlock()
		return false
	}
}

// reportDrops writes the pictures dropped since the last report as one EvDrop event.
func (e *Encoder) reportDrops(sink schema.Sink, reason string) {
	e.mu.Lock()
	n, t0, t1 := e.dropped, e.dropT0, e.dropT1
	e.dropped = 0
	e.mu.Unlock()
	if n == 0 {
		return
	}
	ev := schema.NewEvent(e.tb.Ref(clock.HostNow()), schema.EvDrop, schema.SevWarn, e.name,
		fmt.Sprintf("%d raw pictures dropped: %s", n, reason))
	ev.Count, ev.TFirst, ev.TLast = n, t0, t1
	ev.Category = "encoder_queue"
	sink.Publish(ev)
}

// Codec returns the codec the stage produces with its configuration (MJPEG when it
// falls back).
func (e *Encoder) Codec() schema.Codec {
	switch e.cfg.Kind {
	case EncMJPEG:
		return schema.CodecMJPEG
	case EncJetson, EncNVENCH:
		return schema.CodecH265
	case EncCommand:
		return e.cfg.Codec
	}
	return schema.CodecH264
}

// Run encodes until ctx ends; it returns nil then. Only a configuration error
// (unknown kind, B-frames from a custom command) ends it early.
func (e *Encoder) Run(ctx context.Context, sink schema.Sink) error {
	em := newEmitter(sink, e.tb, e.name, newTrack(e.camera, e.Codec()))
	defer em.close()
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
				e.reportDrops(sink, "the encoder fell behind")
			}
		}
	}()
	defer func() {
		stop()
		wg.Wait()
		e.reportDrops(sink, "the encoder fell behind")
	}()
	if e.cfg.Kind == EncMJPEG {
		return e.runMJPEG(ctx, em)
	}
	argv, err := e.argv()
	if err != nil {
		return err
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		em.event(schema.EvConfig, schema.SevWarn, fmt.Sprintf("encoder %s not found (%v): recording MJPEG encoded in process", argv[0], err))
		em.tr = newTrack(e.camera, schema.CodecMJPEG)
		return e.runMJPEG(ctx, em)
	}
	fails := 0 // encoder runs in a row that gave no frame
	for {
		before := em.frames
		err := e.runProcess(ctx, em, argv)
		if ctx.Err() != nil {
			return nil
		}
		if em.frames == before {
			fails++
		} else {
			fails = 0
		}
		if errors.Is(err, ErrBFrames) {
			return err
		}
		if errors.Is(err, errFormatChange) {
			em.event(schema.EvVideoFormat, schema.SevWarn, "raw picture format changed, encoder restarted: "+err.Error())
			continue
		}
		if fails >= maxEncoderFails {
			em.event(schema.EvEncoderError, schema.SevError, fmt.Sprintf("encoder failed %d times without a frame (%v): recording MJPEG encoded in process", fails, err))
			em.tr = newTrack(e.camera, schema.CodecMJPEG)
			return e.runMJPEG(ctx, em)
		}
		em.event(schema.EvEncoderError, schema.SevError, fmt.Sprintf("encoder process failed, restarting: %v", err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(encRestarts):
		}
	}
}

var errFormatChange = errors.New("raw picture format changed")

// maxEncoderFails is how many encoder runs in a row may end without a frame before the
// stage gives up on the program (h264_nvenc without a GPU, a broken GStreamer
// pipeline) and encodes MJPEG in process.
const maxEncoderFails = 3

// runMJPEG encodes in process until ctx ends.
func (e *Encoder) runMJPEG(ctx context.Context, em *emitter) error {
	var buf bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-e.q:
			img, err := f.YCbCr()
			if err != nil {
				em.tr.lost()
				em.damage(err, clock.HostNow())
				continue
			}
			buf.Reset()
			if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: e.cfg.Quality}); err != nil {
				em.tr.lost()
				em.damage(fmt.Errorf("encode JPEG: %w", err), clock.HostNow())
				continue
			}
			em.tr.seq = f.Seq
			vf, err := em.tr.jpeg(bytes.Clone(buf.Bytes()))
			if vf != nil {
				vf.TriggerID, vf.ExposureUS = f.TriggerID, f.ExposureUS
			}
			if err := em.frame(vf, err, f.THost, f.T, f.TDevice); err != nil {
				return err
			}
		}
	}
}

// argv returns the encoder command for the configuration, before the picture size is
// known ({width}… are filled per process).
func (e *Encoder) argv() ([]string, error) {
	c := e.cfg
	br, gop := strconv.Itoa(c.Bitrate), strconv.Itoa(c.GOP)
	ff := []string{c.FFmpeg, "-hide_banner", "-nostdin", "-v", "error", "-probesize", "32", "-analyzeduration", "0",
		"-f", "rawvideo", "-pix_fmt", "{pix_fmt}",
		"-s", "{width}x{height}", "-framerate", "{fps}", "-i", "pipe:0", "-an", "-fps_mode", "passthrough",
		"-flush_packets", "1"}
	switch c.Kind {
	case EncX264:
		p := c.Preset
		if p == "" {
			p = "ultrafast"
		}
		return append(ff, "-c:v", "libx264", "-preset", p, "-tune", "zerolatency", "-pix_fmt", "yuv420p",
			"-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-bf", "0", "-b:v", br, "-maxrate", br,
			"-bufsize", br, "-f", "h264", "pipe:1"), nil
	case EncNVENC, EncNVENCH:
		p := c.Preset
		if p == "" {
			p = "p1"
		}
		out := "h264"
		if c.Kind == EncNVENCH {
			out = "hevc"
		}
		return append(ff, "-c:v", c.Kind, "-preset", p, "-tune", "ull", "-zerolatency", "1", "-g", gop,
			"-bf", "0", "-b:v", br, "-f", out, "pipe:1"), nil
	case EncJetson, EncJetson4:
		parse := "h265parse"
		caps := "video/x-h265"
		if c.Kind == EncJetson4 {
			parse, caps = "h264parse", "video/x-h264"
		}
		return []string{"gst-launch-1.0", "-q", "fdsrc", "fd=0", "!",
			"rawvideoparse", "width={width}", "height={height}", "format={gst_format}", "framerate={fps}/1", "!",
			"nvvidconv", "!", "video/x-raw(memory:NVMM),format=NV12", "!",
			c.Kind, "bitrate=" + br, "iframeinterval=" + gop, "idrinterval=" + gop, "insert-sps-pps=true", "maxperf-enable=true", "!",
			parse, "!", caps + ",stream-format=byte-stream,alignment=au", "!", "fdsink", "fd=1"}, nil
	case EncCommand:
		if len(c.Command) == 0 {
			return nil, fmt.Errorf("encoder of %s: %w", e.name, errNoCommand)
		}
		return c.Command, nil
	}
	return nil, fmt.Errorf("encoder of %s: kind %q: %w", e.name, c.Kind, ErrCodec)
}

func fill(argv []string, f RawFrame, fps float64) []string {
	r := strings.NewReplacer("{width}", strconv.Itoa(f.Width), "{height}", strconv.Itoa(f.Height),
		"{fps}", strconv.FormatFloat(fps, 'f', -1, 64), "{pix_fmt}", f.Format.ffmpegName(),
		"{gst_format}", f.Format.gstName())
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = r.Replace(a)
	}
	return out
}

// runProcess runs one encoder process: it waits for the first picture (its size and
// layout fill the command), then feeds pictures until ctx ends, the process dies, or
// the picture format changes (the process is then replaced).
func (e *Encoder) runProcess(ctx context.Context, em *emitter, argv []string) error {
	var first RawFrame
	if e.carry != nil {
		first, e.carry = *e.carry, nil
	} else {
		select {
		case <-ctx.Done():
			return nil
		case first = <-e.q:
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(pctx, argv[0], fill(argv, first, e.cfg.FPS)[1:]...)
	stderr := &tail.Buffer{Max: 2 << 10}
	cmd.Stderr = stderr
	pg := newProcGroup(cmd, time.Second)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("start encoder: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("start encoder: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start encoder: %w", err)
	}
	// pictures written and not yet matched with an access unit, in order
	var mu sync.Mutex // guards inflight
	var inflight []RawFrame
	var emMu sync.Mutex // guards em while both goroutines run
	writeErr := make(chan error, 1)
	eof := make(chan struct{}) // the encoder's output ended: stop feeding it
	go func() {
		defer stdin.Close()
		f := first
		for {
			if f.Width != first.Width || f.Height != first.Height || f.Format != first.Format {
				// a new size needs a new process; this picture starts it
				e.carry = &f
				writeErr <- fmt.Errorf("%v %dx%d -> %v %dx%d: %w", first.Format, first.Width, first.Height,
					f.Format, f.Width, f.Height, errFormatChange)
				return
			}
			n := f.Format.FrameSize(f.Width, f.Height)
			if len(f.Pix) < n {
				emMu.Lock()
				em.tr.lost()
				em.damage(fmt.Errorf("raw picture %d of %d bytes, want %d: %w", f.Seq, len(f.Pix), n, ErrPixelFormat), clock.HostNow())
				emMu.Unlock()
			} else {
				mu.Lock()
				inflight = append(inflight, f)
				mu.Unlock()
				if _, err := stdin.Write(f.Pix[:n]); err != nil {
					writeErr <- fmt.Errorf("write to encoder: %w", err)
					return
				}
			}
			select {
			case <-pctx.Done():
				writeErr <- nil
				return
			case <-eof:
				writeErr <- nil
				return
			case f = <-e.q:
			}
		}
	}()
	sp, err := newSplitter(em.tr.codec, 0)
	if err != nil {
		cancel()
		return err
	}
	var fatal error
	publish := func(aus []AccessUnit, errs []error) {
		emMu.Lock()
		defer emMu.Unlock()
		for _, err := range errs {
			mu.Lock()
			if len(inflight) > 0 {
				inflight = inflight[1:]
			}
			mu.Unlock()
			em.tr.lost()
			em.damage(err, clock.HostNow())
		}
		for _, au := range aus {
			mu.Lock()
			if len(inflight) == 0 {
				mu.Unlock()
				em.damage(fmt.Errorf("encoder gave more pictures than it was fed: %w", errGarbage), clock.HostNow())
				continue
			}
			f := inflight[0]
			inflight = inflight[1:]
			mu.Unlock()
			em.tr.seq = f.Seq
			vf, err := em.tr.h26x(au.NALUs)
			if vf != nil {
				vf.TriggerID, vf.ExposureUS = f.TriggerID, f.ExposureUS
				if e.cfg.KeepPicture {
					if img, err := f.Image(); err == nil {
						vf.Picture = img
					}
				}
			}
			if err := em.frame(vf, err, f.THost, f.T, f.TDevice); err != nil && fatal == nil {
				fatal = err
				cancel()
			}
		}
	}
	buf := make([]byte, 256<<10)
	var rerr error // reading the encoder's output failed (not io.EOF)
	for {
		n, err := stdout.Read(buf)
		if n > 0 {
			publish(sp.Push(buf[:n], clock.HostNow()))
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = fmt.Errorf("read encoder: %w", err)
			}
			break
		}
	}
	publish(sp.Flush())
	close(eof)
	werr := <-writeErr
	waitErr := cmd.Wait()
	pg.done()
	mu.Lock()
	lost := len(inflight)
	mu.Unlock()
	if lost > 0 && ctx.Err() == nil {
		for i := 0; i < lost; i++ {
			em.tr.lost()
		}
		em.damage(fmt.Errorf("%d pictures in flight lost with the encoder process", lost), clock.HostNow())
	}
	switch {
	case fatal != nil:
		return fatal
	case ctx.Err() != nil:
		return nil
	case errors.Is(werr, errFormatChange):
		return werr
	}
	return fmt.Errorf("encoder exited: %w (write: %v) (stderr: %s)", errors.Join(waitErr, rerr), werr, stderr.String())
}
