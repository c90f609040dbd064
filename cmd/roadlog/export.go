package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"roadlog/schema"
	"roadlog/tools/export"
	"roadlog/tools/export/query"
)

type exportFlags struct {
	out          string
	ranges       []string
	events       []string
	queries      []string
	before       time.Duration
	after        time.Duration
	run          string
	cameras      []string
	frames       string
	labels       []string
	tables       []string
	tableFormats []string
	minScore     float32
	jpegQuality  int
	workers      int
	failEmpty    bool
	list         bool
	quiet        bool
}

// errEmpty is the error of an empty selection under --fail-empty.
var errEmpty = errors.New("no clips selected")

func newExportCmd() *cobra.Command {
	var f exportFlags
	c := &cobra.Command{
		Use:   "export DRIVE --out DIR [selection] [flags]",
		Short: "Export labelled clips (frames, COCO/YOLO/KITTI labels, signals) for dataset teams",
		Long: `Export clips of a drive as labelled datasets. Select clips by time range (--range),
by event (--event: fcw, aeb, cut_in, mark, mark:CATEGORY, or any event kind) widened by
--before/--after, or by a label query over the objects or targets of the chosen run
(--query); windows that overlap merge into one clip. Each clip is a folder under --out:
frames as JPEG (MJPEG copied as recorded, H.264/H.265 decoded) and/or an MP4 remuxed at
keyframes, labels as COCO JSON, YOLO and KITTI, the window's signals as Parquet and CSV,
the cameras' calibration and clip.json (provenance: drive, window, why, run and model,
software, settings) with SHA256SUMS of every file.

Clips are written in parallel and published atomically: run the same command again
to resume after an interruption or a full disk (finished clips are skipped).

Query syntax (fields of one objects row, or of one targets row):
  class = car and distance < 30 and ttc < 2.5
  class in (car, truck) and lane = ego and score >= 0.6 and camera = front
  track_len >= 60 and manner = cut_in
  fcw or cipv_ttc < 2
operators = != < <= > >= in, and/or/not, parentheses. Object fields: ` + fieldNames(query.Objects) + `.
Target fields: ` + fieldNames(query.Targets) + `.`,
		Example: `  roadlog export drives/20261130T081500Z_car7 --out clips --event fcw,aeb --before 5s --after 3s
  roadlog export DRIVE --out clips --event mark:pothole --frames mp4 --labels none
  roadlog export DRIVE --out clips --query 'class = person and distance < 15' --run 20261201T090000Z_centernet
  roadlog export DRIVE --out clips --range 1m..1m30s --cameras front,rear --tables ego,gnss`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error { return runExport(cmd, a[0], f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.out, "out", "", "output folder (required)")
	fl.StringArrayVar(&f.ranges, "range", nil, "time range FROM..TO: offsets from the drive's start (10s, 1m30s, 12.5) or RFC 3339 times (repeatable)")
	fl.StringSliceVar(&f.events, "event", nil, "events: fcw, aeb, cut_in, mark, mark:CATEGORY, or any event kind (comma-separated, repeatable)")
	fl.StringArrayVar(&f.queries, "query", nil, "label query over objects or targets (repeatable; clips are the union)")
	fl.DurationVar(&f.before, "before", 5*time.Second, "seconds of drive before each event or query hit")
	fl.DurationVar(&f.after, "after", 5*time.Second, "seconds of drive after each event (or after a warning clears) or query hit")
	fl.StringVar(&f.run, "run", export.LiveRun, "whose labels: live (recorded with the drive) or a replay run id under runs/")
	fl.StringSliceVar(&f.cameras, "cameras", nil, "cameras by name or index (default: all)")
	fl.StringVar(&f.frames, "frames", "jpeg", "frames as jpeg, mp4 (remuxed at keyframes, not re-encoded), both or none")
	fl.StringSliceVar(&f.labels, "labels", []string{"coco", "yolo", "kitti"}, "label formats: coco, yolo, kitti, or none")
	fl.StringSliceVar(&f.tables, "tables", nil, "tables to include (default: "+strings.Join(tableNames(), ",")+", and can_decoded when the drive has DBC files), or none")
	fl.StringSliceVar(&f.tableFormats, "table-format", []string{"parquet", "csv"}, "table formats: parquet, csv")
	fl.Float32Var(&f.minScore, "min-score", 0, "leave out objects below this confidence from the label files")
	fl.IntVar(&f.jpegQuality, "jpeg-quality", export.DefaultJPEGQuality, "quality of JPEG frames decoded from H.264/H.265")
	fl.IntVar(&f.workers, "workers", 0, "clips written at once (default: one per CPU)")
	fl.BoolVar(&f.failEmpty, "fail-empty", false, "exit with status 1 when nothing is selected (default: say so and exit 0)")
	fl.BoolVar(&f.list, "list", false, "list the selected clips and exit without writing")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	return c
}

func fieldNames(t query.Table) string {
	var n []string
	for _, f := range query.Fields() {
		if f.Table == t {
			n = append(n, f.Name)
		}
	}
	return strings.Join(n, ", ")
}

func tableNames() []string {
	var out []string
	for _, t := range export.DefaultTables {
		out = append(out, string(t))
	}
	return out
}

func runExport(cmd *cobra.Command, dir string, f exportFlags) error {
	if f.out == "" && !f.list {
		return usagef("--out DIR is required")
	}
	if len(f.ranges)+len(f.events)+len(f.queries) == 0 {
		return usagef("say what to export: --range, --event or --query")
	}
	if f.before < 0 || f.after < 0 {
		return usagef("--before and --after must not be negative")
	}
	images, video, err := export.ParseFrames(f.frames)
	if err != nil {
		return usageError{err}
	}
	labels, err := export.ParseLabelFormats(f.labels)
	if err != nil {
		return usageError{err}
	}
	var tables []schema.TableName // nil: the default tables
	if len(f.tables) > 0 {
		if tables, err = export.ParseTables(f.tables); err != nil {
			return usageError{err}
		}
	}
	parquet, csv, err := export.ParseTableFormats(f.tableFormats)
	if err != nil {
		return usageError{err}
	}
	sel := export.Selection{Before: f.before, After: f.after}
	rec := export.SelectionRecord{Ranges: f.ranges, Queries: f.queries, BeforeS: f.before.Seconds(), AfterS: f.after.Seconds()}
	for _, e := range f.events {
		spec, err := export.ParseEvent(e)
		if err != nil {
			return usageError{err}
		}
		sel.Events = append(sel.Events, spec)
		rec.Events = append(rec.Events, spec.String())
	}
	for _, s := range f.queries {
		q, err := query.Parse(s)
		if err != nil {
			return usageError{queryError(err)}
		}
		sel.Queries = append(sel.Queries, q)
	}
	d, err := export.Open(dir)
	if err != nil {
		return err
	}
	for _, r := range f.ranges {
		rg, err := export.ParseRange(r, d.StartT)
		if err != nil {
			return usageError{err}
		}
		sel.Ranges = append(sel.Ranges, rg)
	}
	cams, err := d.ParseCameras(f.cameras)
	if err != nil {
		return usageError{err}
	}
	l, err := d.Labels(f.run)
	if err != nil {
		return usageError{err}
	}
	ws, err := export.Select(cmd.Context(), d, l, sel)
	if err != nil {
		return usageError{queryError(err)}
	}
	w := cmd.ErrOrStderr()
	if len(ws) == 0 {
		fmt.Fprintf(w, "no clips selected in %s (labels: %s); nothing written\n", d.ID(), l.Run)
		if f.failEmpty {
			return errEmpty
		}
		return nil
	}
	if f.list {
		for _, win := range ws {
			fmt.Fprintf(cmd.OutOrStdout(), "%s\t%.3f s\t%s\n", export.ClipName(win), float64(win.To-win.From)/1e9, reasons(win))
		}
		return nil
	}
	opt := export.Options{Out: f.out, Cameras: cams, Images: images, Video: video, Labels: labels, Tables: tables,
		Parquet: parquet, CSV: csv, MinScore: f.minScore, JPEGQuality: f.jpegQuality, Workers: f.workers,
		Software: version, Selection: rec}
	var bar *progressbar.ProgressBar
	if !f.quiet {
		bar = progressbar.NewOptions(len(ws), progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("export"),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("clips"), progressbar.OptionShowIts(),
			progressbar.OptionClearOnFinish(), progressbar.OptionSetPredictTime(true))
		opt.Progress = func(p export.Progress) {
			bar.Set(p.Clips)
			bar.Describe(fmt.Sprintf("export %d frames, %.0f MB", p.Frames, float64(p.Bytes)/1e6))
		}
	}
	start := time.Now()
	sum, err := export.Export(cmd.Context(), d, l, ws, opt)
	if bar != nil {
		bar.Finish()
	}
	if sum != nil {
		printExportSummary(w, sum, len(ws), time.Since(start))
	}
	if errors.Is(err, export.ErrDestinationFull) {
		return fmt.Errorf("%w\nfree some space and run the same command again: the %d finished clips are kept and skipped", err, sum.Written+sum.Skipped)
	}
	return err
}

func reasons(w export.Window) string {
	var out []string
	for _, r := range w.Reasons {
		switch r.Kind {
		case "event":
			s := r.Event
			if r.Category != "" {
				s += ":" + r.Category
			}
			out = append(out, s)
		case "query":
			out = append(out, fmt.Sprintf("query %q (%d hits)", r.Query, r.Hits))
		default:
			out = append(out, "range")
		}
	}
	return strings.Join(out, ", ")
}

func printExportSummary(w io.Writer, s *export.Summary, total int, took time.Duration) {
	fmt.Fprintf(w, "%d of %d clips: %d written, %d already there; %d frames, %d annotations, %.1f MB in %s\n",
		s.Written+s.Skipped, total, s.Written, s.Skipped, s.Frames, s.Annotations, float64(s.Bytes)/1e6, took.Round(time.Millisecond))
}

// queryError adds the query and a caret under the error's column.
func queryError(err error) error {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w\n  %s", err, strings.ReplaceAll(se.Caret(), "\n", "\n  "))
	}
	return err
}
