package export

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"roadlog/record/drive"
	"roadlog/rig"
)

// TestCamerasTakeTheDrivesCalibration: the cameras' calibration is
// drive.ReadCalibration's (the one replay's rerun ranges with), also where the
// manifest and rig.yaml both calibrate a camera, and a rig.yaml that does not parse
// is an error rather than cameras without calibration.
func TestCamerasTakeTheDrivesCalibration(t *testing.T) {
	dir := t.TempDir()
	m := &drive.Manifest{
		Cameras: []drive.Camera{{Index: 0, Name: "front", Codec: "mjpeg", Width: 640, Height: 360}, {Index: 1, Name: "rear", Codec: "mjpeg", Width: 640, Height: 360}},
		Extra: []byte(`{"calibration": [
			{"index": 0, "name": "front", "width": 640, "height": 360, "fx": 554, "fy": 554, "cx": 320, "cy": 180, "height_m": 1.3, "pitch_deg": 1, "x_m": -1.8},
			{"index": 1, "name": "rear", "width": 640, "height": 360, "fx": 185, "fy": 185, "cx": 320, "cy": 180, "height_m": 1.1, "yaw_deg": 180, "x_m": -4.5}]}`),
	}
	rigYAML := `vehicle: car7
cameras:
  - index: 0
    name: front
    kind: v4l2
    device: /dev/video0
    width: 640
    height: 360
    codec: mjpeg
    calibration: {fx: 560, fy: 561, cx: 321, cy: 181, height_m: 1.35, pitch_deg: 1.2, yaw_deg: 0.5, x_m: -1.7, y_m: 0.05}
`
	if err := os.WriteFile(filepath.Join(dir, drive.RigFile), []byte(rigYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cams, err := cameras(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	cals, err := drive.ReadCalibration(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(cams) != 2 || len(cals) != 2 {
		t.Fatalf("%d cameras, %d calibrations, want 2 of each", len(cams), len(cals))
	}
	for i, k := range cals {
		c := cams[i]
		want := Calibration{Calibration: k.Calibration, Source: k.Source}
		if c.Index != k.Index || c.Calibration == nil || *c.Calibration != want {
			t.Errorf("camera %d: %+v, want %+v", c.Index, c.Calibration, want)
		}
	}
	if cams[0].Calibration.Source != drive.CalibrationFromRig || cams[0].Calibration.FX != 560 || cams[1].Calibration.Source != drive.CalibrationFromManifest {
		t.Errorf("front from %s (fx %v), rear from %s; want front from rig.yaml, rear from the manifest",
			cams[0].Calibration.Source, cams[0].Calibration.FX, cams[1].Calibration.Source)
	}

	if err := os.WriteFile(filepath.Join(dir, drive.RigFile), []byte(rigYAML+"    fps: fast\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var re *rig.Error
	if _, err := cameras(dir, m); !errors.As(err, &re) || re.Line != 11 {
		t.Errorf("a rig.yaml that does not parse: %v, want a *rig.Error at line 11", err)
	}
}
