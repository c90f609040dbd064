package export

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roadlog/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenFiles are the clip files kept in testdata/golden (the text ones a reviewer
// reads); SHA256SUMS holds the SHA-256 of every other file, so the whole clip is pinned.
func goldenFiles(rel string) bool {
	switch {
	case rel == ClipFile, rel == SumsFile, rel == "coco.json", rel == "data.yaml", rel == "calibration.json":
		return true
	case strings.HasPrefix(rel, "labels/cam0/"), strings.HasPrefix(rel, "kitti/cam0/"):
		return true
	case rel == "tables/ego.csv", rel == "tables/gnss.csv", rel == "tables/targets.csv", rel == "tables/events.csv", rel == "tables/objects.csv":
		return true
	}
	return false
}

// TestGolden exports the test drive's "glare" driver mark (two cameras, every format)
// and compares the clip with testdata/golden (go test -run Golden -update rewrites it).
func TestGolden(t *testing.T) {
	d := testDrive(t)
	l := labelsOf(t, d, LiveRun)
	sel := Selection{Events: []EventSpec{{Code: schema.EvMark, Category: "glare"}}, Before: 200 * time.Millisecond, After: 100 * time.Millisecond}
	ws := windowsOf(t, d, l, sel)
	opt := allFormats(t.TempDir())
	opt.Selection = SelectionRecord{Events: []string{"mark:glare"}, BeforeS: 0.2, AfterS: 0.1}
	sum, err := Export(context.Background(), d, l, ws, opt)
	if err != nil {
		t.Fatal(err)
	}
	dir := sum.Clips[0].Dir
	golden := filepath.Join("testdata", "golden", sum.Clips[0].Name)
	got := map[string][]byte{}
	for rel := range tree(t, dir) {
		if goldenFiles(rel) {
			b, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			got[rel] = b
		}
	}
	if *update {
		os.RemoveAll(filepath.Join("testdata", "golden"))
		for rel, b := range got {
			p := filepath.Join(golden, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := tree(t, golden)
	if len(want) == 0 {
		t.Fatalf("no golden files in %s (go test -run Golden -update)", golden)
	}
	for rel := range want {
		if _, ok := got[rel]; !ok {
			t.Errorf("%s: in the golden clip, not in the export", rel)
		}
	}
	for rel, b := range got {
		w, err := os.ReadFile(filepath.Join(golden, filepath.FromSlash(rel)))
		if err != nil {
			t.Errorf("%s: not in the golden clip (go test -run Golden -update)", rel)
			continue
		}
		if !bytes.Equal(b, w) {
			t.Errorf("%s differs from the golden file (go test -run Golden -update, then review the diff)", rel)
		}
	}
}
