package frameset

import (
	"encoding/binary"
	"testing"
	"time"

	"roadlog/schema"
)

func TestTrigger(t *testing.T) {
	tr := Trigger{Rate: 30, Phase: 5 * time.Millisecond}
	cases := []struct {
		id   int64
		time int64
	}{
		{0, 5e6},
		{1, 5e6 + 33333333},
		{29, 5e6 + 966666666},
		{30, 1e9 + 5e6},
		{-1, -1e9 + 5e6 + 966666666},
		{sec0 * 30, sec0*1e9 + 5e6},
	}
	for _, c := range cases {
		if got := tr.Time(c.id); got != c.time {
			t.Errorf("Time(%d) = %d, want %d", c.id, got, c.time)
		}
		for _, d := range []int64{-16e6, -1, 0, 1, 16e6} {
			if id, off := tr.Nearest(c.time + d); id != c.id || off != d {
				t.Errorf("Nearest(Time(%d)%+d) = %d, %d", c.id, d, id, off)
			}
		}
	}
}

// TestNeverDelivers: a rig whose only camera never delivers still reports itself, and
// an unknown camera index is refused.
func TestUnknownCamera(t *testing.T) {
	a := New(Config{Trigger: Trigger{Rate: 10}, Cameras: 2}, nil)
	f := &schema.VideoFrame{Frame: schema.Frame{Camera: 7, T: 1e9}}
	if id := a.Add(f); id != -1 || f.TriggerID != -1 {
		t.Errorf("unknown camera assigned %d", id)
	}
	if a.Stats().Unassigned != 1 {
		t.Error("unknown camera not counted")
	}
}

// FuzzAssembler: any frames, no panic, and every set well formed and in order.
func FuzzAssembler(f *testing.F) {
	var clean []byte
	for i := range 40 {
		for c := range 3 {
			clean = append(clean, byte(c))
			clean = binary.LittleEndian.AppendUint32(clean, uint32(i))
			clean = binary.LittleEndian.AppendUint32(clean, uint32(i*100_000_000+3_000_000+c*100_000))
		}
	}
	f.Add(clean)
	f.Add([]byte("\x00\xff\xff\xff\xff\x00\x00\x00\x80\x01\x00\x00\x00\x00\xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		last := int64(-1 << 62)
		a := New(Config{Trigger: Trigger{Rate: 10}, Cameras: 3, Wait: 2}, func(s *Set) {
			if s.TriggerID <= last {
				t.Fatalf("set %d after %d", s.TriggerID, last)
			}
			last = s.TriggerID
			if len(s.Members)+len(s.Missing) != 3 || s.Skew < 0 {
				t.Fatalf("malformed set %+v", s)
			}
			for i := 1; i < len(s.Members); i++ {
				if s.Members[i].Camera <= s.Members[i-1].Camera {
					t.Fatalf("members out of order %+v", s.Members)
				}
			}
		})
		for len(data) >= 9 {
			vf := &schema.VideoFrame{Frame: schema.Frame{Camera: data[0] % 4,
				Seq: int64(int32(binary.LittleEndian.Uint32(data[1:]))),
				T:   sec0*1e9 + int64(int32(binary.LittleEndian.Uint32(data[5:])))*4}}
			data = data[9:]
			a.Add(vf)
			if data != nil && len(data)%7 == 0 {
				a.Tick(vf.T, schema.SinkFunc(func(schema.Sample) {}))
			}
		}
		a.Flush()
	})
}
