package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func pct(n Num) string {
	if math.IsNaN(float64(n)) {
		return "  n/a"
	}
	return fmt.Sprintf("%5.1f%%", 100*float64(n))
}

// WriteText writes a plain summary.
func (r *Report) WriteText(w io.Writer) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	off := func(t int64) float64 { return float64(t-r.StartT) / 1e9 }
	p("drive %s: %s (B) against %s (A), frame sets %.2fs–%.2fs\n\n", r.Drive, r.B, r.A, off(r.From), off(r.To))
	p("events (within %.2fs)      A     B  same  shifted  added  removed\n", r.Options.EventTolerance)
	kinds := make([]string, 0, len(r.Events.Counts))
	for k := range r.Events.Counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		c := r.Events.Counts[k]
		p("  %-22s %5d %5d %5d %8d %6d %8d\n", k, c.A, c.B, c.Matched-c.Shifted, c.Shifted, c.Added, c.Removed)
	}
	for _, s := range r.Events.Shifted {
		p("  shifted  %-7s at %8.2fs by %+.3fs\n", s.Kind, s.Offset, s.Shift)
	}
	for _, e := range r.Events.Added {
		p("  added    %-7s at %8.2fs  %s\n", e.Kind, e.Offset, e.Message)
	}
	for _, e := range r.Events.Removed {
		p("  removed  %-7s at %8.2fs  %s\n", e.Kind, e.Offset, e.Message)
	}
	o := r.Objects
	p("\nobjects (IoU ≥ %.2f)  %d frames: A %d, B %d, matched %d  precision %s  recall %s  mean IoU %.3f\n",
		r.Options.IoU, o.Frames, o.A, o.B, o.Matched, pct(o.Precision), pct(o.Recall), float64(o.MeanIoU))
	labels := make([]string, 0, len(o.PerClass))
	for l := range o.PerClass {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		c := o.PerClass[l]
		p("  %-14s A %6d  B %6d  matched %6d  precision %s  recall %s\n", l, c.A, c.B, c.Matched, pct(c.Precision), pct(c.Recall))
	}
	st := func(name, unit string, s Stats) {
		if s.N == 0 {
			p("  %-14s no pairs\n", name)
			return
		}
		p("  %-14s n %6d  mean %+.3f%s  mean |Δ| %.3f%s  rms %.3f%s  max |Δ| %.3f%s\n", name, s.N, s.Mean, unit, s.MeanAbs, unit, s.RMS, unit, s.MaxAbs, unit)
	}
	p("  differences B − A of matched objects:\n")
	st("distance", "m", o.Distance)
	st("ttc", "s", o.TTC)
	t := r.Targets
	p("\ntargets  %d frame sets: CIPV in both or neither %d, only A %d, only B %d; FCW differs in %d, AEB in %d\n",
		t.Sets, t.SameCIPV, t.CIPVOnlyA, t.CIPVOnlyB, t.FCWDisagree, t.AEBDisagree)
	st("cipv distance", "m", t.Distance)
	st("cipv ttc", "s", t.TTC)
	return nil
}

// Differing is one event the runs disagree on, for plots.
type Differing struct {
	What string // "added", "removed", "shifted"
	Kind string
	T    int64  // the event (A's, for a shifted one)
	TB   int64  // B's, for a shifted event
	Plot string // PNG file name in the report folder
}

// differing lists the events the runs disagree on, in time order.
func (r *Report) differing() []Differing {
	var out []Differing
	for _, e := range r.Events.Added {
		out = append(out, Differing{What: "added", Kind: e.Kind, T: e.T})
	}
	for _, e := range r.Events.Removed {
		out = append(out, Differing{What: "removed", Kind: e.Kind, T: e.T})
	}
	for _, s := range r.Events.Shifted {
		out = append(out, Differing{What: "shifted", Kind: s.Kind, T: s.TA, TB: s.TB})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	for i := range out {
		out[i].Plot = fmt.Sprintf("event-%03d-%s-%s.png", i+1, out[i].What, out[i].Kind)
	}
	return out
}

// WriteHTML writes report.html into dir with one PNG per differing event: the CIPV's
// time to collision and distance in both runs over ±window around it.
func (r *Report) WriteHTML(dir string, window float64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if window <= 0 {
		window = 5
	}
	evs := r.differing()
	for _, e := range evs {
		if err := r.plotAround(filepath.Join(dir, e.Plot), e, window); err != nil {
			return err
		}
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	data := struct {
		R      *Report
		Events []Differing
		Text   string
	}{R: r, Events: evs}
	var sb bytes.Buffer
	r.WriteText(&sb)
	data.Text = sb.String()
	if err := reportTmpl.Execute(f, data); err != nil {
		f.Close()
		return fmt.Errorf("write report: %w", err)
	}
	return f.Close()
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"off": func(r *Report, t int64) string { return fmt.Sprintf("%.2fs", float64(t-r.StartT)/1e9) },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>roadlog diff {{.R.Drive}}: {{.R.B}} vs {{.R.A}}</title>
<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}img{max-width:100%;border:1px solid #ccc}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}</style></head>
<body>
<h1>{{.R.B}} against {{.R.A}}</h1>
<p>drive {{.R.Drive}}</p>
<h2>Summary</h2>
<pre>{{.Text}}</pre>
<h2>Differing events</h2>
{{if not .Events}}<p>none: every FCW, AEB and cut-in event is in both runs at the same time.</p>{{end}}
{{range .Events}}<h3>{{.What}} {{.Kind}} at {{off $.R .T}}</h3>
<p><img src="{{.Plot}}" alt="TTC and distance of the closest in-path vehicle around {{.Kind}} at {{off $.R .T}}"></p>
{{end}}
</body></html>
`))

// plotAround draws TTC (top) and distance (bottom) of both runs around an event.
func (r *Report) plotAround(path string, e Differing, window float64) error {
	lo, hi := float64(e.T-r.StartT)/1e9-window, float64(e.T-r.StartT)/1e9+window
	mk := func(title, ylabel string, pick func(s *series, i int) float32) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "drive time (s)"
		p.Y.Label.Text = ylabel
		p.X.Min, p.X.Max = lo, hi
		for k, name := range []string{r.A, r.B} {
			var pts plotter.XYs
			s := &r.series[k]
			for i, t := range s.t {
				x := float64(t-r.StartT) / 1e9
				if y := pick(s, i); x >= lo && x <= hi && finite32(y) {
					pts = append(pts, plotter.XY{X: x, Y: float64(y)})
				}
			}
			if len(pts) == 0 {
				continue
			}
			ln, err := plotter.NewLine(pts)
			if err != nil {
				return nil, err
			}
			ln.Color = []color.Color{color.RGBA{R: 30, G: 90, B: 200, A: 255}, color.RGBA{R: 220, G: 60, B: 30, A: 255}}[k]
			ln.Width = vg.Points(1.5)
			if k == 1 {
				ln.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			}
			p.Add(ln)
			p.Legend.Add(name, ln)
		}
		// the event's instant (and B's, when shifted): vertical lines across the data
		y0, y1 := p.Y.Min, p.Y.Max
		if !(y1 > y0) {
			y0, y1 = 0, 1
		}
		for k, t := range []int64{e.T, e.TB} {
			if t == 0 {
				continue
			}
			x := float64(t-r.StartT) / 1e9
			mark, err := plotter.NewLine(plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}})
			if err != nil {
				return nil, err
			}
			mark.Color = []color.Color{color.Gray{Y: 110}, color.RGBA{R: 220, G: 60, B: 30, A: 160}}[k]
			mark.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(mark)
		}
		p.Legend.Top = true
		return p, nil
	}
	ttc, err := mk(fmt.Sprintf("%s %s at %.2fs: CIPV time to collision", e.What, e.Kind, float64(e.T-r.StartT)/1e9), "TTC (s)",
		func(s *series, i int) float32 { return s.ttc[i] })
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	dist, err := mk("CIPV distance", "distance (m)", func(s *series, i int) float32 { return s.dist[i] })
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	img := vgimg.New(vg.Points(720), vg.Points(560))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4), PadY: vg.Points(8)}
	canvases := plot.Align([][]*plot.Plot{{ttc}, {dist}}, tiles, dc)
	ttc.Draw(canvases[0][0])
	dist.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return f.Close()
}
