package main

import (
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
