package simclock

import (
	"math"
	"math/rand/v2"
)

// Shape is the distribution of a delay's random part.
type Shape uint8

// Shapes.
const (
	Uniform     Shape = 1 // uniform on [0, Jitter]
	Exponential Shape = 2 // exponential with mean Jitter
	HalfNormal  Shape = 3 // |N(0, Jitter)|
)

// Delay is a transport delay: a fixed part, a random part, and rare spikes (a USB
// hub or a network switch holding a packet, a scheduler hiccup).
type Delay struct {
	Min    int64   // ns: the fixed part (bytes on the wire, the minimum latency)
	Jitter int64   // ns: scale of the random part
	Shape  Shape   // distribution of the random part (0: Uniform)
	SpikeP float64 // probability of a spike
	Spike  int64   // ns: spikes are uniform on [0, Spike] on top
}

// Sample draws one delay (ns, ≥ Min).
func (d Delay) Sample(r *rand.Rand) int64 {
	v := d.Min
	j := float64(d.Jitter)
	switch d.Shape {
	case Exponential:
		v += int64(r.ExpFloat64() * j)
	case HalfNormal:
		v += int64(math.Abs(r.NormFloat64()) * j)
	default:
		v += int64(r.Float64() * j)
	}
	if d.SpikeP > 0 && r.Float64() < d.SpikeP {
		v += int64(r.Float64() * float64(d.Spike))
	}
	return v
}

// Serial is the delay of a message of n bytes over a UART at baud (10 bits a byte on
// the wire), read through a driver or USB adapter that adds up to latency more.
func Serial(baud, n int, latency int64) Delay {
	return Delay{Min: int64(n) * 10 * 1e9 / int64(baud), Jitter: latency, Shape: Uniform, SpikeP: 0.001, Spike: 20e6}
}

// USBBulk is the delay of a USB bulk transfer: 125 µs microframes, host-controller
// scheduling, and the occasional stall.
func USBBulk() Delay {
	return Delay{Min: 125e3, Jitter: 250e3, Shape: Exponential, SpikeP: 0.002, Spike: 8e6}
}

// Network is the delay of a UDP datagram over an in-car Ethernet switch.
func Network() Delay {
	return Delay{Min: 80e3, Jitter: 150e3, Shape: Exponential, SpikeP: 0.01, Spike: 5e6}
}
