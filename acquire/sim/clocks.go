package sim

import (
	"math"
	"math/rand/v2"
	"sync/atomic"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/frameset"
	"roadlog/sync/reference"
	"roadlog/sync/simclock"
)

// Clocks is the simulated rig's time, kept so that the error of every estimate can be
// computed afterwards. True time is UTC. The host's monotonic clock and every sensor's
// own clock are oscillators against it (offset, drift, frequency random walk), each
// sensor's samples reach the host through a transport with its delay distribution, and
// the GNSS receiver's PPS edges are stamped by the host with jitter and now and then
// missed, and stop with the scenario's GNSS outage. How each source stamps its samples:
//
//   - imu/sim: a microsecond counter (32 bits, wrapping within the first half minute),
//     8 samples per USB bulk transfer; mapped by its envelope (devclock.Clock)
//   - can/pt (and the benchmark buses): SocketCAN kernel receive stamps on
//     CLOCK_REALTIME, passed through
//   - can/chassis: an slcan adapter's millisecond counter, wrapping at 60000, over USB
//   - gnss/sim: each epoch's UTC time of fix; its sentences at 115200 Bd some 30–70 ms
//     after the fix; PPS edges discipline the reference
//   - cam0…: V4L2 kernel stamps on CLOCK_MONOTONIC a few ms after the trigger (each
//     camera its own latency, the sources state the nominal one), frames arriving
//     8–12 ms after their stamp
//
// A recording stores its Clocks in the manifest (extra "clocks"); decoded, they
// compute the same truth again (the random walks are drawn from their seeds).
type Clocks struct {
	Seed     uint64              `json:"seed"`
	Start    int64               `json:"start"`           // true time (ns since the epoch) at which the host clock reads Host.Offset
	Host     simclock.Oscillator `json:"host"`            // the host's CLOCK_MONOTONIC
	Realtime int64               `json:"realtime_offset"` // the host's CLOCK_REALTIME minus CLOCK_MONOTONIC: its wall clock
	WallErr  int64               `json:"wall_error"`      // the host's wall clock minus UTC at Start

	PPSJitter int64          `json:"pps_jitter"` // ns, 1σ of an edge's host stamp
	PPSDrop   float64        `json:"pps_drop"`   // share of edges the host misses
	GNSSDelay simclock.Delay `json:"gnss_delay"` // from a fix to the arrival of its first sentence (GGA)

	IMU     Counter `json:"imu"`     // the IMU's counter
	Chassis Counter `json:"chassis"` // the chassis bus adapter's counter

	// CameraLatency is each camera's kernel stamp minus its trigger; the sources state
	// CameraNominal and take it off.
	CameraLatency []int64 `json:"camera_latency"`
	CameraNominal int64   `json:"camera_nominal"`
	TriggerRate   int     `json:"trigger_rate"` // the cameras' triggers a second (New sets it)

	// The transports of the sources without a counter of their own.
	KernelIRQ      simclock.Delay `json:"kernel_irq"`      // a CAN frame's end to the kernel's receive stamp
	SocketRead     simclock.Delay `json:"socket_read"`     // the kernel's stamp to the frame's read
	CameraJitter   int64          `json:"camera_jitter"`   // ns, 1σ of a camera's kernel stamp
	CameraTransfer simclock.Delay `json:"camera_transfer"` // a frame's kernel stamp to its arrival

	hostNow atomic.Int64 // the simulated host's monotonic clock now
}

// Counter is a sensor's own clock: its oscillator, its counter's tick and wrap-around,
// and the delay of its transport.
type Counter struct {
	Clock simclock.Oscillator `json:"clock"`
	Tick  int64               `json:"tick"` // ns per count
	Wrap  uint64              `json:"wrap"` // counts
	Delay simclock.Delay      `json:"delay"`
}

// imuBatch is how many IMU samples one USB transfer carries.
const imuBatch = 8

// NewClocks draws a rig's clocks from seed. wall is the host's wall clock (the
// reference timebase before any discipline: clock.NewSystem()); the simulated host
// clock reads as the machine's monotonic clock now, and its wall clock as wall does.
func NewClocks(seed uint64, wall clock.Timebase) *Clocks {
	rng := rand.New(rand.NewPCG(seed, 0xc10c5))
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	h0 := clock.HostNow()
	c := &Clocks{Seed: seed, WallErr: int64(u(-5e6, 5e6)), PPSJitter: 100, PPSDrop: 0.002}
	c.Start = wall.Ref(h0) - c.WallErr
	c.Realtime = wall.Ref(h0) - h0
	c.Host = simclock.Oscillator{Origin: c.Start, Offset: h0, DriftPPM: u(-50, 50), Wander: 1, Seed: seed ^ 0x4057}
	// 75 bytes of GGA at 115200 Bd after 30–70 ms of the receiver's own work
	c.GNSSDelay = simclock.Delay{Min: 30e6 + 75*10*int64(1e9)/115200, Jitter: 40e6, SpikeP: 0.002, Spike: 50e6}
	c.IMU = Counter{Tick: 1000, Wrap: 1 << 32, Delay: simclock.USBBulk(),
		Clock: simclock.Oscillator{Origin: c.Start, Offset: 1<<32*1000 - int64(u(5e9, 30e9)), DriftPPM: u(-100, 100),
			Wander: 5, Seed: seed ^ 0x1f0}}
	c.Chassis = Counter{Tick: 1e6, Wrap: 60000,
		Delay: simclock.Delay{Min: 300e3, Jitter: 700e3, Shape: simclock.Exponential, SpikeP: 1e-3, Spike: 5e6},
		Clock: simclock.Oscillator{Origin: c.Start, Offset: int64(u(0, 60e9)), DriftPPM: u(-100, 100), Wander: 5, Seed: seed ^ 0xca2}}
	c.KernelIRQ = simclock.Delay{Min: 5e3, Jitter: 20e3, Shape: simclock.Exponential}
	c.SocketRead = simclock.Delay{Min: 20e3, Jitter: 150e3, Shape: simclock.Exponential, SpikeP: 1e-3, Spike: 2e6}
	c.CameraJitter = 30e3
	c.CameraTransfer = simclock.Delay{Min: 8e6, Jitter: 4e6}
	c.CameraNominal = 4e6
	for range 8 {
		c.CameraLatency = append(c.CameraLatency, c.CameraNominal+int64(u(-200e3, 200e3)))
	}
	c.hostNow.Store(h0)
	return c
}

// HostNow returns the simulated host's monotonic clock now: what the drive's
// reference clock must take as its host clock (reference.Config.Now). It runs with the
// simulation, ahead of the machine's when the rig runs faster than real time.
func (c *Clocks) HostNow() int64 { return c.hostNow.Load() }

// HostTrue returns the true time at which the host's monotonic clock read h. Not safe
// for concurrent use (nor while the rig runs on these Clocks): decode a copy.
func (c *Clocks) HostTrue(h int64) int64 { return c.Host.True(h) }

// RealtimeTrue returns the true time at which the host's CLOCK_REALTIME read r.
func (c *Clocks) RealtimeTrue(r int64) int64 { return c.Host.True(r - c.Realtime) }

// True returns the true time at which the counter read raw, the reading nearest to the
// true time near (wrap-arounds are resolved by it: it must be right to within half a
// counter period). The counter's quantisation stays: the sample was taken up to one
// tick later.
func (k *Counter) True(raw, near int64) int64 {
	tick := max(k.Tick, 1)
	u := raw
	if k.Wrap > 0 {
		w := int64(k.Wrap)
		exp := floorDiv(k.Clock.Read(near), tick)
		u = raw + int64(math.Round(float64(exp-raw)/float64(w)))*w
	}
	return k.Clock.True(u * tick)
}

// Truth returns the true time of what a sample's t estimates, for the samples of a
// rig that ran on these Clocks (ok false: a sample these Clocks did not time):
//
//   - IMU rows: the instant the sample was taken (the counter's reading, on the
//     millisecond grid of true time every sample is taken on)
//   - CAN rows: the kernel's receive stamp (can/pt, benchmark buses) or the instant
//     the adapter's millisecond counter turned to its stamp (can/chassis; the sample
//     came up to a tick later)
//   - GNSS rows: the time of fix
//   - frames (and video frames): the trigger that exposed them
//   - sync rows of the reference: the true time at which the host clock read the
//     row's host time (t + offset), so that t minus it is the reference's error
//
// Like HostTrue it is not safe for concurrent use.
func (c *Clocks) Truth(s schema.Sample) (int64, bool) {
	switch v := s.(type) {
	case *schema.IMU:
		if v.Sensor != "sim" || c.IMU.Tick <= 0 {
			return 0, false
		}
		t := c.IMU.True(v.TDevice/c.IMU.Tick, v.T) + c.IMU.Tick/2
		return (t + 5e5) / 1e6 * 1e6, true
	case *schema.CAN:
		if v.Bus == "chassis" {
			raw := v.TDevice / c.Chassis.Tick % int64(c.Chassis.Wrap)
			return c.Chassis.True(raw, v.T), true
		}
		return c.RealtimeTrue(v.TDevice), v.TDevice != 0
	case *schema.GNSS:
		return v.TDevice, v.TDevice != 0
	case *schema.VideoFrame:
		return c.Truth(&v.Frame)
	case *schema.Frame:
		if int(v.Camera) >= len(c.CameraLatency) || v.TDevice == 0 {
			return 0, false
		}
		id, _ := frameset.Trigger{Rate: c.TriggerRate}.Nearest(c.HostTrue(v.TDevice) - c.CameraLatency[v.Camera])
		return frameset.Trigger{Rate: c.TriggerRate}.Time(id), true
	case *schema.SyncRow:
		if v.Source != "reference" {
			return 0, false
		}
		return c.HostTrue(v.T + v.Offset), true
	}
	return 0, false
}

// Discipline is what the simulated PPS line drives and the rig ticks with its own
// host time: the drive's reference clock (*reference.Clock).
type Discipline interface {
	clock.Timebase
	Edge(reference.Edge)
	Tick(now int64, sink schema.Sink)
}
