package record

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
)

// fakeTime is a Timebase that starts at a fixed instant and runs with the host clock.
type fixedStart struct{ t0, h0 int64 }

func (f fixedStart) Ref(host int64) int64 { return f.t0 + host - f.h0 }

// feed publishes synthetic rows covering span of reference time as fast as possible:
// CAN at 1 kHz, IMU at 1 kHz, and 2 cameras at 30 fps with a keyframe every 10 frames.
func feed(e *Engine, t0 int64, span time.Duration, codec schema.Codec) {
	const step = int64(time.Millisecond)
	var seq [2]int64
	for t := t0; t < t0+int64(span); t += step {
		e.Publish(&schema.CAN{T: t, Bus: "pt", ID: 0x100, DLC: 8, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}})
		e.Publish(&schema.IMU{T: t, Sensor: "imu", AZ: 9.81, Temp: schema.NaN32(), MX: schema.NaN32(), MY: schema.NaN32(), MZ: schema.NaN32()})
		if (t-t0)%(33*step) == 0 {
			for c := uint8(0); c < 2; c++ {
				vf := &schema.VideoFrame{Frame: schema.Frame{T: t, Camera: c, Seq: seq[c], TriggerID: seq[c], Codec: codec, Width: 8, Height: 8,
					Keyframe: seq[c]%10 == 0, ExposureUS: schema.NaN32()}, Data: []byte{0xFF, 0xD8, byte(seq[c]), 0xFF, 0xD9}}
				if codec == schema.CodecH264 {
					vf.Params = [][]byte{{0x67, 0x42, 0, 0x1e, 0xab, 0x40, 0x50, 0x1e, 0xd0, 0x80}, {0x68, 0xce, 0x3c, 0x80}}
				}
				e.Publish(vf)
				seq[c]++
			}
		}
		if (t-t0)%int64(50*time.Millisecond) == 0 {
			time.Sleep(time.Millisecond) // let the writers keep up
		}
	}
}

func TestEngineRecordsAndRotates(t *testing.T) {
	root := t.TempDir()
	t0 := int64(1_800_000_000) * 1e9
	e, err := New(Options{Root: root, Vehicle: "test", SegmentDuration: 2 * time.Second, CloseLag: 200 * time.Millisecond,
		FlushInterval: 100 * time.Millisecond, Timebase: fixedStart{t0: t0, h0: hostNow()}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Start("test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start("test"); err != ErrRecording {
		t.Fatalf("second start: %v, want ErrRecording", err)
	}
	feed(e, t0, 7*time.Second, schema.CodecMJPEG)
	if err := e.Mark("interesting", "test mark", "test"); err != nil {
		t.Fatal(err)
	}
	sum, err := e.Stop("test over", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Stop("again", "test"); err != ErrNotRecording {
		t.Fatalf("second stop: %v", err)
	}
	if sum.Rows["can"] != 7000 || sum.Rows["imu"] != 7000 {
		t.Fatalf("rows %v, want 7000 can and imu", sum.Rows)
	}
	if sum.Drops != 0 {
		t.Fatalf("drops %d", sum.Drops)
	}
	rep, err := drive.Verify(d.Dir)
	if testing.Verbose() {
		rep.Print(os.Stderr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Segments < 4 {
		rep.Print(os.Stderr)
		t.Fatalf("verify failed or too few segments (%d)", rep.Segments)
	}
	if rep.Frames != rep.Rows["frames"] || rep.Frames < 2*7000/33 {
		t.Fatalf("frames %d video, %d rows", rep.Frames, rep.Rows["frames"])
	}
	m, err := drive.ReadManifest(d.Dir)
	if err != nil || m.Status != drive.StatusClosed {
		t.Fatalf("manifest %v %v", m, err)
	}
	// every segment's video starts with a keyframe (verify checks), and no frame is
	// lost or duplicated across segments: seq runs 0..n-1 per camera
	seen := map[uint8]map[int64]bool{0: {}, 1: {}}
	for _, s := range m.Segments {
		_, err := drive.ReadRows(filepath.Join(d.Dir, s.Dir, "frames.arrow"), schema.FramesTable, func(r *schema.Frame) error {
			if seen[r.Camera][r.Seq] {
				t.Errorf("camera %d seq %d twice", r.Camera, r.Seq)
			}
			seen[r.Camera][r.Seq] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for c, s := range seen {
		for i := int64(0); i < int64(len(s)); i++ {
			if !s[i] {
				t.Errorf("camera %d seq %d missing", c, i)
			}
		}
	}
}

// TestIdleCameraIsNotReopened: a camera that looked idle had its file of a segment
// closed by the manager; a late frame of that segment must not reopen (truncate) the
// file — it starts the camera's file of the next segment — and the drive verifies
// with every frame once.
func TestIdleCameraIsNotReopened(t *testing.T) {
	root := t.TempDir()
	t0 := int64(1_800_000_000) * 1e9
	e, err := New(Options{Root: root, SegmentDuration: time.Second, CloseLag: 100 * time.Millisecond,
		FlushInterval: 100 * time.Millisecond, Timebase: fixedStart{t0: t0, h0: hostNow()}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Start("test")
	if err != nil {
		t.Fatal(err)
	}
	frame := func(seq int64, at int64) *schema.VideoFrame {
		return &schema.VideoFrame{Frame: schema.Frame{T: at, Camera: 0, Seq: seq, TriggerID: -1, Codec: schema.CodecMJPEG, Width: 8, Height: 8,
			Keyframe: true, ExposureUS: schema.NaN32()}, Data: []byte{0xFF, 0xD8, byte(seq), 0xFF, 0xD9}}
	}
	for i := int64(0); i < 10; i++ {
		e.Publish(frame(i, t0+i*50e6)) // 0–450 ms: segment 0
	}
	// The manager closes an idle camera's file before it closes the segment's frames
	// table; do what it does, then let a late frame of that segment arrive in between.
	r := e.cur.Load()
	var cam *cameraWriter
	for cam == nil || len(cam.q) > 0 {
		time.Sleep(10 * time.Millisecond)
		cam = r.cameras()[0]
	}
	reply := make(chan struct{})
	cam.cmds <- camCmd{seg: 0, reply: reply}
	<-reply
	e.Publish(frame(10, t0+900e6)) // a late frame of segment 0
	e.Publish(frame(11, t0+1100e6))
	if _, err := e.Stop("test", "test"); err != nil {
		t.Fatal(err)
	}
	rep, err := drive.Verify(d.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Frames != 12 || rep.Rows["frames"] != 12 {
		rep.Print(os.Stderr)
		t.Fatalf("frames %d video, %d rows, want 12", rep.Frames, rep.Rows["frames"])
	}
}
