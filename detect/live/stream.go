package live

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"roadlog/acquire/camera"
	"roadlog/internal/tail"
	"roadlog/schema"
)

// StreamDecoder decodes one camera's H.264 or H.265 frames as they are recorded, for
// the live detector. A P-frame needs every frame before it, so the decoder sees every
// access unit the camera publishes, in order, although the detector looks at only
// some: Feed takes each frame (it never blocks), a persistent ffmpeg process decodes
// the elementary stream (planar YUV 4:2:0 back), and Picture hands out the picture of a
// frame by its sequence number. ffmpeg returns one picture per access unit once it has
// started on a keyframe, so the pictures are matched to the frames by counting; the
// last few are kept.
//
// ffmpeg's own parser and decoder were chosen over a Go decoder: there is no
// maintained pure-Go H.264/H.265 decoder, and the recorder already needs ffmpeg
// (the same one record/videoread runs).
//
// When ffmpeg falls behind by more than its queue, Feed drops frames until the next
// keyframe (counted in Dropped): their pictures do not exist, and Picture says so.
type StreamDecoder struct {
	FFmpeg  string        // the ffmpeg binary (default: ffmpeg from PATH)
	Keep    int           // pictures kept (default 4)
	Queue   int           // frames waiting for ffmpeg before Feed drops (default 64)
	Timeout time.Duration // longest Picture waits for a picture (default 1 s)
	// StartTimeout is how long after ffmpeg starts Picture waits for its first
	// picture (default 10 s): starting a process and its decoder takes seconds on a
	// loaded machine, once, and the frames waiting meanwhile are not lost. An ffmpeg
	// that has given nothing by then is waited for Timeout, like a running one.
	StartTimeout time.Duration

	once        sync.Once
	in          chan streamFrame
	dropped     atomic.Int64
	undecodable atomic.Int64
	done        chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	fed     []int64   // frames written to ffmpeg whose picture has not come back, oldest first
	lastFed int64     // the last frame Feed was given (-1: none)
	head    int64     // the frame the feeder is writing (-1: none)
	needKey bool      // Feed drops frames until a keyframe
	warm    bool      // ffmpeg has given a picture since it started
	started time.Time // when ffmpeg last started (zero: not yet)
	pics    []decodedPicture
	free    []*image.YCbCr // pictures let go that nobody was handed: read decodes into them
	err     error          // why no more pictures come
	closed  bool
}

// streamFrame is what the decoder keeps of a frame (the recorder fills in the rest of
// its frames row meanwhile; the bytes it never changes).
type streamFrame struct {
	seq           int64
	key           bool
	codec         schema.Codec
	width, height int
	data          []byte
	params        [][]byte
}

type decodedPicture struct {
	seq  int64
	img  *image.YCbCr
	lent bool // Picture handed it out: never written again
}

// ErrNoPicture reports a frame whose picture the decoder does not have: dropped,
// not fed, fed before the decoder started on a keyframe, or no longer kept.
var ErrNoPicture = errors.New("no decoded picture for this frame")

func (d *StreamDecoder) init() {
	d.once.Do(func() {
		if d.Keep <= 0 {
			d.Keep = 4
		}
		if d.Queue <= 0 {
			d.Queue = 64
		}
		if d.Timeout <= 0 {
			d.Timeout = time.Second
		}
		if d.StartTimeout <= 0 {
			d.StartTimeout = 10 * time.Second
		}
		d.cond = sync.NewCond(&d.mu)
		d.in = make(chan streamFrame, d.Queue)
		d.done = make(chan struct{})
		d.lastFed, d.head = -1, -1
		go func() { // ask ffmpeg for its filters now, not when the first keyframe waits
			if path, err := exec.LookPath(cmp.Or(d.FFmpeg, "ffmpeg")); err == nil {
				hasShowinfo(path)
			}
		}()
		go d.run()
	})
}

// Feed hands the decoder the camera's next frame (an H.264/H.265 access unit in AVCC
// form, parameter sets on keyframes). Frames before the first keyframe are skipped.
// It never blocks; call it from one goroutine, in the camera's order.
func (d *StreamDecoder) Feed(vf *schema.VideoFrame) {
	d.init()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.lastFed = vf.Seq
	if d.needKey && !vf.Keyframe {
		d.dropped.Add(1)
		return
	}
	d.needKey = false
	select {
	case d.in <- streamFrame{seq: vf.Seq, key: vf.Keyframe, codec: vf.Codec, width: int(vf.Width), height: int(vf.Height), data: vf.Data, params: vf.Params}:
	default:
		d.needKey = true
		d.dropped.Add(1)
	}
}

// Dropped returns the frames Feed dropped because ffmpeg fell behind.
func (d *StreamDecoder) Dropped() int64 { return d.dropped.Load() }

// Undecodable returns the frames that gave no picture: units without a coded picture
// (not fed) and those ffmpeg could not decode.
func (d *StreamDecoder) Undecodable() int64 { return d.undecodable.Load() }

// Picture returns the decoded picture of frame seq, waiting for ffmpeg when the frame
// was fed (or is about to be: a frame set can be complete before its last frame is
// fed) and its picture is not out yet. The picture is the caller's to read; it is
// never written again.
func (d *StreamDecoder) Picture(ctx context.Context, seq int64) (image.Image, error) {
	d.init()
	now := time.Now()
	deadline := now.Add(d.Timeout)
	d.mu.Lock()
	if !d.warm { // ffmpeg starting, or about to start on a keyframe in the queue
		start := d.started
		if start.IsZero() {
			start = now
		}
		if s := start.Add(d.StartTimeout); s.After(deadline) {
			deadline = s
		}
	}
	d.mu.Unlock()
	timeout := deadline.Sub(now).Round(time.Millisecond)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		d.cond.Broadcast()
		d.mu.Unlock()
	})
	defer stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		for i := len(d.pics) - 1; i >= 0; i-- {
			if d.pics[i].seq == seq {
				d.pics[i].lent = true
				return d.pics[i].img, nil
			}
		}
		switch {
		case d.err != nil:
			return nil, fmt.Errorf("frame %d: %w", seq, d.err)
		case seq <= d.lastFed && !d.waitingFor(seq):
			return nil, fmt.Errorf("frame %d: %w", seq, ErrNoPicture)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("frame %d: no picture after %v: %w", seq, timeout, ctx.Err())
		}
		d.cond.Wait()
	}
}

// waitingFor reports whether frame seq may still come out of the decoder: written to
// ffmpeg, being written, or waiting in the feeder's queue (d.mu held).
func (d *StreamDecoder) waitingFor(seq int64) bool {
	switch {
	case len(d.fed) > 0:
		return seq >= d.fed[0]
	case d.head >= 0:
		return seq >= d.head
	}
	return len(d.in) > 0
}

// Close stops ffmpeg; Picture then fails for every frame not decoded.
func (d *StreamDecoder) Close() error {
	d.init()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.in)
	d.mu.Unlock()
	<-d.done
	return nil
}

// run feeds ffmpeg, starting it at the first keyframe and anew when the frame size
// changes, until Feed's channel closes or ffmpeg fails.
func (d *StreamDecoder) run() {
	defer close(d.done)
	f := &feeder{d: d}
	defer func() {
		if f.p != nil {
			f.p.stop()
		}
		d.fail(errors.New("decoder closed"))
	}()
	for vf := range d.in {
		d.mu.Lock()
		d.head = vf.seq
		d.mu.Unlock()
		err := f.feed(vf)
		d.mu.Lock()
		d.head = -1
		d.cond.Broadcast() // a frame skipped: whoever waits for it learns so
		d.mu.Unlock()
		if err != nil {
			d.fail(err)
			return
		}
	}
}

// fail records why no more pictures come (the first reason).
func (d *StreamDecoder) fail(err error) {
	d.mu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.cond.Broadcast()
	d.mu.Unlock()
}

// feeder is run's state: the ffmpeg process and the parameter sets last seen.
type feeder struct {
	d      *StreamDecoder
	p      *ffmpegProc
	params [][]byte
	buf    []byte
}

// feed writes one frame to ffmpeg, starting ffmpeg first where needed; frames it
// cannot start on (before a keyframe, of unknown size or codec) and damaged ones are
// skipped. An error ends decoding.
func (f *feeder) feed(vf streamFrame) error {
	d := f.d
	if len(vf.params) > 0 {
		f.params = vf.params
	}
	if f.p == nil || (vf.key && (vf.width != f.p.w || vf.height != f.p.h || vf.codec != f.p.codec)) {
		if !vf.key || vf.width == 0 || vf.height == 0 || (vf.codec != schema.CodecH264 && vf.codec != schema.CodecH265) {
			return nil // ffmpeg starts on a keyframe of known size
		}
		if f.p != nil {
			f.p.stop() // its last pictures come out first
			d.mu.Lock()
			d.fed = d.fed[:0]
			d.mu.Unlock()
		}
		d.mu.Lock()
		d.warm, d.started = false, time.Now()
		d.mu.Unlock()
		p, err := d.start(vf.codec, vf.width, vf.height)
		if err != nil {
			f.p = nil
			return err
		}
		f.p = p
	}
	var ps [][]byte
	if vf.key {
		ps = f.params
	}
	var err error
	if f.buf, err = camera.AppendAnnexB(f.buf[:0], ps, vf.data); err != nil || !codedPicture(vf.codec, vf.data) {
		d.undecodable.Add(1)
		return nil // a damaged access unit, or one without a coded picture: not fed, so the count stays right
	}
	f.buf = append(f.buf, f.p.aud...)
	d.mu.Lock()
	d.fed = append(d.fed, vf.seq)
	d.mu.Unlock()
	if _, err := f.p.stdin.Write(f.buf); err != nil {
		return fmt.Errorf("feed ffmpeg: %w: %s", err, f.p.stderr.String())
	}
	return nil
}

// ptsGaps finds the access units that gave no picture from the pictures'
// timestamps: ffmpeg's parser stamps every unit one frame duration after the last, so
// a step of k durations means k−1 units without a picture. The duration is the
// smallest step seen (from the stream's timing, or ffmpeg's default rate).
type ptsGaps struct {
	last, step float64
	have       bool
}

// next takes a picture's timestamp, s, and returns how many units before it gave no
// picture.
func (g *ptsGaps) next(pts float64) int {
	if math.IsNaN(pts) {
		return 0
	}
	last, have := g.last, g.have
	g.last, g.have = pts, true
	if !have {
		return 0
	}
	d := pts - last
	if d <= 0 {
		return 0
	}
	if g.step == 0 || d < g.step*0.75 {
		g.step = d
		return 0
	}
	return max(0, int(math.Round(d/g.step))-1)
}

// ffmpegProc is one ffmpeg decoding process.
type ffmpegProc struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  *tail.Buffer
	pts     chan float64 // each picture's timestamp, s, from showinfo
	stamped bool         // ffmpeg runs showinfo: p.pts has a timestamp per picture
	aud     []byte
	codec   schema.Codec
	w, h    int
	wg      sync.WaitGroup
}

func (d *StreamDecoder) start(codec schema.Codec, w, h int) (*ffmpegProc, error) {
	ff := d.FFmpeg
	if ff == "" {
		ff = "ffmpeg"
	}
	path, err := exec.LookPath(ff)
	if err != nil {
		return nil, fmt.Errorf("live decoding needs ffmpeg: %w", err)
	}
	format, aud := "h264", []byte{0, 0, 0, 1, 9, 0xF0} // AUD, primary_pic_type 7: ffmpeg's parser ends the unit at once
	if codec == schema.CodecH265 {
		format, aud = "hevc", []byte{0, 0, 0, 1, 35 << 1, 1, 0x50}
	}
	p := &ffmpegProc{stderr: &tail.Buffer{Max: 2048}, aud: aud, codec: codec, w: w, h: h, pts: make(chan float64, 256)}
	// showinfo logs each picture's timestamp, which ffmpeg's parser counts in access
	// units: a unit that gave no picture shows as a gap (info level, progress off). An
	// ffmpeg built without it decodes by counting alone.
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-v", "info", "-probesize", "32", "-analyzeduration", "0",
		"-flags", "low_delay", "-f", format, "-threads", "1", "-i", "pipe:0", "-an", "-fps_mode", "passthrough"}
	if p.stamped = hasShowinfo(path); p.stamped {
		args = append(args, "-vf", "showinfo=checksum=0")
	}
	p.cmd = exec.Command(path, append(args, "-flush_packets", "1", "-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1")...)
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	p.wg.Add(2)
	go p.logs(stderr)
	go d.read(p, stdout)
	return p, nil
}

var showinfo sync.Map // ffmpeg path → func() bool: whether it has the showinfo filter

// hasShowinfo reports whether the ffmpeg at path has the showinfo filter (asked once
// per path; a second caller waits for the first's answer).
func hasShowinfo(path string) bool {
	ask, _ := showinfo.LoadOrStore(path, sync.OnceValue(func() bool {
		out, _ := exec.Command(path, "-hide_banner", "-filters").Output()
		return bytes.Contains(out, []byte(" showinfo "))
	}))
	return ask.(func() bool)()
}

// logs reads ffmpeg's log: showinfo's line of each picture gives its timestamp (sent
// on p.pts, in order; NaN when the line does not parse), the rest is kept for error
// messages.
func (p *ffmpegProc) logs(r io.Reader) {
	defer p.wg.Done()
	defer close(p.pts)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte("Parsed_showinfo")) {
			p.stderr.Write(line)
			p.stderr.Write([]byte{'\n'})
			continue
		}
		i := bytes.Index(line, []byte(" pts_time:"))
		if i < 0 {
			continue // showinfo's set-up and side-data lines
		}
		f := bytes.Fields(line[i+len(" pts_time:"):])
		v := math.NaN()
		if len(f) > 0 {
			if x, err := strconv.ParseFloat(string(f[0]), 64); err == nil {
				v = x
			}
		}
		p.pts <- v
	}
	_, _ = io.Copy(io.Discard, r)
}

// read cuts ffmpeg's output into pictures and gives each the sequence number of the
// oldest frame fed without one — less the frames its timestamp says gave no picture
// (ffmpeg could not decode them): those are counted in Undecodable and have none.
func (d *StreamDecoder) read(p *ffmpegProc, out io.Reader) {
	defer p.wg.Done()
	defer func() { // the log's reader must not wait for a picture nobody reads
		for range p.pts {
		}
	}()
	cw, ch := (p.w+1)/2, (p.h+1)/2
	var gaps ptsGaps
	for {
		var img *image.YCbCr
		d.mu.Lock()
		if n := len(d.free); n > 0 {
			img, d.free = d.free[n-1], d.free[:n-1]
		}
		d.mu.Unlock()
		if img == nil || img.Rect.Dx() != p.w || img.Rect.Dy() != p.h {
			img = image.NewYCbCr(image.Rect(0, 0, p.w, p.h), image.YCbCrSubsampleRatio420)
		}
		if img.YStride != p.w || img.CStride != cw || len(img.Cb) != cw*ch {
			return // image's layout is planar 4:2:0 without padding: cannot happen
		}
		if _, err := io.ReadFull(out, img.Y); err != nil {
			return
		}
		if _, err := io.ReadFull(out, img.Cb); err != nil {
			return
		}
		if _, err := io.ReadFull(out, img.Cr); err != nil {
			return
		}
		skip := 0
		if p.stamped {
			if pts, ok := <-p.pts; ok {
				skip = gaps.next(pts)
			}
		}
		d.mu.Lock()
		if skip = min(skip, len(d.fed)-1); skip > 0 {
			d.fed = d.fed[skip:]
			d.undecodable.Add(int64(skip))
		}
		if len(d.fed) > 0 {
			d.pics = append(d.pics, decodedPicture{seq: d.fed[0], img: img})
			d.warm = true
			d.fed = d.fed[1:]
			for len(d.pics) > d.Keep {
				if old := d.pics[0]; !old.lent && len(d.free) < 2 {
					d.free = append(d.free, old.img) // most pictures are never asked for: no garbage
				}
				d.pics = d.pics[1:]
			}
			d.cond.Broadcast()
		}
		d.mu.Unlock()
	}
}

// stop ends the process: its input closed, it is given a moment to flush, then killed.
func (p *ffmpegProc) stop() {
	_ = p.stdin.Close()
	t := time.AfterFunc(2*time.Second, func() { _ = p.cmd.Process.Kill() })
	p.wg.Wait()
	_ = p.cmd.Wait()
	t.Stop()
}

// codedPicture reports whether an AVCC access unit holds a coded slice (H.264 NAL
// types 1–5, H.265 0–31): ffmpeg's parser folds a unit without one into the next, so
// it would give no picture and no gap in the timestamps either.
func codedPicture(codec schema.Codec, avcc []byte) bool {
	for len(avcc) >= 5 {
		n := int(binary.BigEndian.Uint32(avcc))
		if n <= 0 || n > len(avcc)-4 {
			return false
		}
		h := avcc[4]
		switch {
		case codec == schema.CodecH264 && h&0x1f >= 1 && h&0x1f <= 5:
			return true
		case codec == schema.CodecH265 && (h>>1)&0x3f <= 31:
			return true
		}
		avcc = avcc[4+n:]
	}
	return false
}
