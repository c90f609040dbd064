package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"roadlog/record/drive"
)

// errVerifyFailed makes verify exit with status 1 after printing its report.
var errVerifyFailed = errors.New("verify found problems")

func newVerifyCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify DRIVE",
		Short: "Check every file of a drive and print a report",
		Long: `Check every file of a drive: the manifest matches the segments on disk; every Arrow
table has its footer, decodes, has the expected schema and the recorded row count, and its
t never goes backwards; every frames row points at exactly its sample inside the video
file; every video file ends with a complete fragment. Exit status 1 when a problem is found.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			rep, err := drive.Verify(a[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.Print(cmd.OutOrStdout())
			}
			if !rep.OK() {
				return errVerifyFailed
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

func newRepairCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "repair DRIVE",
		Short: "Recover a drive left by a crash",
		Long: `Recover a drive left by a crash or damaged later. Arrow files without a footer are read
as a message stream from byte 8; every complete record batch is kept and a proper file
written. Video files are cut at their last complete fragment. Frames rows pointing past the
end of their video are dropped; video frames written but not yet indexed get rows rebuilt.
The damaged originals are kept under DRIVE/damaged/. The manifest says "recovered" and
lists what was cut. Run "roadlog verify DRIVE" afterwards.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			rep, err := drive.Repair(a[0], drive.Software{Name: "roadlog", Version: version})
			if rep != nil {
				w := cmd.OutOrStdout()
				if len(rep.Cuts) == 0 {
					fmt.Fprintf(w, "%s: nothing to repair (status %s)\n", rep.Drive, rep.Before)
				}
				for _, c := range rep.Cuts {
					fmt.Fprintf(w, "%s: %s: kept %d bytes / %d rows, cut %d bytes / %d rows: %s\n",
						c.File, c.Action, c.KeptBytes, c.KeptRows, c.CutBytes, c.CutRows, c.Reason)
				}
				if rep.Changed {
					fmt.Fprintf(w, "%s: status recovered; damaged originals under %s/\n", rep.Drive, drive.DamagedDir)
				}
			}
			return err
		},
	}
	return c
}
