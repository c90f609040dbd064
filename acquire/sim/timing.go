package sim

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
	"roadlog/sync/reference"
	"roadlog/sync/simclock"
)

// timing is how the rig's samples get their times: ideally (t is true time, t_host the
// machine's clock when published) or through simulated clocks, transports and the
// same estimators as the real sources (Config.Clocks).
type timing interface {
	start() int64    // true time of simulated time 0
	advance(t int64) // true time is now t: deliver what has arrived, discipline, tick
	imu(t int64, row *schema.IMU)
	can(t int64, row *schema.CAN, ego *schema.Ego) // ego: the ego row the frame makes (nil: none)
	gnss(t int64, row *schema.GNSS, bytes int)     // bytes: the epoch's sentences on the wire
	frame(cam int, t int64, j camJob)              // a camera exposes at trigger time t
	finish()                                       // deliver everything still in transit
}

// imuBoot is the ideal IMU's device time at the start of a drive.
const imuBoot = int64(123_456_789_000)

// idealTiming: every t is true time.
type idealTiming struct {
	cfg  Config
	sink schema.Sink
	send func(cam int, j camJob)
	t0   int64
}

func (it *idealTiming) start() int64 {
	it.t0 = it.cfg.Start
	if it.t0 == 0 {
		it.t0 = it.cfg.Timebase.Ref(clock.HostNow())
	}
	return it.t0
}

func (it *idealTiming) advance(int64) {}

func (it *idealTiming) imu(t int64, row *schema.IMU) {
	row.T, row.TDevice, row.THost = t, imuBoot+t-it.t0, clock.HostNow()
	it.sink.Publish(row)
}

func (it *idealTiming) can(t int64, row *schema.CAN, ego *schema.Ego) {
	row.T, row.THost = t, clock.HostNow()
	it.sink.Publish(row)
	if ego != nil {
		ego.T = t
		it.sink.Publish(ego)
	}
}

func (it *idealTiming) gnss(t int64, row *schema.GNSS, _ int) {
	row.T, row.THost = t, clock.HostNow()
	it.sink.Publish(row)
}

func (it *idealTiming) frame(cam int, t int64, j camJob) {
	j.t = t
	it.send(cam, j)
}

func (it *idealTiming) finish() {}

// clockTiming runs every sample through its sensor's clock and transport (Clocks) and
// maps it back with the estimator a real source of its kind uses (devclock.Stamps); the
// PPS edges discipline the reference. Samples are handed on when they arrive, in host
// time order.
type clockTiming struct {
	c    *Clocks
	cfg  Config
	tb   clock.Timebase
	disc Discipline // nil: no PPS discipline
	sink schema.Sink
	send func(cam int, j camJob)
	rng  *rand.Rand

	host     simclock.Oscillator
	now      int64 // host time now
	q        arrivals
	seq      int64
	t0       int64
	nextSec  int64 // next UTC second whose PPS edge is due
	nextTick int64 // true time of the next tick
	pps      *simclock.GNSS
	stamps   []*devclock.Stamps

	imuDev  *simclock.Device
	imuSt   *devclock.Stamps
	imuRows []*schema.IMU
	imuT    []int64

	buses map[string]*busTiming

	gnssDev  *simclock.Device
	gnssSt   *devclock.Stamps
	gnssLast int64

	cams []camTiming
}

type busTiming struct {
	st     *devclock.Stamps
	dev    *simclock.Device // an slcan adapter's counter; nil: SocketCAN kernel stamps
	last   int64            // last arrival: a bus is a queue
	free   int64            // true time the bus is free again: frames go out one after another
	lastMS int64
	wraps  int64
	haveMS bool
}

type camTiming struct {
	st   *devclock.Stamps
	last int64
}

func newClockTiming(cfg Config, sink schema.Sink, send func(int, camJob)) *clockTiming {
	c := cfg.Clocks
	ct := &clockTiming{c: c, cfg: cfg, tb: cfg.Timebase, disc: cfg.Discipline, sink: sink, send: send,
		rng: rand.New(rand.NewPCG(c.Seed, 0x7171)), buses: map[string]*busTiming{}}
	if ct.tb == nil && ct.disc != nil {
		ct.tb = ct.disc
	}
	// private copies: the rig owns its oscillators while it runs
	ct.host = simclock.Oscillator{Origin: c.Host.Origin, Offset: c.Host.Offset, DriftPPM: c.Host.DriftPPM,
		Wander: c.Host.Wander, Seed: c.Host.Seed}
	ct.pps = &simclock.GNSS{Host: &ct.host, PPSJitter: c.PPSJitter, NoNMEA: true, Seed: c.Seed ^ 0x995}
	ct.imuDev = c.IMU.device(&ct.host, c.Seed^0x1)
	ct.imuSt = ct.newStamps(devclock.StampsConfig{Name: "imu/sim", Counter: devclock.Config{TickNS: float64(c.IMU.Tick),
		Wrap: c.IMU.Wrap, Latency: durationNS(c.IMU.Delay.Min)}})
	ct.gnssDev = &simclock.Device{Host: &ct.host, Delay: c.GNSSDelay, Seed: c.Seed ^ 0x2}
	ct.gnssSt = ct.newStamps(devclock.StampsConfig{Name: "gnss/sim"})
	for range cfg.Cameras {
		ct.cams = append(ct.cams, camTiming{st: ct.newStamps(devclock.StampsConfig{
			Name: "cam" + strconv.Itoa(len(ct.cams)), Kernel: durationNS(3 * c.CameraJitter)})})
	}
	return ct
}

func (c *Counter) device(host *simclock.Oscillator, seed uint64) *simclock.Device {
	return &simclock.Device{Clock: simclock.Oscillator{Origin: c.Clock.Origin, Offset: c.Clock.Offset, DriftPPM: c.Clock.DriftPPM,
		Wander: c.Clock.Wander, Seed: c.Clock.Seed}, Tick: c.Tick, Wrap: c.Wrap, Host: host, Delay: c.Delay, Seed: seed}
}

func (ct *clockTiming) newStamps(cfg devclock.StampsConfig) *devclock.Stamps {
	cfg.RealtimeOffset = func() int64 { return ct.c.Realtime }
	s := devclock.NewStamps(cfg, ct.tb)
	ct.stamps = append(ct.stamps, s)
	return s
}

func (ct *clockTiming) bus(name string) *busTiming {
	b := ct.buses[name]
	if b == nil {
		b = &busTiming{}
		sc := devclock.StampsConfig{Name: "can/" + name, Kernel: durationNS(ct.c.KernelIRQ.Min + 3*ct.c.KernelIRQ.Jitter)}
		if name == "chassis" {
			b.dev = ct.c.Chassis.device(&ct.host, ct.c.Seed^0x3)
			sc.Counter = devclock.Config{TickNS: float64(ct.c.Chassis.Tick), Wrap: ct.c.Chassis.Wrap}
		}
		b.st = ct.newStamps(sc)
		ct.buses[name] = b
	}
	return b
}

// start begins the drive at the next tenth of a second of true time after the
// machine's now (at any speed the simulated host clock takes over from the machine's
// without a step back), so that every periodic source is on a grid of true time.
func (ct *clockTiming) start() int64 {
	c := ct.c
	t0 := ct.cfg.Start
	if t0 == 0 {
		t0 = c.Start + max(0, clock.HostNow()-c.Host.Offset)
		t0 = (t0/1e8 + 1) * 1e8
	}
	ct.t0, ct.nextTick = t0, t0
	ct.nextSec = (t0 + 1e9 - 1) / 1e9
	ct.setNow(ct.host.Read(t0))
	return t0
}

func (ct *clockTiming) setNow(h int64) {
	if h > ct.now {
		ct.now = h
		if h > ct.c.hostNow.Load() {
			ct.c.hostNow.Store(h)
		}
	}
}

func (ct *clockTiming) advance(t int64) {
	ct.setNow(ct.host.Read(t))
	for ct.nextSec*1e9 <= t {
		s := ct.nextSec
		ct.nextSec++
		if ct.outage(s * 1e9) {
			continue
		}
		p, ok, _, _ := ct.pps.Second(s)
		if !ok || ct.disc == nil || ct.rng.Float64() < ct.c.PPSDrop {
			continue
		}
		ct.push(p.Host, func() { ct.disc.Edge(reference.Edge{Host: p.Host, Seq: p.Seq}) })
	}
	ct.deliver(ct.now)
	if t >= ct.nextTick {
		ct.tick(false)
		ct.nextTick += 1e8
	}
}

// outage reports whether true time t lies in the scenario's GNSS outage: no PPS.
func (ct *clockTiming) outage(t int64) bool {
	if t < ct.t0 {
		return false
	}
	secs := float64(t-ct.t0) / 1e9
	return GNSSOutage(secs - math.Floor(secs/Period)*Period)
}

func (ct *clockTiming) tick(flush bool) {
	for _, s := range ct.stamps {
		if flush {
			s.Flush(ct.now, ct.sink)
		} else {
			s.Tick(ct.now, ct.sink)
		}
	}
	if ct.disc != nil {
		ct.disc.Tick(ct.now, ct.sink)
	}
}

func (ct *clockTiming) imu(t int64, row *schema.IMU) {
	ct.imuRows = append(ct.imuRows, row)
	ct.imuT = append(ct.imuT, t)
	if len(ct.imuRows) == imuBatch {
		ct.sendIMU()
	}
}

// sendIMU sends the batch of IMU samples in one USB transfer, after the last of them.
func (ct *clockTiming) sendIMU() {
	if len(ct.imuRows) == 0 {
		return
	}
	rows, ts := ct.imuRows, ct.imuT
	ct.imuRows, ct.imuT = nil, nil
	_, arr, _ := ct.imuDev.Stamp(ts[len(ts)-1])
	raws := make([]int64, len(ts))
	for i, t := range ts {
		raws[i] = ct.imuDev.Counter(t)
		rows[i].TDevice = raws[i] * ct.c.IMU.Tick
	}
	ct.push(arr, func() {
		for i, r := range rows {
			r.THost, r.T = arr, ct.imuSt.Counter(raws[i], arr)
			ct.sink.Publish(r)
		}
	})
}

// canBits is a frame's length on the wire (with a tenth for bit stuffing) at 500 kbit/s, ns.
func canWire(row *schema.CAN) int64 {
	bits := int64(47 + 8*len(row.Data))
	if row.Ext {
		bits += 20
	}
	return bits * 11 / 10 * 2000
}

func (ct *clockTiming) can(t int64, row *schema.CAN, ego *schema.Ego) {
	b := ct.bus(row.Bus)
	eof := max(t, b.free) + canWire(row) // receive stamps mark the end of the frame
	b.free = eof
	var stamp func() int64
	var arr int64
	if b.dev != nil {
		raw, a, _ := b.dev.Stamp(eof)
		if b.haveMS && raw < b.lastMS {
			b.wraps++ // as the slcan source counts them
		}
		b.lastMS, b.haveMS = raw, true
		row.TDevice = (b.wraps*int64(ct.c.Chassis.Wrap) + raw) * ct.c.Chassis.Tick
		arr = a
		stamp = func() int64 { return b.st.Counter(raw, arr) }
	} else {
		h := ct.host.Read(eof + ct.c.KernelIRQ.Sample(ct.rng))
		arr = max(h+ct.c.SocketRead.Sample(ct.rng), b.last)
		row.TDevice = h + ct.c.Realtime
		stamp = func() int64 { return b.st.Realtime(row.TDevice) }
	}
	b.last = arr
	ct.push(arr, func() {
		row.THost, row.T = arr, stamp()
		ct.sink.Publish(row)
		if ego != nil {
			ego.T = row.T
			ct.sink.Publish(ego)
		}
	})
}

func (ct *clockTiming) gnss(t int64, row *schema.GNSS, bytes int) {
	_, first, _ := ct.gnssDev.Stamp(t) // the first sentence's arrival
	end := max(first+int64(max(bytes-75, 0))*10*1e9/115200, ct.gnssLast)
	ct.gnssLast = end
	ct.push(end, func() {
		row.THost = first
		row.T = ct.gnssSt.UTC(row.TDevice, first)
		ct.sink.Publish(row)
	})
}

func (ct *clockTiming) frame(cam int, t int64, j camJob) {
	c := &ct.cams[cam]
	stamp := ct.host.Read(t + ct.c.CameraLatency[cam] + int64(math.Round(ct.rng.NormFloat64()*float64(ct.c.CameraJitter))))
	arr := max(stamp+ct.c.CameraTransfer.Sample(ct.rng), c.last)
	c.last = arr
	ct.push(arr, func() {
		j.thost, j.tdev = arr, stamp
		j.t = c.st.Monotonic(stamp - ct.c.CameraNominal)
		ct.send(cam, j)
	})
}

func (ct *clockTiming) finish() {
	ct.sendIMU()
	for ct.q.Len() > 0 {
		a := heap.Pop(&ct.q).(arrival)
		ct.setNow(a.host)
		a.do()
	}
	ct.tick(true)
}

func (ct *clockTiming) push(host int64, do func()) {
	ct.seq++
	heap.Push(&ct.q, arrival{host: host, seq: ct.seq, do: do})
}

func (ct *clockTiming) deliver(now int64) {
	for ct.q.Len() > 0 && ct.q[0].host <= now {
		heap.Pop(&ct.q).(arrival).do()
	}
}

// arrival is something in transit, handed on when the host clock reaches host.
type arrival struct {
	host, seq int64
	do        func()
}

// arrivals is a min-heap of arrivals by host time, then by when they were sent.
type arrivals []arrival

func (a arrivals) Len() int { return len(a) }
func (a arrivals) Less(i, j int) bool {
	return a[i].host < a[j].host || a[i].host == a[j].host && a[i].seq < a[j].seq
}
func (a arrivals) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *arrivals) Push(x any)   { *a = append(*a, x.(arrival)) }
func (a *arrivals) Pop() any {
	old := *a
	x := old[len(old)-1]
	old[len(old)-1] = arrival{}
	*a = old[:len(old)-1]
	return x
}

func durationNS(ns int64) time.Duration { return time.Duration(ns) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
