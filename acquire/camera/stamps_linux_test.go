package camera

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"roadlog/schema"
	"roadlog/sync/devclock"
)

// syncCollector keeps frames and sync rows.
type syncCollector struct {
	collector
	mu   sync.Mutex // guards rows
	rows []*schema.SyncRow
}

func (c *syncCollector) Publish(s schema.Sample) {
	if r, ok := s.(*schema.SyncRow); ok {
		c.mu.Lock()
		c.rows = append(c.rows, r)
		c.mu.Unlock()
		return
	}
	c.collector.Publish(s)
}

// TestV4L2Stamps: a V4L2 camera's kernel stamps (CLOCK_MONOTONIC) pass through its
// clock model onto the timebase, and the camera publishes its sync rows under its name.
func TestV4L2Stamps(t *testing.T) {
	frames := splitFixture(t, "mjpeg_plain.mjpeg")
	d := &twinDevice{format: v4l2PixMJPEG, w: 96, h: 64, frames: frames, bufBytes: 1 << 20, fail: errUnplugged}
	var c syncCollector
	s := &V4L2{Camera: 2, Device: "twin", Width: 96, Height: 64, Timebase: fixedClock{}}
	if err := s.run(context.Background(), &c, d); !errors.Is(err, errUnplugged) {
		t.Fatalf("Run: %v", err)
	}
	if len(c.frames) == 0 {
		t.Fatal("no frames")
	}
	for i, f := range c.frames {
		if f.T != (fixedClock{}).Ref(f.TDevice) {
			t.Fatalf("frame %d: t %d, t_device %d", i, f.T, f.TDevice)
		}
	}
	if len(c.rows) == 0 || c.rows[0].Source != "cam2" || c.rows[0].State != schema.SyncPassthrough {
		t.Fatalf("sync rows %+v", c.rows)
	}
}

// TestEmitterDeviceTime: units that carry the camera's own time (an RTSP camera's NTP
// time from its sender reports) are mapped through their arrivals, which removes the
// arrival jitter; units without are their arrival less the latency.
func TestEmitterDeviceTime(t *testing.T) {
	const latency = int64(40e6)
	var c syncCollector
	em := newEmitter(&c, fixedClock{}, "cam1", nil)
	em.st = devclock.NewStamps(devclock.StampsConfig{Name: "cam1",
		Counter: devclock.Config{Latency: time.Duration(latency), StepTolerance: 10 * time.Millisecond}}, fixedClock{})
	rng := rand.New(rand.NewPCG(1, 1))
	camOff := int64(1_800_000_000e9) // the camera's clock minus the host's
	host0 := int64(5000e9)
	var worst int64
	for i := range int64(30 * 60) { // a minute at 30 fps
		exposure := host0 + i*33_333_333
		arr := exposure + latency + rng.Int64N(15e6) // encoding and network: up to 15 ms more
		got := em.stamp(arr, latency, exposure+camOff)
		if i > 30*30 {
			worst = max(worst, abs(got-(fixedClock{}).Ref(exposure)))
		}
	}
	if worst > 1e6 {
		t.Errorf("with device time: worst error %d ns after 30 s, want ≤ 1 ms (arrival jitter 15 ms)", worst)
	}
	if got, want := em.stamp(host0+50e6, latency, 0), (fixedClock{}).Ref(host0+50e6-latency); got < want {
		t.Errorf("without device time: %d, want the arrival less the latency %d (or later: monotone)", got, want)
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
