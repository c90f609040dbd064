package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/detect"
	"roadlog/detect/gpu/gputest"
	"roadlog/internal/shared"
)

// runSplit runs roadlog with stdout and stderr apart.
func runSplit(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

// TestDetectDevice: --device gpu runs the GPU engine (here the CPU twin of its library),
// --device auto without a library says why on stderr and runs the CPU engine, and
// --device gpu without one fails with a plain error.
func TestDetectDevice(t *testing.T) {
	img := shared.Path(t, "testdata/images/kitti/image_2/000008.png")
	missing := filepath.Join(t.TempDir(), "libroadlog_gpu.so")
	out, stderr, err := runSplit(t, "detect", "--device", "auto", "--gpu-lib", missing, "--json", img)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res []detect.ImageResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.HasPrefix(res[0].Engine, "cpu") || !strings.Contains(stderr, "CPU engine") {
		t.Errorf("engine %q, stderr %q", res[0].Engine, stderr)
	}
	var ue usageError
	if _, _, err := runSplit(t, "detect", "--device", "gpu", "--gpu-lib", missing, img); err == nil || errors.As(err, &ue) {
		t.Errorf("--device gpu without the library: %v, want a plain error", err)
	}
	if _, _, err := runSplit(t, "detect", "--precision", "fp8", img); !errors.As(err, &ue) {
		t.Errorf("--precision fp8: %v, want a usage error", err)
	}
	twin := gputest.Twin(t)
	out, stderr, err = runSplit(t, "detect", "--device", "gpu", "--gpu-lib", twin, "--json", "--classes", "road", img)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	res = nil
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cars := 0
	for _, d := range res[0].Detections {
		if d.Class == detect.ClassCar {
			cars++
		}
	}
	if !strings.HasPrefix(res[0].Engine, "gpu") || cars < 3 {
		t.Errorf("engine %q, %d cars", res[0].Engine, cars)
	}
}
