package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roadlog/internal/testdrive"
)

func exportDrive(t *testing.T) string {
	t.Helper()
	info, err := testdrive.Write(t.TempDir(), testdrive.Options{Duration: 6 * time.Second, Segment: 4 * time.Second, Live: true, RunID: "truth-1"})
	if err != nil {
		t.Fatal(err)
	}
	return info.Dir
}

func runBin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(roadlogBin, args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestExportCommand(t *testing.T) {
	dir := exportDrive(t)
	out := filepath.Join(t.TempDir(), "clips")
	cases := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"export", dir, "--out", out, "--query", "class = car and distnce < 30"}, 2, "query:1:17: unknown field"},
		{[]string{"export", dir, "--out", out, "--query", "score >"}, 2, "query:1:8"},
		{[]string{"export", dir, "--out", out}, 2, "--range, --event or --query"},
		{[]string{"export", dir, "--out", out, "--event", "fwc"}, 2, "unknown event kind"},
		{[]string{"export", dir, "--out", out, "--range", "5s..2s"}, 2, "bad time range"},
		{[]string{"export", dir, "--out", out, "--range", "1s..2s", "--cameras", "roof"}, 2, "camera \"roof\""},
		{[]string{"export", dir, "--out", out, "--range", "1s..2s", "--run", "nope"}, 2, "no such run"},
		{[]string{"export", dir, "--out", out, "--range", "1s..2s", "--frames", "gif"}, 2, "frames \"gif\""},
		{[]string{"export", dir, "--out", out, "--query", "camera = roof"}, 2, "no camera \"roof\""},
		{[]string{"export", dir, "--out", out, "--event", "disk_full"}, 0, "no clips selected"},
		{[]string{"export", dir, "--out", out, "--event", "disk_full", "--fail-empty"}, 1, "no clips selected"},
	}
	for _, c := range cases {
		_, stderr, code := runBin(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("roadlog %v: exit %d, stderr %q; want exit %d and %q", c.args[2:], code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("failed or empty exports created %s", out)
	}
	args := []string{"export", dir, "--out", out, "--event", "mark:pothole", "--query", "cipv_distance < 0", "--before", "1s", "--after", "500ms",
		"--frames", "both", "--cameras", "front,1", "--run", "truth-1", "--quiet"}
	_, stderr, code := runBin(t, args...)
	if code != 0 || !strings.Contains(stderr, "1 written") {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	clip := filepath.Join(out, "20261130T081502.000Z_1500ms")
	for _, p := range []string{"clip.json", "coco.json", "data.yaml", "images/cam0", "images/cam1", "video/cam1.mp4", "kitti/cam1/calib.txt", "tables/imu.parquet", "tables/run_events.csv"} {
		if _, err := os.Stat(filepath.Join(clip, p)); err != nil {
			t.Errorf("clip lacks %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(clip, "images", "cam2")); err == nil {
		t.Error("a camera that was not asked for was exported")
	}
	_, stderr, code = runBin(t, args...)
	if code != 0 || !strings.Contains(stderr, "0 written, 1 already there") {
		t.Fatalf("second export: exit %d: %s", code, stderr)
	}
	stdout, _, code := runBin(t, "export", dir, "--list", "--event", "mark,fcw", "--before", "1s", "--after", "1s")
	if code != 0 || strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, "mark:pothole") {
		t.Fatalf("--list: exit %d:\n%s", code, stdout)
	}
}

func TestConvertCommand(t *testing.T) {
	dir := exportDrive(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"convert", dir, "--to", "rosbag", "--out", t.TempDir()}, 2, "unknown output format"},
		{[]string{"convert", dir, "--to", "mcap"}, 2, "--out"},
		{[]string{"convert", dir, "--to", "csv", "--out", t.TempDir(), "--tables", "nope"}, 2, "table \"nope\""},
		{[]string{"convert", t.TempDir(), "--to", "csv", "--out", t.TempDir()}, 1, "not a roadlog drive"},
	} {
		_, stderr, code := runBin(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("roadlog %v: exit %d, %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	for _, to := range []string{"parquet", "mcap", "candump", "csv"} {
		out := t.TempDir()
		stdout, stderr, code := runBin(t, "convert", dir, "--to", to, "--out", out, "--quiet")
		if code != 0 || stdout == "" {
			t.Fatalf("convert --to %s: exit %d: %s", to, code, stderr)
		}
		for _, p := range strings.Fields(stdout) {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("convert --to %s printed %s: %v", to, p, err)
			}
		}
	}
}
