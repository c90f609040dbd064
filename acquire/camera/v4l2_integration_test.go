//go:build integration && linux

package camera

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestV4L2Device streams two seconds from a real camera: ROADLOG_V4L2_DEVICE names
// it (default /dev/video0), ROADLOG_V4L2_FORMAT its format (default mjpeg).
// Run with: go test -tags integration -run V4L2Device ./acquire/camera/
func TestV4L2Device(t *testing.T) {
	dev := os.Getenv("ROADLOG_V4L2_DEVICE")
	if dev == "" {
		dev = "/dev/video0"
	}
	if _, err := os.Stat(dev); err != nil {
		t.Skipf("no V4L2 device: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var c collector
	s := &V4L2{Device: dev, Format: os.Getenv("ROADLOG_V4L2_FORMAT"), Width: 640, Height: 480, FPS: 30,
		Encoder: EncoderConfig{FPS: 30}}
	if err := s.Run(ctx, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.frames) < 10 {
		t.Fatalf("%d frames in 2 s (events %v)", len(c.frames), &c)
	}
	for i := 1; i < len(c.frames); i++ {
		if c.frames[i].Seq <= c.frames[i-1].Seq || c.frames[i].T < c.frames[i-1].T {
			t.Fatalf("frame %d out of order", i)
		}
	}
	t.Logf("%d frames %dx%d %v", len(c.frames), c.frames[0].Width, c.frames[0].Height, c.frames[0].Codec)
}
