// Command roadlog records, inspects, repairs, replays and exports road-test drives:
// cameras, GNSS, IMU and CAN on one timebase, with live object detection.
//
// main only parses flags, builds configuration and wires packages; the work lives in
// the packages under schema/, sync/, acquire/, record/, detect/, replay/ and tools/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// usageError marks errors that come from how roadlog was called (bad flags, bad
// arguments, bad configuration); they exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "roadlog",
		Short: "Record and analyse road-test drives (cameras, GNSS, IMU, CAN) on one timebase",
		Long: `roadlog records test-vehicle drives: 4 or 8 hardware-triggered cameras, GNSS, IMU
and CAN on one synchronised timebase, with live object detection, into a folder of
Apache Arrow tables and per-camera MP4 video that pyarrow, polars and DuckDB open as-is.

Start here:
  roadlog record --sim --duration 30s --out drives   record a simulated drive (no hardware)
  roadlog inspect drives/<drive-id>                    what is in it
  roadlog verify drives/<drive-id>                     check every file`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var cpuprofile string
	var stopProfile func()
	root.PersistentFlags().StringVar(&cpuprofile, "cpuprofile", "", "write a Go CPU profile of the command to this file (for go tool pprof)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if cpuprofile == "" {
			return nil
		}
		f, err := os.Create(cpuprofile)
		if err != nil {
			return usagef("--cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("start CPU profile: %w", err)
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	root.PersistentPostRun = func(*cobra.Command, []string) {
		if stopProfile != nil {
			stopProfile()
		}
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
	})
	// One line per subcommand; each lives in its own file of this folder.
	root.AddCommand(
		newRecordCmd(),
		newVerifyCmd(),
		newRepairCmd(),
		newInspectCmd(),
		newDetectCmd(),
		newRigCmd(),
		newExportCmd(),
		newConvertCmd(),
		newDecodeCmd(),
		newServeCmd(),
		newReplayCmd(),
		newDiffCmd(),
	)
	return root
}

// args wraps a cobra positional-argument validator so that its errors are usage errors.
func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if err := v(c, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "roadlog:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		os.Exit(2)
	}
	os.Exit(1)
}
