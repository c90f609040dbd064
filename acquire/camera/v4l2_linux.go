package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"golang.org/x/sys/unix"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// Errors of the V4L2 source.
var (
	// ErrNotCapture: the device cannot stream video capture.
	ErrNotCapture = errors.New("device is not a streaming video capture device")
	// ErrFormat: the device does not take the requested pixel format.
	ErrFormat = errors.New("device refused the pixel format")
	// ErrNoFrame: no frame arrived within the timeout.
	ErrNoFrame = errors.New("no frame from the device")
)

// V4L2 is a camera on a Linux video device (/dev/videoN, UVC webcams, MIPI CSI bridges,
// GMSL/FPD-Link deserialisers) read by memory-mapped streaming I/O. MJPEG and H.264
// buffers are recorded as they are; YUYV, UYVY and NV12 pictures go through the
// encoder stage (Encoder). Each frame's t_device is the buffer's kernel timestamp
// (CLOCK_MONOTONIC, the host clock, for nearly every driver), t is that instant on the
// timebase, t_host the dequeue time; seq is the driver's sequence number, and a jump
// in it is written as an EvKernelDrop event with the number of frames the kernel lost.
//
// Controls are set before streaming (exposure, gain, and the trigger-mode controls
// that hardware-triggered cameras expose under vendor ids); an exposure set through
// CIDExposureAbsolute fills the frames' exposure. Run returns nil when ctx ends and an
// error when the device fails or stays silent for Timeout.
type V4L2 struct {
	Camera   uint8            // camera index in the rig
	Name     string           // source name in events (default cam<Camera>)
	Device   string           // e.g. /dev/video0
	Format   string           // mjpeg (default), yuyv, uyvy, nv12, h264
	Width    int              // requested size (the driver may adjust it; events say so)
	Height   int              //
	FPS      float64          // requested frame rate (0: the driver's)
	Buffers  int              // mmap buffers (default 4)
	Controls map[uint32]int32 // V4L2 controls set before streaming, by id
	Timeout  time.Duration    // longest wait for a frame (default 2 s; triggered rigs: longer)
	Encoder  EncoderConfig    // for raw formats
	Timebase clock.Timebase   // nil: a free-running clock.System

	st *devclock.Stamps // the clock model, made by the first run (runs never overlap)
}

// Run opens the device and streams until ctx ends or the device fails.
func (s *V4L2) Run(ctx context.Context, sink schema.Sink) error {
	dev, err := openDevice(s.Device)
	if err != nil {
		return fmt.Errorf("camera %s: %w", nameOr(s.Name, s.Camera), err)
	}
	return s.run(ctx, sink, dev)
}

func (s *V4L2) pixelFormat() (uint32, PixelFormat, schema.Codec, error) {
	switch strings.ToLower(s.Format) {
	case "", "mjpeg", "mjpg":
		return v4l2PixMJPEG, PixUnknown, schema.CodecMJPEG, nil
	case "h264":
		return v4l2PixH264, PixUnknown, schema.CodecH264, nil
	case "yuyv", "yuy2":
		return v4l2PixYUYV, PixYUYV, schema.CodecUnknown, nil
	case "uyvy":
		return v4l2PixUYVY, PixUYVY, schema.CodecUnknown, nil
	case "nv12":
		return v4l2PixNV12, PixNV12, schema.CodecUnknown, nil
	}
	return 0, 0, 0, fmt.Errorf("V4L2 format %q: %w", s.Format, ErrFormat)
}

// run streams from an opened device (the kernel's, or the software twin in tests).
func (s *V4L2) run(ctx context.Context, sink schema.Sink, dev device) (err error) {
	name := nameOr(s.Name, s.Camera)
	defer func() { err = errors.Join(err, wrapErr("close "+s.Device, dev.close())) }()
	fourCC, pix, codec, err := s.pixelFormat()
	if err != nil {
		return err
	}
	tb := s.Timebase
	if tb == nil {
		tb = clock.NewSystem()
	}
	if s.st == nil {
		// kernel stamps: a CSI frame-start interrupt is tens of µs off, a UVC start of
		// frame is the start of readout, not of exposure
		s.st = devclock.NewStamps(devclock.StampsConfig{Name: name, Kernel: time.Millisecond, Jitter: 10 * time.Millisecond}, tb)
	}
	em := newEmitter(sink, tb, name, newTrack(s.Camera, codec))
	em.st = s.st
	defer em.close()

	var capab v4l2Capability
	if err := dev.ioctl(vidiocQuerycap, unsafe.Pointer(&capab)); err != nil {
		return fmt.Errorf("camera %s: VIDIOC_QUERYCAP: %w", name, err)
	}
	caps := capab.Capabilities
	if caps&v4l2CapDeviceCaps != 0 {
		caps = capab.DeviceCaps
	}
	if caps&v4l2CapVideoCapture == 0 || caps&v4l2CapStreaming == 0 {
		return fmt.Errorf("camera %s (%s): capabilities 0x%x: %w", name, cstr(capab.Card[:]), caps, ErrNotCapture)
	}

	var f v4l2Format
	f.Type = v4l2BufTypeVideoCapture
	p := f.pix()
	p.Width, p.Height, p.Pixelformat, p.Field = uint32(s.Width), uint32(s.Height), fourCC, v4l2FieldNone
	if err := dev.ioctl(vidiocSFmt, unsafe.Pointer(&f)); err != nil {
		return fmt.Errorf("camera %s: VIDIOC_S_FMT %s %dx%d: %w", name, s.Format, s.Width, s.Height, err)
	}
	if p.Pixelformat != fourCC && !(fourCC == v4l2PixMJPEG && p.Pixelformat == v4l2PixJPEG) {
		return fmt.Errorf("camera %s: asked for %q, driver offers %q: %w", name, fourccString(fourCC), fourccString(p.Pixelformat), ErrFormat)
	}
	w, h := int(p.Width), int(p.Height)
	if (s.Width != 0 && w != s.Width) || (s.Height != 0 && h != s.Height) {
		em.event(schema.EvConfig, schema.SevWarn, fmt.Sprintf("asked for %dx%d, driver gives %dx%d", s.Width, s.Height, w, h))
	}
	if pix != PixUnknown && int(p.Bytesperline) != 0 && int(p.Bytesperline) != w*map[PixelFormat]int{PixYUYV: 2, PixUYVY: 2, PixNV12: 1}[pix] {
		return fmt.Errorf("camera %s: rows of %d bytes for width %d (padded rows are not supported): %w", name, p.Bytesperline, w, ErrFormat)
	}

	if s.FPS > 0 {
		var sp v4l2Streamparm
		sp.Type = v4l2BufTypeVideoCapture
		if err := dev.ioctl(vidiocGParm, unsafe.Pointer(&sp)); err == nil && sp.capture().Capability&v4l2CapTimeperframe != 0 {
			sp.capture().Timeperframe = v4l2Fract{Numerator: 1000, Denominator: uint32(s.FPS*1000 + 0.5)}
			if err := dev.ioctl(vidiocSParm, unsafe.Pointer(&sp)); err != nil {
				em.event(schema.EvConfig, schema.SevWarn, fmt.Sprintf("VIDIOC_S_PARM %.3g fps: %v", s.FPS, err))
			}
		}
	}
	exposure := schema.NaN32()
	for id, v := range s.Controls {
		c := v4l2Control{ID: id, Value: v}
		if err := dev.ioctl(vidiocSCtrl, unsafe.Pointer(&c)); err != nil {
			em.event(schema.EvConfig, schema.SevWarn, fmt.Sprintf("VIDIOC_S_CTRL 0x%08x=%d: %v", id, v, err))
			continue
		}
		if id == CIDExposureAbsolute {
			exposure = float32(v) * 100
		}
	}

	n := s.Buffers
	if n <= 0 {
		n = 4
	}
	rb := v4l2Requestbuffers{Count: uint32(n), Type: v4l2BufTypeVideoCapture, Memory: v4l2MemoryMmap}
	if err := dev.ioctl(vidiocReqbufs, unsafe.Pointer(&rb)); err != nil {
		return fmt.Errorf("camera %s: VIDIOC_REQBUFS: %w", name, err)
	}
	if rb.Count == 0 {
		return fmt.Errorf("camera %s: VIDIOC_REQBUFS gave no buffers: %w", name, ErrNotCapture)
	}
	bufs := make([][]byte, rb.Count)
	defer func() {
		for _, b := range bufs {
			if b != nil {
				_ = dev.munmap(b)
			}
		}
		free := v4l2Requestbuffers{Type: v4l2BufTypeVideoCapture, Memory: v4l2MemoryMmap}
		_ = dev.ioctl(vidiocReqbufs, unsafe.Pointer(&free))
	}()
	for i := range bufs {
		b := v4l2Buffer{Index: uint32(i), Type: v4l2BufTypeVideoCapture, Memory: v4l2MemoryMmap}
		if err := dev.ioctl(vidiocQuerybuf, unsafe.Pointer(&b)); err != nil {
			return fmt.Errorf("camera %s: VIDIOC_QUERYBUF %d: %w", name, i, err)
		}
		m, err := dev.mmap(int64(b.offset()), int(b.Length))
		if err != nil {
			return fmt.Errorf("camera %s: mmap buffer %d: %w", name, i, err)
		}
		bufs[i] = m
		if err := dev.ioctl(vidiocQbuf, unsafe.Pointer(&b)); err != nil {
			return fmt.Errorf("camera %s: VIDIOC_QBUF %d: %w", name, i, err)
		}
	}
	typ := int32(v4l2BufTypeVideoCapture)
	if err := dev.ioctl(vidiocStreamon, unsafe.Pointer(&typ)); err != nil {
		return fmt.Errorf("camera %s: VIDIOC_STREAMON: %w", name, err)
	}
	defer func() { _ = dev.ioctl(vidiocStreamoff, unsafe.Pointer(&typ)) }()

	var enc *Encoder
	var encWG sync.WaitGroup
	encCtx, stopEnc := context.WithCancel(ctx)
	defer func() {
		stopEnc()
		encWG.Wait()
	}()
	if pix != PixUnknown {
		cfg := s.Encoder
		if cfg.FPS == 0 {
			cfg.FPS = s.FPS
		}
		enc = NewEncoder(cfg, s.Camera, name, tb)
		encWG.Add(1)
		go func() {
			defer encWG.Done()
			if err := enc.Run(encCtx, sink); err != nil {
				em.event(schema.EvEncoderError, schema.SevError, err.Error())
			}
		}()
	}

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	last := clock.HostNow()
	lastSeq := int64(-1)
	for ctx.Err() == nil {
		ok, err := dev.wait(100 * time.Millisecond)
		if err != nil {
			return fmt.Errorf("camera %s: %w", name, err)
		}
		if !ok {
			if clock.HostNow()-last > int64(timeout) {
				return fmt.Errorf("camera %s: %w for %v", name, ErrNoFrame, timeout)
			}
			continue
		}
		b := v4l2Buffer{Type: v4l2BufTypeVideoCapture, Memory: v4l2MemoryMmap}
		if err := dev.ioctl(vidiocDqbuf, unsafe.Pointer(&b)); err != nil {
			if errors.Is(err, unix.EAGAIN) {
				continue
			}
			return fmt.Errorf("camera %s: VIDIOC_DQBUF: %w", name, err)
		}
		host := clock.HostNow()
		last = host
		if int(b.Index) >= len(bufs) || int(b.Bytesused) > len(bufs[b.Index]) {
			return fmt.Errorf("camera %s: VIDIOC_DQBUF returned buffer %d with %d bytes: %w", name, b.Index, b.Bytesused, ErrNotCapture)
		}
		data := bytes.Clone(bufs[b.Index][:b.Bytesused])
		if err := dev.ioctl(vidiocQbuf, unsafe.Pointer(&b)); err != nil {
			return fmt.Errorf("camera %s: VIDIOC_QBUF %d: %w", name, b.Index, err)
		}
		seq := int64(b.Sequence)
		if lastSeq >= 0 && seq > lastSeq+1 {
			ev := schema.NewEvent(tb.Ref(host), schema.EvKernelDrop, schema.SevWarn, name,
				fmt.Sprintf("driver sequence jumped from %d to %d", lastSeq, seq))
			ev.Count = seq - lastSeq - 1
			sink.Publish(ev)
		}
		lastSeq = seq
		var device, t int64
		if b.Flags&v4l2BufFlagTsMask == v4l2BufFlagTsMonotonic {
			device = b.Timestamp.Nano()
			t = s.st.Monotonic(device)
		} else {
			t = s.st.Arrival(host)
		}
		s.st.Tick(host, sink) // also for raw pictures, which the encoder stage publishes
		if b.Flags&v4l2BufFlagError != 0 {
			em.tr.seq = seq
			em.tr.lost()
			em.damage(fmt.Errorf("buffer %d (seq %d) flagged V4L2_BUF_FLAG_ERROR", b.Index, seq), host)
			continue
		}
		em.tr.seq = seq
		switch {
		case enc != nil:
			enc.Encode(RawFrame{Pix: data, Format: pix, Width: w, Height: h, T: t, THost: host, TDevice: device,
				Seq: seq, TriggerID: -1, ExposureUS: exposure})
		case codec == schema.CodecMJPEG:
			vf, err := em.tr.jpeg(data)
			if vf != nil {
				vf.ExposureUS = exposure
			}
			if err := em.frame(vf, err, host, t, device); err != nil {
				return err
			}
		default: // H.264, one access unit per buffer
			var au h264.AnnexB
			var vf *schema.VideoFrame
			err := au.Unmarshal(data)
			if err == nil {
				vf, err = em.tr.h26x(au)
			} else {
				em.tr.lost()
				err = fmt.Errorf("buffer seq %d: %w", seq, err)
			}
			if vf != nil {
				vf.ExposureUS = exposure
			}
			if err := em.frame(vf, err, host, t, device); err != nil {
				return err
			}
		}
	}
	return nil
}

func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func cstr(b []uint8) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func fourccString(v uint32) string {
	return string([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
}
