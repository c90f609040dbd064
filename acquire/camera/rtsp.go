package camera

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmjpeg"
	"github.com/pion/rtp"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// ErrNoVideoTrack: the RTSP stream has no H.264, H.265 or MJPEG track.
var ErrNoVideoTrack = errors.New("no H.264, H.265 or MJPEG video track")

// RTSP is an IP camera read over RTSP with interleaved TCP transport (no lost UDP
// datagrams on a busy vehicle network). The first H.264, H.265 or MJPEG track of the
// stream is recorded. Each frame's t_host is the arrival of its first RTP packet, t
// that minus Latency on the timebase, and t_device the camera's wall clock (NTP time
// of its RTCP sender reports, ns since the Unix epoch) when it sends them, else 0.
// Parameter sets come from the SDP and from the stream itself.
//
// Run returns nil when ctx ends and an error when the connection fails or ends.
type RTSP struct {
	Camera      uint8          // camera index in the rig
	Name        string         // source name in events (default cam<Camera>)
	URL         string         // rtsp://[user:pass@]host[:port]/path
	Latency     time.Duration  // exposure-to-arrival delay, subtracted from arrival
	Timebase    clock.Timebase // nil: a free-running clock.System
	ReadTimeout time.Duration  // 0: gortsplib's default (10 s)

	st *devclock.Stamps // the clock model, made by the first run (runs never overlap)
}

// rtpDecoder is what the RTP depacketisers of the three codecs share here.
type rtpDecoder func(*rtp.Packet) (AccessUnit, error)

// Run connects, plays, and publishes frames until ctx ends or the stream fails.
func (s *RTSP) Run(ctx context.Context, sink schema.Sink) error {
	name := nameOr(s.Name, s.Camera)
	u, err := base.ParseURL(s.URL)
	if err != nil {
		return fmt.Errorf("parse RTSP URL of %s: %w", name, err)
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp, ReadTimeout: s.ReadTimeout}
	em := newEmitter(sink, s.Timebase, name, nil)
	if s.st == nil {
		// the camera's NTP time of each picture, mapped through the arrivals (Latency
		// is their fixed part); an encoder's time per picture varies by some ms, so a
		// step of the camera's clock needs more than that to be believed
		s.st = devclock.NewStamps(devclock.StampsConfig{Name: name, Jitter: 20 * time.Millisecond,
			Counter: devclock.Config{Latency: s.Latency, StepTolerance: 10 * time.Millisecond}}, em.tb)
	}
	em.st = s.st
	// gortsplib calls the callbacks from its goroutines; emMu serialises them
	var emMu sync.Mutex // guards em
	c.OnPacketsLost = func(lost uint64) {
		emMu.Lock()
		defer emMu.Unlock()
		em.damage(fmt.Errorf("%d RTP packets lost: %w", lost, errRTPLoss), clock.HostNow())
	}
	c.OnDecodeError = func(err error) {
		emMu.Lock()
		defer emMu.Unlock()
		em.damage(err, clock.HostNow())
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("connect RTSP camera %s: %w", name, err)
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		return fmt.Errorf("describe RTSP camera %s: %w", name, err)
	}
	medi, forma, codec, dec, err := s.pickTrack(desc)
	if err != nil {
		return fmt.Errorf("RTSP camera %s: %w", name, err)
	}
	em.tr = newTrack(s.Camera, codec)
	switch f := forma.(type) {
	case *format.H264:
		sps, pps := f.SafeParams()
		err = em.tr.setParams(nil, sps, pps)
	case *format.H265:
		vps, sps, pps := f.SafeParams()
		err = em.tr.setParams(vps, sps, pps)
	}
	if err != nil {
		return fmt.Errorf("RTSP camera %s: SDP parameter sets: %w", name, err)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return fmt.Errorf("set up RTSP camera %s: %w", name, err)
	}
	fatal := make(chan error, 1)
	first := int64(0) // arrival of the first packet of the unit being assembled
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		emMu.Lock()
		defer emMu.Unlock()
		host := clock.HostNow()
		if first == 0 {
			first = host
		}
		au, err := dec(pkt)
		if err != nil {
			if isMorePackets(err) {
				return
			}
			first = 0
			em.tr.lost()
			em.damage(err, host)
			return
		}
		au.Arrival, first = first, 0
		device := int64(0)
		if ntp, ok := c.PacketNTP(medi, pkt); ok {
			device = ntp.UnixNano()
		}
		if err := em.au(au, au.Arrival, int64(s.Latency), device); err != nil {
			select {
			case fatal <- err:
			default:
			}
		}
	})
	if _, err := c.Play(nil); err != nil {
		return fmt.Errorf("play RTSP camera %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	defer func() {
		emMu.Lock()
		defer emMu.Unlock()
		em.close()
	}()
	select {
	case <-ctx.Done():
		c.Close()
		<-done
		return nil
	case err := <-fatal:
		c.Close()
		<-done
		return err
	case err := <-done:
		return fmt.Errorf("RTSP camera %s: %w: %w", name, ErrEnded, err)
	}
}

var errRTPLoss = errors.New("RTP packet loss")

func isMorePackets(err error) bool {
	return errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrMorePacketsNeeded) ||
		errors.Is(err, rtpmjpeg.ErrMorePacketsNeeded)
}

// pickTrack chooses the first H.264, H.265 or MJPEG track and its depacketiser.
func (s *RTSP) pickTrack(desc *description.Session) (*description.Media, format.Format, schema.Codec, rtpDecoder, error) {
	var h264f *format.H264
	if m := desc.FindFormat(&h264f); m != nil {
		d, err := h264f.CreateDecoder()
		if err != nil {
			return nil, nil, 0, nil, err
		}
		return m, h264f, schema.CodecH264, func(p *rtp.Packet) (AccessUnit, error) {
			nalus, err := d.Decode(p)
			return AccessUnit{NALUs: nalus}, err
		}, nil
	}
	var h265f *format.H265
	if m := desc.FindFormat(&h265f); m != nil {
		d, err := h265f.CreateDecoder()
		if err != nil {
			return nil, nil, 0, nil, err
		}
		return m, h265f, schema.CodecH265, func(p *rtp.Packet) (AccessUnit, error) {
			nalus, err := d.Decode(p)
			return AccessUnit{NALUs: nalus}, err
		}, nil
	}
	var mjpegf *format.MJPEG
	if m := desc.FindFormat(&mjpegf); m != nil {
		d, err := mjpegf.CreateDecoder()
		if err != nil {
			return nil, nil, 0, nil, err
		}
		return m, mjpegf, schema.CodecMJPEG, func(p *rtp.Packet) (AccessUnit, error) {
			img, err := d.Decode(p)
			return AccessUnit{JPEG: img}, err
		}, nil
	}
	return nil, nil, 0, nil, ErrNoVideoTrack
}
