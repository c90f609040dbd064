package syncreport

import (
	"bytes"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"roadlog/schema"
)

// writeSync writes rows as seg/sync.arrow in batches of batch rows; footer false
// leaves the file as a crash would (no footer), cut cut bytes short.
func writeSync(t *testing.T, dir string, rows []schema.SyncRow, batch int, footer bool, cut int) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(schema.SyncTable.Schema()), ipc.WithZstd())
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema.SyncTable.Schema())
	defer b.Release()
	for i := 0; i < len(rows); i += batch {
		for k := i; k < min(i+batch, len(rows)); k++ {
			schema.SyncTable.Append(b, &rows[k])
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	data := buf.Bytes()
	if footer {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	data = data[:len(data)-cut]
	p := filepath.Join(dir, "sync.arrow")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rowsOf makes n rows a second of a reference (drifting 10 ppm, jitter 100 ns) and a
// device (jitter 20 µs, converging for its first 5 rows).
func rowsOf(from, n int) []schema.SyncRow {
	var out []schema.SyncRow
	for i := from; i < from+n; i++ {
		t := int64(1796026500+i) * 1e9
		out = append(out,
			schema.SyncRow{T: t, Source: "reference", State: schema.SyncLocked, Offset: 5000e9 - 1796026500e9 - int64(i)*10e3,
				DriftPPM: 10, Jitter: 100, Uncertainty: 300, Samples: int32(i)},
			schema.SyncRow{T: t, Source: "imu", State: state(i), Offset: 123e9 + int64(i)*50e3 + int64(i%3)*1e3,
				DriftPPM: 50, Jitter: 20e3, Uncertainty: float64(40e3 + i), Samples: int32(100 * i)})
	}
	return out
}

func state(i int) schema.SyncState {
	if i < 5 {
		return schema.SyncConverging
	}
	return schema.SyncLocked
}

func TestReport(t *testing.T) {
	drive := t.TempDir()
	writeSync(t, filepath.Join(drive, "seg-000000"), rowsOf(0, 60), 16, true, 0)
	writeSync(t, filepath.Join(drive, "seg-000001"), rowsOf(60, 40), 16, false, 0) // cut by a crash: no footer
	var out bytes.Buffer
	pngPath := filepath.Join(t.TempDir(), "sync.png")
	if err := Report(&out, drive, pngPath); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	s, err := Summarise(drive)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sources) != 2 || s.Sources[0].Name != "reference" || s.Sources[1].Name != "imu" {
		t.Fatalf("sources %v", s.Sources)
	}
	ref, imu := s.Sources[0], s.Sources[1]
	if ref.Rows != 100 || imu.Rows != 100 {
		t.Errorf("rows %d, %d; want 100 each (the footer-less segment's batches kept)", ref.Rows, imu.Rows)
	}
	if ref.Span != 99 {
		t.Errorf("span %v", ref.Span)
	}
	if imu.States[schema.SyncConverging] != 5 || imu.Changes != 1 {
		t.Errorf("imu states %v, changes %d", imu.States, imu.Changes)
	}
	// the reference's offset is a straight line: no wander; the imu's has a 0/1/2 µs sawtooth
	if ref.WanderP99 > 1 {
		t.Errorf("reference wander p99 %v ns", ref.WanderP99)
	}
	if imu.WanderP99 < 500 || imu.WanderP99 > 1500 {
		t.Errorf("imu wander p99 %v ns", imu.WanderP99)
	}
	if imu.UncP50 != 40e3+49 || imu.UncP99 != 40e3+98 {
		t.Errorf("imu uncertainty p50 %v p99 %v", imu.UncP50, imu.UncP99)
	}
	if len(s.Damaged) != 1 {
		t.Errorf("damage %v, want the footer-less file", s.Damaged)
	}
	var ce *CorruptionError
	if !errors.As(s.Damaged[0], &ce) || !strings.HasSuffix(ce.Path, filepath.Join("seg-000001", "sync.arrow")) {
		t.Errorf("damage %v", s.Damaged[0])
	}
	for _, want := range []string{"reference", "imu", "converging=5 locked=95", "plot: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("plot is no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 200 {
		t.Errorf("plot %v", b)
	}
}

// TestReportDamage: torn files keep what they can; a drive with nothing readable
// is ErrNoSyncData; garbage is a CorruptionError.
func TestReportDamage(t *testing.T) {
	cases := []struct {
		name   string
		footer bool
		cut    int
		rows   int // rows that must survive
	}{
		{"footer torn", true, 10, 64},
		{"mid-batch cut", false, 40, 48},
		{"whole", true, 0, 64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "seg-000000")
			p := writeSync(t, dir, rowsOf(0, 32), 16, c.footer, c.cut)
			rows, err := ReadFile(p)
			if len(rows) != c.rows {
				t.Errorf("%d rows survive, want %d (err %v)", len(rows), c.rows, err)
			}
		})
	}
	drive := t.TempDir()
	if err := os.MkdirAll(filepath.Join(drive, "seg-000000"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(drive, "seg-000000", "sync.arrow"), []byte("garbage, not arrow"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Summarise(drive)
	var ce *CorruptionError
	if !errors.Is(err, ErrNoSyncData) || !errors.As(err, &ce) || ce.Offset != 0 {
		t.Errorf("garbage drive: %v", err)
	}
	if err := Report(&bytes.Buffer{}, filepath.Join(drive, "missing"), ""); err == nil {
		t.Error("missing drive: no error")
	}
	if q := quantile(nil, 0.5); !math.IsNaN(q) {
		t.Error("quantile of nothing")
	}
}
