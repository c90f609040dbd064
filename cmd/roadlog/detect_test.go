package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"roadlog/detect"
	"roadlog/internal/shared"
)

func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestDetectCommand(t *testing.T) {
	img := shared.Path(t, "testdata/images/kitti/image_2/000008.png")
	dir := t.TempDir()
	out, err := runRoot(t, "detect", "--device", "cpu", "--json", "--classes", "road", "--out", dir, img)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res []detect.ImageResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cars := 0
	for _, d := range res[0].Detections {
		if d.Class == detect.ClassCar {
			cars++
		}
	}
	if len(res) != 1 || res[0].Width != 1242 || cars < 3 {
		t.Errorf("results %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "000008.det.png")); err != nil {
		t.Errorf("annotated image: %v", err)
	}
}

func TestDetectCommandErrors(t *testing.T) {
	var ue usageError
	for _, args := range [][]string{
		{"detect"},
		{"detect", "--device", "tpu", "x.jpg"},
		{"detect", "--fit", "crop", "x.jpg"},
		{"detect", "--classes", "boats", "x.jpg"},
	} {
		if _, err := runRoot(t, args...); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.jpg")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runRoot(t, "detect", bad); err == nil || errors.As(err, &ue) {
		t.Errorf("undecodable image: %v, want a plain error", err)
	}
}
