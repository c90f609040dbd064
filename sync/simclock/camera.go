package simclock

import (
	"math"
	"math/rand/v2"
)

// Cameras simulates hardware-triggered cameras: a trigger line fires Rate times a
// second at Phase + j/Rate after every UTC second, every camera exposes one frame per
// trigger and counts it in its sequence number, and the frames reach the host with
// their time stamps (already on the reference timebase) after the faults below.
type Cameras struct {
	N        int             // cameras 0..N−1
	Rate     int             // triggers per second
	Phase    int64           // ns from the PPS second to its first trigger
	Latency  int64           // ns: frame time stamp minus trigger instant
	Jitter   int64           // ns: 1σ of the frame time stamp
	Drop     float64         // a frame is lost after the camera counted it (sequence gap)
	Skip     float64         // the camera misses a trigger (no frame, sequence not advanced)
	Dup      float64         // a frame is delivered twice
	Reorder  float64         // a frame is delivered after the camera's next frame
	Restarts []CameraRestart // cameras that restart: sequence back to 0 after a gap
	Dead     []int           // cameras that never deliver
	Seed     uint64
}

// CameraRestart is a camera that stops at true time At, and after Gap comes back with
// its sequence counter at 0.
type CameraRestart struct {
	Camera int
	At     int64
	Gap    int64
}

// Frame is a camera frame as delivered to the host, with its truth.
type Frame struct {
	Camera  int
	Seq     int64 // the camera's sequence number
	T       int64 // time stamp on the reference timebase
	Trigger int64 // true trigger id: second·Rate + index within the second
	Dup     bool  // a repeated delivery
}

// TriggerTime returns the true instant of trigger id.
func (c *Cameras) TriggerTime(id int64) int64 {
	r := int64(c.Rate)
	s := floorDiv(id, r)
	j := id - s*r
	return s*1e9 + c.Phase + j*1e9/r
}

// Run simulates every trigger whose second lies in [fromSec, toSec) and calls deliver
// for each frame in the order the host receives them.
func (c *Cameras) Run(fromSec, toSec int64, deliver func(Frame)) {
	rng := rand.New(rand.NewPCG(c.Seed, 0xca3e7a))
	seq := make([]int64, c.N)
	held := make([]*Frame, c.N)
	dead := make([]bool, c.N)
	for _, d := range c.Dead {
		if d >= 0 && d < c.N {
			dead[d] = true
		}
	}
	restarted := make([]bool, len(c.Restarts))
	order := make([]int, c.N)
	for i := range order {
		order[i] = i
	}
	r := int64(c.Rate)
	for id := fromSec * r; id < toSec*r; id++ {
		tt := c.TriggerTime(id)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, cam := range order {
			if dead[cam] {
				continue
			}
			down := false
			for k, rs := range c.Restarts {
				if rs.Camera == cam && tt >= rs.At {
					if tt < rs.At+rs.Gap {
						down = true
					} else if !restarted[k] {
						restarted[k] = true
						seq[cam] = 0
					}
				}
			}
			if down {
				continue
			}
			if rng.Float64() < c.Skip {
				continue
			}
			f := Frame{Camera: cam, Seq: seq[cam], Trigger: id,
				T: tt + c.Latency + int64(math.Round(rng.NormFloat64()*float64(c.Jitter)))}
			seq[cam]++
			if rng.Float64() < c.Drop {
				continue
			}
			out := []Frame{f}
			if rng.Float64() < c.Dup {
				d := f
				d.Dup = true
				out = append(out, d)
			}
			if h := held[cam]; h != nil {
				out = append(out, *h)
				held[cam] = nil
			} else if rng.Float64() < c.Reorder {
				held[cam] = &out[0]
				out = out[1:]
			}
			for _, o := range out {
				deliver(o)
			}
		}
	}
	for _, h := range held {
		if h != nil {
			deliver(*h)
		}
	}
}
