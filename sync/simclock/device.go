package simclock

import (
	"math"
	"math/rand/v2"
)

// Device is a simulated sensor with its own clock: it time-stamps an event with its
// counter and sends it to the host, where it arrives after a transport delay and is
// stamped with the host's monotonic clock.
type Device struct {
	Clock  Oscillator  // the device's oscillator (readings in ns)
	Tick   int64       // ns per counter tick (quantisation); 0 or 1: ns counter
	Wrap   uint64      // counter modulus in ticks (e.g. 1<<32, 60000); 0: never wraps
	Host   *Oscillator // the host's monotonic clock
	Delay  Delay       // transport delay, in true time
	Drop   float64     // probability that a sample never arrives
	Resets []int64     // true times at which the device restarts its counter from 0
	Seed   uint64      // seed of delays and drops

	rng  *rand.Rand
	last int64 // last arrival: transports are queues, samples arrive in order
}

// Stamp returns the device counter and the host arrival time of a sample taken at
// true time t; ok is false when the sample is dropped. Calls must come in increasing t.
// The transport is a queue: a sample never arrives before the one sent before it.
func (d *Device) Stamp(t int64) (device int64, hostArrival int64, ok bool) {
	if d.rng == nil {
		d.rng = rand.New(rand.NewPCG(d.Seed, 0xde71ce))
	}
	delay := d.Delay.Sample(d.rng)
	if d.Drop > 0 && d.rng.Float64() < d.Drop {
		return 0, 0, false
	}
	h := d.Host.Read(t + delay)
	if h < d.last {
		h = d.last
	}
	d.last = h
	return d.Counter(t), h, true
}

// Counter returns the device counter at true time t (after quantisation, resets and
// wrap-around).
func (d *Device) Counter(t int64) int64 {
	r := d.Clock.Read(t)
	for _, at := range d.Resets {
		if t >= at {
			r = d.Clock.Read(t) - d.Clock.Read(at)
		}
	}
	tick := d.Tick
	if tick <= 0 {
		tick = 1
	}
	c := floorDiv(r, tick)
	if d.Wrap > 0 {
		w := int64(d.Wrap)
		if d.Wrap > math.MaxInt64 {
			return c
		}
		c %= w
		if c < 0 {
			c += w
		}
	}
	return c
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
