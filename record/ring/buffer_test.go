package ring

import (
	"fmt"
	"strings"
	"testing"

	"roadlog/schema"
)

var sps = [][]byte{{0x67, 0x42, 0, 0x1e}, {0x68, 0xce}}

// fr is a camera frame at t ms: k keyframe, p carries parameter sets.
func fr(cam uint8, t int64, k, p bool, codec schema.Codec) *schema.VideoFrame {
	vf := &schema.VideoFrame{Frame: schema.Frame{T: t * 1e6, Camera: cam, Keyframe: k, Codec: codec}, Data: make([]byte, 1000)}
	if p {
		vf.Params = sps
	}
	return vf
}

func can(t int64) *schema.CAN { return &schema.CAN{T: t * 1e6, Bus: "pt", Data: []byte{1}} }

// describe writes drained samples as "can@t" or "camC@t[K][P]".
func describe(ss []schema.Sample) string {
	var out []string
	for _, s := range ss {
		switch r := s.(type) {
		case *schema.CAN:
			out = append(out, fmt.Sprintf("can@%d", r.T/1e6))
		case *schema.VideoFrame:
			x := fmt.Sprintf("cam%d@%d", r.Camera, r.T/1e6)
			if r.Keyframe {
				x += "K"
			}
			if len(r.Params) > 0 {
				x += "P"
			}
			out = append(out, x)
		}
	}
	return strings.Join(out, " ")
}

func TestBufferDrain(t *testing.T) {
	h264, mjpeg := schema.CodecH264, schema.CodecMJPEG
	cases := []struct {
		name     string
		pre      int64 // ms
		maxBytes int64
		in       []schema.Sample
		from     int64 // ms
		want     string
		overflow int64
	}{
		{name: "mjpeg frames are all keyframes", pre: 1000, maxBytes: 1 << 20,
			in:   []schema.Sample{fr(0, 0, true, false, mjpeg), can(1), fr(0, 33, true, false, mjpeg)},
			want: "cam0@0K can@1 cam0@33K"},
		{name: "h264 starts at its first keyframe", pre: 1000, maxBytes: 1 << 20,
			in:   []schema.Sample{fr(0, 0, false, false, h264), can(1), fr(0, 33, true, true, h264), fr(0, 66, false, false, h264)},
			want: "can@1 cam0@33KP cam0@66"},
		{name: "parameter sets of an evicted frame go to the first keyframe", pre: 100, maxBytes: 1 << 20,
			in: []schema.Sample{fr(0, 0, true, true, h264), fr(0, 33, false, false, h264), fr(0, 66, false, false, h264),
				fr(0, 150, true, false, h264), fr(0, 183, false, false, h264)},
			want: "cam0@150KP cam0@183"},
		{name: "no parameter sets yet: wait for them", pre: 1000, maxBytes: 1 << 20,
			in:   []schema.Sample{fr(1, 0, true, false, h264), fr(1, 33, false, false, h264), fr(1, 66, true, true, h264)},
			want: "cam1@66KP"},
		{name: "cameras start independently", pre: 1000, maxBytes: 1 << 20,
			in:   []schema.Sample{fr(0, 0, false, false, h264), fr(1, 0, true, true, h264), fr(0, 33, true, true, h264), fr(1, 33, false, false, h264)},
			want: "cam1@0KP cam0@33KP cam1@33"},
		{name: "late samples older than the window are left out", pre: 1000, maxBytes: 1 << 20,
			in:   []schema.Sample{can(500), can(600), fr(0, 450, true, false, mjpeg), can(700)},
			from: 520, want: "can@600 can@700"},
		{name: "the byte cap shortens the pre-roll", pre: 1000, maxBytes: 2500,
			in:   []schema.Sample{fr(0, 0, true, false, mjpeg), fr(0, 33, true, false, mjpeg), fr(0, 66, true, false, mjpeg), fr(0, 100, true, false, mjpeg)},
			want: "cam0@66K cam0@100K", overflow: 2},
	}
	for _, c := range cases {
		b := newBuffer(c.pre*1e6, c.maxBytes)
		for _, s := range c.in {
			b.push(s)
			if b.bytes > c.maxBytes {
				t.Fatalf("%s: %d bytes held, cap %d", c.name, b.bytes, c.maxBytes)
			}
		}
		if b.overflow != c.overflow {
			t.Errorf("%s: overflow %d, want %d", c.name, b.overflow, c.overflow)
		}
		got := describe(b.drain(c.from * 1e6))
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		if b.len() != 0 || b.bytes != 0 {
			t.Errorf("%s: buffer not empty after drain", c.name)
		}
	}
	// a drained frame that needed parameter sets got a copy; the original is untouched
	orig := fr(0, 150, true, false, h264)
	b := newBuffer(100e6, 1<<20)
	b.push(fr(0, 0, true, true, h264))
	b.push(orig)
	if out := b.drain(0); len(out) != 1 || out[0] == schema.Sample(orig) || len(orig.Params) != 0 {
		t.Error("drain changed a published frame in place")
	}
}

// TestBufferBounded pushes a long stream through a short buffer: its memory (live
// items and backing array) stays bounded.
func TestBufferBounded(t *testing.T) {
	b := newBuffer(100e6, 1<<30)
	for i := range int64(200_000) {
		b.push(can(i)) // 1 kHz for 200 s
		if b.len() > 102 {
			t.Fatalf("%d samples held for a 100 ms window", b.len())
		}
	}
	if cap(b.items) > 4096 {
		t.Fatalf("backing array grew to %d", cap(b.items))
	}
}

func BenchmarkBufferPush(b *testing.B) {
	buf := newBuffer(10e9, 512<<20)
	s := can(0)
	b.ReportAllocs()
	var t int64
	for b.Loop() {
		t++
		s.T = t * 1e6
		buf.push(s)
	}
}
