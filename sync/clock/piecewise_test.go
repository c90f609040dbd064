package clock

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestSegmentAt(t *testing.T) {
	cases := []struct {
		s    Segment
		x    int64
		want int64
	}{
		{Segment{X: 100, Y: 1000, Rate: 1}, 150, 1050},
		{Segment{X: 100, Y: 1000, Rate: 1.5}, 200, 1150},
		{Segment{X: 100, Y: 1000, Rate: 1}, 50, 950},
		{Segment{X: 0, Y: math.MaxInt64 - 5, Rate: 1}, 100, math.MaxInt64},
		{Segment{X: math.MaxInt64, Y: 0, Rate: 1}, math.MinInt64, math.MinInt64},
		{Segment{X: math.MinInt64, Y: 0, Rate: 1}, math.MaxInt64, math.MaxInt64},
	}
	for _, c := range cases {
		if got := c.s.At(c.x); got != c.want {
			t.Errorf("%+v.At(%d) = %d, want %d", c.s, c.x, got, c.want)
		}
	}
}

func TestSteer(t *testing.T) {
	cases := []struct {
		name    string
		target  Segment
		st      Steer
		stepped bool
		until   int64 // x at which the map meets the target
	}{
		{"small forward: slewed", Segment{X: 0, Y: 1e6, Rate: 1}, Steer{StepAbove: 1e6 + 1, SlewTime: 1e8, MaxSlew: 0.05}, false, 1e9 + 1e8},
		{"large forward: stepped", Segment{X: 0, Y: 5e6, Rate: 1}, Steer{StepAbove: 1e6}, true, 1e9},
		{"backward: slewed at most MaxSlew", Segment{X: 0, Y: -5e6, Rate: 1}, Steer{StepAbove: 1e6, SlewTime: 1e8, MaxSlew: 0.05}, false, 1e9 + 1e8},
		{"large backward: long slew", Segment{X: 0, Y: -1e9, Rate: 1}, Steer{StepAbove: 1e6, SlewTime: 1e8, MaxSlew: 0.05}, false, 1e9 + 20e9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewPiecewise(Segment{X: 0, Y: 0, Rate: 1}, 0)
			before := p.At(1e9)
			corr := p.Steer(1e9, c.target, c.st)
			if corr.Stepped != c.stepped || corr.Until != c.until {
				t.Errorf("correction %+v, want stepped %v until %d", corr, c.stepped, c.until)
			}
			if got := p.At(1e9 - 1); got != 1e9-1 {
				t.Errorf("history changed: At(1e9−1) = %d", got)
			}
			if !c.stepped && p.At(1e9) != before {
				t.Errorf("slew moved the map at its start")
			}
			if got, want := p.At(corr.Until+5e8), c.target.At(corr.Until+5e8); abs(got-want) > 1 {
				t.Errorf("after the correction the map is %d, target %d", got, want)
			}
			checkMonotone(t, p, -1e9, 30e9, 1e6)
		})
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func checkMonotone(t *testing.T, p *Piecewise, from, to, step int64) {
	t.Helper()
	last := p.At(from)
	for x := from; x <= to; x += step {
		v := p.At(x)
		if v < last {
			t.Fatalf("map decreases at %d: %d < %d", x, v, last)
		}
		last = v
	}
}

// FuzzSteer: any sequence of corrections, at increasing x, keeps the map monotone and
// leaves every value already handed out unchanged.
func FuzzSteer(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31})
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), 1<<63))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := NewPiecewise(Segment{X: 0, Y: 1e18, Rate: 1}, 4)
		at := int64(0)
		type q struct{ x, y int64 }
		var handed []q
		for len(data) >= 16 {
			a := int64(binary.LittleEndian.Uint64(data))
			b := binary.LittleEndian.Uint64(data[8:])
			data = data[16:]
			at += a & (1<<36 - 1)
			// hand out values before at, as a stream would (at itself may still step forward)
			handed = append(handed, q{at - 1, p.At(at - 1)})
			target := Segment{X: at - int64(b&0xffff), Y: p.At(at) + int64(int32(b>>16))*int64(b>>48), Rate: 1 + float64(int16(b>>32))*1e-6}
			p.Steer(at, target, Steer{StepAbove: int64(b>>40) * 1000, SlewTime: int64(b & 0xfff), MaxSlew: float64(b>>56) / 255})
			for _, h := range handed[max(0, len(handed)-2):] {
				if got := p.At(h.x); got != h.y && h.x < at {
					t.Fatalf("value at %d changed from %d to %d", h.x, h.y, got)
				}
			}
			last := p.At(at - 1e6)
			for x := at - 1e6; x < at+1e11; x += 1e9 {
				if v := p.At(x); v < last {
					t.Fatalf("map decreases at %d", x)
				} else {
					last = v
				}
			}
		}
	})
}
