package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"roadlog/record/drive"
	"roadlog/replay"
	"roadlog/replay/foxglove"
	"roadlog/replay/rerun"
	"roadlog/schema"
)

type replayFlags struct {
	rate                  float64
	loop                  bool
	paused                bool
	from, to              string
	frame                 string
	tables                []string
	cameras               []uint
	buses                 []string
	ids                   []string
	jsonOut               bool
	bytes                 bool
	run                   string
	foxglove              string
	noWait                bool
	noControls            bool
	quiet                 bool
	detect                bool
	device                string
	gpuPipelines, gpuSets int
	gpuConv               string
	model                 string
	runID                 string
}

func newReplayCmd() *cobra.Command {
	var f replayFlags
	c := &cobra.Command{
		Use:   "replay DRIVE",
		Short: "Play a drive back in time order: terminal controls, JSON lines, Foxglove; or re-run detection",
		Long: `Play a drive back: every table and camera merged in reference-time order, at real
time × --rate (0: as fast as possible), from any time or camera frame, filtered by
table, camera and CAN bus/id. Drives still being written or left by a crash play too;
damaged parts are skipped and reported as replay_damage events.

On a terminal the keys control the replay:
  ` + strings.ReplaceAll(replay.ControlHelp, "\n", "\n  ") + `

--json writes the merged stream to stdout, one JSON object per sample (columns under
their names; frame bytes as base64 with --bytes, else only their size).
--foxglove ADDR serves the replay over the Foxglove WebSocket protocol
(ws://ADDR, subprotocol foxglove.websocket.v1): open it in Foxglove or Lichtblick.

--detect re-runs perception over the drive instead of playing it: it decodes the
recorded video, detects, tracks, ranges and assesses targets as the live recorder does,
and writes runs/<run-id>/ (objects, targets, events, run.json) under the drive. The
recorded data is never altered; the same run twice gives identical tables.
Compare runs with 'roadlog diff'.`,
		Example: `  roadlog replay drives/20261130T081500Z_car7
  roadlog replay drives/D --json --rate 0 --tables can --can-id 0x1a0 > can.jsonl
  roadlog replay drives/D --from 1m30s --to 2m --rate 0.5 --cameras 0
  roadlog replay drives/D --foxglove :8765 --loop
  roadlog replay drives/D --detect --device gpu --model centernet
  roadlog replay drives/D --detect --model truth --run-id truth1`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if f.detect {
				return runDetect(cmd, a[0], f)
			}
			return runReplay(cmd, a[0], f)
		},
	}
	fl := c.Flags()
	fl.Float64Var(&f.rate, "rate", 1, "pace: × real time, 0.1–100; 0 as fast as possible (default 0 with --json)")
	fl.BoolVar(&f.loop, "loop", false, "start again at the beginning after the end")
	fl.BoolVar(&f.paused, "paused", false, "start paused (space resumes, . steps)")
	fl.StringVar(&f.from, "from", "", "start at this time: an offset from the drive's start (90s, 1m30s) or RFC 3339")
	fl.StringVar(&f.to, "to", "", "stop at this time (same forms as --from)")
	fl.StringVar(&f.frame, "frame", "", "start at a camera frame: CAMERA:SEQ (e.g. 0:1234)")
	fl.StringSliceVar(&f.tables, "tables", nil, "tables to play (can,gnss,imu,ego,frames,objects,targets,events,truth,sync)")
	fl.UintSliceVar(&f.cameras, "cameras", nil, "cameras to play (frames, objects and truth rows)")
	fl.StringSliceVar(&f.buses, "can-bus", nil, "CAN buses to play")
	fl.StringSliceVar(&f.ids, "can-id", nil, "CAN identifiers to play (decimal or 0x hex)")
	fl.BoolVar(&f.jsonOut, "json", false, "write the merged stream to stdout as JSON lines")
	fl.BoolVar(&f.bytes, "bytes", false, "with --json: include frame bytes as base64")
	fl.StringVar(&f.run, "run", "", "play objects, targets and events of this re-run (a runs/ folder) instead of the live ones")
	fl.StringVar(&f.foxglove, "foxglove", "", "serve the replay over the Foxglove WebSocket protocol on ADDR (e.g. :8765)")
	fl.BoolVar(&f.noWait, "no-wait", false, "with --foxglove: play at once instead of waiting for the first subscription")
	fl.BoolVar(&f.noControls, "no-controls", false, "do not read keys from the terminal")
	fl.BoolVar(&f.quiet, "quiet", false, "no status line")
	fl.BoolVar(&f.detect, "detect", false, "re-run perception over the drive into runs/<run-id>/")
	fl.StringVar(&f.device, "device", "cpu", "with --detect: the engine, cpu or gpu")
	fl.IntVar(&f.gpuPipelines, "gpu-pipelines", rerun.GPUPipelines, "with --detect --device gpu: GPU engines working on frame sets at once")
	fl.IntVar(&f.gpuSets, "gpu-sets", rerun.GPUSetsPerCall, "with --detect --device gpu: consecutive frame sets detected in one batch")
	fl.StringVar(&f.gpuConv, "gpu-conv", "", "with --detect --device gpu: convolutions on cudnn or own kernels (default: cudnn when the library has it)")
	fl.StringVar(&f.model, "model", "", "with --detect: truth (simulated drives; their default), centernet (the embedded COCO model; the default otherwise) or a folder with a TF.js model.json")
	fl.StringVar(&f.runID, "run-id", "", "with --detect: the new run's id (default: UTC time and model)")
	return c
}

// parseWhen reads a time flag: an offset from start ("90s") or an RFC 3339 instant.
func parseWhen(flag, s string, start int64) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if start == 0 {
			return 0, usagef("--%s %s: the drive's start is unknown; give an RFC 3339 time", flag, s)
		}
		return start + int64(d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixNano(), nil
	}
	return 0, usagef("--%s %q: want an offset from the drive's start (90s, 1m30s) or an RFC 3339 time", flag, s)
}

// readerOptions turns the flags into reader options.
func readerOptions(d *replay.Drive, f replayFlags) (replay.Options, error) {
	var o replay.Options
	var err error
	if o.From, err = parseWhen("from", f.from, d.StartT()); err != nil {
		return o, err
	}
	if o.To, err = parseWhen("to", f.to, d.StartT()); err != nil {
		return o, err
	}
	if o.From != 0 && o.To != 0 && o.To < o.From {
		return o, usagef("--to %s is before --from %s", f.to, f.from)
	}
	for _, t := range f.tables {
		if _, ok := schema.Lookup(schema.TableName(t)); !ok {
			return o, usagef("--tables: unknown table %q", t)
		}
		o.Tables = append(o.Tables, schema.TableName(t))
	}
	for _, c := range f.cameras {
		if c > 255 {
			return o, usagef("--cameras: %d is not a camera index", c)
		}
		o.Cameras = append(o.Cameras, uint8(c))
	}
	o.CANBuses = f.buses
	for _, s := range f.ids {
		v, err := strconv.ParseUint(s, 0, 32)
		if err != nil || v >= 1<<29 {
			return o, usagef("--can-id %q: want an 11- or 29-bit identifier", s)
		}
		o.CANIDs = append(o.CANIDs, uint32(v))
	}
	o.Run = f.run
	return o, nil
}

func parseFrame(s string) (uint8, int64, error) {
	c, q, ok := strings.Cut(s, ":")
	cam, err1 := strconv.ParseUint(c, 10, 8)
	seq, err2 := strconv.ParseInt(q, 10, 64)
	if !ok || err1 != nil || err2 != nil || seq < 0 {
		return 0, 0, usagef("--frame %q: want CAMERA:SEQ, e.g. 0:1234", s)
	}
	return uint8(cam), seq, nil
}

func runReplay(cmd *cobra.Command, dir string, f replayFlags) error {
	if f.rate != 0 && (f.rate < replay.MinRate || f.rate > replay.MaxRate) {
		return usagef("--rate %v: want %v–%v, or 0 for as fast as possible", f.rate, replay.MinRate, replay.MaxRate)
	}
	if f.bytes && !f.jsonOut {
		return usagef("--bytes goes with --json")
	}
	if f.jsonOut && !cmd.Flags().Changed("rate") {
		f.rate = 0
	}
	d, err := replay.Open(dir)
	if err != nil {
		return err
	}
	opts, err := readerOptions(d, f)
	if err != nil {
		return err
	}
	opts.NoVideoData = f.jsonOut && !f.bytes && f.foxglove == ""
	r, err := d.NewReader(opts)
	if err != nil {
		return err
	}
	defer r.Close()
	if f.frame != "" {
		cam, seq, err := parseFrame(f.frame)
		if err != nil {
			return err
		}
		if _, err := r.SeekFrame(cam, seq); err != nil {
			return err
		}
	}
	ctx := cmd.Context()
	var sinks []schema.Sink
	var out *bufio.Writer
	var js *replay.JSONSink
	if f.jsonOut {
		out = bufio.NewWriterSize(cmd.OutOrStdout(), 1<<16)
		if js, err = replay.NewJSONSink(out, replay.JSONOptions{Bytes: f.bytes}); err != nil {
			return err
		}
		sinks = append(sinks, js)
	}
	if f.foxglove != "" {
		fox, stop, err := serveFoxglove(ctx, cmd.ErrOrStderr(), d, f)
		if err != nil {
			return err
		}
		defer stop()
		sinks = append(sinks, fox)
	}
	sink := replay.Tee(sinks...)
	p, err := replay.NewPlayer(r, sink, replay.PlayerOptions{Rate: f.rate, Loop: f.loop, Paused: f.paused})
	if err != nil {
		return usageError{err}
	}
	stdin, stderr := int(os.Stdin.Fd()), int(os.Stderr.Fd())
	controls := !f.noControls && term.IsTerminal(stdin) && !(f.jsonOut && term.IsTerminal(int(os.Stdout.Fd())))
	if controls {
		old, err := term.MakeRaw(stdin)
		if err != nil {
			return fmt.Errorf("terminal controls: %w", err)
		}
		defer term.Restore(stdin, old)
		fmt.Fprint(cmd.ErrOrStderr(), strings.ReplaceAll(replay.ControlHelp, "\n", "\r\n")+"\r\n")
		go replay.Controls(ctx, os.Stdin, p) // ends with the process: a terminal read cannot be interrupted
	}
	status := !f.quiet && term.IsTerminal(stderr)
	done := make(chan struct{})
	if status {
		go func() {
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					fmt.Fprintf(cmd.ErrOrStderr(), "\r%s\x1b[K", replay.StatusLine(p.Status()))
				}
			}
		}()
	}
	err = p.Run(ctx)
	close(done)
	if status {
		fmt.Fprintf(cmd.ErrOrStderr(), "\r%s\x1b[K\r\n", replay.StatusLine(p.Status()))
	}
	if out != nil {
		if ferr := out.Flush(); ferr != nil && err == nil {
			err = fmt.Errorf("write json: %w", ferr)
		}
		if js.Err() != nil && err == nil {
			err = js.Err()
		}
	}
	if errors.Is(err, replay.ErrQuit) || errors.Is(err, context.Canceled) {
		err = nil
	}
	if err == nil && !status && !f.quiet {
		st := r.Stats()
		fmt.Fprintf(cmd.ErrOrStderr(), "replayed %d samples, %d damaged parts skipped\n", p.Status().Samples, st.Damage)
	}
	return err
}

// serveFoxglove starts the Foxglove WebSocket server and, unless --no-wait, waits
// for the first subscription.
func serveFoxglove(ctx context.Context, log io.Writer, d *replay.Drive, f replayFlags) (*foxglove.Server, func(), error) {
	fox, err := foxglove.NewServer(foxglove.Options{Cameras: d.Cameras(), Metadata: map[string]string{"drive": d.ID()}})
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", f.foxglove)
	if err != nil {
		return nil, nil, usagef("--foxglove %s: %v", f.foxglove, err)
	}
	hs := &http.Server{Handler: fox, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	stop := func() {
		fox.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		hs.Shutdown(sctx)
		cancel()
	}
	fmt.Fprintf(log, "foxglove: serving ws://%s (subprotocol %s)\n", ln.Addr(), foxglove.Subprotocol)
	if !f.noWait {
		fmt.Fprintln(log, "foxglove: waiting for a client to subscribe (--no-wait to play at once)")
		select {
		case <-fox.Connected():
		case <-ctx.Done():
			stop()
			return nil, nil, ctx.Err()
		}
	}
	return fox, stop, nil
}

func runDetect(cmd *cobra.Command, dir string, f replayFlags) error {
	if f.jsonOut || f.foxglove != "" || f.loop || f.frame != "" {
		return usagef("--detect writes a run; it does not go with --json, --foxglove, --loop or --frame")
	}
	switch f.device {
	case rerun.DeviceCPU, rerun.DeviceGPU:
	default:
		return usagef("--device %q: want cpu or gpu", f.device)
	}
	d, err := replay.Open(dir)
	if err != nil {
		return err
	}
	opts, err := readerOptions(d, f)
	if err != nil {
		return err
	}
	p, err := rerun.SelectGPU(d, f.model, f.device, rerun.GPU{Pipelines: f.gpuPipelines, SetsPerCall: f.gpuSets, Conv: f.gpuConv})
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	progress := func(rerun.Stats) {}
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	if !f.quiet && tty {
		last := time.Now()
		progress = func(s rerun.Stats) {
			if time.Since(last) > 250*time.Millisecond {
				last = time.Now()
				fmt.Fprintf(stderr, "\r%d frame sets, %d frames, %d objects, %d events\x1b[K", s.FrameSets, s.Frames, s.Objects, s.Events)
			}
		}
	}
	info, err := rerun.Run(ctx, d, rerun.Options{RunID: f.runID, Perception: p, Software: drive.Software{Name: "roadlog", Version: version},
		From: opts.From, To: opts.To, Cameras: opts.Cameras, Progress: progress})
	if err != nil {
		if errors.Is(err, rerun.ErrBadRunID) || errors.Is(err, rerun.ErrRunExists) {
			return usageError{err}
		}
		return err
	}
	s := info.Stats
	if tty {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	fmt.Fprintf(stderr, "run %s: model %s on %s: %d frame sets, %d frames, %d objects, %d targets, %d events; %.1f s of drive in %.1f s (%.1f× real time, %.0f frames/s)\n",
		info.RunID, info.Model.Name, info.Device, s.FrameSets, s.Frames, s.Objects, s.Targets, s.Events, s.MediaSeconds, s.WallSeconds, s.RealTime, s.FramesPerSec)
	fmt.Fprintln(cmd.OutOrStdout(), info.RunID)
	return nil
}
