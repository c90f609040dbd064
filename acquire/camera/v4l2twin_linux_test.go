package camera

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"roadlog/schema"
)

// twinDevice is the software twin of a V4L2 capture device: it answers the ioctls the
// source uses the way a driver does (format negotiation, buffer ring, queue/dequeue,
// sequence numbers, monotonic timestamps, error flags) and plays a list of payloads.
type twinDevice struct {
	mu       sync.Mutex // guards everything below
	format   uint32     // the only pixel format the device offers
	w, h     int
	frames   [][]byte // payload of each frame, in order
	seqs     []uint32 // sequence number of each frame (nil: 0, 1, 2…)
	errAt    map[int]bool
	fail     error // returned by wait once the frames are played (nil: stay silent)
	bufs     [][]byte
	queued   []int
	next     int
	ctrls    map[uint32]int32
	fps      v4l2Fract
	stream   bool
	closed   bool
	bufBytes int
}

func (d *twinDevice) ioctl(req uintptr, arg unsafe.Pointer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch req {
	case vidiocQuerycap:
		c := (*v4l2Capability)(arg)
		copy(c.Card[:], "roadlog twin")
		c.Capabilities = v4l2CapVideoCapture | v4l2CapStreaming | v4l2CapDeviceCaps
		c.DeviceCaps = v4l2CapVideoCapture | v4l2CapStreaming
	case vidiocSFmt:
		p := (*v4l2Format)(arg).pix()
		p.Pixelformat, p.Width, p.Height = d.format, uint32(d.w), uint32(d.h)
		switch d.format {
		case v4l2PixYUYV, v4l2PixUYVY:
			p.Bytesperline = uint32(d.w * 2)
		case v4l2PixNV12:
			p.Bytesperline = uint32(d.w)
		}
	case vidiocGParm:
		(*v4l2Streamparm)(arg).capture().Capability = v4l2CapTimeperframe
	case vidiocSParm:
		d.fps = (*v4l2Streamparm)(arg).capture().Timeperframe
	case vidiocSCtrl:
		c := (*v4l2Control)(arg)
		if c.ID != CIDExposureAbsolute && c.ID != CIDExposureAuto {
			return unix.EINVAL
		}
		if d.ctrls == nil {
			d.ctrls = map[uint32]int32{}
		}
		d.ctrls[c.ID] = c.Value
	case vidiocReqbufs:
		r := (*v4l2Requestbuffers)(arg)
		d.bufs = make([][]byte, r.Count)
		for i := range d.bufs {
			d.bufs[i] = make([]byte, d.bufBytes)
		}
	case vidiocQuerybuf:
		b := (*v4l2Buffer)(arg)
		b.Length, b.M = uint32(d.bufBytes), uint64(b.Index)*4096
	case vidiocQbuf:
		d.queued = append(d.queued, int((*v4l2Buffer)(arg).Index))
	case vidiocDqbuf:
		if !d.stream || len(d.queued) == 0 || d.next >= len(d.frames) {
			return unix.EAGAIN
		}
		b := (*v4l2Buffer)(arg)
		i := d.queued[0]
		d.queued = d.queued[1:]
		n := copy(d.bufs[i], d.frames[d.next])
		b.Index, b.Bytesused = uint32(i), uint32(n)
		b.Sequence = uint32(d.next)
		if d.seqs != nil {
			b.Sequence = d.seqs[d.next]
		}
		b.Flags = v4l2BufFlagTsMonotonic
		if d.errAt[d.next] {
			b.Flags |= v4l2BufFlagError
		}
		var ts unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		// the kernel truncates to microseconds (v4l2_buffer_set_timestamp);
		// unix.NsecToTimeval rounds up, putting the stamp after the host's reading
		b.Timestamp = unix.Timeval{Sec: ts.Sec, Usec: ts.Nsec / 1000}
		d.next++
	case vidiocStreamon:
		d.stream = true
	case vidiocStreamoff:
		d.stream = false
	default:
		return unix.ENOTTY
	}
	return nil
}

func (d *twinDevice) mmap(offset int64, length int) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bufs[offset/4096][:length], nil
}

func (d *twinDevice) munmap([]byte) error { return nil }

func (d *twinDevice) wait(timeout time.Duration) (bool, error) {
	d.mu.Lock()
	ready := d.stream && len(d.queued) > 0 && d.next < len(d.frames)
	done := d.next >= len(d.frames)
	fail := d.fail
	d.mu.Unlock()
	if ready {
		return true, nil
	}
	if done && fail != nil {
		return false, fail
	}
	time.Sleep(min(timeout, 20*time.Millisecond))
	return false, nil
}

func (d *twinDevice) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return nil
}

var errUnplugged = errors.New("twin: camera unplugged")

// TestV4L2TwinMJPEG streams MJPEG from the twin: frames keep the driver's sequence
// numbers and timestamps, a sequence jump becomes an EvKernelDrop event, a buffer
// flagged in error is skipped and counted, a size change is an EvVideoFormat event,
// controls reach the device, and an unplugged camera ends Run with an error.
func TestV4L2TwinMJPEG(t *testing.T) {
	small := splitFixture(t, "mjpeg_plain.mjpeg")
	bigger := mjpegOf(t, 128, 96, 2)
	frames := append(append([][]byte{}, small[:8]...), bigger...)
	d := &twinDevice{format: v4l2PixMJPEG, w: 96, h: 64, frames: frames, bufBytes: 1 << 20,
		seqs: []uint32{0, 1, 2, 3, 4, 7, 8, 9, 10, 11}, errAt: map[int]bool{2: true}, fail: errUnplugged}
	var c collector
	s := &V4L2{Camera: 5, Device: "twin", Width: 96, Height: 64, FPS: 30, Timebase: fixedClock{},
		Controls: map[uint32]int32{CIDExposureAuto: 1, CIDExposureAbsolute: 50, 0x00fe0000: 1}}
	err := s.run(context.Background(), &c, d)
	if !errors.Is(err, errUnplugged) {
		t.Fatalf("Run: %v, want the device error", err)
	}
	if !d.closed || d.ctrls[CIDExposureAbsolute] != 50 || d.fps.Denominator != 30000 {
		t.Fatalf("device closed %v, controls %v, fps %v", d.closed, d.ctrls, d.fps)
	}
	wantSeq := []int64{0, 1, 3, 4, 7, 8, 9, 10, 11}
	if len(c.frames) != len(wantSeq) {
		t.Fatalf("%d frames, want %d (events %v)", len(c.frames), len(wantSeq), &c)
	}
	for i, f := range c.frames {
		if f.Seq != wantSeq[i] || f.Camera != 5 || f.Codec != schema.CodecMJPEG || f.ExposureUS != 5000 || !f.Keyframe {
			t.Fatalf("frame %d: %+v", i, f.Frame)
		}
		if f.TDevice == 0 || f.T != f.TDevice+1_700_000_000_000_000_000 || f.THost < f.TDevice {
			t.Fatalf("frame %d: t %d t_device %d t_host %d", i, f.T, f.TDevice, f.THost)
		}
		if w := map[bool]uint16{false: 96, true: 128}[i >= 7]; f.Width != w {
			t.Fatalf("frame %d: width %d, want %d", i, f.Width, w)
		}
	}
	got := map[schema.EventCode]int64{}
	for _, e := range c.events {
		got[e.Code] += max(e.Count, 1)
	}
	if got[schema.EvKernelDrop] != 2 || got[schema.EvVideoError] != 1 || got[schema.EvVideoFormat] != 1 || got[schema.EvConfig] != 1 {
		t.Fatalf("events %v (%v)", got, &c)
	}
}

// runRawTwin plays n YUYV pictures of w×h from the twin through s's encoder stage
// until want frames came out (or a bound, for a broken test), and returns the
// collector and the pictures played.
func runRawTwin(t *testing.T, s *V4L2, w, h, n, want int) (*collector, [][]byte) {
	t.Helper()
	var frames [][]byte
	for i := 0; i < n; i++ {
		frames = append(frames, rawPicture(PixYUYV, w, h, i))
	}
	d := &twinDevice{format: v4l2PixYUYV, w: w, h: h, frames: frames, bufBytes: w * h * 2}
	s.Device, s.Format, s.Width, s.Height = "twin", "yuyv", w, h
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &collector{}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, c, d) }()
	for deadline := time.Now().Add(20 * time.Second); c.count() < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(c.frames) < want {
		t.Fatalf("%d frames (events %v)", len(c.frames), c)
	}
	return c, frames
}

// TestV4L2TwinRaw streams YUYV from the twin through the encoder stage (MJPEG in
// process here; ffmpeg's path has its own tests).
func TestV4L2TwinRaw(t *testing.T) {
	const w, h, n = 32, 16, 6
	c, _ := runRawTwin(t, &V4L2{Encoder: EncoderConfig{Kind: EncMJPEG, Queue: n}}, w, h, n, n)
	if len(c.frames) != n {
		t.Fatalf("%d frames (events %v)", len(c.frames), c)
	}
	for i, f := range c.frames {
		if f.Seq != int64(i) || f.Codec != schema.CodecMJPEG || f.Width != w || f.TDevice == 0 {
			t.Fatalf("frame %d: %+v", i, f.Frame)
		}
	}
}

// TestV4L2TwinRawPictures: a raw camera encoded to H.264 by ffmpeg, its encoder asked
// to keep the pictures (as roadlog record --detector cnn does), hands each frame on
// with the very picture the device delivered for it.
func TestV4L2TwinRawPictures(t *testing.T) {
	needFFmpeg(t)
	const w, h, n = 64, 48, 8
	// the encoder and the splitter each hold a picture until the stream ends
	c, frames := runRawTwin(t, &V4L2{Encoder: EncoderConfig{Kind: EncX264, Queue: n, GOP: 4, Bitrate: 500_000, KeepPicture: true}}, w, h, n, n-2)
	for i, f := range c.frames {
		raw, ok := f.Picture.(*RawImage)
		if f.Codec != schema.CodecH264 || !ok {
			t.Fatalf("frame %d: codec %v, picture %T", i, f.Codec, f.Picture)
		}
		if _, pix, pw, ph := raw.RawPix(); pw != w || ph != h || !bytes.Equal(pix, frames[f.Seq]) {
			t.Fatalf("frame %d (seq %d): not the picture the device delivered", i, f.Seq)
		}
	}
}

func TestV4L2TwinRefusals(t *testing.T) {
	var c collector
	d := &twinDevice{format: v4l2PixYUYV, w: 32, h: 16}
	if err := (&V4L2{Device: "twin", Format: "mjpeg"}).run(context.Background(), &c, d); !errors.Is(err, ErrFormat) {
		t.Fatalf("format refused: %v", err)
	}
	d = &twinDevice{format: v4l2PixMJPEG, w: 32, h: 16, bufBytes: 1024}
	if err := (&V4L2{Device: "twin", Timeout: 200 * time.Millisecond}).run(context.Background(), &c, d); !errors.Is(err, ErrNoFrame) {
		t.Fatalf("silent device: %v", err)
	}
	if err := (&V4L2{Device: "/nonexistent/video9"}).Run(context.Background(), &c); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("missing device: %v", err)
	}
}

// splitFixture returns the units of a fixture as JPEG images.
func splitFixture(t *testing.T, name string) [][]byte {
	t.Helper()
	b := readFixture(t, filepath.Base(name))
	aus, _ := splitAll(schema.CodecMJPEG, b, len(b))
	var out [][]byte
	for _, au := range aus {
		out = append(out, au.JPEG)
	}
	return out
}

// mjpegOf makes n JPEG images of w×h with the in-process encoder.
func mjpegOf(t *testing.T, w, h, n int) [][]byte {
	t.Helper()
	enc := NewEncoder(EncoderConfig{Kind: EncMJPEG, Queue: n}, 0, "", nil)
	for i := 0; i < n; i++ {
		enc.Encode(RawFrame{Pix: rawPicture(PixNV12, w, h, i), Format: PixNV12, Width: w, Height: h, T: int64(i + 1), Seq: int64(i)})
	}
	c := runEncoder(t, enc, func(context.Context) {}, func(c *collector) bool { return c.count() >= n })
	var out [][]byte
	for _, f := range c.frames {
		out = append(out, f.Data)
	}
	return out
}
