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
	rigFlags
	duration     time.Duration
	speed        float64
	segmentMB    int64
	staticFrames bool
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
	addRigFlags(c, &f.rigFlags, "record", "live detector: cnn (the CenterNet COCO model on the CPU; the default with --rig), truth (simulated drives: the scenario's true boxes with realistic noise, misses and false alarms; the default with --sim because a COCO network does not take the simulator's flat shapes for cars) or none")
	fl := c.Flags()
	fl.DurationVar(&f.duration, "duration", 0, "stop after this much drive time (0: until Ctrl-C)")
	fl.Float64Var(&f.speed, "speed", 1, "simulation speed: 1 real time, N times faster, 0 as fast as possible")
	fl.Int64Var(&f.segmentMB, "segment-mb", 0, "also start a new segment after this many MB (0: no limit)")
	fl.BoolVar(&f.staticFrames, "static-frames", false, "simulation: render each camera once and repeat the JPEG (benchmarks)")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress line")
	fl.IntVar(&f.extraBuses, "sim-extra-can-buses", 0, "simulation: extra CAN buses of filler traffic (benchmarks)")
	fl.Float64Var(&f.extraRate, "sim-extra-can-rate", 2000, "simulation: frames per second on each extra bus")
	fl.BoolVar(&f.idealClocks, "sim-ideal-clocks", false, "simulation: every t is true time (no simulated device clocks, transports, PPS discipline or sync rows of the sources)")
	return c
}

func runRecord(cmd *cobra.Command, f recordFlags) error {
	if err := f.check("record"); err != nil {
		return err
	}
	if f.speed < 0 {
		return usagef("--speed %v: must be 0 (as fast as possible) or positive", f.speed)
	}
	if f.duration < 0 {
		return usagef("--duration %v is negative", f.duration)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var eng *record.Engine // set before any source starts
	s, ref, err := f.build(cmd, simOptions{speed: f.speed, duration: f.duration, static: f.staticFrames,
		extraBuses: f.extraBuses, extraRate: f.extraRate, congested: func() bool { return eng.Congested() }}, f.idealClocks)
	if err != nil {
		return err
	}
	if s.cleanup != nil {
		defer s.cleanup()
	}
	opt := f.engineOptions(cmd, s, ref, log)
	opt.SegmentBytes = f.segmentMB << 20
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
	var lastRows int64 // rows at the last progress line
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
				p := d.Progress()
				printProgress(cmd.ErrOrStderr(), p, p.Rows-lastRows)
				lastRows = p.Rows
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

// printProgress rewrites the progress line; rate is the rows written in the last second.
func printProgress(w io.Writer, p record.Progress, rate int64) {
	fmt.Fprintf(w, "\r%s  drive %6.1fs  seg %d  %7d rows/s  %8.1f MB  drops %d   ",
		p.Elapsed.Round(time.Second), float64(p.SpanT)/1e9, p.Segment, rate, float64(p.Bytes)/1e6, p.Drops)
}
