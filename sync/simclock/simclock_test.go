package simclock

import (
	"math"
	"math/rand/v2"
	"testing"
)

const t0 = int64(1796026500) * 1e9

func TestOscillator(t *testing.T) {
	cases := []struct {
		name   string
		o      Oscillator
		after  int64 // true ns after Origin
		lo, hi int64 // reading − Offset − after must lie in [lo, hi]
	}{
		{"ideal", Oscillator{Origin: t0, Offset: 5e12}, 1000e9, 0, 0},
		{"+100ppm", Oscillator{Origin: t0, Offset: 5e12, DriftPPM: 100}, 1000e9, 100e6 - 1, 100e6 + 1},
		{"-50ppm", Oscillator{Origin: t0, Offset: 0, DriftPPM: -50}, 3600e9, -180e6 - 1, -180e6 + 1},
		// 1 ppb/√s random walk over an hour: frequency wanders ~60 ppb, phase ~ 60 ppb × 3600 s / √3
		{"wander", Oscillator{Origin: t0, Offset: 0, Wander: 1, Seed: 4}, 3600e9, -1e6, 1e6},
	}
	for _, c := range cases {
		o := c.o
		got := o.Read(t0+c.after) - o.Offset - c.after
		if got < c.lo || got > c.hi {
			t.Errorf("%s: excess reading %d, want [%d, %d]", c.name, got, c.lo, c.hi)
		}
		for _, tt := range []int64{t0 - 5e9, t0, t0 + 1, t0 + 777e9 + 3} {
			if back := o.True(o.Read(tt)); back < tt-1 || back > tt+1 {
				t.Errorf("%s: True(Read(%d)) = %d", c.name, tt, back)
			}
		}
		last := o.Read(t0 - 1e9)
		for tt := t0 - 1e9; tt < t0+100e9; tt += 1e8 + 7 {
			if r := o.Read(tt); r <= last && tt > t0-1e9 {
				t.Fatalf("%s: reading not increasing at %d", c.name, tt)
			} else {
				last = r
			}
		}
	}
}

func TestDevice(t *testing.T) {
	host := &Oscillator{Origin: t0, Offset: 1e12}
	d := &Device{Clock: Oscillator{Origin: t0, Offset: 65530e3}, Tick: 1000, Wrap: 1 << 16, Host: host,
		Delay: Delay{Min: 1e6}, Resets: []int64{t0 + 10e9}}
	if c := d.Counter(t0); c != 65530 {
		t.Errorf("counter %d", c)
	}
	if c := d.Counter(t0 + 10e6); c != (65530+10000)%65536 {
		t.Errorf("wrapped counter %d", c)
	}
	if c := d.Counter(t0 + 10e9 + 5e3); c != 5 {
		t.Errorf("counter after reset %d", c)
	}
	dev, h, ok := d.Stamp(t0 + 1e9)
	if !ok || h != 1e12+1e9+1e6 || dev != (65530+1_000_000)%65536 {
		t.Errorf("stamp %d %d %v", dev, h, ok)
	}
	// a transport is a queue: arrivals never go backwards
	q := &Device{Host: host, Delay: Delay{Min: 0, Jitter: 50e6, Shape: Exponential}, Seed: 2}
	last := int64(0)
	for i := int64(0); i < 1000; i++ {
		_, h, _ := q.Stamp(t0 + i*1e6)
		if h < last {
			t.Fatal("arrivals out of order")
		}
		last = h
	}
}

func TestDelayShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		name     string
		d        Delay
		mean     float64
		min, max int64
	}{
		{"uniform", Delay{Min: 1e6, Jitter: 2e6}, 2e6, 1e6, 3e6},
		{"exponential", Delay{Min: 0, Jitter: 5e6, Shape: Exponential}, 5e6, 0, math.MaxInt64},
		{"serial 115200 30 bytes", Serial(115200, 30, 0), 30 * 10 * 1e9 / 115200, 2604166, 2604166 + 20e6},
	}
	for _, c := range cases {
		var s float64
		n := 20000
		for range n {
			v := c.d.Sample(r)
			if v < c.min || v > c.max {
				t.Fatalf("%s: sample %d outside [%d, %d]", c.name, v, c.min, c.max)
			}
			s += float64(v)
		}
		if m := s / float64(n); math.Abs(m-c.mean) > 0.05*c.mean+2e4 {
			t.Errorf("%s: mean %.0f, want %.0f", c.name, m, c.mean)
		}
	}
}

func TestGNSSConventions(t *testing.T) {
	host := &Oscillator{Origin: t0, Offset: 1e12}
	for _, before := range []bool{false, true} {
		g := &GNSS{Host: host, Sentence: Delay{Min: 100e6, Jitter: 300e6}, Before: before,
			Outages: []Interval{{From: t0 + 5e9, To: t0 + 7e9}}}
		for s := int64(0); s < 10; s++ {
			p, pOK, n, nOK := g.Second(t0/1e9 + s)
			out := s == 5 || s == 6
			if pOK == out || nOK == out {
				t.Fatalf("second %d: outage not honoured", s)
			}
			if out {
				continue
			}
			if p.Host != host.Read(t0+s*1e9) || n.UTC != t0+s*1e9 {
				t.Errorf("second %d: edge %d, sentence %d", s, p.Host, n.UTC)
			}
			if d := n.Host - p.Host; before != (d < 0) || d > 400e6 || d < -400e6 {
				t.Errorf("before=%v second %d: sentence %d ns from its edge", before, s, d)
			}
		}
	}
}

func TestCamerasTruth(t *testing.T) {
	c := Cameras{N: 3, Rate: 30, Phase: 5e6, Latency: 2e6, Drop: 0.1, Skip: 0.05, Reorder: 0.05, Dup: 0.05, Seed: 1,
		Restarts: []CameraRestart{{Camera: 1, At: t0 + 2e9, Gap: 1e9}}, Dead: []int{2}}
	seen := map[[2]int64]int{}
	var restarted bool
	c.Run(t0/1e9, t0/1e9+5, func(f Frame) {
		if f.Camera == 2 {
			t.Fatal("dead camera delivered")
		}
		if d := f.T - c.TriggerTime(f.Trigger) - c.Latency; d != 0 {
			t.Fatalf("frame %+v off its trigger by %d", f, d)
		}
		if f.Camera == 1 && f.Trigger > (t0/1e9+3)*30 && f.Seq < 30 {
			restarted = true
		}
		seen[[2]int64{int64(f.Camera), f.Trigger}]++
	})
	if !restarted {
		t.Error("camera 1 did not restart its sequence")
	}
	if n := len(seen); n < 150*2*7/10 || n > 150*2 {
		t.Errorf("%d camera-triggers delivered", n)
	}
}
