package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"roadlog/tools/inspect"
	"roadlog/tools/syncreport"
)

func newInspectCmd() *cobra.Command {
	var asJSON, sync bool
	var png string
	c := &cobra.Command{
		Use:   "inspect DRIVE",
		Short: "Show what is in a drive: duration, segments, rows, rates, bytes, compression, drops, gaps",
		Long: `Show what is in a drive: duration, segments, per-table rows, rates, bytes, compression
ratio, drops and gaps. With --sync: the health of every clock (offset, drift, jitter,
uncertainty, state) with p50/p99 figures, and a PNG plot of offset over time (--png).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if sync {
				return syncreport.Report(cmd.OutOrStdout(), a[0], png)
			}
			s, err := inspect.Inspect(a[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			s.Print(cmd.OutOrStdout())
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	c.Flags().BoolVar(&sync, "sync", false, "report clock synchronisation per source")
	c.Flags().StringVar(&png, "png", "", "with --sync: write a plot of offset over time to this PNG file")
	return c
}
