package camera

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"roadlog/schema"
)

// rtspServer is an in-process RTSP server that plays a list of access units once,
// paced, after the first PLAY.
type rtspServer struct {
	srv     *gortsplib.Server
	stream  *gortsplib.ServerStream
	playing chan struct{}
	once    sync.Once
}

func (h *rtspServer) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *rtspServer) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *rtspServer) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	h.once.Do(func() { close(h.playing) })
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startRTSP serves units of codec on rtsp://addr/cam and returns the URL and a
// function that sends every unit once (after PLAY), 90 kHz timestamps at fps.
func startRTSP(t *testing.T, codec schema.Codec, units []AccessUnit, fps int) (string, func()) {
	t.Helper()
	var forma format.Format
	switch codec {
	case schema.CodecH264:
		forma = &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	case schema.CodecH265:
		forma = &format.H265{PayloadTyp: 96}
	case schema.CodecMJPEG:
		forma = &format.MJPEG{}
	}
	h := &rtspServer{playing: make(chan struct{})}
	addr := freeAddr(t)
	h.srv = &gortsplib.Server{Handler: h, RTSPAddress: addr}
	if err := h.srv.Start(); err != nil {
		t.Fatal(err)
	}
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	h.stream = &gortsplib.ServerStream{Server: h.srv, Desc: &description.Session{Medias: []*description.Media{medi}}}
	if err := h.stream.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.stream.Close()
		h.srv.Close()
	})
	var encode func(AccessUnit) ([]*rtp.Packet, error)
	switch f := forma.(type) {
	case *format.H264:
		e, err := f.CreateEncoder()
		if err != nil {
			t.Fatal(err)
		}
		encode = func(au AccessUnit) ([]*rtp.Packet, error) { return e.Encode(au.NALUs) }
	case *format.H265:
		e, err := f.CreateEncoder()
		if err != nil {
			t.Fatal(err)
		}
		encode = func(au AccessUnit) ([]*rtp.Packet, error) { return e.Encode(au.NALUs) }
	case *format.MJPEG:
		e, err := f.CreateEncoder()
		if err != nil {
			t.Fatal(err)
		}
		encode = func(au AccessUnit) ([]*rtp.Packet, error) { return e.Encode(au.JPEG) }
	}
	send := func() {
		<-h.playing
		time.Sleep(50 * time.Millisecond) // let the client's PLAY response arrive
		for i, au := range units {
			pkts, err := encode(au)
			if err != nil {
				t.Errorf("encode unit %d: %v", i, err)
				return
			}
			for _, p := range pkts {
				p.Timestamp = uint32(i * 90000 / fps)
				if err := h.stream.WritePacketRTP(medi, p); err != nil {
					t.Errorf("write unit %d: %v", i, err)
					return
				}
			}
			time.Sleep(time.Second / time.Duration(fps))
		}
	}
	return "rtsp://" + addr + "/cam", send
}

// TestRTSP streams ffmpeg-made H.264, H.265 and MJPEG from an in-process RTSP server
// to the RTSP source and checks every picture arrives, in order, with its bytes.
func TestRTSP(t *testing.T) {
	needFFmpeg(t)
	for _, codec := range []schema.Codec{schema.CodecH264, schema.CodecH265, schema.CodecMJPEG} {
		t.Run(codec.String(), func(t *testing.T) {
			const n, gop, fps = 20, 5, 50
			p := filepath.Join(t.TempDir(), "src")
			if out, err := exec.Command("ffmpeg", encodeArgs(codec, 160, 120, fps, n, gop, p)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v %s", err, out)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			units, errs := splitAll(codec, b, len(b))
			if len(units) != n || len(errs) != 0 {
				t.Fatalf("%d units %v", len(units), errs)
			}
			url, send := startRTSP(t, codec, units, fps)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var c collector
			src := &RTSP{Camera: 1, URL: url}
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx, &c) }()
			send()
			deadline := time.Now().Add(10 * time.Second)
			for c.count() < n && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(c.frames) != n {
				t.Fatalf("%d frames, want %d (events %v)", len(c.frames), n, c.events)
			}
			want := newTrack(1, codec)
			for i, f := range c.frames {
				var w *schema.VideoFrame
				if codec == schema.CodecMJPEG {
					w, _ = want.jpeg(units[i].JPEG)
				} else {
					w, _ = want.h26x(units[i].NALUs)
				}
				if f.Seq != int64(i) || f.Keyframe != w.Keyframe || f.Width != 160 || f.Height != 120 || f.Camera != 1 {
					t.Fatalf("frame %d: seq %d key %v %dx%d", i, f.Seq, f.Keyframe, f.Width, f.Height)
				}
				if codec != schema.CodecMJPEG && !bytes.Equal(f.Data, w.Data) {
					t.Fatalf("frame %d: payload differs", i)
				}
				if codec == schema.CodecMJPEG {
					if _, _, err := JPEGSize(f.Data); err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
				}
				if i > 0 && f.THost < c.frames[i-1].THost {
					t.Fatalf("frame %d: arrival goes back", i)
				}
			}
			if codec != schema.CodecMJPEG && len(c.frames[0].Params) == 0 {
				t.Fatal("first frame without parameter sets")
			}
		})
	}
}

// TestRTSPUnreachable: a camera that does not answer is an error, not a hang.
func TestRTSPUnreachable(t *testing.T) {
	src := &RTSP{URL: "rtsp://" + freeAddr(t) + "/cam", ReadTimeout: time.Second}
	var c collector
	if err := src.Run(context.Background(), &c); err == nil {
		t.Fatal("Run succeeded without a server")
	}
	if err := (&RTSP{URL: "http://[bad"}).Run(context.Background(), &c); err == nil {
		t.Fatal("Run accepted a bad URL")
	}
}
