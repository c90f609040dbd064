package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"roadlog/acquire/sim"
	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/sync/clock"
	"roadlog/sync/frameset"
	"roadlog/sync/reference"
)

type recordFlags struct {
	sim          bool
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
}

func newRecordCmd() *cobra.Command {
	var f recordFlags
	c := &cobra.Command{
		Use:   "record --sim [flags]",
		Short: "Record a drive (the simulated rig with --sim)",
		Long: `Record a drive into a new folder under --out: Arrow tables (can, gnss, imu, ego,
frames, objects, targets, events, truth, sync) and one MP4 per camera, in segments of
--segment length, with a manifest. Any drive left unfinished in --out by a crash is
repaired first. Stop with Ctrl-C (the drive is closed cleanly) or --duration.

--sim records the simulated rig: a scripted scenario (lead car braking hard, cut-ins
from both sides, a pedestrian crossing, a GNSS outage) driving simulated CAN, GNSS,
IMU and 4 or 8 cameras, with ground truth. It needs no hardware.`,
		Example: `  roadlog record --sim --duration 30s --out drives
  roadlog record --sim --cameras 8 --speed 0 --duration 5m --out drives   # as fast as possible`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runRecord(cmd, f) },
	}
	fl := c.Flags()
	fl.BoolVar(&f.sim, "sim", false, "record the simulated rig (the embedded default rig)")
	fl.IntVar(&f.cameras, "cameras", 4, "simulated cameras: 4 or 8 (0 for none)")
	fl.StringVar(&f.size, "camera-size", "640x360", "simulated camera image size, WxH")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this much drive time (0: until Ctrl-C)")
	fl.StringVar(&f.out, "out", "drives", "folder that holds drives")
	fl.StringVar(&f.vehicle, "vehicle", "", "vehicle name in the drive id (default: sim with --sim)")
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
	return c
}

func runRecord(cmd *cobra.Command, f recordFlags) error {
	if !f.sim {
		return usagef("say what to record: --sim for the simulated rig (real rigs: --rig FILE)")
	}
	if f.cameras == 0 {
		f.cameras = -1
	} else if f.cameras != 4 && f.cameras != 8 {
		return usagef("--cameras %d: want 4 or 8 (or 0)", f.cameras)
	}
	var w, h int
	if _, err := fmt.Sscanf(f.size, "%dx%d", &w, &h); err != nil || w <= 0 || h <= 0 {
		return usagef("--camera-size %q: want WxH, e.g. 640x360", f.size)
	}
	if f.speed < 0 {
		return usagef("--speed %v: must be 0 (as fast as possible) or positive", f.speed)
	}
	if f.duration < 0 {
		return usagef("--duration %v is negative", f.duration)
	}
	if f.vehicle == "" {
		f.vehicle = "sim"
	}
	if strings.ContainsAny(f.vehicle, `/\ `) {
		return usagef("--vehicle %q: no slashes or spaces", f.vehicle)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The drive's reference timebase: the host clock until a PPS discipline locks it
	// (the simulated rig has no PPS line, so it stays free-running).
	ref := reference.New(reference.Config{Start: clock.NewSystem()})
	tb := ref
	rig, err := sim.New(sim.Config{Cameras: f.cameras, Width: w, Height: h, Speed: f.speed, Duration: f.duration,
		Seed: f.seed, StaticFrames: f.staticFrames, Timebase: tb, RawNMEA: true,
		ExtraCANBuses: f.extraBuses, ExtraCANRate: f.extraRate})
	if err != nil {
		return usageError{err}
	}
	var cams []drive.Camera
	for _, c := range rig.Cameras() {
		cams = append(cams, drive.Camera{Index: c.Index, Name: c.Name, Codec: "mjpeg", Width: c.Width, Height: c.Height, FPS: 30})
	}
	extra, _ := json.Marshal(map[string]any{"scenario": "roadlog-sim-1", "seed": f.seed, "calibration": rig.Cameras()})
	dbc, err := writeTemp("roadlog_sim.dbc", sim.DBC)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(dbc))
	sw := drive.Software{Name: "roadlog", Version: version}
	reps, err := record.RepairUnfinished(f.out, sw)
	for _, r := range reps {
		fmt.Fprintf(cmd.ErrOrStderr(), "repaired unfinished drive %s (%d cuts)\n", r.Drive, len(r.Cuts))
	}
	if err != nil {
		return fmt.Errorf("repair unfinished drives: %w", err)
	}
	eng, err := record.New(record.Options{Root: f.out, Vehicle: f.vehicle, SegmentDuration: f.segment, SegmentBytes: f.segmentMB << 20,
		FlushInterval: f.flush, Compression: record.Compression(f.compression), Loop: f.loop, MinFreeBytes: f.minFreeMB << 20,
		Timebase: tb, Log: log, Software: version, Simulated: true, Cameras: cams, DBCFiles: []string{dbc}, Extra: extra})
	if err != nil {
		return usageError{err}
	}
	d, err := eng.Start("cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "recording %s\n", d.Dir)
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	// sources → frame sets (trigger ids, frame sets for the detector) → recorder
	stage := record.NewFrameSets(frameset.Config{Trigger: frameset.Trigger{Rate: 30}, Cameras: len(rig.Cameras()), Timebase: ref},
		eng, func(*frameset.Set) {})
	go stage.Run(ctx)
	go ref.Run(ctx, eng)
	srcDone := make(chan error, 1)
	go func() { srcDone <- rig.Run(ctx, stage) }()
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	reason := "duration reached"
loop:
	for {
		select {
		case err := <-srcDone:
			if err != nil {
				reason = "source failed: " + err.Error()
			} else if ctx.Err() != nil {
				reason = "interrupted"
			}
			break loop
		case <-ctx.Done():
			reason = "interrupted"
			<-srcDone
			break loop
		case <-d.Done():
			break loop
		case <-progress.C:
			if !f.quiet {
				printProgress(cmd.ErrOrStderr(), d.Progress())
			}
		}
	}
	sum := d.Summary()
	if sum == nil {
		if sum, err = eng.Stop(reason, "cli"); err != nil {
			return err
		}
	}
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

func writeTemp(name string, data []byte) (string, error) {
	dir, err := os.MkdirTemp("", "roadlog-")
	if err != nil {
		return "", err
	}
	p := dir + "/" + name
	return p, os.WriteFile(p, data, 0o644)
}
