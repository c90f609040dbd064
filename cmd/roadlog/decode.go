package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"roadlog/acquire/can"
	"roadlog/tools/candecode"
)

func newDecodeCmd() *cobra.Command {
	var (
		dbcFiles []string
		signals  []string
		bus      string
		arrowOut string
		csvOut   string
	)
	cmd := &cobra.Command{
		Use:   "decode DRIVE --dbc FILE [--signals MSG.SIG,...] [--out FILE.arrow] [--csv FILE.csv]",
		Short: "Decode recorded CAN frames with DBC files into a table of signal values",
		Long: `decode reads the raw frames of a drive (seg-*/can.arrow) and decodes them with one or
more DBC files into one row per signal value: t, bus, id, message, signal, value, raw,
unit, label. --out writes an Arrow IPC file, --csv a CSV file ("-" for standard output);
with neither, CSV goes to standard output. --signals selects MESSAGE.SIGNAL or SIGNAL
names (default: every signal); a selected signal that never occurs is an error.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, a []string) error {
			if len(dbcFiles) == 0 {
				return usagef("decode needs at least one --dbc file")
			}
			if _, err := candecode.Segments(a[0]); err != nil {
				return usageError{err}
			}
			db, _, err := can.LoadDBC(dbcFiles)
			if err != nil {
				fmt.Fprintln(c.ErrOrStderr(), "roadlog: warning:", strings.ReplaceAll(err.Error(), "\n", "\nroadlog: warning: "))
			}
			if len(db.Messages) == 0 {
				return fmt.Errorf("decode: no message could be read from the DBC files: %w", err)
			}
			if arrowOut == "" && csvOut == "" {
				csvOut = "-"
			}
			var sinks candecode.Multi
			var closers []func() error
			open := func(path string) (io.Writer, error) {
				if path == "-" {
					return c.OutOrStdout(), nil
				}
				f, err := os.Create(path)
				if err != nil {
					return nil, err
				}
				closers = append(closers, f.Close)
				return f, nil
			}
			if arrowOut != "" {
				w, err := open(arrowOut)
				if err != nil {
					return err
				}
				aw, err := candecode.NewArrowWriter(w)
				if err != nil {
					return err
				}
				sinks = append(sinks, aw)
				closers = append([]func() error{aw.Close}, closers...)
			}
			if csvOut != "" {
				w, err := open(csvOut)
				if err != nil {
					return err
				}
				cw, err := candecode.NewCSVWriter(w)
				if err != nil {
					return err
				}
				sinks = append(sinks, cw)
				closers = append([]func() error{cw.Close}, closers...)
			}
			st, derr := candecode.Decode(a[0], db, candecode.Options{Signals: signals, Bus: bus}, sinks)
			var cerr error
			for _, cl := range closers {
				cerr = errors.Join(cerr, cl())
			}
			if err := errors.Join(derr, cerr); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "decoded %d values from %d frames (%d of unknown id) in %d segments\n",
				st.Rows, st.Frames, st.Unknown, st.Segments)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&dbcFiles, "dbc", nil, "DBC file (repeat or comma-separate for several)")
	cmd.Flags().StringSliceVar(&signals, "signals", nil, "signals to decode: MESSAGE.SIGNAL or SIGNAL (default all)")
	cmd.Flags().StringVar(&bus, "bus", "", "decode only frames of this bus")
	cmd.Flags().StringVar(&arrowOut, "out", "", "write an Arrow IPC file")
	cmd.Flags().StringVar(&csvOut, "csv", "", "write a CSV file (- for standard output)")
	return cmd
}
