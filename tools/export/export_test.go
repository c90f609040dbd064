package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/internal/testdrive"
	"roadlog/record/drive"
	"roadlog/schema"
	"roadlog/tools/export/query"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The package's tests share one simulated drive: 14 s, 4 cameras, 5 s segments, live
// labels and a replay run "truth-1" with other warning thresholds.
var (
	driveOnce sync.Once
	driveDir  string
	driveErr  error
)

const testRun = "truth-1"

func testDrive(t testing.TB) *Drive {
	t.Helper()
	driveOnce.Do(func() {
		dir, err := os.MkdirTemp("", "roadlog-export-test-")
		if err != nil {
			driveErr = err
			return
		}
		info, err := testdrive.Write(dir, testdrive.Options{Duration: 14 * time.Second, Segment: 5 * time.Second, Live: true, RunID: testRun})
		if err != nil {
			driveErr = err
			return
		}
		driveDir = info.Dir
	})
	if driveErr != nil {
		t.Fatal(driveErr)
	}
	d, err := Open(driveDir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func labelsOf(t testing.TB, d *Drive, run string) *Labels {
	t.Helper()
	l, err := d.Labels(run)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func allFormats(out string) Options {
	return Options{Out: out, Cameras: []uint8{0, 1}, Images: true, Video: true, Labels: []LabelFormat{COCO, YOLO, KITTI},
		Parquet: true, CSV: true, Software: "test"}
}

// tree returns every file under dir (relative path → SHA-256), skipping nothing.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d files vs %d", len(a), len(b))
	}
	var diff []string
	for k, v := range a {
		if b[k] != v {
			diff = append(diff, k)
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Fatalf("%d files differ: %v", len(diff), diff[:min(len(diff), 10)])
	}
}

func windowsOf(t testing.TB, d *Drive, l *Labels, sel Selection) []Window {
	t.Helper()
	ws, err := Select(context.Background(), d, l, sel)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestExportIsDeterministic(t *testing.T) {
	d := testDrive(t)
	l := labelsOf(t, d, LiveRun)
	ws := windowsOf(t, d, l, Selection{Events: []EventSpec{{Code: schema.EvMark}, {Code: schema.EvFCW}}, Before: 300 * time.Millisecond, After: 300 * time.Millisecond})
	if len(ws) < 2 {
		t.Fatalf("%d windows", len(ws))
	}
	a, b := t.TempDir(), t.TempDir()
	oa, ob := allFormats(a), allFormats(b)
	oa.Workers, ob.Workers = 1, 4
	if _, err := Export(context.Background(), d, l, ws, oa); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(context.Background(), d, l, ws, ob); err != nil {
		t.Fatal(err)
	}
	sameTree(t, tree(t, a), tree(t, b))
}

func TestClipManifestListsEveryFile(t *testing.T) {
	d := testDrive(t)
	l := labelsOf(t, d, testRun)
	out := t.TempDir()
	ws := []Window{{From: d.StartT + 4e9, To: d.StartT + 6e9, Reasons: []Reason{{Kind: "range"}}}}
	sum, err := Export(context.Background(), d, l, ws, allFormats(out))
	if err != nil {
		t.Fatal(err)
	}
	dir := sum.Clips[0].Dir
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ClipFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	files := tree(t, dir)
	if files[SumsFile] != m.Checksums.SHA256 {
		t.Errorf("clip.json says %s has SHA-256 %s, it has %s", SumsFile, m.Checksums.SHA256, files[SumsFile])
	}
	delete(files, ClipFile)
	delete(files, SumsFile)
	sums, err := os.ReadFile(filepath.Join(dir, SumsFile))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n") {
		h, p, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("%s line %q", SumsFile, line)
		}
		listed[p] = h
	}
	sameTree(t, files, listed)
	if m.Checksums.Files != int64(len(listed)) {
		t.Errorf("clip.json counts %d files, %s lists %d", m.Checksums.Files, SumsFile, len(listed))
	}
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sha, "--check", "--quiet", SumsFile)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum --check: %v: %s", err, out)
		}
	}
	if m.Labels.Run != testRun || !strings.Contains(string(m.Labels.Model), `"truth"`) {
		t.Errorf("labels provenance %+v", m.Labels)
	}
	if m.Drive.ID != testdrive.DriveID || m.Window.From != ws[0].From || m.Window.To != ws[0].To || m.Software.Version != "test" {
		t.Errorf("provenance %+v %+v %+v", m.Drive, m.Window, m.Software)
	}
	if _, ok := files["tables/run_events.parquet"]; !ok {
		t.Error("a run's clip has no tables/run_events.parquet")
	}
}

func TestExportResumes(t *testing.T) {
	d := testDrive(t)
	l := labelsOf(t, d, LiveRun)
	ws := windowsOf(t, d, l, Selection{Events: []EventSpec{{Code: schema.EvMark}}, Before: 500 * time.Millisecond, After: 500 * time.Millisecond})
	out := t.TempDir()
	opt := allFormats(out)
	first, err := Export(context.Background(), d, l, ws, opt)
	if err != nil {
		t.Fatal(err)
	}
	if first.Written != len(ws) || first.Skipped != 0 {
		t.Fatalf("first run: %+v", first)
	}
	clean := tree(t, out)
	// a finished clip removed, and a stale partial folder left by a crash
	if err := os.RemoveAll(first.Clips[0].Dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(out, "."+first.Clips[0].Name+".partial")
	if err := os.MkdirAll(filepath.Join(stale, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	second, err := Export(context.Background(), d, l, ws, opt)
	if err != nil {
		t.Fatal(err)
	}
	if second.Written != 1 || second.Skipped != len(ws)-1 {
		t.Fatalf("second run wrote %d, skipped %d; want 1 and %d", second.Written, second.Skipped, len(ws)-1)
	}
	sameTree(t, clean, tree(t, out))
	// other settings into the same folder: refused, nothing overwritten
	opt.MinScore = 0.7
	if _, err := Export(context.Background(), d, l, ws, opt); !errors.Is(err, ErrClipMismatch) {
		t.Fatalf("export with other settings into a finished folder: %v, want ErrClipMismatch", err)
	}
	sameTree(t, clean, tree(t, out))
}

// fullFS is the real file system with a byte budget: writes past it fail with ENOSPC,
// as on a disk that fills up.
type fullFS struct {
	OSFS
	mu   sync.Mutex // guards left
	left int64
}

func (f *fullFS) Create(path string) (io.WriteCloser, error) {
	w, err := f.OSFS.Create(path)
	if err != nil {
		return nil, err
	}
	return &budgetFile{w, f}, nil
}

type budgetFile struct {
	io.WriteCloser
	fs *fullFS
}

func (b *budgetFile) Write(p []byte) (int, error) {
	b.fs.mu.Lock()
	n := int64(len(p))
	if n > b.fs.left {
		n = max(b.fs.left, 0)
	}
	b.fs.left -= n
	b.fs.mu.Unlock()
	if n < int64(len(p)) {
		w, _ := b.WriteCloser.Write(p[:n])
		return w, &os.PathError{Op: "write", Path: "budget", Err: syscall.ENOSPC}
	}
	return b.WriteCloser.Write(p)
}

func TestExportStopsCleanlyWhenTheDiskFills(t *testing.T) {
	d := testDrive(t)
	l := labelsOf(t, d, LiveRun)
	ws := windowsOf(t, d, l, Selection{Ranges: []Range{{d.StartT, d.StartT + 1e9}, {d.StartT + 3e9, d.StartT + 4e9}, {d.StartT + 6e9, d.StartT + 7e9}, {d.StartT + 9e9, d.StartT + 10e9}}})
	ref := t.TempDir()
	if _, err := Export(context.Background(), d, l, ws, allFormats(ref)); err != nil {
		t.Fatal(err)
	}
	want := tree(t, ref)
	var total int64
	filepath.WalkDir(ref, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			st, _ := e.Info()
			total += st.Size()
		}
		return nil
	})
	out := t.TempDir()
	opt := allFormats(out)
	opt.Workers = 1
	opt.FS = &fullFS{left: total * 4 / 10}
	sum, err := Export(context.Background(), d, l, ws, opt)
	if !errors.Is(err, ErrDestinationFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("export onto a full disk: %v, want ErrDestinationFull and ENOSPC", err)
	}
	if sum == nil || sum.Written == 0 || sum.Written == len(ws) {
		t.Fatalf("full disk: %+v; want some but not all clips finished", sum)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".partial") {
			t.Errorf("partial folder %s left behind", e.Name())
		}
	}
	// finished clips are whole
	got := tree(t, out)
	for p, h := range got {
		if want[p] != h {
			t.Errorf("%s differs from a clean export", p)
		}
	}
	// room again: resume finishes the job with the same bytes
	opt.FS = nil
	sum, err = Export(context.Background(), d, l, ws, opt)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped == 0 || sum.Written+sum.Skipped != len(ws) {
		t.Fatalf("resume: %+v", sum)
	}
	sameTree(t, want, tree(t, out))
}

func TestExportCancelled(t *testing.T) {
	d := testDrive(t)
	l := labelsOf(t, d, LiveRun)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	_, err := Export(ctx, d, l, []Window{{From: d.StartT, To: d.StartT + 1e9}}, allFormats(out))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v", err)
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 0 {
		t.Fatalf("cancelled export left %d entries", len(ents))
	}
}

func TestQueryWindowsMatchADirectScan(t *testing.T) {
	d := testDrive(t)
	for _, run := range []string{LiveRun, testRun} {
		l := labelsOf(t, d, run)
		q, err := query.Parse("class = car and lane = ego and ttc < 3 and camera = front")
		if err != nil {
			t.Fatal(err)
		}
		ws := windowsOf(t, d, l, Selection{Queries: []*query.Query{q}, Before: time.Second, After: 500 * time.Millisecond})
		// the same condition written directly over every objects row
		var hits []int64
		pattern := filepath.Join(d.Dir, "seg-*", "objects.arrow")
		if run != LiveRun {
			pattern = filepath.Join(d.Dir, "runs", run, "objects.arrow")
		}
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if _, err := drive.ReadRows(p, schema.ObjectsTable, func(o *schema.Object) error {
				if o.Label == "car" && o.Lane == schema.LaneEgo && o.TTC < 3 && o.Camera == 0 {
					hits = append(hits, o.T)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if len(hits) == 0 {
			t.Fatalf("%s: the test drive has no hits; the test would prove nothing", run)
		}
		var n int64
		for _, w := range ws {
			for _, r := range w.Reasons {
				n += r.Hits
			}
		}
		if n != int64(len(hits)) {
			t.Errorf("%s: %d hits in the windows, %d in a direct scan", run, n, len(hits))
		}
		for _, h := range hits {
			in := false
			for _, w := range ws {
				if max(h-1e9, d.StartT) >= w.From && min(h+5e8, d.EndT) <= w.To {
					in = true
				}
			}
			if !in {
				t.Errorf("%s: hit at %d is not inside a window", run, h)
			}
		}
	}
}
