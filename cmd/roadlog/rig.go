package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"roadlog/rig"
)

func newRigCmd() *cobra.Command {
	var files bool
	c := &cobra.Command{
		Use:   "rig FILE",
		Short: "Check a rig file and say what it describes",
		Long: `Check a rig file (the YAML description of a vehicle's inputs, see docs/format/rig.md):
every unknown key, missing key and bad value (camera codecs, sizes, rates and options
included) is printed with its line. With --files, the
files it names (DBC files, candump logs, video files) must exist too. Exit status 2 when
the rig file has problems.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			r, err := rig.Load(a[0])
			if err == nil {
				err = r.CheckCameras()
				if files {
					err = errors.Join(err, r.CheckFiles())
				}
			}
			if err != nil {
				var re *rig.Error
				if !errors.As(err, &re) {
					return err // the file could not be read
				}
				return usageError{err}
			}
			printRig(cmd.OutOrStdout(), r)
			return nil
		},
	}
	c.Flags().BoolVar(&files, "files", false, "also check that the files the rig names exist")
	return c
}

func printRig(w io.Writer, r *rig.Rig) {
	fmt.Fprintf(w, "vehicle %s\n", r.Vehicle)
	for _, c := range r.CAN {
		where := map[rig.CANKind]string{rig.CANSocketCAN: c.Device, rig.CANSLCAN: c.Port, rig.CANCandump: c.File, rig.CANUDP: c.Address}[c.Kind]
		fmt.Fprintf(w, "can    %-10s %-9s %s", c.Name, c.Kind, where)
		if c.Bitrate > 0 {
			fmt.Fprintf(w, " %d bit/s", c.Bitrate)
		}
		if c.DataBitrate > 0 {
			fmt.Fprintf(w, " (FD %d bit/s)", c.DataBitrate)
		}
		if len(c.Ego) > 0 {
			var cols []string
			for col := range c.Ego {
				cols = append(cols, col)
			}
			slices.Sort(cols)
			fmt.Fprintf(w, "; ego %s", strings.Join(cols, ", "))
		}
		fmt.Fprintln(w)
	}
	for _, g := range r.GNSS {
		where := g.URL
		if g.Kind == rig.GNSSSerial {
			where = fmt.Sprintf("%s %d Bd", g.Port, g.Baud)
		}
		fmt.Fprintf(w, "gnss   %-10s %-9s %s", g.Name, g.Kind, where)
		if g.PPS != "" {
			fmt.Fprintf(w, "; pps %s", g.PPS)
		}
		fmt.Fprintln(w)
	}
	for _, m := range r.IMU {
		where := m.Device
		if m.Kind == rig.IMUSerial {
			where = fmt.Sprintf("%s %d Bd %s", m.Port, m.Baud, m.Protocol)
		}
		fmt.Fprintf(w, "imu    %-10s %-9s %s; axes x=%s y=%s z=%s\n", m.Name, m.Kind, where, m.Axes.X, m.Axes.Y, m.Axes.Z)
	}
	for _, c := range r.Cameras {
		cal := "uncalibrated"
		if c.Calibration != nil {
			cal = "calibrated"
		}
		fmt.Fprintf(w, "camera %-10s %-9s index %d, %dx%d %s, %s\n", c.Name, c.Kind, c.Index, c.Width, c.Height, c.Codec, cal)
	}
	if r.Trigger != nil {
		fmt.Fprintf(w, "trigger %g Hz, phase %v\n", r.Trigger.RateHz, r.Trigger.Phase)
	}
	fmt.Fprintf(w, "recorder segments of %v, flush every %v, %s\n", r.Recorder.Segment, r.Recorder.FlushInterval, r.Recorder.Compression)
}
