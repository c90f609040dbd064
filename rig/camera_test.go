package rig

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// badCameraRigs is the table of rig files that read (Parse accepts them, as it must a
// drive's stored rig.yaml) but cannot record: each names the error CheckCameras must
// produce, the key path and the line it must point at.
var badCameraRigs = []struct {
	name string
	yaml string
	want error
	key  string
	line int
}{
	{"v4l2 h265", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: h265\n", ErrInvalid, "cameras[0].codec", 6},
	{"pipe without codec", "vehicle: v\ncameras:\n  - index: 0\n    kind: pipe\n    command: gst-launch-1.0 x ! fdsink\n", ErrInvalid, "cameras[0].codec", 3},
	{"rtsp raw format", "vehicle: v\ncameras:\n  - {index: 0, kind: rtsp, url: rtsp://cam/1, codec: yuyv}\n", ErrInvalid, "cameras[0].codec", 3},
	{"file raw format", "vehicle: v\ncameras:\n  - index: 0\n    kind: file\n    file: a.yuv\n    codec: nv12\n", ErrInvalid, "cameras[0].codec", 6},
	{"v4l2 device not a path", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: video0\n", ErrInvalid, "cameras[0].device", 5},
	{"width without height", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    width: 1920\n", ErrInvalid, "cameras[0].width", 6},
	{"height without width", "vehicle: v\ncameras:\n  - index: 0\n    kind: sim\n    height: 1080\n", ErrInvalid, "cameras[0].height", 5},
	{"width beyond uint16", "vehicle: v\ncameras:\n  - index: 0\n    kind: sim\n    width: 70000\n    height: 1080\n", ErrInvalid, "cameras[0].width", 5},
	{"yuyv odd width", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: yuyv\n    width: 1279\n    height: 720\n", ErrInvalid, "cameras[0].width", 7},
	{"nv12 odd height", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: nv12\n    width: 1920\n    height: 1081\n", ErrInvalid, "cameras[0].height", 8},
	{"fps too high", "vehicle: v\ncameras:\n  - index: 0\n    kind: sim\n    fps: 30000\n", ErrInvalid, "cameras[0].fps", 5},
	{"fps not a number", "vehicle: v\ncameras:\n  - index: 0\n    kind: sim\n    fps: .nan\n", ErrInvalid, "cameras[0].fps", 5},
	{"unknown option", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: yuyv\n    options:\n      bitrat: 4000000\n", ErrUnknownKey, "cameras[0].options.bitrat", 8},
	{"option of another kind", "vehicle: v\ncameras:\n  - index: 0\n    kind: rtsp\n    url: rtsp://cam/1\n    options: {fast: true}\n", ErrInvalid, "cameras[0].options.fast", 6},
	{"encoder on mjpeg", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    options:\n      encoder: h264_nvenc\n", ErrInvalid, "cameras[0].options.encoder", 7},
	{"unknown encoder", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: yuyv\n    options:\n      encoder: x265\n", ErrInvalid, "cameras[0].options.encoder", 8},
	{"custom encoder command", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: nv12\n    options: {encoder: command}\n", ErrInvalid, "cameras[0].options.encoder", 7},
	{"bitrate not a number", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: uyvy\n    options:\n      bitrate: 8M\n", ErrInvalid, "cameras[0].options.bitrate", 8},
	{"gop zero", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: yuyv\n    options:\n      gop: 0\n", ErrInvalid, "cameras[0].options.gop", 8},
	{"empty preset", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    codec: yuyv\n    options:\n      preset: \"\"\n", ErrInvalid, "cameras[0].options.preset", 8},
	{"timeout not a duration", "vehicle: v\ncameras:\n  - index: 0\n    kind: v4l2\n    device: /dev/video0\n    options:\n      timeout: 2\n", ErrInvalid, "cameras[0].options.timeout", 7},
	{"negative latency", "vehicle: v\ncameras:\n  - index: 0\n    kind: pipe\n    command: cam\n    codec: h264\n    options:\n      latency: -40ms\n", ErrInvalid, "cameras[0].options.latency", 8},
	{"fast not a boolean", "vehicle: v\ncameras:\n  - index: 0\n    kind: file\n    file: a.mp4\n    options:\n      fast: yes\n", ErrInvalid, "cameras[0].options.fast", 7},
	{"speed zero", "vehicle: v\ncameras:\n  - index: 0\n    kind: file\n    file: a.mp4\n    options:\n      speed: 0\n", ErrInvalid, "cameras[0].options.speed", 7},
	{"speed with fast", "vehicle: v\ncameras:\n  - index: 0\n    kind: file\n    file: a.mp4\n    options: {fast: true, speed: 2}\n", ErrInvalid, "cameras[0].options.speed", 6},
	{"second camera", "vehicle: v\ncameras:\n  - {index: 0, kind: sim}\n  - index: 1\n    kind: pipe\n    command: cam\n    codec: yuyv\n", ErrInvalid, "cameras[1].codec", 7},
}

func TestBadCameraRigs(t *testing.T) {
	for _, tc := range badCameraRigs {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse([]byte(tc.yaml), "bad.yaml")
			if err != nil {
				t.Fatalf("Parse: %v (a rig that cannot record must still read)", err)
			}
			wantRigError(t, r.CheckCameras(), tc.want, tc.key, tc.line)
		})
	}
}

// TestCameraOptions reads every option of every kind, as written in a rig file.
func TestCameraOptions(t *testing.T) {
	r, err := Parse([]byte(`vehicle: v
cameras:
  - {index: 0, kind: v4l2, device: /dev/video0, codec: nv12, width: 1920, height: 1080, fps: 30,
     options: {timeout: 5s, encoder: nvv4l2h265enc, preset: slow, bitrate: 12000000, gop: 60}}
  - {index: 1, kind: pipe, command: cam, codec: h264, options: {latency: 40ms}}
  - {index: 2, kind: rtsp, url: rtsp://cam/1, options: {latency: 0s}}
  - {index: 3, kind: file, file: a.mp4, options: {fast: True, loop: true}}
  - {index: 4, kind: file, file: b.mp4, options: {speed: 2.5}}
  - {index: 5, kind: v4l2, device: /dev/video2, codec: uyvy, width: 1280, height: 720}
`), "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CheckCameras(); err != nil {
		t.Fatal(err)
	}
	want := []CameraOptions{
		{Timeout: 5 * time.Second, Encoder: "nvv4l2h265enc", Preset: "slow", Bitrate: 12000000, GOP: 60},
		{Latency: 40 * time.Millisecond},
		{},
		{Fast: true, Loop: true},
		{Speed: 2.5},
		{},
	}
	for i, w := range want {
		got, err := r.Cameras[i].ParseOptions()
		if err != nil || got != w {
			t.Errorf("camera %d: %+v, %v; want %+v", i, got, err, w)
		}
	}
	if _, err := (&Camera{Options: map[string]string{"gop": "x"}}).ParseOptions(); !errors.Is(err, ErrInvalid) {
		t.Errorf("gop x: %v", err)
	}
}

// TestExampleRigsRecord: every example rig passes CheckCameras.
func TestExampleRigsRecord(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example rigs in ../examples")
	}
	for _, f := range files {
		r, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CheckCameras(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
