package record

import (
	"testing"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
)

// TestRotationReusesParams: sources send H.264 parameter sets only on a camera's first
// frame (and when they change); the files that later segments start at a keyframe
// still get them, and no frame waits or drops at the rotations.
func TestRotationReusesParams(t *testing.T) {
	root := t.TempDir()
	t0 := int64(1_800_000_000) * 1e9
	e, err := New(Options{Root: root, Vehicle: "params", SegmentDuration: time.Second, CloseLag: 200 * time.Millisecond,
		FlushInterval: 100 * time.Millisecond, Timebase: fixedStart{t0: t0, h0: hostNow()}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Start("test")
	if err != nil {
		t.Fatal(err)
	}
	const n = 120 // 4 s at 30 fps
	for i := int64(0); i < n; i++ {
		vf := &schema.VideoFrame{Frame: schema.Frame{T: t0 + i*int64(time.Second)/30, Seq: i, TriggerID: -1,
			Codec: schema.CodecH264, Width: 96, Height: 64, Keyframe: i%10 == 0, ExposureUS: schema.NaN32()},
			Data: []byte{0, 0, 0, 2, 0x65, byte(i)}}
		if i == 0 {
			// x264's parameter sets of a 96x64 stream
			vf.Params = [][]byte{{0x67, 0xf4, 0x00, 0x0a, 0x91, 0x96, 0x41, 0x89, 0xb0, 0x11, 0x00, 0x00, 0x03, 0x00,
				0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x12, 0x26, 0x48}, {0x68, 0xeb, 0xc3, 0xc4, 0x48, 0x44}}
		}
		e.Publish(vf)
		time.Sleep(time.Millisecond)
	}
	sum, err := e.Stop("test over", "test")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Drops != 0 {
		t.Fatalf("%d frames dropped", sum.Drops)
	}
	rep, err := drive.Verify(d.Dir)
	if err != nil || !rep.OK() || rep.Frames != n || rep.Segments < 4 {
		t.Fatalf("verify: %v; %d frames in %d segments", err, rep.Frames, rep.Segments)
	}
}
