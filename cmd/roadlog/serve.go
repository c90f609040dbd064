package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"roadlog/internal/sdnotify"
	"roadlog/record"
	"roadlog/record/buttons"
	"roadlog/record/control"
	"roadlog/record/drive"
	"roadlog/record/ring"
)

type serveFlags struct {
	rigFlags
	addr      string
	tokenFile string
	speed     float64

	ring       bool
	pre, post  time.Duration
	ringMemMB  int64
	ringDiskMB int64

	canButton    string
	gpioChip     string
	gpioButton   int
	gpioMark     int
	gpioLED      int
	gpioActiveHi bool
	hold         time.Duration
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	c := &cobra.Command{
		Use:   "serve --sim | --rig FILE [flags]",
		Short: "Run the recorder daemon: driver's-station web page, HTTP API, buttons, ring capture",
		Long: `Run roadlog as a daemon. The sources start at once, so the health of every sensor is
visible before recording; recording starts and stops on command: the web page (open
http://ADDR/ on the in-car tablet), the HTTP API, a GPIO push-button, or a CAN
steering-wheel button. /metrics serves Prometheus metrics.

The daemon listens on 127.0.0.1 unless --addr says otherwise; any other address needs
a token (--token-file, or $ROADLOG_TOKEN), sent as "Authorization: Bearer TOKEN";
open the page once as http://ADDR/?token=TOKEN and the tablet keeps it.

With --ring it records continuously into a bounded ring and keeps only windows around
driver marks, forward-collision and emergency-brake warnings and cut-ins (--pre before,
--post after), each a closed drive of its own. Start then keeps everything from --pre
ago until Stop.

SIGTERM or Ctrl-C closes the current drive cleanly (it verifies) and exits. Drives
left unfinished in --out by a crash are repaired at start. See docs/serve.md for the
systemd unit.`,
		Example: `  roadlog serve --sim
  roadlog serve --sim --addr 0.0.0.0:8470 --token-file /etc/roadlog/token
  roadlog serve --sim --ring --pre 20s --post 10s --ring-disk-mb 20000
  roadlog serve --rig examples/car-8cam.yaml --out /data/drives --can-button chassis:SWS.RecordButton
  roadlog serve --sim --gpio-chip gpiochip0 --gpio-button 17 --gpio-led 27`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, f) },
	}
	addRigFlags(c, &f.rigFlags, "serve", "live detector: cnn (the default with --rig), truth (simulated drives, the default with --sim) or none; see roadlog record --help")
	fl := c.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8470", "listen address (anything but loopback needs a token)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token (default: $ROADLOG_TOKEN)")
	fl.Float64Var(&f.speed, "speed", 1, "simulation speed: 1 real time, N times faster")
	fl.BoolVar(&f.ring, "ring", false, "ring-buffer capture: keep only windows around marks, FCW, AEB and cut-ins")
	fl.DurationVar(&f.pre, "pre", 10*time.Second, "ring capture: kept before a trigger")
	fl.DurationVar(&f.post, "post", 5*time.Second, "ring capture: kept after the last trigger of a window")
	fl.Int64Var(&f.ringMemMB, "ring-buffer-mb", 512, "ring capture: memory for the pre-trigger buffer")
	fl.Int64Var(&f.ringDiskMB, "ring-disk-mb", 0, "ring capture: disk for kept windows, the oldest deleted first (0: no limit)")
	fl.StringVar(&f.canButton, "can-button", "", "CAN button BUS:MESSAGE.Signal decoded with the rig's DBC files (with --sim: chassis:BODY.DriverButton; \"off\" for none)")
	fl.StringVar(&f.gpioChip, "gpio-chip", "", "GPIO chip of the push-button, e.g. gpiochip0 (none by default)")
	fl.IntVar(&f.gpioButton, "gpio-button", -1, "GPIO line of the start/mark/stop button")
	fl.IntVar(&f.gpioMark, "gpio-mark", -1, "GPIO line of a mark-only button (-1: none)")
	fl.IntVar(&f.gpioLED, "gpio-led", -1, "GPIO line of the recording LED (-1: none)")
	fl.BoolVar(&f.gpioActiveHi, "gpio-active-high", false, "the button drives the line high when pressed (default: pulls it low, internal pull-up on)")
	fl.DurationVar(&f.hold, "hold", time.Second, "hold the button this long to stop a drive")
	return c
}

func runServe(cmd *cobra.Command, f serveFlags) error {
	if err := f.check("serve"); err != nil {
		return err
	}
	if f.speed <= 0 {
		return usagef("--speed %v: a daemon runs the simulation at a pace: 1 real time, N times faster", f.speed)
	}
	token := strings.TrimSpace(os.Getenv("ROADLOG_TOKEN"))
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return usagef("--token-file: %v", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return usagef("--token-file %s is empty", f.tokenFile)
		}
	}
	if err := control.CheckListen(f.addr, token); err != nil {
		return usageError{err}
	}
	if f.canButton == "" && f.sim {
		f.canButton = "chassis:BODY.DriverButton"
	}
	var canBus, canMsg, canSig string
	if f.canButton != "" && f.canButton != "off" {
		bus, ref, ok := strings.Cut(f.canButton, ":")
		if !ok {
			bus, ref = "", f.canButton
		}
		m, s, err := buttons.SplitSignal(ref)
		if err != nil {
			return usageError{err}
		}
		canBus, canMsg, canSig = bus, m, s
	}
	if f.gpioChip != "" && f.gpioButton < 0 {
		return usagef("--gpio-chip %s needs --gpio-button LINE", f.gpioChip)
	}

	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	var live *record.Engine // set before any source starts
	s, ref, err := f.build(cmd, simOptions{speed: f.speed, congested: func() bool { return live.Congested() }}, false)
	if err != nil {
		return err
	}
	if s.cleanup != nil {
		defer s.cleanup()
	}
	engOpt := f.engineOptions(cmd, s, ref, log)
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("create the drives folder: %w", err)
	}
	sw := drive.Software{Name: "roadlog", Version: version}
	reps, err := record.RepairUnfinished(f.out, sw)
	for _, r := range reps {
		log.Warn("repaired an unfinished drive", "drive", r.Drive, "cuts", len(r.Cuts))
	}
	if err != nil {
		return fmt.Errorf("repair unfinished drives: %w", err)
	}
	live, err = record.New(engOpt)
	if err != nil {
		return usageError{err}
	}
	var rec interface {
		control.Recorder
		buttons.Controller
	} = live
	mode := "record"
	var rg *ring.Ring
	if f.ring {
		rg, err = ring.New(ring.Options{Feed: live, Engine: engOpt, Pre: f.pre, Post: f.post, MaxBufferBytes: f.ringMemMB << 20,
			MaxDiskBytes: f.ringDiskMB << 20, Log: log})
		if err != nil {
			return usageError{err}
		}
		rec, mode = rg, "ring"
	}
	srv, err := control.New(control.Options{Feed: live, Recorder: rec, Root: f.out, Mode: mode, Cameras: s.cameras, Token: token,
		MinFreeBytes: f.minFreeMB << 20, Version: version, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}

	// Everything runs until the signal; then live detection stops, the drive is closed,
	// then the rest stops.
	ctx := cmd.Context()
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	errs := make(chan error, 8)
	var running int
	start := func(name string, fn func(context.Context) error) {
		running++
		go func() {
			err := fn(runCtx)
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			errs <- err
		}()
	}
	// sources → frame sets (trigger ids) → detector → recorder, with the reference
	// clock's sync rows; the supervisor restarts a failed source and writes the outage
	sink, err := s.live(runCtx, live, ref, f.detector, f.seed)
	if err != nil {
		return err
	}
	srcDone := s.run(runCtx, sink, ref)
	start("status", srv.Run)
	if rg != nil {
		start("ring capture", rg.Run)
	}
	if canMsg != "" {
		b := &buttons.CANButton{Feed: live, DBCFiles: s.dbcFiles, Bus: canBus, Message: canMsg, Signal: canSig,
			Hold: f.hold, Recorder: rec, Log: log}
		start("CAN button", b.Run)
	}
	if f.gpioChip != "" {
		g := &buttons.GPIO{Lines: buttons.Chip{Name: f.gpioChip, ActiveLow: !f.gpioActiveHi, PullUp: !f.gpioActiveHi},
			Button: f.gpioButton, MarkButton: f.gpioMark, LED: f.gpioLED, Hold: f.hold, Recorder: rec, Log: log}
		start("GPIO button", g.Run)
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Serve(ln) }()
	fmt.Fprintf(cmd.ErrOrStderr(), "roadlog serve: listening on http://%s/ (%s mode, drives in %s)\n", ln.Addr(), mode, f.out)
	if _, err := sdnotify.Notify(sdnotify.Ready); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	var watchdog <-chan time.Time
	if d, ok, err := sdnotify.WatchdogInterval(); err != nil {
		log.Warn("systemd watchdog", "err", err)
	} else if ok {
		t := time.NewTicker(d / 2)
		defer t.Stop()
		watchdog = t.C
	}

	var failure error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case err := <-httpDone:
			failure = fmt.Errorf("serve HTTP: %w", err)
			break wait
		case err := <-errs:
			running--
			if err != nil {
				failure = err
				break wait
			}
		case <-watchdog:
			sdnotify.Notify(sdnotify.Watchdog)
		}
	}
	sdnotify.Notify(sdnotify.Stopping)
	// As record does (docs/adas.md, "Shutdown"): live detection stops first, so that its
	// last rows and its final detector_stats and drop events reach the drive, then the
	// drive is closed.
	s.stopLive()
	if rec.State() == record.Recording {
		reason := "roadlog serve stopping (signal)"
		if failure != nil {
			reason = "roadlog serve stopping: " + failure.Error()
		}
		if sum, err := rec.Stop(reason, "auto"); err == nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "closed %s: %d segments, %.1f MB, %d drops\n", sum.Dir, sum.Segments, float64(sum.Bytes)/1e6, sum.Drops)
		} else if !errors.Is(err, record.ErrNotRecording) {
			log.Error("close the drive", "err", err)
		}
	}
	stopRun()
	shut, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	hs.Shutdown(shut)
	for ; running > 0; running-- {
		if err := <-errs; err != nil && failure == nil {
			failure = err
		}
	}
	<-srcDone
	<-srv.Done()
	return failure
}
