package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/record/drive"
)

// arrowcheck returns the command that runs the independent Arrow reader (Apache Arrow's
// JavaScript implementation, ../shared/tools/arrowcheck, installed into .cache/ by
// scripts/deps.sh), or skips.
func arrowcheck(t *testing.T) string {
	t.Helper()
	p := os.Getenv("ROADLOG_ARROWCHECK")
	if p == "" {
		p = filepath.Join("..", "..", ".cache", "arrowcheck", "check.js")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p), "node_modules", "apache-arrow")); err != nil {
		t.Skip("independent Arrow reader not installed (run scripts/deps.sh; needs ../shared and npm)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	return p
}

type checkResult struct {
	File      string   `json:"file"`
	Fields    []string `json:"fields"`
	Rows      int64    `json:"rows"`
	TMonotone bool     `json:"tMonotonic"`
	Error     string   `json:"error"`
}

func runArrowcheck(t *testing.T, script string, files []string) []checkResult {
	t.Helper()
	out, _ := exec.Command("node", append([]string{script}, files...)...).Output()
	var res []checkResult
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r checkResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("arrowcheck output %q: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	if len(res) != len(files) {
		t.Fatalf("arrowcheck answered for %d of %d files", len(res), len(files))
	}
	return res
}

// TestIndependentArrowReader records a drive and reads every table with Apache Arrow's
// JavaScript implementation: same rows as roadlog's reader, t first and in order. A
// footerless file (crash) is rejected by it until roadlog repair writes the footer.
func TestIndependentArrowReader(t *testing.T) {
	script := arrowcheck(t)
	out := t.TempDir()
	b, err := exec.Command(roadlogBin, "record", "--sim", "--duration", "4s", "--speed", "0", "--segment", "2s",
		"--camera-size", "160x96", "--out", out, "--quiet").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSpace(string(b))
	files, _ := filepath.Glob(filepath.Join(dir, "seg-*", "*.arrow"))
	if len(files) < 20 {
		t.Fatalf("%d table files", len(files))
	}
	rep, err := drive.Verify(dir)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v", err)
	}
	var total int64
	for _, r := range runArrowcheck(t, script, files) {
		if r.Error != "" {
			t.Errorf("%s: %s", r.File, r.Error)
			continue
		}
		if len(r.Fields) == 0 || r.Fields[0] != "t" || !r.TMonotone {
			t.Errorf("%s: fields %v, t monotonic %v", r.File, r.Fields, r.TMonotone)
		}
		total += r.Rows
	}
	var want int64
	for _, n := range rep.Rows {
		want += n
	}
	if total != want {
		t.Fatalf("independent reader read %d rows, roadlog %d", total, want)
	}
	// A file whose footer a crash never wrote: rejected, then readable after repair
	// with every row.
	can := filepath.Join(dir, "seg-000001", "can.arrow")
	raw, _ := os.ReadFile(can)
	before := runArrowcheck(t, script, []string{can})[0].Rows
	os.WriteFile(can, raw[:len(raw)-20], 0o644)
	if r := runArrowcheck(t, script, []string{can}); r[0].Error == "" {
		t.Fatalf("the independent reader accepted a file without footer")
	}
	if err := exec.Command(roadlogBin, "repair", dir).Run(); err != nil {
		t.Fatal(err)
	}
	if r := runArrowcheck(t, script, []string{can}); r[0].Error != "" || r[0].Rows != before || before == 0 {
		t.Fatalf("after repair: %+v", r[0])
	}
}
