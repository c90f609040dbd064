package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"roadlog/acquire/camera"
	"roadlog/acquire/can"
	"roadlog/acquire/gnss"
	"roadlog/acquire/gnss/pps"
	"roadlog/acquire/imu"
	"roadlog/acquire/sim"
	"roadlog/dbc"
	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/gpu"
	"roadlog/detect/live"
	"roadlog/detect/pipeline"
	"roadlog/detect/ranging"
	"roadlog/detect/truthdet"
	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/rig"
	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/frameset"
	"roadlog/sync/reference"
)

// namedSource is one input of the rig, run under the recorder's supervisor.
type namedSource struct {
	name string
	src  record.Source
}

// setup is everything a recording needs besides the engine: the rig's sources and
// what the manifest records about it. It is built from --sim or from a rig file.
type setup struct {
	vehicle   string
	simulated bool
	sources   []namedSource
	cameras   []drive.Camera
	calib     map[uint8]ranging.Calibration
	trigger   frameset.Trigger
	dbcFiles  []string
	rigYAML   []byte
	extra     json.RawMessage
	tbKind    string
	refTicked bool         // a source ticks the reference clock itself (the simulated rig, on its own host time)
	opts      rig.Recorder // recorder settings from the rig file (zero: flags decide)
	cleanup   func()
	stopLive  func()         // set by live: stops detection and waits for its last rows; record and serve call it before they close the drive
	rawCams   []*camera.V4L2 // capture cameras whose pictures the recorder encodes (live asks them to keep the pictures for the detector)
}

// rigFlags are the flags record and serve share: which rig, and how its drives are
// written.
type rigFlags struct {
	sim         bool
	rig         string
	detector    string
	cameras     int
	size        string
	out         string
	vehicle     string
	seed        uint64
	segment     time.Duration
	flush       time.Duration
	compression string
	loop        bool
	minFreeMB   int64
}

// addRigFlags declares the shared flags on c; verb ("record" or "serve") and
// detectorHelp word their help.
func addRigFlags(c *cobra.Command, f *rigFlags, verb, detectorHelp string) {
	fl := c.Flags()
	fl.BoolVar(&f.sim, "sim", false, verb+" the simulated rig (the embedded default rig)")
	fl.StringVar(&f.rig, "rig", "", verb+" the rig this YAML file describes (see docs/format/rig.md)")
	fl.StringVar(&f.detector, "detector", "truth", detectorHelp)
	fl.IntVar(&f.cameras, "cameras", 4, "simulated cameras: 4 or 8 (0 for none)")
	fl.StringVar(&f.size, "camera-size", "640x360", "simulated camera image size, WxH")
	fl.StringVar(&f.out, "out", "drives", "folder that holds drives")
	fl.StringVar(&f.vehicle, "vehicle", "", "vehicle name in drive ids (default: the rig's, sim with --sim)")
	fl.Uint64Var(&f.seed, "seed", 1, "simulation noise seed")
	fl.DurationVar(&f.segment, "segment", 60*time.Second, "segment length")
	fl.DurationVar(&f.flush, "flush", 500*time.Millisecond, "longest a row waits before it is written (at most 1s): the most a crash loses")
	fl.StringVar(&f.compression, "compression", "zstd", "Arrow buffer compression: zstd, zstd-small (every buffer compressed: smaller tables, slower to read), lz4 or none")
	fl.BoolVar(&f.loop, "loop", false, "when the disk runs low, delete the oldest segments that hold no driver mark")
	fl.Int64Var(&f.minFreeMB, "min-free-mb", 256, "stop cleanly when free disk space falls below this")
}

// check rejects shared flags that cannot go together.
func (f *rigFlags) check(verb string) error {
	if f.sim == (f.rig != "") {
		return usagef("say what to %s: --sim for the simulated rig, or --rig FILE for a real one", verb)
	}
	if strings.ContainsAny(f.vehicle, `/\ `) {
		return usagef("--vehicle %q: no slashes or spaces", f.vehicle)
	}
	return nil
}

// build makes the reference timebase and the rig the flags name: the simulated rig
// with so (cameras, size, seed and clocks from the flags), or the rig file, whose
// default detector is cnn. congested is the engine's backpressure, asked only once
// the sources run. The caller runs s.cleanup when it is set.
func (f *rigFlags) build(cmd *cobra.Command, so simOptions, idealClocks bool) (*setup, *reference.Clock, error) {
	ref, clocks := newReference(f.sim, idealClocks, f.seed)
	var s *setup
	var err error
	if f.sim {
		if so.cameras, so.width, so.height, err = simCameras(f.cameras, f.size); err != nil {
			return nil, nil, err
		}
		so.seed, so.clocks = f.seed, clocks
		s, err = simSetup(so, ref)
	} else {
		if !cmd.Flags().Changed("detector") {
			f.detector = "cnn"
		}
		s, err = rigSetup(f.rig, ref, so.congested)
	}
	if err != nil {
		return nil, nil, err
	}
	if f.vehicle != "" {
		s.vehicle = f.vehicle
	}
	return s, ref, nil
}

// engineOptions are the recorder's options from the shared flags; the rig file's
// recorder settings apply where the flag was not given.
func (f *rigFlags) engineOptions(cmd *cobra.Command, s *setup, ref *reference.Clock, log *slog.Logger) record.Options {
	opt := record.Options{Root: f.out, Vehicle: s.vehicle, SegmentDuration: f.segment, FlushInterval: f.flush,
		Compression: record.Compression(f.compression), Loop: f.loop, MinFreeBytes: f.minFreeMB << 20, Timebase: ref,
		TimebaseKind: s.tbKind, Log: log, Software: version, Simulated: s.simulated, Cameras: s.cameras,
		DBCFiles: s.dbcFiles, RigYAML: s.rigYAML, Extra: s.extra}
	changed := cmd.Flags().Changed
	if !changed("segment") && s.opts.Segment > 0 {
		opt.SegmentDuration = s.opts.Segment
	}
	if !changed("flush") && s.opts.FlushInterval > 0 {
		opt.FlushInterval = min(s.opts.FlushInterval, time.Second)
	}
	if !changed("compression") && s.opts.Compression != "" {
		opt.Compression = record.Compression(s.opts.Compression)
	}
	return opt
}

type simOptions struct {
	cameras, width, height int
	speed                  float64
	duration               time.Duration
	seed                   uint64
	static                 bool
	extraBuses             int
	extraRate              float64
	congested              func() bool // the engine's backpressure
	clocks                 *sim.Clocks // the rig's own clocks (nil: every t is true time)
}

// simSetup builds the simulated rig.
func simSetup(o simOptions, ref *reference.Clock) (*setup, error) {
	cfg := sim.Config{Cameras: o.cameras, Width: o.width, Height: o.height, Speed: o.speed, Duration: o.duration,
		Seed: o.seed, StaticFrames: o.static, Timebase: ref, RawNMEA: true, ExtraCANBuses: o.extraBuses, ExtraCANRate: o.extraRate,
		Congested: o.congested}
	if o.clocks != nil {
		cfg.Clocks, cfg.Discipline = o.clocks, ref
	}
	r, err := sim.New(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	s := &setup{vehicle: "sim", simulated: true, sources: []namedSource{{"sim", r}}, calib: map[uint8]ranging.Calibration{},
		trigger: frameset.Trigger{Rate: 30}, tbKind: "host"}
	if o.clocks != nil {
		s.tbKind, s.refTicked = "gnss_pps", true
	}
	for _, c := range r.Cameras() {
		s.cameras = append(s.cameras, drive.Camera{Index: c.Index, Name: c.Name, Codec: "mjpeg", Width: c.Width, Height: c.Height, FPS: 30})
		s.calib[c.Index] = ranging.Calibration{Width: c.Width, Height: c.Height, Fx: c.FX, Fy: c.FY, Cx: c.CX, Cy: c.CY,
			MountHeight: c.Z, Pitch: c.Pitch * math.Pi / 180, Yaw: c.Yaw * math.Pi / 180, X: c.X, Y: c.Y}
	}
	extra := map[string]any{"scenario": "roadlog-sim-1", "seed": o.seed, "calibration": r.Cameras()}
	if o.clocks != nil {
		extra["clocks"] = o.clocks // the truth of every time estimate (sim.Clocks.Truth)
	}
	s.extra, _ = json.Marshal(extra)
	dir, err := os.MkdirTemp("", "roadlog-")
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, sim.DBCName)
	if err := os.WriteFile(p, sim.DBC, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.dbcFiles = []string{p}
	s.cleanup = func() { os.RemoveAll(dir) }
	return s, nil
}

// rigSetup builds the sources a rig file describes; congested is the engine's
// backpressure for file cameras played fast. A rig file with problems is a usage
// error naming the key and line.
func rigSetup(path string, ref *reference.Clock, congested func() bool) (*setup, error) {
	r, err := rig.Load(path)
	if err == nil {
		err = errors.Join(r.CheckCameras(), r.CheckFiles())
	}
	if err != nil {
		return nil, usageError{err}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &setup{vehicle: r.Vehicle, rigYAML: raw, calib: map[uint8]ranging.Calibration{}, trigger: frameset.Trigger{Rate: 30},
		tbKind: "host", opts: r.Recorder}
	if r.Trigger != nil {
		s.trigger = frameset.Trigger{Rate: int(math.Round(r.Trigger.RateHz)), Phase: r.Trigger.Phase}
	} else {
		// free-running cameras: frame sets at the fastest camera's rate
		fps := 0.0
		for _, c := range r.Cameras {
			fps = math.Max(fps, c.FPS)
		}
		if fps >= 1 {
			s.trigger.Rate = int(math.Round(fps))
		}
	}
	for _, b := range r.CAN {
		cfg := can.Config{Bus: b.Name, Kind: can.Kind(b.Kind), Address: b.Address, Bitrate: b.Bitrate, DataBitrate: b.DataBitrate,
			Baud: b.Baud, FD: b.DataBitrate > 0, ErrorFrames: true}
		switch b.Kind {
		case rig.CANSocketCAN:
			cfg.Device = b.Device
		case rig.CANSLCAN:
			cfg.Device = b.Port
		case rig.CANCandump:
			cfg.Device = r.Resolve(b.File)
			if b.Realtime {
				cfg.Rate = 1
			}
		}
		for _, f := range b.Filters {
			cfg.Filters = append(cfg.Filters, can.Filter{ID: f.ID, Mask: f.Mask, Extended: f.Extended, Invert: f.Invert})
		}
		for _, d := range b.DBC {
			cfg.DBC = append(cfg.DBC, r.Resolve(d))
			s.dbcFiles = append(s.dbcFiles, r.Resolve(d))
		}
		for col, sig := range b.Ego {
			msg, name, _ := strings.Cut(sig.Signal, ".")
			es := dbc.EgoSignal{Column: col, Message: msg, Signal: name, Scale: sig.Scale, Offset: sig.Offset}
			if len(sig.Values) > 0 {
				es.Values = map[string]string{}
				for k, v := range sig.Values {
					es.Values[strconv.FormatInt(k, 10)] = v
				}
			}
			cfg.Ego = append(cfg.Ego, es)
		}
		src, err := can.New(cfg, ref)
		if err != nil {
			return nil, fmt.Errorf("CAN bus %s: %w", b.Name, err)
		}
		s.sources = append(s.sources, namedSource{"can/" + b.Name, src})
	}
	for _, g := range r.GNSS {
		src, err := gnss.FromRig(g, ref)
		if err != nil {
			return nil, fmt.Errorf("GNSS %s: %w", g.Name, err)
		}
		s.sources = append(s.sources, namedSource{"gnss/" + g.Name, src})
		if g.PPS != "" {
			s.tbKind = "gnss_pps"
			p := &pps.Source{Device: g.PPS, Name: g.Name + "/pps", Timebase: ref,
				OnEdge: func(e pps.Edge) { ref.Edge(reference.Edge{Host: e.Host, Seq: uint64(e.Seq)}) }}
			s.sources = append(s.sources, namedSource{"pps/" + g.Name, p})
		}
	}
	for _, m := range r.IMU {
		src, err := imu.FromRig(m, ref)
		if err != nil {
			return nil, fmt.Errorf("IMU %s: %w", m.Name, err)
		}
		s.sources = append(s.sources, namedSource{"imu/" + m.Name, src})
	}
	if err := s.addCameras(r, ref, congested); err != nil {
		return nil, err
	}
	return s, nil
}

// live wires what runs beside the sources: the frame-set stage (trigger ids, frame
// sets), the detector (truth-fed in simulated drives, or none), the reference clock's
// sync rows, and the GNSS time labels for the PPS discipline. It returns the sink the
// sources publish into.
func (s *setup) live(ctx context.Context, eng *record.Engine, ref *reference.Clock, detector string, seed uint64) (schema.Sink, error) {
	next := schema.Sink(eng)
	var tagger *live.Tagger
	var decoders map[uint8]*live.StreamDecoder // by camera
	// Detection stops before the recorder does, so that its last rows and its final
	// detector_stats and drop events reach the drive.
	lctx, lcancel := context.WithCancel(ctx)
	ran := make(chan struct{})
	s.stopLive = func() {
		lcancel()
		select {
		case <-ran:
		case <-time.After(5 * time.Second): // a detector stuck in a frame: leave it
		}
	}
	switch detector {
	case "none":
		close(ran)
	case "cnn":
		// the GPU engine batching the cameras of a frame set where it can run, else the CPU
		// engine (gpu.NewDetector logs why)
		d, err := gpu.NewDetector(centernet.Config{Thresholds: detect.RoadThresholds()},
			gpu.DetectorOptions{Device: gpu.DeviceAuto, Batch: max(len(s.calib), 1), CPU: cpu.Options{}})
		if err != nil {
			return nil, fmt.Errorf("load the detector: %w", err)
		}
		p := pipeline.New(pipeline.Config{Cameras: s.calib})
		runner := pipeline.NewRunner(live.Images(d), p, pipeline.RunnerConfig{})
		for _, c := range s.rawCams { // their raw pictures go to the detector as they are: no decoder
			c.Encoder.KeepPicture = true
		}
		// cameras whose frames arrive encoded as H.264/H.265 (pipe, RTSP, file, a V4L2
		// device's own encoder): a decoder each, fed every frame before the frame-set stage
		decoders = map[uint8]*live.StreamDecoder{}
		for _, c := range s.cameras {
			if c.Codec == "h264" || c.Codec == "h265" {
				decoders[c.Index] = &live.StreamDecoder{}
			}
		}
		tagger = live.New(runner)
		go func() {
			runner.Run(lctx, eng)
			d.Close()
			for cam, dec := range decoders {
				dec.Close()
				decoderEvents(eng, cam, dec)
			}
			close(ran)
		}()
		next = tagger.Sink(eng)
	case "truth":
		if !s.simulated {
			return nil, usagef("--detector truth needs the simulated rig (--sim): real drives have no truth")
		}
		det := truthdet.New(truthdet.Config{Seed: seed})
		p := pipeline.New(pipeline.Config{Cameras: s.calib, Ranging: det.Ranging()})
		runner := pipeline.NewRunner(det, p, pipeline.RunnerConfig{})
		tagger = live.New(runner)
		go func() {
			runner.Run(lctx, eng)
			close(ran)
		}()
		next = tagger.Sink(eng)
	default:
		return nil, usagef("--detector %q: want cnn, truth or none", detector)
	}
	emit := func(*frameset.Set) {}
	if tagger != nil {
		emit = func(set *frameset.Set) {
			fs := &pipeline.FrameSet{T: set.T, TriggerID: set.TriggerID}
			for _, m := range set.Members {
				fr := pipeline.Frame{Camera: m.Camera, Seq: m.Frame.Seq, Width: int(m.Frame.Width), Height: int(m.Frame.Height)}
				switch {
				case m.Frame.Codec == schema.CodecMJPEG:
					fr.JPEG = m.Frame.Data // read-only share: the recorder never changes frame bytes
				case m.Picture != nil:
					fr.Image = m.Picture // a raw capture camera's picture, before the recorder encoded it
				case decoders[m.Camera] != nil:
					dec, seq := decoders[m.Camera], m.Frame.Seq
					fr.Picture = func(ctx context.Context) (image.Image, error) { return dec.Picture(ctx, seq) }
				}
				fs.Frames = append(fs.Frames, fr)
			}
			tagger.Submit(fs)
		}
	}
	var sink schema.Sink = next
	if len(s.cameras) > 0 {
		stage := record.NewFrameSets(frameset.Config{Trigger: s.trigger, Cameras: len(s.cameras), Timebase: ref}, next, emit)
		go stage.Run(ctx)
		sink = stage
		if len(decoders) > 0 {
			sink = schema.SinkFunc(func(smp schema.Sample) {
				// every encoded frame, in order, with its picture (raw cameras') still on it
				if vf, ok := smp.(*schema.VideoFrame); ok && vf.Picture == nil && decoders[vf.Camera] != nil {
					decoders[vf.Camera].Feed(vf)
				}
				stage.Publish(smp)
			})
		}
	}
	if !s.refTicked {
		go ref.Run(ctx, eng)
	}
	// GNSS fixes date the PPS edges (RMC/ZDA time of a valid fix, with its arrival).
	return schema.SinkFunc(func(smp schema.Sample) {
		if g, ok := smp.(*schema.GNSS); ok && g.TDevice != 0 && g.Quality != schema.FixInvalid {
			ref.UTC(reference.UTCTime{Host: g.THost, UTC: g.TDevice})
		}
		sink.Publish(smp)
	}), nil
}

// run starts every source under the supervisor and returns a channel that is closed
// when all of them have finished (a simulation or a file played to its end).
func (s *setup) run(ctx context.Context, sink schema.Sink, tb clock.Timebase) <-chan struct{} {
	sup := &record.Supervisor{Sink: sink, Timebase: tb}
	done := make(chan struct{})
	left := make(chan struct{}, len(s.sources))
	for _, ns := range s.sources {
		go func(ns namedSource) {
			sup.Run(ctx, ns.name, ns.src)
			left <- struct{}{}
		}(ns)
	}
	go func() {
		for range s.sources {
			<-left
		}
		close(done)
	}()
	return done
}

// newReference makes the drive's reference timebase: the host clock until a PPS
// discipline locks it. The simulated rig (unless ideal) brings its own clocks, whose
// host clock runs with the simulation; they are returned for simSetup.
func newReference(simulated, ideal bool, seed uint64) (*reference.Clock, *sim.Clocks) {
	wall := clock.NewSystem()
	cfg := reference.Config{Start: wall}
	var clocks *sim.Clocks
	if simulated && !ideal {
		clocks = sim.NewClocks(seed, wall)
		cfg.Now, cfg.EdgeJitter = clocks.HostNow, time.Duration(clocks.PPSJitter)
	}
	return reference.New(cfg), clocks
}

// simCameras checks the simulated camera flags: 4 or 8 cameras (0: none, returned as
// -1 for sim.Config) and a WxH size.
func simCameras(n int, size string) (cams, w, h int, err error) {
	switch n {
	case 0:
		n = -1
	case 4, 8:
	default:
		return 0, 0, 0, usagef("--cameras %d: want 4 or 8 (or 0)", n)
	}
	if _, err := fmt.Sscanf(size, "%dx%d", &w, &h); err != nil || w <= 0 || h <= 0 {
		return 0, 0, 0, usagef("--camera-size %q: want WxH, e.g. 640x360", size)
	}
	return n, w, h, nil
}

// decoderEvents writes, when a drive's live detection ends, what a camera's live
// decoder could not give the detector (the recorder kept every frame): frames it
// dropped up to the next keyframe because ffmpeg fell behind (a drop event,
// category decoder_behind), and frames that gave no picture (a source_error,
// category undecodable).
func decoderEvents(eng *record.Engine, cam uint8, dec *live.StreamDecoder) {
	detail := fmt.Sprintf(`{"camera":%d}`, cam)
	if n := dec.Dropped(); n > 0 {
		ev := schema.NewEvent(eng.Now(), schema.EvDrop, schema.SevWarn, "detector",
			fmt.Sprintf("camera %d: %d frames not decoded for the detector: ffmpeg fell behind", cam, n))
		ev.Count, ev.Category, ev.Detail = n, "decoder_behind", detail
		eng.Publish(ev)
	}
	if n := dec.Undecodable(); n > 0 {
		ev := schema.NewEvent(eng.Now(), schema.EvSourceError, schema.SevWarn, "detector",
			fmt.Sprintf("camera %d: %d frames gave no picture to the live decoder", cam, n))
		ev.Count, ev.Category, ev.Detail = n, "undecodable", detail
		eng.Publish(ev)
	}
}
