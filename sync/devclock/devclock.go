// Package devclock maps a device's own time stamps onto the drive's reference
// timebase. A device clock (a sensor's counter, a CAN adapter's timer, a camera's
// clock) is related to the host's monotonic clock by an offset and a drift that the
// Clock estimates online from (device time, host arrival) pairs alone: every arrival
// is the device time mapped to the host plus a transport delay that is never negative,
// so the map is the lower envelope of the points (the TICSync idea: Harrison and
// Newman, "TICSync: Knowing when things happened", ICRA 2011). A sliding window keeps
// the lowest point of each of Bins bins; the envelope line is the edge of their lower
// convex hull that spans their centroid, which minimises the summed delays over the
// window. Wrapped counters are unwrapped using the host time between samples; samples
// below the envelope or far above it are suspects, and a run of mutually consistent
// suspects is a device reset or step (an EvSyncStep event, window restarted).
//
// One-way time transfer cannot observe the fixed part of the transport delay:
// Config.Latency states it (bytes on the wire at the line rate, a USB microframe).
//
// Passthrough is the model for devices whose time stamps are already host time
// (V4L2 and IIO monotonic kernel stamps, SocketCAN SO_TIMESTAMPNS).
package devclock

import (
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/internal/outbox"
)

// Config configures a Clock. Zero values take the defaults named.
type Config struct {
	Name          string        // SyncRow.Source and event source: the source's name
	TickNS        float64       // ns per counter tick (default 1: the device counts ns)
	Wrap          uint64        // counter period in ticks: 1<<32 for a 32-bit counter, 60000 for slcan's ms; 0: never wraps
	Latency       time.Duration // fixed, unobservable part of the transport delay (default 0)
	Window        time.Duration // sliding window of the envelope fit (default 20 s)
	Bins          int           // bins in the window, each keeping its lowest point (default 40)
	MaxDelay      time.Duration // a sample arriving later than this above the envelope is a suspect (default 1 s)
	StepTolerance time.Duration // a sample arriving this far below the envelope is a suspect, and a bin whose lowest sample sits this far above it (and 10× the usual) is a step (default 1 ms)
	StepConfirm   int           // suspects in a row, consistent among themselves, that make a step (default 3)
	MaxDriftPPM   float64       // bound on the device's drift against the host (default 1000 ppm)
	HoldoverAfter time.Duration // no accepted sample for this long (host time): holdover (default 5 s)
	SlewTime      time.Duration // device time over which corrections are slewed (default 1 s)
	MaxSlew       float64       // largest relative rate change of a slew (default 0.01)
	RowInterval   time.Duration // sync rows every (host time, default 1 s)
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name = "device"
	}
	if !(c.TickNS > 0) {
		c.TickNS = 1
	}
	if c.Window <= 0 {
		c.Window = 20 * time.Second
	}
	if c.Bins < 4 {
		c.Bins = 40
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = time.Second
	}
	if c.StepTolerance <= 0 {
		c.StepTolerance = time.Millisecond
	}
	if c.StepConfirm <= 0 {
		c.StepConfirm = 3
	}
	if !(c.MaxDriftPPM > 0) {
		c.MaxDriftPPM = 1000
	}
	if c.HoldoverAfter <= 0 {
		c.HoldoverAfter = 5 * time.Second
	}
	if c.SlewTime <= 0 {
		c.SlewTime = time.Second
	}
	if !(c.MaxSlew > 0 && c.MaxSlew <= 0.5) {
		c.MaxSlew = 0.01
	}
	if c.RowInterval <= 0 {
		c.RowInterval = time.Second
	}
}

// uncertain is what a timebase may offer about its own error (reference.Clock does).
type uncertain interface {
	Uncertainty(host int64) float64
}

type pt struct{ x, y int64 } // device ns since the origin, host arrival

type bin struct {
	idx int64
	p   pt
	raw int64 // the device counter of p
	ok  bool
}

type suspect struct {
	raw, host int64
}

// Clock is the model of one device clock. It is safe for concurrent use, but a
// source usually owns it alone: Observe for every sample, Tick now and then.
type Clock struct {
	cfg Config
	tb  clock.Timebase

	mu sync.Mutex // guards everything below

	have     bool
	lastRaw  int64 // last accepted raw counter
	lastU    int64 // its unwrapped value, ticks
	lastHost int64 // its host arrival
	u0       int64 // unwrapped ticks at the origin (x = 0)

	bins   []bin
	binW   int64
	newest int64 // newest bin index

	line  clock.Segment // the envelope: device x → host (no latency)
	hull  int           // points on the lower hull at the last fit
	xbar  float64
	rmed  float64 // median residual of the bin minima above the envelope
	jit   float64 // EWMA of squared residuals of accepted samples
	nbins int

	pub     *clock.Piecewise // device x → host, steered towards line + Latency
	maxX    int64
	lastOut int64
	outOK   bool

	sus          []suspect
	pts, hullBuf []pt      // scratch of fit
	res          []float64 // scratch of fit
	state        schema.SyncState
	lastAccepted int64
	samples      int32
	stats        [4]int64 // outliers, steps, clamps, garbage
	reported     [4]int64
	nextRow      int64
	out          outbox.Box
}

// New returns the model of a device clock whose times are mapped onto tb (a
// reference.Clock, or clock.NewSystem() for the free-running host wall clock).
func New(cfg Config, tb clock.Timebase) *Clock {
	cfg.defaults()
	if tb == nil {
		tb = clock.NewSystem()
	}
	c := &Clock{cfg: cfg, tb: tb, state: schema.SyncConverging}
	c.bins = make([]bin, cfg.Bins)
	c.binW = max(int64(cfg.Window)/int64(cfg.Bins), 1)
	return c
}

// Observe takes one sample's device counter and host arrival time and returns the
// sample's reference time. Within one Clock the returned times never decrease.
func (c *Clock) Observe(raw int64, host int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.observe(raw, host)
}

func (c *Clock) observe(raw, host int64) int64 {
	if c.cfg.Wrap > 0 && (raw < 0 || uint64(raw) >= c.cfg.Wrap) {
		c.stats[3]++
		return c.fallback(host)
	}
	if !c.have {
		c.start(raw, host)
		return c.emitOut(c.mapX(0))
	}
	u := c.unwrap(raw, host)
	x, ok := c.toX(u)
	if !ok {
		c.stats[3]++
		return c.fallback(host)
	}
	if floorDiv(x, c.binW) > c.newest && c.stepUp() {
		// the window restarted at the completed bin's lowest sample: redo this one against it
		u = c.unwrap(raw, host)
		if x, ok = c.toX(u); !ok {
			c.stats[3]++
			return c.fallback(host)
		}
	}
	r := host - c.line.At(x)
	below := int64(c.cfg.StepTolerance)
	if c.state == schema.SyncConverging {
		below += int64(c.cfg.MaxDelay) // the first points may all sit high: let the envelope settle
	}
	if r > int64(c.cfg.MaxDelay) || r < -below {
		return c.suspect(raw, host)
	}
	if len(c.sus) > 0 {
		c.stats[0] += int64(len(c.sus))
		c.sus = c.sus[:0]
	}
	c.lastRaw, c.lastU, c.lastHost = raw, u, host
	c.accept(pt{x, host}, raw, r)
	return c.emitOut(c.mapX(x))
}

// start makes (raw, host) the origin of a fresh window.
func (c *Clock) start(raw, host int64) {
	c.have = true
	c.lastRaw, c.lastU, c.lastHost = raw, raw, host
	c.u0 = raw
	for i := range c.bins {
		c.bins[i] = bin{}
	}
	c.nbins = 0
	c.line = clock.Segment{X: 0, Y: host, Rate: 1}
	c.pub = clock.NewPiecewise(clock.Segment{X: 0, Y: host - int64(c.cfg.Latency), Rate: 1}, 0)
	c.maxX = 0
	c.xbar = 0
	c.rmed = 0
	c.accept(pt{0, host}, raw, 0)
}

// unwrap returns the unwrapped tick count of raw. Once the envelope is known, it is
// the candidate whose device time is the latest not after the envelope at the host
// arrival (a sample is never early): right for delays up to nearly a whole counter
// period. Before, it is the candidate nearest to what the host time since the last
// sample predicts.
func (c *Clock) unwrap(raw, host int64) int64 {
	if c.cfg.Wrap == 0 {
		return raw
	}
	w := int64(c.cfg.Wrap)
	if c.state == schema.SyncLocked {
		xa := c.xAt(host + int64(c.cfg.StepTolerance))
		ua := c.u0 + int64(math.Floor(float64(xa)/c.cfg.TickNS))
		return raw + floorDiv(ua-raw, w)*w
	}
	d := (raw - c.lastRaw) % w
	if d < 0 {
		d += w
	}
	e := float64(host-c.lastHost) / c.cfg.TickNS
	n := math.Round((e - float64(d)) / float64(w))
	if math.Abs(n) > 1e6 {
		n = 0
	}
	return c.lastU + d + int64(n)*w
}

func (c *Clock) toX(u int64) (int64, bool) {
	d := u - c.u0
	if (u >= 0) != (c.u0 >= 0) && (d >= 0) != (u >= 0) {
		return 0, false
	}
	x := float64(d) * c.cfg.TickNS
	if math.Abs(x) > 4e18 {
		return 0, false
	}
	return int64(math.Round(x)), true
}

// suspect handles a sample off the envelope: an outlier, or the start of a step.
func (c *Clock) suspect(raw, host int64) int64 {
	c.sus = append(c.sus, suspect{raw, host})
	if len(c.sus) > c.cfg.StepConfirm {
		c.sus = c.sus[1:]
	}
	if len(c.sus) >= c.cfg.StepConfirm && c.consistent() {
		old := c.offsetAt(c.sus[0].host)
		sus := append([]suspect(nil), c.sus...)
		c.sus = c.sus[:0]
		c.start(sus[0].raw, sus[0].host)
		for _, s := range sus[1:] {
			u := c.unwrap(s.raw, s.host)
			if x, ok := c.toX(u); ok {
				c.lastRaw, c.lastU, c.lastHost = s.raw, u, s.host
				c.accept(pt{x, s.host}, s.raw, 0)
			}
		}
		c.stats[1]++
		step := c.offsetAt(sus[0].host) - old
		e := schema.NewEvent(c.tb.Ref(host), schema.EvSyncStep, schema.SevWarn, c.cfg.Name,
			"device clock reset or stepped; window restarted")
		e.Value = float64(step) * 1e-9
		e.Category = "device_step"
		c.out.Push(e)
		c.setState(schema.SyncConverging, host)
		return c.emitOut(c.mapX(c.maxX))
	}
	if len(c.sus) >= c.cfg.StepConfirm && c.lastAccepted < host-int64(c.cfg.HoldoverAfter) {
		c.setState(schema.SyncFault, host)
	}
	return c.fallback(host)
}

// consistent reports whether the suspects advance together: their device time and
// their host time move alike, within MaxDelay.
func (c *Clock) consistent() bool {
	s := c.sus
	for i := 1; i < len(s); i++ {
		dh := s[i].host - s[i-1].host
		var dd float64
		if c.cfg.Wrap > 0 {
			w := int64(c.cfg.Wrap)
			d := (s[i].raw - s[i-1].raw) % w
			if d < 0 {
				d += w
			}
			dd = float64(d) * c.cfg.TickNS
		} else {
			dd = (float64(s[i].raw) - float64(s[i-1].raw)) * c.cfg.TickNS
		}
		if dh < 0 || math.Abs(dd-float64(dh)) > float64(c.cfg.MaxDelay) {
			return false
		}
	}
	return true
}

// offsetAt returns device ns (unwrapped, absolute) minus host at host time h, by the envelope.
func (c *Clock) offsetAt(h int64) int64 {
	x := c.xAt(h)
	return int64(float64(c.u0)*c.cfg.TickNS) + x - h
}

// xAt inverts the envelope: the device x whose sample would arrive at host h with no delay.
func (c *Clock) xAt(h int64) int64 {
	l := c.line
	return l.X + int64(math.Round(float64(h-l.Y)/l.Rate))
}

// accept adds an accepted point to its bin and refits when the bin's minimum changed.
func (c *Clock) accept(p pt, raw, r int64) {
	c.lastAccepted = max(c.lastAccepted, p.y)
	c.samples++
	c.jit += (float64(r)*float64(r) - c.jit) / 64
	idx := floorDiv(p.x, c.binW)
	if idx > c.newest || c.nbins == 0 {
		c.newest = idx
	}
	if idx <= c.newest-int64(len(c.bins)) {
		return // older than the window
	}
	b := &c.bins[mod(idx, int64(len(c.bins)))]
	if b.ok && b.idx == idx {
		if p.y-c.line.At(p.x) >= b.p.y-c.line.At(b.p.x) {
			return
		}
	} else if b.ok && b.idx > idx {
		return
	}
	if !(b.ok && b.idx == idx) {
		c.nbins++
	}
	*b = bin{idx: idx, p: p, raw: raw, ok: true}
	c.fit()
}

// stepUp checks the two bins just completed: when even their lowest samples sit far
// above the envelope, and alike, the device clock stepped back (its samples now look
// late) and the window restarts at the older of the two.
func (c *Clock) stepUp() bool {
	if c.state != schema.SyncLocked {
		return false
	}
	n := int64(len(c.bins))
	b1, b0 := c.bins[mod(c.newest, n)], c.bins[mod(c.newest-1, n)]
	if !b1.ok || b1.idx != c.newest || !b0.ok || b0.idx != c.newest-1 {
		return false
	}
	lim := math.Max(float64(c.cfg.StepTolerance), 10*c.rmed)
	r1, r0 := float64(b1.p.y-c.line.At(b1.p.x)), float64(b0.p.y-c.line.At(b0.p.x))
	if r1 <= lim || r0 <= lim || math.Abs(r1-r0) > lim {
		return false
	}
	old := c.offsetAt(b0.p.y)
	host := b0.p.y
	c.start(b0.raw, host)
	c.stats[1]++
	e := schema.NewEvent(c.tb.Ref(host), schema.EvSyncStep, schema.SevWarn, c.cfg.Name,
		"device clock stepped back (samples arrive late); window restarted")
	e.Value = float64(c.offsetAt(host)-old) * 1e-9
	e.Category = "device_step"
	c.out.Push(e)
	c.setState(schema.SyncConverging, host)
	return true
}

// fit recomputes the envelope from the bins' minima and steers the published map.
func (c *Clock) fit() {
	pts := c.pts[:0]
	n := int64(len(c.bins))
	for k := c.newest - n + 1; k <= c.newest; k++ {
		if b := c.bins[mod(k, n)]; b.ok && b.idx == k {
			pts = append(pts, b.p) // in bin order, so in x order
		}
	}
	c.pts = pts
	c.nbins = len(pts)
	var xs float64
	for _, p := range pts {
		xs += float64(p.x)
	}
	xbar := xs / float64(len(pts))
	// lower hull on (x, y − x): the nominal slope removed keeps the numbers small
	hull := c.hullBuf[:0]
	for _, p := range pts {
		for len(hull) >= 2 && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	l := clock.Segment{X: hull[0].x, Y: hull[0].y, Rate: c.line.Rate}
	for i := 0; i+1 < len(hull); i++ {
		a, b := hull[i], hull[i+1]
		if float64(b.x) >= xbar || i+2 == len(hull) {
			rate := float64(b.y-a.y) / float64(b.x-a.x)
			lim := c.cfg.MaxDriftPPM * 1e-6
			rate = math.Min(math.Max(rate, 1-lim), 1+lim)
			l = clock.Segment{X: a.x, Y: a.y, Rate: rate}
			break
		}
	}
	c.hullBuf = hull
	c.line, c.hull, c.xbar = l, len(hull), xbar
	res := c.res[:0]
	for _, p := range pts {
		res = append(res, float64(p.y-l.At(p.x)))
	}
	slices.Sort(res)
	c.res = res
	c.rmed = res[len(res)/2]
	target := clock.Segment{X: l.X, Y: l.Y - int64(c.cfg.Latency), Rate: l.Rate}
	c.pub.Steer(max(c.maxX, 1), target, clock.Steer{SlewTime: int64(c.cfg.SlewTime), MaxSlew: c.cfg.MaxSlew})
	if c.nbins >= max(len(c.bins)/4, 2) {
		c.setState(schema.SyncLocked, c.lastHost)
	}
}

func cross(o, a, b pt) float64 {
	ax, ay := float64(a.x-o.x), float64((a.y-a.x)-(o.y-o.x))
	bx, by := float64(b.x-o.x), float64((b.y-b.x)-(o.y-o.x))
	return ax*by - ay*bx
}

// mapX maps device x to the reference. A counter's quantisation stays in the result:
// up to one tick.
func (c *Clock) mapX(x int64) int64 {
	if x > c.maxX {
		c.maxX = x
	}
	return c.tb.Ref(c.pub.At(x))
}

// fallback maps a sample whose device time cannot be trusted by its arrival, less a
// generous delay (3× the RMS of the delays seen) so that it rather lands early than
// late: a late guess would hold the next good samples back (the stream is monotone).
func (c *Clock) fallback(host int64) int64 {
	return c.emitOut(c.tb.Ref(host - int64(c.cfg.Latency) - int64(3*math.Sqrt(c.jit))))
}

// emitOut keeps the stream monotone.
func (c *Clock) emitOut(t int64) int64 {
	if c.outOK && t < c.lastOut {
		c.stats[2]++
		return c.lastOut
	}
	c.lastOut, c.outOK = t, true
	return t
}

func (c *Clock) setState(s schema.SyncState, host int64) {
	if s == c.state {
		return
	}
	e := schema.NewEvent(c.tb.Ref(host), schema.EvSyncState, sev(s), c.cfg.Name, c.state.String()+"→"+s.String())
	e.Category = s.String()
	c.out.Push(e)
	c.state = s
}

func sev(s schema.SyncState) schema.Severity {
	switch s {
	case schema.SyncHoldover, schema.SyncFreeRun:
		return schema.SevWarn
	case schema.SyncFault:
		return schema.SevError
	}
	return schema.SevInfo
}

// Estimate is the model's current state.
type Estimate struct {
	State       schema.SyncState
	Offset      int64   // device time minus reference time at Host, ns
	DriftPPM    float64 // device clock against the reference, ppm (positive: device fast)
	Jitter      float64 // RMS of the samples' delays above the envelope, ns
	Uncertainty float64 // bound on the mapping error at Host, ns
	Samples     int32   // accepted samples
	Host        int64
}

// Estimate returns the model at host time host.
func (c *Clock) Estimate(host int64) Estimate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.estimate(host)
}

func (c *Clock) estimate(host int64) Estimate {
	e := Estimate{State: c.state, Samples: c.samples, Host: host, Jitter: math.Sqrt(c.jit)}
	if !c.have {
		e.Uncertainty = math.Inf(1)
		return e
	}
	ref := c.tb.Ref(host)
	e.Offset = int64(float64(c.u0)*c.cfg.TickNS) + c.xAt(host+int64(c.cfg.Latency)) - ref
	refRate := float64(c.tb.Ref(host)-c.tb.Ref(host-1e9)) / 1e9
	e.DriftPPM = (1/(c.line.Rate*refRate) - 1) * 1e6
	e.Uncertainty = c.uncertainty(c.xAt(host + int64(c.cfg.Latency)))
	if u, ok := c.tb.(uncertain); ok {
		e.Uncertainty += u.Uncertainty(host)
	}
	return e
}

// uncertainty: how far above the true floor the envelope may sit (the bin minima's
// median residual), grown by the slope's leverage away from the centroid.
func (c *Clock) uncertainty(x int64) float64 {
	half := float64(c.cfg.Window) / 2
	return c.rmed * (1 + math.Abs(float64(x)-c.xbar)/half)
}

// Tick advances timers to host time now (holdover) and publishes pending events and
// a sync row when one is due to sink (nil: kept, up to a bound).
func (c *Clock) Tick(now int64, sink schema.Sink) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.have && c.state != schema.SyncHoldover && now-c.lastAccepted > int64(c.cfg.HoldoverAfter) {
		c.setState(schema.SyncHoldover, now)
	}
	if c.stats != c.reported {
		var n int64
		for i := range c.stats {
			n += c.stats[i] - c.reported[i]
		}
		c.reported = c.stats
		e := schema.NewEvent(c.tb.Ref(now), schema.EvSourceStats, schema.SevInfo, c.cfg.Name,
			"device clock: "+strconv.FormatInt(n, 10)+" samples off the envelope, reset or clamped")
		e.Count = n
		e.Category = "device_clock"
		e.Detail = `{"outliers":` + strconv.FormatInt(c.stats[0], 10) + `,"steps":` + strconv.FormatInt(c.stats[1], 10) +
			`,"clamped":` + strconv.FormatInt(c.stats[2], 10) + `,"garbage":` + strconv.FormatInt(c.stats[3], 10) + `}`
		c.out.Push(e)
	}
	if c.have && now >= c.nextRow {
		e := c.estimate(now)
		c.out.Push(&schema.SyncRow{T: c.tb.Ref(now), Source: c.cfg.Name, State: e.State, Offset: e.Offset,
			DriftPPM: e.DriftPPM, Jitter: e.Jitter, Uncertainty: e.Uncertainty, Samples: e.Samples})
		iv := int64(c.cfg.RowInterval)
		c.nextRow = now - mod(now, iv) + iv
	}
	if sink != nil {
		c.out.Drain(sink, c.cfg.Name, c.tb.Ref(now))
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
