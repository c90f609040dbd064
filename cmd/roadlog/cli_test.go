package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"roadlog/record/drive"
	"roadlog/schema"
)

// TestUsageErrorsExit2 runs the binary with bad invocations: each must print a clear
// message and exit with status 2.
func TestUsageErrorsExit2(t *testing.T) {
	cases := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"record"}, "--sim"},
		{[]string{"record", "--sim", "--cameras", "5"}, "--cameras 5"},
		{[]string{"record", "--sim", "--camera-size", "big"}, "--camera-size"},
		{[]string{"record", "--sim", "--speed", "-1"}, "--speed"},
		{[]string{"record", "--sim", "--compression", "gzip"}, "compression"},
		{[]string{"record", "--sim", "--flush", "5s"}, "flush interval"},
		{[]string{"record", "--bogus"}, "unknown flag"},
		{[]string{"verify"}, "accepts 1 arg"},
		{[]string{"inspect", "a", "b"}, "accepts 1 arg"},
		{[]string{"frobnicate"}, "unknown command"},
	}
	for _, c := range cases {
		cmd := exec.Command(roadlogBin, c.args...)
		cmd.Dir = t.TempDir()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("roadlog %v: %v, want exit status 2 (stderr %q)", c.args, err, stderr.String())
			continue
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("roadlog %v: stderr %q does not mention %q", c.args, stderr.String(), c.want)
		}
	}
}

func TestRecordInspectVerifyRepair(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(roadlogBin, "record", "--sim", "--duration", "3s", "--speed", "0", "--camera-size", "160x96", "--out", out, "--quiet")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	dir := strings.TrimSpace(string(b))
	if filepath.Dir(dir) != out {
		t.Fatalf("record printed %q", dir)
	}
	for _, args := range [][]string{{"inspect", dir}, {"inspect", "--json", dir}, {"verify", dir}, {"repair", dir}} {
		if b, err := exec.Command(roadlogBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("roadlog %v: %v\n%s", args, err, b)
		}
	}
	// A damaged drive makes verify exit 1, and repair fixes it.
	can := filepath.Join(dir, "seg-000000", "can.arrow")
	raw, _ := os.ReadFile(can)
	os.WriteFile(can, raw[:len(raw)-20], 0o644)
	err = exec.Command(roadlogBin, "verify", dir).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("verify of a damaged drive: %v, want exit status 1", err)
	}
	if b, err := exec.Command(roadlogBin, "repair", dir).CombinedOutput(); err != nil || !strings.Contains(string(b), "can.arrow") {
		t.Fatalf("repair: %v\n%s", err, b)
	}
	if b, err := exec.Command(roadlogBin, "verify", dir).CombinedOutput(); err != nil {
		t.Fatalf("verify after repair: %v\n%s", err, b)
	}
	// Not a drive: a clear error, exit status 1.
	b, err = exec.Command(roadlogBin, "verify", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(b), "not a roadlog drive") {
		t.Fatalf("verify of an empty folder: %v %s", err, b)
	}
}

// TestFramesCarryTriggerIDs records a simulated drive and checks that every camera frame
// was assigned to its trigger by the frame-set stage: the same id for the four cameras
// of one instant (their time stamps within a millisecond: each camera has its own
// latency and jitter), consecutive ids 1/30 s apart.
func TestFramesCarryTriggerIDs(t *testing.T) {
	out := t.TempDir()
	b, err := exec.Command(roadlogBin, "record", "--sim", "--duration", "2s", "--speed", "0", "--camera-size", "96x64", "--out", out, "--quiet").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSpace(string(b))
	byTrigger := map[int64][]schema.Frame{}
	if _, err := drive.ReadRows(filepath.Join(dir, "seg-000000", "frames.arrow"), schema.FramesTable, func(r *schema.Frame) error {
		byTrigger[r.TriggerID] = append(byTrigger[r.TriggerID], *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, bad := byTrigger[-1]; bad || len(byTrigger) < 55 {
		t.Fatalf("%d frame sets; unassigned frames: %v", len(byTrigger), bad)
	}
	var ids []int64
	mid := map[int64]int64{}
	for id, fs := range byTrigger {
		if len(fs) != 4 {
			t.Fatalf("trigger %d has %d frames", id, len(fs))
		}
		lo, hi := fs[0].T, fs[0].T
		for _, f := range fs {
			lo, hi = min(lo, f.T), max(hi, f.T)
		}
		if hi-lo > 1e6 {
			t.Fatalf("trigger %d: frames %d ns apart", id, hi-lo)
		}
		ids = append(ids, id)
		mid[id] = (lo + hi) / 2
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if d := mid[ids[i]] - mid[ids[i-1]]; ids[i] != ids[i-1]+1 || d < 16.7e6 || d > 50e6 { // within half a period: the reference may step
			t.Fatalf("trigger %d follows %d, %d ns later", ids[i], ids[i-1], d)
		}
	}
}

// TestRerunGroupsFramesByTrigger re-runs perception on a simulated drive whose cameras
// carry their own clocks (the frames of one trigger are stamped a little apart): one
// frame set, so one targets row, per trigger.
func TestRerunGroupsFramesByTrigger(t *testing.T) {
	out := t.TempDir()
	b, err := exec.Command(roadlogBin, "record", "--sim", "--duration", "2s", "--speed", "0", "--camera-size", "96x64", "--out", out, "--quiet").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSpace(string(b))
	if b, err := exec.Command(roadlogBin, "replay", dir, "--detect", "--model", "truth", "--run-id", "r1").CombinedOutput(); err != nil {
		t.Fatalf("replay --detect: %v\n%s", err, b)
	}
	triggers := map[int64]bool{}
	drive.ReadRows(filepath.Join(dir, "seg-000000", "frames.arrow"), schema.FramesTable, func(f *schema.Frame) error {
		triggers[f.TriggerID] = true
		return nil
	})
	var targets int
	if _, err := drive.ReadRows(filepath.Join(dir, "runs", "r1", "targets.arrow"), schema.TargetsTable, func(*schema.Target) error {
		targets++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if targets != len(triggers) {
		t.Fatalf("%d targets rows for %d triggers", targets, len(triggers))
	}
}
