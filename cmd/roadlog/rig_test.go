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
