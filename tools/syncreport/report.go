package syncreport

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"roadlog/schema"
)

// Source is the summary of one clock's sync rows.
type Source struct {
	Name      string
	Rows      int
	Span      float64                  // s from the first row to the last
	States    map[schema.SyncState]int // rows per state
	Changes   int                      // state changes seen in the rows
	DriftPPM  float64                  // median
	DriftMin  float64                  //
	DriftMax  float64                  //
	JitterP50 float64                  // ns
	JitterP99 float64                  // ns
	UncP50    float64                  // ns
	UncP99    float64                  // ns
	WanderP50 float64                  // ns: |offset − its straight-line fit|
	WanderP99 float64                  // ns
	rows      []schema.SyncRow
}

// Summary is the report of a drive.
type Summary struct {
	Drive   string
	Files   int
	Damaged []error // per-file damage (rows before it were kept)
	Sources []*Source
}

// Summarise reads every sync table of the drive.
func Summarise(drive string) (*Summary, error) {
	files, err := Files(drive)
	if err != nil {
		return nil, err
	}
	s := &Summary{Drive: drive, Files: len(files)}
	by := map[string]*Source{}
	for _, f := range files {
		rows, err := ReadFile(f)
		if err != nil {
			s.Damaged = append(s.Damaged, err)
		}
		for _, r := range rows {
			src := by[r.Source]
			if src == nil {
				src = &Source{Name: r.Source, States: map[schema.SyncState]int{}}
				by[r.Source] = src
				s.Sources = append(s.Sources, src)
			}
			src.rows = append(src.rows, r)
		}
	}
	if len(s.Sources) == 0 {
		if len(s.Damaged) > 0 {
			return nil, fmt.Errorf("summarise %s: %w: %w", drive, ErrNoSyncData, errors.Join(s.Damaged...))
		}
		return nil, fmt.Errorf("summarise %s: %w", drive, ErrNoSyncData)
	}
	sort.Slice(s.Sources, func(i, j int) bool {
		a, b := s.Sources[i].Name, s.Sources[j].Name
		if (a == "reference") != (b == "reference") {
			return a == "reference"
		}
		return a < b
	})
	for _, src := range s.Sources {
		src.summarise()
	}
	return s, nil
}

func (s *Source) summarise() {
	r := s.rows
	sort.SliceStable(r, func(i, j int) bool { return r[i].T < r[j].T })
	s.Rows = len(r)
	s.Span = float64(r[len(r)-1].T-r[0].T) * 1e-9
	var drift, jit, unc []float64
	for i, x := range r {
		s.States[x.State]++
		if i > 0 && x.State != r[i-1].State {
			s.Changes++
		}
		drift = appendFinite(drift, x.DriftPPM)
		jit = appendFinite(jit, x.Jitter)
		unc = appendFinite(unc, x.Uncertainty)
	}
	s.DriftPPM = quantile(drift, 0.5)
	if len(drift) > 0 {
		s.DriftMin, s.DriftMax = slices.Min(drift), slices.Max(drift)
	} else {
		s.DriftMin, s.DriftMax = math.NaN(), math.NaN()
	}
	s.JitterP50, s.JitterP99 = quantile(jit, 0.5), quantile(jit, 0.99)
	s.UncP50, s.UncP99 = quantile(unc, 0.5), quantile(unc, 0.99)
	w := wander(r)
	s.WanderP50, s.WanderP99 = quantile(w, 0.5), quantile(w, 0.99)
}

func appendFinite(v []float64, x float64) []float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return v
	}
	return append(v, x)
}

// quantile returns the q-quantile (nearest rank) of v, NaN when empty. v is sorted in place.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	i := int(math.Ceil(q*float64(len(v)))) - 1
	return v[min(max(i, 0), len(v)-1)]
}

// wander returns |offset − its least-squares line| of every row: the part of the
// offset a constant drift does not explain.
func wander(r []schema.SyncRow) []float64 {
	n := float64(len(r))
	if n < 2 {
		return nil
	}
	t0, o0 := r[0].T, r[0].Offset
	var sx, sy, sxx, sxy float64
	for _, x := range r {
		tx, oy := float64(x.T-t0)*1e-9, float64(x.Offset-o0)
		sx, sy, sxx, sxy = sx+tx, sy+oy, sxx+tx*tx, sxy+tx*oy
	}
	den := n*sxx - sx*sx
	b := 0.0
	if den != 0 {
		b = (n*sxy - sx*sy) / den
	}
	a := (sy - b*sx) / n
	out := make([]float64, len(r))
	for i, x := range r {
		tx, oy := float64(x.T-t0)*1e-9, float64(x.Offset-o0)
		out[i] = math.Abs(oy - (a + b*tx))
	}
	return out
}

// Report writes the per-source sync report of drive to w and, unless pngPath is
// empty, a PNG plot of every source's offset over time (relative to its first row).
func Report(w io.Writer, drive string, pngPath string) error {
	s, err := Summarise(drive)
	if err != nil {
		return err
	}
	if err := s.Write(w); err != nil {
		return err
	}
	if pngPath != "" {
		if err := s.Plot(pngPath); err != nil {
			return err
		}
		fmt.Fprintf(w, "plot: %s\n", pngPath)
	}
	return nil
}

// Write prints the summary as a table.
func (s *Summary) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "sync report: %s (%d sync tables)\n", filepath.Base(s.Drive), s.Files)
	fmt.Fprintf(&b, "%-14s %6s %8s %7s %5s %10s %10s %10s %10s %10s %11s %11s  %s\n",
		"source", "rows", "span_s", "locked", "chg", "drift_ppm", "jitter_p50", "jitter_p99", "unc_p50", "unc_p99",
		"wander_p50", "wander_p99", "states")
	for _, src := range s.Sources {
		locked := float64(src.States[schema.SyncLocked]+src.States[schema.SyncPassthrough]) / float64(src.Rows)
		fmt.Fprintf(&b, "%-14s %6d %8.1f %6.1f%% %5d %10.3f %10s %10s %10s %10s %11s %11s  %s\n",
			src.Name, src.Rows, src.Span, 100*locked, src.Changes, src.DriftPPM,
			dur(src.JitterP50), dur(src.JitterP99), dur(src.UncP50), dur(src.UncP99), dur(src.WanderP50), dur(src.WanderP99),
			states(src.States))
	}
	for _, d := range s.Damaged {
		fmt.Fprintf(&b, "damaged: %v\n", d)
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write sync report: %w", err)
	}
	return nil
}

// dur formats ns with a unit.
func dur(ns float64) string {
	a := math.Abs(ns)
	switch {
	case math.IsNaN(ns):
		return "-"
	case math.IsInf(ns, 0):
		return "inf"
	case a < 1e3:
		return fmt.Sprintf("%.0fns", ns)
	case a < 1e6:
		return fmt.Sprintf("%.1fus", ns/1e3)
	case a < 1e9:
		return fmt.Sprintf("%.2fms", ns/1e6)
	}
	return fmt.Sprintf("%.3fs", ns/1e9)
}

func states(m map[schema.SyncState]int) string {
	keys := make([]schema.SyncState, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// palette colours the sources' lines.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xff, 0x7f, 0x0e, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
}

// Plot draws every source's offset (µs, relative to its first row) against time (s
// from the drive's first row) into a PNG: one panel per source, each on its own scale
// (a device's drift ramp would flatten the reference's wander on a shared one).
func (s *Summary) Plot(path string) error {
	var tmin int64 = math.MaxInt64
	for _, src := range s.Sources {
		tmin = min(tmin, src.rows[0].T)
	}
	panels := make([][]*plot.Plot, 0, len(s.Sources))
	for i, src := range s.Sources {
		p := plot.New()
		p.Title.Text = src.Name
		p.X.Label.Text = "time (s)"
		p.Y.Label.Text = "offset − first (µs)"
		p.Add(plotter.NewGrid())
		xy := make(plotter.XYs, len(src.rows))
		o0 := src.rows[0].Offset
		for k, r := range src.rows {
			xy[k].X = float64(r.T-tmin) * 1e-9
			xy[k].Y = float64(r.Offset-o0) * 1e-3
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("plot %s: %w", src.Name, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1)
		p.Add(l)
		panels = append(panels, []*plot.Plot{p})
	}
	const w, h = 10 * vg.Inch, 2.5 * vg.Inch
	img := vgimg.New(w, h*vg.Length(len(panels)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter, PadY: 2 * vg.Millimeter,
		PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 2 * vg.Millimeter}
	canvases := plot.Align(panels, tiles, dc)
	for i := range panels {
		panels[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save sync plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		return fmt.Errorf("save sync plot: %w", errors.Join(err, f.Close()))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save sync plot: %w", err)
	}
	return nil
}
