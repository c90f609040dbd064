package main

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"roadlog/schema"
	"roadlog/tools/convert"
	"roadlog/tools/export"
)

func newConvertCmd() *cobra.Command {
	var to, out string
	var tables []string
	var quiet bool
	c := &cobra.Command{
		Use:   "convert DRIVE --to parquet|mcap|candump|csv --out DIR",
		Short: "Convert a drive to Parquet (Hive layout), MCAP (Foxglove), a candump log or CSV",
		Long: `Convert a whole drive for the tools analysts already use:

  parquet  one file per table and segment, Hive-style:
           DIR/<table>/drive=<drive-id>/seg=<NNNNNN>/part.parquet
           Convert many drives into the same DIR and query them together, e.g. in DuckDB:
             SELECT drive, count(*), avg(speed) FROM read_parquet('DIR/ego/*/*/*.parquet', hive_partitioning = true) GROUP BY drive;
  mcap     DIR/<drive-id>.mcap for Foxglove/Lichtblick: camera images or video, detections
           as image annotations, GNSS as location fixes, every table as a JSON channel
  candump  DIR/<drive-id>.log: the raw CAN frames as a candump -L log
  csv      DIR/<drive-id>/<table>.csv, one file per table`,
		Example: `  roadlog convert drives/20261130T081500Z_car7 --to parquet --out lake
  roadlog convert drives/20261130T081500Z_car7 --to mcap --out foxglove`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			f, err := convert.ParseFormat(to)
			if err != nil {
				return usageError{err}
			}
			if out == "" {
				return usagef("--out DIR is required")
			}
			var names []schema.TableName
			if len(tables) > 0 {
				if names, err = export.ParseTables(tables); err != nil {
					return usageError{err}
				}
				for _, n := range names {
					if n == export.TableCANDecoded {
						return usagef("convert writes the drive's own tables; decode CAN with roadlog decode")
					}
				}
			}
			opt := convert.Options{Out: out, Format: f, Tables: names}
			var bar *progressbar.ProgressBar
			if !quiet {
				bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(cmd.ErrOrStderr()), progressbar.OptionSetDescription("convert"),
					progressbar.OptionShowBytes(true), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
				opt.Progress = func(done, total int64) {
					bar.ChangeMax64(total)
					bar.Set64(done)
				}
			}
			start := time.Now()
			sum, err := convert.Convert(cmd.Context(), a[0], opt)
			if bar != nil {
				bar.Finish()
			}
			if err != nil {
				return err
			}
			took := time.Since(start)
			fmt.Fprintf(cmd.ErrOrStderr(), "%d files, %.1f MB from %.1f MB of drive in %s (%.1f MB/s)",
				len(sum.Files), float64(sum.OutBytes)/1e6, float64(sum.InBytes)/1e6, took.Round(time.Millisecond), float64(sum.InBytes)/1e6/took.Seconds())
			if sum.Messages > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "; %d messages", sum.Messages)
			}
			if sum.SkippedFrames > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "; %d damaged frames left out", sum.SkippedFrames)
			}
			fmt.Fprintln(cmd.ErrOrStderr())
			for _, p := range sum.Files {
				if f != convert.Parquet {
					fmt.Fprintln(cmd.OutOrStdout(), p)
				}
			}
			if f == convert.Parquet {
				fmt.Fprintln(cmd.OutOrStdout(), out)
			}
			return nil
		},
	}
	c.Flags().StringVar(&to, "to", "", "output format: parquet, mcap, candump or csv")
	c.Flags().StringVar(&out, "out", "", "output folder")
	c.Flags().StringSliceVar(&tables, "tables", nil, "parquet/csv: only these tables (default: all)")
	c.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	return c
}
