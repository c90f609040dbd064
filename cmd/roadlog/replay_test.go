package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func roadlog(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(roadlogBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("roadlog %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func TestReplayDetectDiffCLI(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, code := roadlog(t, "record", "--sim", "--duration", "3s", "--speed", "0", "--camera-size", "320x180",
		"--static-frames", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("record: %s", stderr)
	}
	dir := strings.TrimSpace(stdout)

	// the merged stream as JSON lines, in time order, every table
	stdout, stderr, code = roadlog(t, "replay", dir, "--json")
	if code != 0 {
		t.Fatalf("replay --json: %s", stderr)
	}
	tables := map[string]int{}
	var last int64
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row struct {
			Table string `json:"table"`
			T     int64  `json:"t"`
			Data  string `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if row.T < last {
			t.Fatalf("row at %d after %d", row.T, last)
		}
		if row.Table == "frames" && row.Data != "" {
			t.Fatal("frame bytes without --bytes")
		}
		last = row.T
		tables[row.Table]++
	}
	if tables["can"] == 0 || tables["imu"] == 0 || tables["frames"] == 0 || tables["gnss"] == 0 {
		t.Fatalf("tables %v", tables)
	}
	// filtered, with bytes
	stdout, _, code = roadlog(t, "replay", dir, "--json", "--bytes", "--tables", "frames", "--cameras", "1", "--from", "1s", "--to", "2s")
	if n := strings.Count(stdout, "\n"); code != 0 || n < 29 || n > 31 || !strings.Contains(stdout, `"data":"/9j/`) {
		t.Fatalf("one second of camera 1 with bytes: %d lines, exit %d", n, code)
	}

	// re-run twice, compare: identical
	for _, id := range []string{"r1", "r2"} {
		if stdout, stderr, code = roadlog(t, "replay", dir, "--detect", "--run-id", id); code != 0 || strings.TrimSpace(stdout) != id {
			t.Fatalf("detect %s: %q %s", id, stdout, stderr)
		}
	}
	stdout, stderr, code = roadlog(t, "diff", dir, "--runs", "r1,r2", "--json", "--html", filepath.Join(t.TempDir(), "report"))
	if code != 0 {
		t.Fatalf("diff: %s", stderr)
	}
	var rep struct {
		Objects struct {
			A, Matched int
			Precision  float64
		}
		Events struct{ Added, Removed, Shifted []any }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Objects.A == 0 || rep.Objects.Matched != rep.Objects.A ||
		rep.Objects.Precision != 1 || len(rep.Events.Added)+len(rep.Events.Removed)+len(rep.Events.Shifted) != 0 {
		t.Fatalf("diff of two identical runs: %v %s", err, stdout)
	}

	// bad input: clear errors, exit 1 for data, 2 for usage
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", out}, 1, "not a roadlog drive"},
		{[]string{"replay", filepath.Join(out, "nope")}, 1, "no such file"},
		{[]string{"replay", dir, "--run", "nope"}, 1, "no such run"},
		{[]string{"replay", dir, "--frame", "0:99999"}, 1, "no such frame"},
		{[]string{"replay", dir, "--frame", "front"}, 2, "CAMERA:SEQ"},
		{[]string{"replay", dir, "--rate", "1000"}, 2, "--rate"},
		{[]string{"replay", dir, "--from", "yesterday"}, 2, "--from"},
		{[]string{"replay", dir, "--tables", "video"}, 2, "unknown table"},
		{[]string{"replay", dir, "--can-id", "0xZZ"}, 2, "--can-id"},
		{[]string{"replay", dir, "--detect", "--device", "tpu"}, 2, "--device"},
		{[]string{"replay", dir, "--detect", "--run-id", "r1"}, 2, "already exists"},
		{[]string{"replay", dir, "--detect", "--model", "nowhere"}, 1, "nowhere"},
		{[]string{"replay", dir, "--detect", "--device", "gpu", "--model", "centernet"}, 1, "GPU library not loaded"},
		{[]string{"diff", dir, "--runs", "live,nope"}, 1, "no such run"},
		{[]string{"diff", dir, "--runs", "r1"}, 2, "two runs"},
	}
	for _, c := range cases {
		_, stderr, code := roadlog(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("roadlog %v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// A drive recorded from an H.264 file camera re-runs through the CNN: its frames are
// decoded by ffmpeg through record/videoread.
func TestReplayDetectH264(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (apt-get install ffmpeg)")
	}
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.mp4")
	if out, err := exec.Command(ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "2",
		"-c:v", "libx264", "-g", "15", "-bf", "0", "-pix_fmt", "yuv420p", clip).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	rigFile := filepath.Join(dir, "rig.yaml")
	if err := os.WriteFile(rigFile, []byte(`vehicle: h264test
cameras:
  - {index: 0, name: front, kind: file, file: clip.mp4, codec: h264, width: 320, height: 240, fps: 30,
     calibration: {fx: 300, fy: 300, cx: 160, cy: 120, height_m: 1.3}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := roadlog(t, "record", "--rig", rigFile, "--duration", "2s", "--out", filepath.Join(dir, "drives"), "--quiet")
	if code != 0 {
		t.Fatalf("record: %s", stderr)
	}
	drv := strings.TrimSpace(stdout)
	if _, stderr, code = roadlog(t, "replay", drv, "--detect", "--model", "centernet", "--to", "0.5s", "--run-id", "h"); code != 0 {
		t.Fatalf("detect: %s", stderr)
	}
	b, err := os.ReadFile(filepath.Join(drv, "runs", "h", "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Stats struct {
			Frames       int `json:"frames"`
			DecodeErrors int `json:"decode_errors"`
		}
	}
	if err := json.Unmarshal(b, &info); err != nil || info.Stats.Frames < 10 || info.Stats.DecodeErrors != 0 {
		t.Fatalf("run.json %s: %v", b, err)
	}
}
