package drive

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"roadlog/rig"
)

// simExtra is a simulated drive's extra, as the recorder writes it (acquire/sim.Camera
// entries beside other context).
const simExtra = `{"scenario": "roadlog-sim-1", "seed": 7, "calibration": [
 {"index": 1, "name": "rear", "width": 640, "height": 360, "hfov_deg": 120, "fx": 185, "fy": 185, "cx": 320, "cy": 180,
  "x_m": -4.5, "y_m": 0, "height_m": 1.1, "yaw_deg": 180, "pitch_deg": 5},
 {"index": 0, "name": "front", "width": 640, "height": 360, "hfov_deg": 60, "fx": 554, "fy": 554, "cx": 320, "cy": 180,
  "x_m": -1.8, "y_m": 0.1, "height_m": 1.3, "yaw_deg": 0, "pitch_deg": 1}]}`

const rigYAML = `vehicle: car7
cameras:
  - index: 0
    name: front_wide
    kind: v4l2
    device: /dev/video0
    width: 1920
    height: 1080
    fps: 30
    codec: mjpeg
    calibration: {fx: 1000, fy: 1001, cx: 960, cy: 540, height_m: 1.45, pitch_deg: 1.5, yaw_deg: 2, x_m: 1.9, y_m: 0.2}
  - index: 2
    name: side
    kind: rtsp
    url: rtsp://cam/2
    calibration: {fx: 700, fy: 700, cx: 640, cy: 360, height_m: 1.2, yaw_deg: 90}
  - index: 3
    name: uncalibrated
    kind: v4l2
    device: /dev/video6
`

var (
	simFront = CameraCalibration{Index: 0, Name: "front", Width: 640, Height: 360, Source: CalibrationFromManifest,
		Calibration: rig.Calibration{FX: 554, FY: 554, CX: 320, CY: 180, HeightM: 1.3, PitchDeg: 1, YawDeg: 0, XM: -1.8, YM: 0.1}}
	simRear = CameraCalibration{Index: 1, Name: "rear", Width: 640, Height: 360, Source: CalibrationFromManifest,
		Calibration: rig.Calibration{FX: 185, FY: 185, CX: 320, CY: 180, HeightM: 1.1, PitchDeg: 5, YawDeg: 180, XM: -4.5}}
	rigFront = CameraCalibration{Index: 0, Name: "front_wide", Width: 1920, Height: 1080, Source: CalibrationFromRig,
		Calibration: rig.Calibration{FX: 1000, FY: 1001, CX: 960, CY: 540, HeightM: 1.45, PitchDeg: 1.5, YawDeg: 2, XM: 1.9, YM: 0.2}}
	// the rig leaves camera 2's size open: the size it recorded at, from the manifest
	rigSide = CameraCalibration{Index: 2, Name: "side", Width: 1280, Height: 720, Source: CalibrationFromRig,
		Calibration: rig.Calibration{FX: 700, FY: 700, CX: 640, CY: 360, HeightM: 1.2, YawDeg: 90}}
)

// recordedCameras is what the manifest says the cameras recorded at.
var recordedCameras = []Camera{{Index: 0, Name: "front", Width: 1920, Height: 1080}, {Index: 2, Name: "side", Width: 1280, Height: 720}}

var calibrationCases = []struct {
	name     string
	manifest *Manifest // nil: none
	rig      string    // rig.yaml ("": none)
	want     []CameraCalibration
	wantErr  any // nil, or a pointer to the error type errors.As must find
}{
	{name: "sim", manifest: &Manifest{Extra: []byte(simExtra)}, want: []CameraCalibration{simFront, simRear}},
	{name: "rig", manifest: &Manifest{Cameras: recordedCameras}, rig: rigYAML, want: []CameraCalibration{rigFront, rigSide}},
	{name: "rig without manifest", rig: rigYAML,
		want: []CameraCalibration{rigFront, {Index: 2, Name: "side", Source: CalibrationFromRig, Calibration: rigSide.Calibration}}},
	// a camera in both takes rig.yaml's; the others keep theirs
	{name: "both", manifest: &Manifest{Cameras: recordedCameras, Extra: []byte(simExtra)}, rig: rigYAML,
		want: []CameraCalibration{rigFront, simRear, rigSide}},
	{name: "neither", manifest: &Manifest{Cameras: recordedCameras, Extra: []byte(`{"scenario": "x"}`)}, want: []CameraCalibration{}},
	{name: "no manifest", want: []CameraCalibration{}},
	// a manifest entry without a size: the size the camera recorded at
	{name: "sim without size", manifest: &Manifest{Cameras: recordedCameras, Extra: []byte(`{"calibration": [{"index": 2, "fx": 1, "fy": 1, "cx": 1, "cy": 1, "height_m": 1}]}`)},
		want: []CameraCalibration{{Index: 2, Width: 1280, Height: 720, Source: CalibrationFromManifest,
			Calibration: rig.Calibration{FX: 1, FY: 1, CX: 1, CY: 1, HeightM: 1}}}},
	{name: "bad rig", manifest: &Manifest{Extra: []byte(simExtra)}, rig: rigYAML + "    calibraton: {}\n", wantErr: new(*rig.Error)},
	{name: "bad extra", manifest: &Manifest{Extra: []byte(`{"calibration": [{"index": 300}]}`)}, wantErr: new(*CorruptionError)},
	{name: "bad extra type", manifest: &Manifest{Extra: []byte(`{"calibration": {"index": 0}}`)}, wantErr: new(*CorruptionError)},
}

func TestReadCalibration(t *testing.T) {
	for _, c := range calibrationCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.rig != "" {
				if err := os.WriteFile(filepath.Join(dir, RigFile), []byte(c.rig), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadCalibration(dir, c.manifest)
			if c.wantErr != nil {
				if err == nil || !errors.As(err, c.wantErr) {
					t.Fatalf("error %v, want %T", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestReadCalibrationUnreadableRig(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, RigFile), 0o755); err != nil { // a folder where rig.yaml should be
		t.Fatal(err)
	}
	if _, err := ReadCalibration(dir, &Manifest{Extra: []byte(simExtra)}); err == nil {
		t.Fatal("an unreadable rig.yaml is not an error")
	}
}
