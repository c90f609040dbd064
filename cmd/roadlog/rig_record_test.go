package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/internal/shared"
	"roadlog/record/drive"
	"roadlog/schema"
)

// TestRecordFromRigFile records a real CAN log (comma2k19's RAV4 candump, replayed as
// fast as possible) through a rig file with the opendbc Toyota DBC mapped to ego
// columns: every frame of the log is in can.arrow, ego rows carry the decoded speed,
// the DBC is copied into the drive, and the drive verifies.
func TestRecordFromRigFile(t *testing.T) {
	log := shared.Path(t, "testdata/candump/comma2k19/rav4_2018-08-02_seg40_can.log")
	dbcFile := shared.Path(t, "testdata/dbc/opendbc/toyota_new_mc_pt_generated.dbc")
	dir := t.TempDir()
	rigFile := filepath.Join(dir, "rav4.yaml")
	os.WriteFile(rigFile, []byte(`vehicle: rav4
can:
  - name: can0
    kind: candump
    file: `+log+`
    dbc: [`+dbcFile+`]
    ego:
      speed: {signal: SPEED.SPEED, scale: 0.27777778}
      steering_angle: STEER_ANGLE_SENSOR.STEER_ANGLE
`), 0o644)
	out := filepath.Join(dir, "drives")
	cmd := exec.Command(roadlogBin, "record", "--rig", rigFile, "--out", out, "--quiet")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("record --rig: %v", err)
	}
	drv := strings.TrimSpace(string(b))
	rep, err := drive.Verify(drv)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v", err)
	}
	lines := 0
	raw, _ := os.ReadFile(log)
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "(") {
			lines++
		}
	}
	if rep.Rows["can"] != int64(lines) {
		t.Fatalf("can.arrow has %d rows, the log %d frames", rep.Rows["can"], lines)
	}
	var speeds int
	segs, _ := drive.Segments(drv)
	for _, s := range segs {
		drive.ReadRows(filepath.Join(drv, drive.SegmentDir(s), "ego.arrow"), schema.EgoTable, func(e *schema.Ego) error {
			if e.Speed == e.Speed && e.Speed >= 0 && e.Speed < 60 {
				speeds++
			}
			return nil
		})
	}
	if speeds == 0 {
		t.Fatal("no ego rows with a decoded speed")
	}
	if _, err := os.Stat(filepath.Join(drv, "dbc", filepath.Base(dbcFile))); err != nil {
		t.Fatalf("DBC not copied into the drive: %v", err)
	}
	if _, err := os.Stat(filepath.Join(drv, "rig.yaml")); err != nil {
		t.Fatalf("rig.yaml not in the drive: %v", err)
	}
	// A rig file with an unknown key is a usage error naming the line.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("vehicle: x\ncan:\n  - name: c\n    kind: candump\n    fiel: x.log\n"), 0o644)
	cmd = exec.Command(roadlogBin, "record", "--rig", bad, "--out", out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(stderr.String(), ":5:") {
		t.Fatalf("bad rig: %v, exit %d, stderr %q", err, cmd.ProcessState.ExitCode(), stderr.String())
	}
}

// TestRecordFromRigWithVideoFile records the dash-cam video through a file camera
// (played as fast as the recorder takes it) beside a CAN log: every frame of the video
// is in frames.arrow and in cam0.mp4, and the drive verifies.
func TestRecordFromRigWithVideoFile(t *testing.T) {
	video := shared.Path(t, "testdata/images/video/udacity_lanes_solidWhiteRight.mp4")
	log := shared.Path(t, "testdata/candump/eldominio/gt86__revrev.log")
	dir := t.TempDir()
	rigFile := dashcamRig(t, dir, video, `{fast: "true"}`, `can:
  - name: can0
    kind: candump
    file: `+log+"\n")
	out := filepath.Join(dir, "drives")
	b, err := exec.Command(roadlogBin, "record", "--rig", rigFile, "--out", out, "--quiet", "--detector", "none").Output()
	if err != nil {
		t.Fatalf("record --rig: %v", err)
	}
	drv := strings.TrimSpace(string(b))
	rep, err := drive.Verify(drv)
	if err != nil || !rep.OK() {
		var sb strings.Builder
		if rep != nil {
			rep.Print(&sb)
		}
		t.Fatalf("verify: %v\n%s", err, sb.String())
	}
	if rep.Frames != 221 || rep.Rows["frames"] != 221 {
		t.Fatalf("%d video frames, %d frames rows; the file has 221", rep.Frames, rep.Rows["frames"])
	}
}

// TestRecordH264CameraLiveDetection records the dash-cam video (H.264, as an RTSP or
// pipe camera would deliver it, here as an elementary stream with one frame damaged)
// with the live CNN: its frames are decoded as they are recorded, so the detector
// finds the road's vehicles with no frame it could not read but the damaged one
// (before live decoding, every frame was a detector error), and the drive says that
// one frame gave no picture (a source_error event, category undecodable).
func TestRecordH264CameraLiveDetection(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CNN on the CPU")
	}
	video := shared.Path(t, "testdata/images/video/udacity_lanes_solidWhiteRight.mp4")
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not found (make test installs it)")
	}
	dir := t.TempDir()
	// the video as an H.264 elementary stream, one of its P-frames damaged beyond
	// decoding (garbage in place of its slice): the recorder keeps that frame like any
	// other, the live decoder gives it no picture and keeps the pictures after it on
	// their own frames
	stream := filepath.Join(dir, "dashcam.h264")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", video, "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", stream).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	es, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	damaged := false
	for i, n := 0, 0; i+64 < len(es); i++ {
		if es[i] == 0 && es[i+1] == 0 && es[i+2] == 1 && es[i+3]&0x1f == 1 {
			if n++; n == 20 { // the 20th non-IDR slice
				for k := i + 4; k < i+64; k++ {
					es[k] = byte(k*7919+13) | 0x10 // no zero bytes: no start code
				}
				damaged = true
				break
			}
		}
	}
	if !damaged {
		t.Fatal("no 20th P-slice in the video")
	}
	if err := os.WriteFile(stream, es, 0o644); err != nil {
		t.Fatal(err)
	}
	// in real time (twice as fast): the detector keeps up with part of it
	rigFile := dashcamRig(t, dir, stream, "{speed: 2}", "")
	b, err := exec.Command(roadlogBin, "record", "--rig", rigFile, "--out", filepath.Join(dir, "drives"), "--quiet", "--detector", "cnn").Output()
	if err != nil {
		t.Fatalf("record --rig --detector cnn: %v", err)
	}
	drv := strings.TrimSpace(string(b))
	stdout, stderr, code := roadlog(t, "replay", drv, "--json", "--rate", "0", "--no-controls", "--quiet")
	if code != 0 {
		t.Fatalf("replay --json: %s", stderr)
	}
	var processed, errs, vehicles, undecodable int
	var sourceErrors []string
	for _, line := range strings.Split(stdout, "\n") {
		var row struct {
			Table, Kind, Label, Detail, Category string
			Count                                int
		}
		if line == "" || json.Unmarshal([]byte(line), &row) != nil {
			continue
		}
		switch {
		case row.Table == "events" && row.Kind == "detector_stats":
			var st struct{ Processed, Errors int }
			if err := json.Unmarshal([]byte(row.Detail), &st); err != nil {
				t.Fatalf("detector_stats detail %q: %v", row.Detail, err)
			}
			processed += st.Processed
			errs += st.Errors
		case row.Table == "objects" && (row.Label == "car" || row.Label == "truck"):
			vehicles++
		case row.Table == "events" && row.Kind == "source_error" && row.Category == "undecodable":
			undecodable += row.Count
		case row.Table == "events" && row.Kind == "source_error":
			sourceErrors = append(sourceErrors, line)
		}
	}
	// the damaged frame is a detector error only when the latest-wins queue took its set
	if processed == 0 || errs > 1 || vehicles == 0 || undecodable != 1 {
		t.Fatalf("live detection of an H.264 camera: %d frame sets processed, %d with errors (want at most the damaged one), %d vehicles, %d frames undecodable (want 1); errors: %v",
			processed, errs, vehicles, undecodable, sourceErrors)
	}
	t.Logf("%d frame sets detected live (%d errors), %d vehicle rows, %d frame undecodable", processed, errs, vehicles, undecodable)
}

// dashcamRig writes a rig with the dash-cam video as a file camera (960×540 H.264 at
// 25 fps, with options) after the other sections given, and returns its path.
func dashcamRig(t *testing.T, dir, video, options, other string) string {
	t.Helper()
	rigFile := filepath.Join(dir, "dashcam.yaml")
	if err := os.WriteFile(rigFile, []byte(`vehicle: dashcam
`+other+`cameras:
  - index: 0
    name: front
    kind: file
    file: `+video+`
    codec: h264
    width: 960
    height: 540
    fps: 25
    options: `+options+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return rigFile
}
