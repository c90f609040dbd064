package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDecodeSimDrive records a simulated drive and decodes its CAN table with the
// DBC the recorder stored in the drive: the simulated car cruises at 90 km/h in D.
func TestDecodeSimDrive(t *testing.T) {
	out := t.TempDir()
	b, err := exec.Command(roadlogBin, "record", "--sim", "--duration", "2s", "--speed", "0", "--camera-size", "160x96", "--out", out, "--quiet").Output()
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	dir := strings.TrimSpace(string(b))
	dbcPath := filepath.Join(dir, "dbc", "roadlog_sim.dbc")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(roadlogBin, "decode", dir, "--dbc", dbcPath, "--signals", "SPEED.VehicleSpeed,Gear")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("decode: %v\n%s", err, stderr.String())
	}
	recs, err := csv.NewReader(&stdout).ReadAll()
	if err != nil || len(recs) < 10 {
		t.Fatalf("csv: %v, %d records", err, len(recs))
	}
	if strings.Join(recs[0], ",") != "t,bus,id,message,signal,value,raw,unit,label" {
		t.Fatalf("header %v", recs[0])
	}
	seen := map[string]bool{}
	for _, r := range recs[1:] {
		seen[r[4]] = true
		v, err := strconv.ParseFloat(r[5], 64)
		if err != nil {
			t.Fatal(err)
		}
		if r[4] == "VehicleSpeed" && (v < 0 || v > 250 || r[7] != "km/h") {
			t.Errorf("speed row %v", r)
		}
	}
	if !seen["VehicleSpeed"] || !seen["Gear"] || len(seen) != 2 {
		t.Errorf("signals decoded: %v", seen)
	}
	// a missing drive or DBC flag is a usage error (exit 2)
	for _, args := range [][]string{{"decode", dir}, {"decode", t.TempDir(), "--dbc", dbcPath}} {
		err := exec.Command(roadlogBin, args...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("roadlog %v: %v, want exit 2", args, err)
		}
	}
}
