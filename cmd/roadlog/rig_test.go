package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRigCommand checks every example rig, and a broken one: its problems are printed
// with their lines and roadlog exits with status 2.
func TestRigCommand(t *testing.T) {
	examples, _ := filepath.Glob("../../examples/*.yaml")
	if len(examples) == 0 {
		t.Fatal("no example rigs in ../../examples")
	}
	for _, f := range examples {
		b, err := exec.Command(roadlogBin, "rig", f).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(b), "vehicle ") {
			t.Errorf("roadlog rig %s: %v\n%s", f, err, b)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("vehicle: v\ngnss:\n  - kind: serial\n    port: /dev/ttyACM0\n    bauds: 9600\n"), 0o644)
	cmd := exec.Command(roadlogBin, "rig", bad)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "bad.yaml:5:5: gnss[0].bauds: unknown key") {
		t.Errorf("roadlog rig bad.yaml: %v, stderr %q", err, stderr.String())
	}
}

// TestRigCommandCameras: camera settings that cannot record (rig.CheckCameras) are
// problems of roadlog rig and of record --rig, each printed with its line, exit 2.
func TestRigCommandCameras(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"codec", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: h265\n",
			"bad.yaml:6:12: cameras[0].codec: invalid value"},
		{"option", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: yuyv\n    options:\n      bitrate: fast\n",
			"bad.yaml:8:16: cameras[0].options.bitrate: invalid value"},
		{"size", "vehicle: v\ncameras:\n  - index: 0\n    kind: file\n    file: a.mp4\n    height: 720\n",
			"bad.yaml:6:13: cameras[0].height: invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bad := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(bad, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"rig", bad}, {"record", "--rig", bad, "--out", dir, "--detector", "none", "--duration", "2s"}} {
				cmd := exec.Command(roadlogBin, args...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				err := cmd.Run()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), tc.want) {
					t.Errorf("roadlog %s: %v, stderr %q, want %q", args[0], err, stderr.String(), tc.want)
				}
			}
		})
	}
}
