package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"roadlog/record"
	"roadlog/record/drive"
)

type recordFlags struct {
	sim          bool
	rig          string
	detector     string
	cameras      int
	size         string
	duration     time.Duration
	out          string
	vehicle      string
	speed        float64
	segment      time.Duration
	segmentMB    int64
	flush        time.Duration
	compression  string
	staticFrames bool
	seed         uint64
	loop         bool
	minFreeMB    int64
	quiet        bool
	extraBuses   int
	extraRate    float64
	idealClocks  bool
}

func newRecordCmd() *cobra.Command {
	var f recordFlags
	c := &cobra.Command{
		Use:   "record --sim | --rig FILE [flags]",
		Short: "Record a drive (the simulated rig with --sim)",
		Long: `Record a drive into a new folder under --out: Arrow tables (can, gnss, imu, ego,
frames, objects, targets, events, truth, sync) and one MP4 per camera, in segments of
--segment length, with a manifest. Any drive left unfinished in --out by a crash is
repaired first. Stop with Ctrl-C (the drive is closed cleanly) or --duration.

--sim records the simulated rig: a scripted scenario (lead car braking hard, cut-ins
from both sides, a pedestrian crossing, a GNSS outage) driving simulated CAN, GNSS,
IMU and 4 or 8 cameras, with ground truth. It needs no hardware.`,
		Example: `  roadlog record --sim --duration 30s --out drives
  roadlog record --rig examples/car-8cam.yaml --out /data/drives
  roadlog record --sim --cameras 8 --speed 0 --duration 5m --out drives   # as fast as possible`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runRecord(cmd, f) },
	}
	fl := c.Flags()
	fl.BoolVar(&f.sim, "sim", false, "record the simulated rig (the embedded default rig)")
	fl.StringVar(&f.rig, "rig", "", "record the rig this YAML file describes (see docs/format/rig.md)")
	fl.StringVar(&f.detector, "detector", "truth", "live detector: cnn (the CenterNet COCO model on the CPU; the default with --rig), truth (simulated drives: the scenario's true boxes with realistic noise, misses and false alarms; the default with --sim because a COCO network does not take the simulator's flat shapes for cars) or none")
	fl.IntVar(&f.cameras, "cameras", 4, "simulated cameras: 4 or 8 (0 for none)")
	fl.StringVar(&f.size, "camera-size", "640x360", "simulated camera image size, WxH")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this much drive time (0: until Ctrl-C)")
	fl.StringVar(&f.out, "out", "drives", "folder that holds drives")
	fl.StringVar(&f.vehicle, "vehicle", "", "vehicle name in the drive id (default: the rig's, sim with --sim)")
	fl.Float64Var(&f.speed, "speed", 1, "simulation speed: 1 real time, N times faster, 0 as fast as possible")
	fl.DurationVar(&f.segment, "segment", 60*time.Second, "segment length")
	fl.Int64Var(&f.segmentMB, "segment-mb", 0, "also start a new segment after this many MB (0: no limit)")
	fl.DurationVar(&f.flush, "flush", 500*time.Millisecond, "longest a row waits before it is written (at most 1s): the most a crash loses")
	fl.StringVar(&f.compression, "compression", "zstd", "Arrow buffer compression: zstd, lz4 or none")
	fl.BoolVar(&f.staticFrames, "static-frames", false, "simulation: render each camera once and repeat the JPEG (benchmarks)")
	fl.Uint64Var(&f.seed, "seed", 1, "simulation noise seed")
	fl.BoolVar(&f.loop, "loop", false, "when the disk runs low, delete the oldest segments that hold no driver mark")
	fl.Int64Var(&f.minFreeMB, "min-free-mb", 256, "stop cleanly when free disk space falls below this")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress line")
	fl.IntVar(&f.extraBuses, "sim-extra-can-buses", 0, "simulation: extra CAN buses of filler traffic (benchmarks)")
	fl.Float64Var(&f.extraRate, "sim-extra-can-rate", 2000, "simulation: frames per second on each extra bus")
	fl.BoolVar(&f.idealClocks, "sim-ideal-clocks", false, "simulation: every t is true time (no simulated device clocks, transports, PPS discipline or sync rows of the sources)")
	return c
}

func runRecord(cmd *cobra.Command, f recordFlags) error {
	if f.sim == (f.rig != "") {
		return usagef("say what to record: --sim for the simulated rig, or --rig FILE for a real one")
	}
	if f.speed < 0 {
		return usagef("--speed %v: must be 0 (as fast as possible) or positive", f.speed)
	}
	if f.duration < 0 {
		return usagef("--duration %v is negative", f.duration)
	}
	if strings.ContainsAny(f.vehicle, `/\ `) {
		return usagef("--vehicle %q: no slashes or spaces", f.vehicle)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ref, clocks := newReference(f.sim, f.idealClocks, f.seed)
	var s *setup
	var err error
	var eng *record.Engine // set before any source starts
	if f.sim {
		var w, h int
		if f.cameras, w, h, err = simCameras(f.cameras, f.size); err != nil {
			return err
		}
		s, err = simSetup(simOptions{cameras: f.cameras, width: w, height: h, speed: f.speed, duration: f.duration,
			seed: f.seed, static: f.staticFrames, extraBuses: f.extraBuses, extraRate: f.extraRate, clocks: clocks,
			congested: func() bool { return eng.Congested() }}, ref)
	} else {
		if !cmd.Flags().Changed("detector") {
			f.detector = "cnn"
		}
		s, err = rigSetup(f.rig, ref)
	}
	if err != nil {
		return err
	}
	if s.cleanup != nil {
		defer s.cleanup()
	}
	if f.vehicle != "" {
		s.vehicle = f.vehicle
	}
	opt := record.Options{Root: f.out, Vehicle: s.vehicle, SegmentDuration: f.segment, SegmentBytes: f.segmentMB << 20,
		FlushInterval: f.flush, Compression: record.Compression(f.compression), Loop: f.loop, MinFreeBytes: f.minFreeMB << 20,
		Timebase: ref, TimebaseKind: s.tbKind, Log: log, Software: version, Simulated: s.simulated, Cameras: s.cameras,
		DBCFiles: s.dbcFiles, RigYAML: s.rigYAML, Extra: s.extra}
	if !cmd.Flags().Changed("segment") && s.opts.Segment > 0 {
		opt.SegmentDuration = s.opts.Segment
	}
	if !cmd.Flags().Changed("flush") && s.opts.FlushInterval > 0 {
		opt.FlushInterval = min(s.opts.FlushInterval, time.Second)
	}
	if !cmd.Flags().Changed("compression") && s.opts.Compression != "" {
		opt.Compression = record.Compression(s.opts.Compression)
	}
	sw := drive.Software{Name: "roadlog", Version: version}
	reps, err := record.RepairUnfinished(f.out, sw)
	for _, r := range reps {
		fmt.Fprintf(cmd.ErrOrStderr(), "repaired unfinished drive %s (%d cuts)\n", r.Drive, len(r.Cuts))
	}
	if err != nil {
		return fmt.Errorf("repair unfinished drives: %w", err)
	}
	eng, err = record.New(opt)
	if err != nil {
		return usageError{err}
	}
	s.congested = eng.Congested
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	sink, err := s.live(ctx, eng, ref, f.detector, f.seed)
	if err != nil {
		return err
	}
	d, err := eng.Start("cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "recording %s\n", d.Dir)
	srcDone := s.run(ctx, sink, ref)
	var until <-chan time.Time
	if f.duration > 0 && !s.simulated {
		until = time.After(f.duration)
	}
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	reason := "duration reached"
loop:
	for {
		select {
		case <-srcDone:
			if !s.simulated {
				reason = "every source finished"
			}
			break loop
		case <-until:
			break loop
		case <-ctx.Done():
			reason = "interrupted"
			break loop
		case <-d.Done():
			break loop
		case <-progress.C:
			if !f.quiet {
				printProgress(cmd.ErrOrStderr(), d.Progress())
			}
		}
	}
	s.stopLive()
	sum := d.Summary()
	if sum == nil {
		if sum, err = eng.Stop(reason, "cli"); err != nil {
			return err
		}
	}
	cancel()
	if !f.quiet {
		fmt.Fprintln(cmd.ErrOrStderr())
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s\n", sum.Dir)
	fmt.Fprintf(cmd.ErrOrStderr(), "closed: %s; %d segments, %.1f MB, %d drops\n", sum.StopReason, sum.Segments, float64(sum.Bytes)/1e6, sum.Drops)
	if strings.HasPrefix(sum.StopReason, "disk") || strings.HasPrefix(sum.StopReason, "write failed") {
		return fmt.Errorf("recording stopped early: %s", sum.StopReason)
	}
	return nil
}

var lastRows int64

func printProgress(w io.Writer, p record.Progress) {
	rate := p.Rows - lastRows
	lastRows = p.Rows
	fmt.Fprintf(w, "\r%s  drive %6.1fs  seg %d  %7d rows/s  %8.1f MB  drops %d   ",
		p.Elapsed.Round(time.Second), float64(p.SpanT)/1e9, p.Segment, rate, float64(p.Bytes)/1e6, p.Drops)
}
