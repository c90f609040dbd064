package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	gosync "sync"
	"time"

	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/frameset"
)

// Config configures the simulated rig. The zero value of a field means its default.
type Config struct {
	Cameras     int // 0, 4 or 8 (default 4; -1 for none)
	Width       int // camera image width, default 640
	Height      int // camera image height, default 360
	FPS         int // camera trigger rate, default 30; triggers are aligned to UTC seconds (frameset.Trigger)
	JPEGQuality int // default 75

	// Speed is how fast simulated time runs against the wall clock: 1 real time,
	// 10 ten times faster, 0 as fast as possible.
	Speed    float64
	Duration time.Duration // stop after this much simulated time (0: run until ctx ends)
	Seed     uint64        // noise seed

	// StaticFrames renders each camera's image once and sends the same JPEG for every
	// frame (benchmarks that must exclude rendering cost).
	StaticFrames bool
	// ExtraCANBuses adds buses bench0… carrying ExtraCANRate frames per second each of
	// filler traffic (benchmarks).
	ExtraCANBuses int
	ExtraCANRate  float64
	// NoTruth leaves out the truth table.
	NoTruth bool
	// RawNMEA keeps the raw sentences in the gnss table.
	RawNMEA bool

	// Scenario tunes the scripted drive (zero: its defaults).
	Scenario Scenario

	// Congested, when set, is asked every 10 ms of simulated time in as-fast-as-possible
	// mode; while it says true the simulation waits (the recorder's queues are filling),
	// so that as fast as possible never means dropped samples.
	Congested func() bool

	// Timebase maps host time to reference time; the drive starts at its "now"
	// unless Start is set (reference ns).
	Timebase clock.Timebase
	Start    int64

	// Clocks gives every simulated source its own clock and transport, and maps their
	// samples back with the estimators of the real sources, onto Timebase (nil: every t
	// is true time and t_host the machine's clock). Discipline, when set, is the
	// reference clock the simulated PPS edges discipline; the rig ticks it (and the
	// sources' clock models) with the simulated host time, Clocks.HostNow.
	Clocks     *Clocks
	Discipline Discipline
}

// Rig is the simulated rig: one scenario driving every sensor.
type Rig struct {
	cfg    Config
	cams   []Camera
	actors []*Actor
	lap    float64 // how far the ego travels in one period
	msgs   map[string]*message
}

// New checks the configuration and prepares the rig.
func New(cfg Config) (*Rig, error) {
	switch cfg.Cameras {
	case 0:
		cfg.Cameras = 4
	case -1:
		cfg.Cameras = 0
	case 4, 8:
	default:
		return nil, fmt.Errorf("simulated rig: %d cameras (want 4 or 8)", cfg.Cameras)
	}
	if cfg.Width == 0 {
		cfg.Width = 640
	}
	if cfg.Height == 0 {
		cfg.Height = 360
	}
	if cfg.Width < 16 || cfg.Height < 16 || cfg.Width > 8192 || cfg.Height > 8192 {
		return nil, fmt.Errorf("simulated rig: camera size %dx%d out of range", cfg.Width, cfg.Height)
	}
	if cfg.FPS == 0 {
		cfg.FPS = 30
	}
	if cfg.FPS < 1 || cfg.FPS > 240 {
		return nil, fmt.Errorf("simulated rig: %d fps out of range", cfg.FPS)
	}
	if cfg.JPEGQuality == 0 {
		cfg.JPEGQuality = 75
	}
	if cfg.Speed < 0 {
		return nil, fmt.Errorf("simulated rig: speed %v is negative", cfg.Speed)
	}
	if cfg.Timebase == nil {
		cfg.Timebase = cfg.Discipline
	}
	if cfg.Timebase == nil {
		cfg.Timebase = clock.NewSystem()
	}
	if cfg.Clocks != nil {
		cfg.Clocks.TriggerRate = cfg.FPS
	}
	msgs, err := loadDBC()
	if err != nil {
		return nil, err
	}
	r := &Rig{cfg: cfg, actors: cfg.Scenario.Actors(), lap: cfg.Scenario.Ego(Period).X, msgs: msgs}
	if cfg.Cameras > 0 {
		r.cams = Cameras(cfg.Cameras, cfg.Width, cfg.Height)
	}
	return r, nil
}

// Cameras returns the rig's cameras with their calibration.
func (r *Rig) Cameras() []Camera { return r.cams }

// Name identifies the source.
func (r *Rig) Name() string { return "sim" }

// camJob asks a camera goroutine to render one frame.
type camJob struct {
	t, seq, trigger int64
	thost, tdev     int64 // arrival (0: when published) and kernel stamp (0: none)
	w               *World
}

// Run plays the scenario into sink until Duration of simulated time has passed or ctx
// ends. Samples are published in time order per sensor; t is the drive's reference
// time: true time (Start + simulated time), or with Clocks its estimate, as the real
// sources make it.
func (r *Rig) Run(ctx context.Context, sink schema.Sink) error {
	cfg := r.cfg
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	const step = int64(time.Millisecond)
	end := int64(math.MaxInt64)
	if cfg.Duration > 0 {
		end = int64(cfg.Duration)
	}

	// one goroutine per camera owns its renderer
	var wg gosync.WaitGroup
	jobs := make([]chan camJob, len(r.cams))
	for i := range r.cams {
		jobs[i] = make(chan camJob, 2)
		wg.Add(1)
		go func(c Camera, in <-chan camJob) {
			defer wg.Done()
			rd := newRenderer(c, cfg.JPEGQuality)
			var static []byte
			for j := range in {
				var data []byte
				if cfg.StaticFrames {
					if static == nil {
						static = rd.render(j.w)
					}
					data = static
				} else {
					data = rd.render(j.w)
				}
				if j.thost == 0 {
					j.thost = clock.HostNow()
				}
				sink.Publish(&schema.VideoFrame{Frame: schema.Frame{
					T: j.t, TDevice: j.tdev, THost: j.thost, Camera: c.Index, Seq: j.seq, TriggerID: j.trigger,
					ExposureUS: 2000, Codec: schema.CodecMJPEG, Width: uint16(c.Width), Height: uint16(c.Height), Keyframe: true,
				}, Data: data})
			}
		}(r.cams[i], jobs[i])
	}
	defer func() {
		for _, j := range jobs {
			close(j)
		}
		wg.Wait()
	}()
	send := func(cam int, j camJob) {
		select {
		case jobs[cam] <- j:
		case <-ctx.Done():
		}
	}
	var tm timing = &idealTiming{cfg: cfg, sink: sink, send: send}
	if cfg.Clocks != nil {
		tm = newClockTiming(cfg, sink, send)
	}
	t0 := tm.start()

	// Camera triggers fire on the rig's trigger model: cfg.FPS a second, aligned to the
	// UTC second, so trigger ids are global (frameset.Trigger).
	trig := frameset.Trigger{Rate: cfg.FPS}
	trigger, _ := trig.Nearest(t0)
	if trig.Time(trigger) < t0 {
		trigger++
	}
	nextFrame := trig.Time(trigger) - t0
	frameSeq := int64(0)
	canNext := make([]int64, len(canSchedule))
	canCount := make([]int64, len(canSchedule))
	extraPeriod := int64(0)
	if cfg.ExtraCANBuses > 0 && cfg.ExtraCANRate > 0 {
		extraPeriod = int64(1e9 / cfg.ExtraCANRate)
	}
	extraNext, extraCount := int64(0), int64(0)
	var gnssErrN, gnssErrE float64
	accBias := [3]float64{0.03, -0.02, 0.05}
	gyroBias := [3]float64{0.002, -0.001, 0.0015}

	wallStart := time.Now()
	for sim := int64(0); sim < end; sim += step {
		if sim%(10*step) == 0 {
			if err := ctx.Err(); err != nil {
				return nil
			}
			if cfg.Speed == 0 && cfg.Congested != nil {
				for cfg.Congested() {
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(time.Millisecond):
					}
				}
			}
			if cfg.Speed > 0 {
				target := wallStart.Add(time.Duration(float64(sim) / cfg.Speed))
				if d := time.Until(target); d > 0 {
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(d):
					}
				}
			}
		}
		t := t0 + sim
		tm.advance(t)
		secs := float64(sim) / 1e9
		lap := math.Floor(secs / Period)
		s := secs - lap*Period
		ego := cfg.Scenario.Ego(s)
		w := &World{T: secs, S: s, Ego: ego, EgoX: ego.X + lap*r.lap}

		// IMU, 1 kHz
		tm.imu(t, &schema.IMU{Sensor: "sim",
			AX:   float32(ego.A + accBias[0] + rng.NormFloat64()*0.04),
			AY:   float32(accBias[1] + rng.NormFloat64()*0.04),
			AZ:   float32(9.80665 + accBias[2] + rng.NormFloat64()*0.05),
			GX:   float32(gyroBias[0] + rng.NormFloat64()*0.003),
			GY:   float32(gyroBias[1] + rng.NormFloat64()*0.003),
			GZ:   float32(0.02*math.Sin(secs*0.7)*math.Pi/180 + gyroBias[2] + rng.NormFloat64()*0.003),
			Temp: float32(34 + secs/600), MX: schema.NaN32(), MY: schema.NaN32(), MZ: schema.NaN32()})

		// CAN, both buses; an ego row whenever the speed message goes out
		for i, c := range canSchedule {
			if sim < canNext[i] {
				continue
			}
			canNext[i] += c.period
			m := r.msgs[c.msg]
			data, err := m.encode(signals(c.msg, w, canCount[i]))
			if err != nil {
				return err
			}
			canCount[i]++
			var ego *schema.Ego
			if c.msg == "SPEED" {
				ego = egoOf(w, t)
			}
			tm.can(t, &schema.CAN{Bus: c.bus, ID: m.id, Ext: m.ext, DLC: uint8(len(data)), Data: data}, ego)
		}
		for extraPeriod > 0 && sim >= extraNext {
			for b := 0; b < cfg.ExtraCANBuses; b++ {
				d := []byte{byte(extraCount), byte(extraCount >> 8), byte(b), 0, 1, 2, 3, 4}
				tm.can(t, &schema.CAN{Bus: fmt.Sprintf("bench%d", b), ID: 0x100 + uint32(extraCount%256), DLC: 8, Data: d}, nil)
			}
			extraCount++
			extraNext += extraPeriod
		}

		// GNSS, 10 Hz, with a slowly wandering error
		if sim%(100*step) == 0 {
			gnssErrN += rng.NormFloat64()*0.05 - gnssErrN*0.02
			gnssErrE += rng.NormFloat64()*0.05 - gnssErrE*0.02
			ep := epoch(t, w.EgoX+EgoLength/2, ego.V, gnssErrN, gnssErrE, rng.NormFloat64()*0.3, GNSSOutage(s), cfg.RawNMEA)
			n := 0
			for _, x := range ep.sentences {
				n += len(x) + 2
			}
			tm.gnss(t, ep.row, n)
		}

		// Cameras and truth at the trigger rate
		if sim >= nextFrame {
			tf := t0 + nextFrame
			full := cfg.Scenario.At(r.actors, float64(nextFrame)/1e9)
			for i := range r.cams {
				tm.frame(i, tf, camJob{seq: frameSeq, trigger: trigger, w: &full})
				if ctx.Err() != nil {
					return nil
				}
			}
			if !cfg.NoTruth {
				for _, tr := range r.truth(&full, tf, trigger) {
					sink.Publish(tr)
				}
			}
			frameSeq++
			trigger++
			nextFrame = trig.Time(trigger) - t0
		}
	}
	tm.finish()
	return nil
}

// truth returns the truth rows of one frame set.
func (r *Rig) truth(w *World, t, trigger int64) []schema.Sample {
	var out []schema.Sample
	front := w.Ego.X + EgoLength/2 // actor positions are within the lap
	var cipv *schema.Truth
	for i := range w.Actors {
		a := &w.Actors[i]
		dist := a.X - a.Length/2 - front
		if dist < 0 {
			dist = a.X + a.Length/2 - (w.Ego.X - EgoLength/2) // behind: negative gap to the rear
			if dist > 0 {
				dist = 0
			}
		}
		rel := a.VX - w.Ego.V
		ttc := schema.NaN32()
		if rel < -0.01 && dist > 0 {
			ttc = float32(-dist / rel)
		}
		lane := laneOf(a.Y)
		st := &schema.Truth{T: t, TriggerID: trigger, ActorID: a.ID, Kind: schema.ActorKind(a.Kind), Camera: schema.TruthNoCamera,
			X1: schema.NaN32(), Y1: schema.NaN32(), X2: schema.NaN32(), Y2: schema.NaN32(),
			Distance: float32(dist), Lateral: float32(a.Y), RelSpeed: float32(rel), TTC: ttc, Width: float32(a.Width), Lane: lane,
			CutIn: a.Kind != 3 && dist > 0 && math.Abs(a.Y) > 0.2 && a.Y*a.VY < 0 && math.Abs(a.Y) < LaneWidth+0.5}
		if lane == schema.LaneEgo && dist > 0 && a.Kind != 3 && (cipv == nil || dist < float64(cipv.Distance)) {
			cipv = st
		}
		out = append(out, st)
		for ci := range r.cams {
			c := &r.cams[ci]
			b, _, ok := c.actorBox(a.X-front, a.Y, a.Length, a.Width, a.Height)
			if !ok {
				continue
			}
			row := *st
			row.Camera = c.Index
			row.X1, row.Y1, row.X2, row.Y2 = float32(b.x1), float32(b.y1), float32(b.x2), float32(b.y2)
			out = append(out, &row)
		}
	}
	if cipv != nil {
		cipv.InPath = true
		for _, s := range out {
			if tr := s.(*schema.Truth); tr.ActorID == cipv.ActorID {
				tr.InPath = true
			}
		}
	}
	return out
}

func laneOf(y float64) schema.Lane {
	switch {
	case math.Abs(y) <= LaneWidth/2:
		return schema.LaneEgo
	case y > LaneWidth/2 && y <= 1.5*LaneWidth:
		return schema.LaneLeft
	case y < -LaneWidth/2 && y >= -1.5*LaneWidth:
		return schema.LaneRight
	}
	return schema.LaneOther
}
