package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"roadlog/record/drive"
	"roadlog/replay"
	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func writeRows[R any](t *testing.T, path string, tbl *schema.Table[R], rows []*R) {
	t.Helper()
	f, err := drive.OSFS{}.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := drive.NewTableWriter(f, tbl, drive.CodecZSTD)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		w.Append(r, tbl.T(r))
		if i%37 == 36 {
			w.Flush()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

const step = int64(100e6) // 100 ms between frame sets

type run struct {
	objects []*schema.Object
	targets []*schema.Target
	events  []*schema.Event
}

func (r *run) write(t *testing.T, dir string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	writeRows(t, filepath.Join(dir, "objects.arrow"), schema.ObjectsTable, r.objects)
	writeRows(t, filepath.Join(dir, "targets.arrow"), schema.TargetsTable, r.targets)
	writeRows(t, filepath.Join(dir, "events.arrow"), schema.EventsTable, r.events)
}

func obj(t0 int64, k, cam, j int, dx float32) *schema.Object {
	x := float32(10+100*j) + dx
	ttc := schema.NaN32()
	if j == 0 {
		ttc = 5
	}
	return &schema.Object{T: t0 + int64(k)*step, TriggerID: int64(k), Camera: uint8(cam), FrameSeq: int64(k), TrackID: int64(j),
		Class: 2, Label: "car", Score: 0.9, X1: x, Y1: 10, X2: x + 50, Y2: 60, Distance: float32(10+j) + float32(k)*0.1,
		Lateral: 0, RelSpeed: -1, RelSpeedStd: 0.1, TTC: ttc, Width: 1.8, Lane: schema.LaneEgo}
}

func target(t0 int64, k int, dist, ttc float32, fcw, aeb bool) *schema.Target {
	return &schema.Target{T: t0 + int64(k)*step, TriggerID: int64(k), EgoSpeed: 20, CIPV: 0, CIPVDistance: dist,
		CIPVRelSpeed: -1, CIPVTTC: ttc, CutIn: -1, CutInTTC: schema.NaN32(), FCW: fcw, AEB: aeb, RequiredDecel: schema.NaN32()}
}

func ev(t0 int64, k int, code schema.EventCode) *schema.Event {
	e := schema.NewEvent(t0+int64(k)*step, code, schema.SevWarn, "test", code.String())
	e.Value = 2
	return e
}

// crafted builds a drive whose live run (A) and run "b" (B) differ in known ways.
func crafted(t *testing.T) *replay.Drive {
	t.Helper()
	td, err := testdrive.Write(t.TempDir(), testdrive.Spec{Seed: 1, Segments: 1, SegLen: 10e9})
	if err != nil {
		t.Fatal(err)
	}
	t0 := testdrive.T0
	var a, b run
	for k := 0; k < 100; k++ {
		for cam := 0; cam < 2; cam++ {
			for j := 0; j < 3; j++ {
				a.objects = append(a.objects, obj(t0, k, cam, j, 0))
				if k >= 90 || (cam == 1 && j == 2 && k < 20) { // B skips the last 10 sets; misses 20 objects
					continue
				}
				o := obj(t0, k, cam, j, 2) // boxes 2 px to the right: IoU 0.92
				o.Distance += 1
				if j == 0 {
					o.TTC -= 0.5
				}
				b.objects = append(b.objects, o)
			}
			if cam == 0 && k >= 50 && k < 60 { // 10 false alarms
				fp := obj(t0, k, cam, 0, 390)
				b.objects = append(b.objects, fp)
			}
		}
		a.targets = append(a.targets, target(t0, k, 20-float32(k)*0.1, 3, k >= 20 && k < 40, k >= 30 && k < 35))
		if k < 90 {
			b.targets = append(b.targets, target(t0, k, 20.5-float32(k)*0.1, 3.25, k >= 23 && k < 40, false))
		}
	}
	a.events = []*schema.Event{ev(t0, 20, schema.EvFCW), ev(t0, 30, schema.EvAEB), ev(t0, 50, schema.EvCutIn), ev(t0, 95, schema.EvCutIn)}
	b.events = []*schema.Event{ev(t0, 23, schema.EvFCW), ev(t0, 50, schema.EvCutIn), ev(t0, 80, schema.EvFCW),
		schema.NewEvent(t0+int64(60)*step, schema.EvDetectorStats, schema.SevInfo, "test", "not compared")}
	a.write(t, filepath.Join(td.Dir, "seg-000000")) // the live run
	b.write(t, filepath.Join(td.Dir, "runs", "b"))
	d, err := replay.Open(td.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-4 }

func TestCompareCrafted(t *testing.T) {
	d := crafted(t)
	rep, err := Compare(d, replay.LiveRun, "b", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := testdrive.T0
	if rep.From != t0 || rep.To != t0+89*step {
		t.Fatalf("compared %d–%d, want the 90 frame sets both runs have", rep.From-t0, rep.To-t0)
	}
	e := rep.Events
	if c := e.Counts["fcw"]; c != (EventCounts{A: 1, B: 2, Matched: 1, Shifted: 1, Added: 1}) {
		t.Fatalf("fcw counts %+v", c)
	}
	if c := e.Counts["aeb"]; c != (EventCounts{A: 1, Removed: 1}) {
		t.Fatalf("aeb counts %+v", c)
	}
	if c := e.Counts["cut_in"]; c != (EventCounts{A: 1, B: 1, Matched: 1}) { // the one at 9.5 s is outside the range
		t.Fatalf("cut-in counts %+v", c)
	}
	if len(e.Shifted) != 1 || !near(e.Shifted[0].Shift, 0.3) || len(e.Added) != 1 || e.Added[0].T != t0+80*step ||
		len(e.Removed) != 1 || e.Removed[0].Kind != "aeb" || e.Same != 1 {
		t.Fatalf("events %+v", e)
	}
	o := rep.Objects
	if o.A != 540 || o.B != 530 || o.Matched != 520 {
		t.Fatalf("objects A %d B %d matched %d, want 540 530 520", o.A, o.B, o.Matched)
	}
	if !near(float64(o.Precision), 520.0/530) || !near(float64(o.Recall), 520.0/540) || !near(float64(o.MeanIoU), 48.0/52) {
		t.Fatalf("precision %v recall %v iou %v", o.Precision, o.Recall, o.MeanIoU)
	}
	if o.Distance.N != 520 || !near(o.Distance.Mean, 1) || !near(o.Distance.MaxAbs, 1) || o.TTC.N != 180 || !near(o.TTC.Mean, -0.5) {
		t.Fatalf("distance %+v ttc %+v", o.Distance, o.TTC)
	}
	if c := o.PerClass["car"]; c.A != 540 || c.Matched != 520 {
		t.Fatalf("per class %+v", o.PerClass)
	}
	tg := rep.Targets
	if tg.Sets != 90 || tg.FCWDisagree != 3 || tg.AEBDisagree != 5 || tg.SameCIPV != 90 ||
		!near(tg.Distance.Mean, 0.5) || !near(tg.TTC.Mean, 0.25) {
		t.Fatalf("targets %+v", tg)
	}

	// JSON round trip
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Objects.Matched != 520 || !near(float64(back.Objects.Recall), 520.0/540) {
		t.Fatalf("json: %v %+v", err, back.Objects)
	}
	buf.Reset()
	if err := rep.WriteText(&buf); err != nil || buf.Len() == 0 {
		t.Fatal("no text report")
	}

	// HTML with one plot per differing event
	out := filepath.Join(t.TempDir(), "report")
	if err := rep.WriteHTML(out, 3); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	diffs := rep.differing()
	if len(diffs) != 3 {
		t.Fatalf("%d differing events, want 3", len(diffs))
	}
	for _, df := range diffs {
		if !bytes.Contains(html, []byte(`src="`+df.Plot+`"`)) {
			t.Fatalf("report.html does not show %s", df.Plot)
		}
		f, err := os.Open(filepath.Join(out, df.Plot))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 500 {
			t.Fatalf("plot %s: %v", df.Plot, err)
		}
	}
}

func TestCompareBadInput(t *testing.T) {
	d := crafted(t)
	if _, err := Compare(d, replay.LiveRun, "nope", Options{}); !errors.Is(err, replay.ErrNoRun) {
		t.Fatalf("missing run: %v, want ErrNoRun", err)
	}
	rep, err := Compare(d, "b", "b", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Objects.Precision != 1 || rep.Objects.Recall != 1 || len(rep.Events.Added)+len(rep.Events.Removed)+len(rep.Events.Shifted) != 0 ||
		rep.Targets.FCWDisagree != 0 || rep.Objects.Distance.MaxAbs != 0 {
		t.Fatalf("a run against itself: %+v", rep)
	}
	empty := filepath.Join(d.Dir, "runs", "empty")
	(&run{}).write(t, empty)
	if _, err := Compare(d, replay.LiveRun, "empty", Options{}); !errors.Is(err, ErrNothingToCompare) {
		t.Fatalf("empty run: %v, want ErrNothingToCompare", err)
	}
}
