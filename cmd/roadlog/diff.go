package main

import (
	"strings"

	"github.com/spf13/cobra"

	"roadlog/replay"
	"roadlog/replay/diff"
)

func newDiffCmd() *cobra.Command {
	var runs []string
	var asJSON bool
	var html string
	var opt diff.Options
	c := &cobra.Command{
		Use:   "diff DRIVE --runs A,B",
		Short: "Compare two perception runs of a drive: events, objects (precision/recall), TTC and distance",
		Long: `Compare run B against run A over the frame sets both processed. A run is 'live' (what
the recorder detected while driving) or a re-run id under the drive's runs/ folder
(roadlog replay --detect). Reports FCW, AEB and cut-in events added, removed or
shifted; objects matched per camera frame by box overlap, with B's precision and
recall against A; and the differences in distance and time to collision of matched
objects and of the closest in-path vehicle. --html writes a report with a plot of TTC
and distance around each differing event.`,
		Example: `  roadlog diff drives/D --runs live,20261201T101500Z_centernet
  roadlog diff drives/D --runs run1,run2 --json > diff.json
  roadlog diff drives/D --runs live,run2 --html report/`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			d, err := replay.Open(a[0])
			if err != nil {
				return err
			}
			if len(runs) != 2 {
				ids, _ := d.Runs()
				return usagef("--runs: want two runs, A,B (live or run ids; this drive has runs: %s)", strings.Join(append([]string{replay.LiveRun}, ids...), ", "))
			}
			rep, err := diff.Compare(d, runs[0], runs[1], opt)
			if err != nil {
				return err
			}
			if html != "" {
				if err := rep.WriteHTML(html, opt.Window.Seconds()); err != nil {
					return err
				}
			}
			if asJSON {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteText(cmd.OutOrStdout())
		},
	}
	fl := c.Flags()
	fl.StringSliceVar(&runs, "runs", nil, "the two runs: A,B (B is compared against A)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fl.StringVar(&html, "html", "", "write an HTML report with plots into this folder")
	fl.Float64Var(&opt.IoU, "iou", 0.5, "least box overlap for two objects to match")
	fl.BoolVar(&opt.AnyClass, "any-class", false, "match objects whatever their class")
	fl.DurationVar(&opt.EventTolerance, "tolerance", 0, "events of the same kind this close match (default 1s)")
	fl.DurationVar(&opt.Window, "window", 0, "time plotted each side of a differing event (default 5s)")
	return c
}
