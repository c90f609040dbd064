package rig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 9 {
		t.Fatalf("found %d example rigs, want at least 9", len(files))
	}
	kinds := map[string]bool{}
	for _, f := range files {
		r, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, c := range r.CAN {
			kinds["can/"+string(c.Kind)] = true
		}
		for _, g := range r.GNSS {
			kinds["gnss/"+string(g.Kind)] = true
		}
		for _, m := range r.IMU {
			kinds["imu/"+string(m.Kind)] = true
		}
		if len(r.Cameras) == 8 {
			kinds["8cam"] = true
		}
	}
	for _, k := range []string{"can/socketcan", "can/slcan", "can/candump", "can/udp", "gnss/serial",
		"gnss/gpsd", "gnss/tcp", "gnss/udp", "imu/iio", "imu/serial", "8cam"} {
		if !kinds[k] {
			t.Errorf("no example rig covers %s", k)
		}
	}
}

func TestLoadFullCar(t *testing.T) {
	r, err := Load("../examples/car-8cam.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r.Vehicle != "testcar7" || len(r.Cameras) != 8 || len(r.CAN) != 2 {
		t.Fatalf("vehicle %q, %d cameras, %d buses", r.Vehicle, len(r.Cameras), len(r.CAN))
	}
	sp := r.CAN[0].Ego["speed"]
	if sp.Signal != "SPEED.SPEED" || sp.Scale != 0.27777778 {
		t.Errorf("speed mapping %+v", sp)
	}
	if st := r.CAN[0].Ego["steering_angle"]; st.Scale != 1 || st.Signal != "STEER_ANGLE_SENSOR.STEER_ANGLE" {
		t.Errorf("plain-string mapping %+v, want scale 1", st)
	}
	if g := r.CAN[0].Ego["gear"].Values; g[32] != "park" || g[0] != "drive" {
		t.Errorf("gear values %v", g)
	}
	if r.Trigger == nil || r.Trigger.RateHz != 30 {
		t.Errorf("trigger %+v", r.Trigger)
	}
	if r.Recorder.FlushInterval != 500*time.Millisecond || r.Recorder.Segment != time.Minute {
		t.Errorf("recorder %+v", r.Recorder)
	}
	c := r.Cameras[3]
	if c.Name != "front_right" || c.Calibration == nil || c.Calibration.YawDeg != -45 || c.Calibration.YM != -0.8 {
		t.Errorf("camera 3 %+v %+v", c, c.Calibration)
	}
	m, err := r.IMU[0].Axes.Map()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Apply([3]float32{1, 2, 3}); got != [3]float32{2, -1, 3} {
		t.Errorf("axes {x: y, y: -x, z: z} map (1,2,3) to %v", got)
	}
	if r.GNSS[0].PPS != "/dev/pps0" || r.GNSS[0].Baud != 115200 {
		t.Errorf("gnss %+v", r.GNSS[0])
	}
	if p, ok := r.Pos("cameras[3].calibration"); !ok || p.Line == 0 {
		t.Errorf("no position recorded for cameras[3].calibration")
	}
	if got := r.Resolve("dbc/x.dbc"); got != filepath.Join("..", "examples", "dbc", "x.dbc") {
		t.Errorf("Resolve: %s", got)
	}
}

func TestDefaults(t *testing.T) {
	r, err := Parse([]byte("vehicle: v\ngnss:\n  - kind: serial\n    port: /dev/ttyS0\n  - kind: gpsd\nimu:\n  - kind: serial\n    port: /dev/ttyUSB0\n"), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if g := r.GNSS[0]; g.Name != "gnss0" || g.Baud != DefaultGNSSBaud {
		t.Errorf("gnss[0] %+v", g)
	}
	if g := r.GNSS[1]; g.URL != DefaultGPSD {
		t.Errorf("gnss[1] %+v", g)
	}
	if m := r.IMU[0]; m.Baud != DefaultSerialBaud || m.Protocol != "vectornav" || m.Axes != (Axes{"x", "y", "z"}) {
		t.Errorf("imu[0] %+v", m)
	}
	if r.Recorder.Segment != DefaultSegment || r.Recorder.Compression != "zstd" {
		t.Errorf("recorder %+v", r.Recorder)
	}
}

// badRigs is the table of broken rig files: each names the error it must produce,
// the key path and the line it must point at.
var badRigs = []struct {
	name string
	yaml string
	want error
	key  string
	line int
}{
	{"unknown top key", "vehicle: v\nvehicel: w\n", ErrUnknownKey, "vehicel", 2},
	{"missing vehicle", "gnss: []\n", ErrMissingKey, "vehicle", 1},
	{"empty file", "", ErrMissingKey, "vehicle", 1},
	{"unknown nested key", "vehicle: v\ngnss:\n  - kind: serial\n    port: /dev/ttyS0\n    bauds: 9600\n", ErrUnknownKey, "gnss[0].bauds", 5},
	{"missing kind", "vehicle: v\ncan:\n  - name: pt\n    device: can0\n", ErrMissingKey, "can[0].kind", 3},
	{"duplicate key", "vehicle: v\nvehicle: w\n", ErrDuplicateKey, "vehicle", 2},
	{"wrong type", "vehicle: v\ngnss:\n  - kind: serial\n    port: /dev/ttyS0\n    baud: fast\n", ErrInvalid, "gnss[0].baud", 5},
	{"bad duration", "vehicle: v\nrecorder:\n  segment: soon\n", ErrInvalid, "recorder.segment", 3},
	{"list wanted", "vehicle: v\ncan: {name: x}\n", ErrInvalid, "can", 2},
	{"bad can kind", "vehicle: v\ncan:\n  - name: pt\n    kind: flexray\n", ErrInvalid, "can[0].kind", 4},
	{"socketcan without device", "vehicle: v\ncan:\n  - name: pt\n    kind: socketcan\n", ErrInvalid, "can[0].device", 3},
	{"slcan bad bitrate", "vehicle: v\ncan:\n  - name: pt\n    kind: slcan\n    port: /dev/ttyACM0\n    bitrate: 333000\n", ErrInvalid, "can[0].bitrate", 6},
	{"unknown ego column", "vehicle: v\ncan:\n  - name: pt\n    kind: socketcan\n    device: can0\n    dbc: [a.dbc]\n    ego:\n      speeed: A.B\n", ErrInvalid, "can[0].ego.speeed", 8},
	{"bad signal ref", "vehicle: v\ncan:\n  - name: pt\n    kind: socketcan\n    device: can0\n    dbc: [a.dbc]\n    ego:\n      speed: SPEED\n", ErrInvalid, "can[0].ego.speed", 8},
	{"ego key unknown in mapping", "vehicle: v\ncan:\n  - name: pt\n    kind: socketcan\n    device: can0\n    dbc: [a.dbc]\n    ego:\n      speed: {signal: A.B, scal: 2}\n", ErrUnknownKey, "can[0].ego.speed.scal", 8},
	{"ego mapping missing signal", "vehicle: v\ncan:\n  - name: pt\n    kind: socketcan\n    device: can0\n    dbc: [a.dbc]\n    ego:\n      speed:\n        scale: 2\n", ErrMissingKey, "can[0].ego.speed.signal", 9},
	{"bad gear value", "vehicle: v\ncan:\n  - name: pt\n    kind: socketcan\n    device: can0\n    dbc: [a.dbc]\n    ego:\n      gear:\n        signal: G.G\n        values: {0: parked}\n", ErrInvalid, "can[0].ego.gear.values.0", 0},
	{"duplicate bus", "vehicle: v\ncan:\n  - {name: pt, kind: socketcan, device: can0}\n  - {name: pt, kind: socketcan, device: can1}\n", ErrInvalid, "can[1].name", 4},
	{"bad filter id", "vehicle: v\ncan:\n  - name: pt\n    kind: socketcan\n    device: can0\n    filters: [{id: 0x800}]\n", ErrInvalid, "can[0].filters[0].id", 6},
	{"gnss bad kind", "vehicle: v\ngnss:\n  - kind: usb\n", ErrInvalid, "gnss[0].kind", 3},
	{"gnss tcp bad url", "vehicle: v\ngnss:\n  - kind: tcp\n    url: receiver\n", ErrInvalid, "gnss[0].url", 4},
	{"gnss serial no port", "vehicle: v\ngnss:\n  - kind: serial\n", ErrInvalid, "gnss[0].port", 3},
	{"gnss short max_line", "vehicle: v\ngnss:\n  - kind: gpsd\n    max_line: 10\n", ErrInvalid, "gnss[0].max_line", 4},
	{"imu bad axes", "vehicle: v\nimu:\n  - kind: iio\n    device: iio:device0\n    axes: {x: y, y: y, z: z}\n", ErrInvalid, "imu[0].axes", 5},
	{"imu bad protocol", "vehicle: v\nimu:\n  - kind: serial\n    port: /dev/ttyUSB0\n    protocol: witmotion\n", ErrInvalid, "imu[0].protocol", 5},
	{"camera index range", "vehicle: v\ncameras:\n  - {index: 9, kind: sim}\n", ErrInvalid, "cameras[0].index", 3},
	{"camera duplicate index", "vehicle: v\ncameras:\n  - {index: 1, kind: sim}\n  - {index: 1, kind: sim, name: other}\n", ErrInvalid, "cameras[1].index", 4},
	{"camera missing index", "vehicle: v\ncameras:\n  - {kind: sim}\n", ErrMissingKey, "cameras[0].index", 3},
	{"calibration missing fy", "vehicle: v\ncameras:\n  - index: 0\n    kind: sim\n    calibration: {fx: 1000, cx: 960, cy: 540, height_m: 1.4}\n", ErrMissingKey, "cameras[0].calibration.fy", 5},
	{"calibration unknown key", "vehicle: v\ncameras:\n  - index: 0\n    kind: sim\n    calibration:\n      fx: 1000\n      fy: 1000\n      cx: 960\n      cy: 540\n      height_m: 1.4\n      roll_deg: 2\n", ErrUnknownKey, "cameras[0].calibration.roll_deg", 11},
	{"rtsp without url", "vehicle: v\ncameras:\n  - {index: 0, kind: rtsp, url: http://x}\n", ErrInvalid, "cameras[0].url", 3},
	{"trigger rate", "vehicle: v\ntrigger: {rate_hz: 0}\n", ErrInvalid, "trigger.rate_hz", 2},
	{"trigger missing rate", "vehicle: v\ntrigger: {phase: 1ms}\n", ErrMissingKey, "trigger.rate_hz", 2},
	{"compression", "vehicle: v\nrecorder: {compression: gzip}\n", ErrInvalid, "recorder.compression", 2},
	{"syntax", "vehicle: [v\n", ErrSyntax, "", 0},
	{"vehicle with slash", "vehicle: a/b\n", ErrInvalid, "vehicle", 1},
}

func TestBadRigs(t *testing.T) {
	for _, tc := range badRigs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "bad.yaml")
			wantRigError(t, err, tc.want, tc.key, tc.line)
		})
	}
}

// wantRigError fails t unless err holds a *Error of kind want for key, in bad.yaml at
// line (0: any line).
func wantRigError(t *testing.T, err, want error, key string, line int) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	var found bool
	for _, e := range flatten(err) {
		var re *Error
		if !errors.As(e, &re) || !errors.Is(re, want) || re.Key != key {
			continue
		}
		found = true
		if line != 0 && re.Line != line {
			t.Errorf("%v: line %d, want %d", re, re.Line, line)
		}
		if re.File != "bad.yaml" {
			t.Errorf("%v: file %q", re, re.File)
		}
		if !strings.Contains(re.Error(), key) {
			t.Errorf("message %q does not name the key", re.Error())
		}
	}
	if !found {
		t.Errorf("no %v error for key %q in:\n%v", want, key, err)
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := Parse([]byte("vehicle: v\nfoo: 1\ngnss:\n  - kind: serial\n    bar: 2\ncameras:\n  - {kind: sim}\n"), "many.yaml")
	if n := len(flatten(err)); n != 3 {
		t.Errorf("%d errors, want 3 (foo, bar, index):\n%v", n, err)
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pt.dbc"), []byte("VERSION \"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "rig.yaml")
	src := "vehicle: v\ncan:\n  - name: pt\n    kind: candump\n    file: missing.log\n    dbc: [pt.dbc, gone.dbc]\n"
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	errs := flatten(r.CheckFiles())
	var keys []string
	for _, e := range errs {
		var re *Error
		if errors.As(e, &re) {
			keys = append(keys, re.Key)
			if re.Line == 0 {
				t.Errorf("%v has no line", re)
			}
		}
	}
	if strings.Join(keys, " ") != "can[0].dbc[1] can[0].file" {
		t.Errorf("CheckFiles flagged %v", keys)
	}
}

func TestAxes(t *testing.T) {
	for _, tc := range []struct {
		a    Axes
		in   [3]float32
		want [3]float32
		bad  bool
	}{
		{Axes{}, [3]float32{1, 2, 3}, [3]float32{1, 2, 3}, false},
		{Axes{"-x", "-y", "z"}, [3]float32{1, 2, 3}, [3]float32{-1, -2, 3}, false},
		{Axes{"z", "+x", "y"}, [3]float32{1, 2, 3}, [3]float32{3, 1, 2}, false},
		{Axes{"x", "y", ""}, [3]float32{}, [3]float32{}, true},
		{Axes{"x", "y", "w"}, [3]float32{}, [3]float32{}, true},
		{Axes{"x", "-x", "z"}, [3]float32{}, [3]float32{}, true},
		{Axes{"--x", "y", "z"}, [3]float32{}, [3]float32{}, true},
	} {
		m, err := tc.a.Map()
		if tc.bad {
			if !errors.Is(err, ErrAxes) {
				t.Errorf("%+v: error %v, want ErrAxes", tc.a, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc.a, err)
			continue
		}
		if got := m.Apply(tc.in); got != tc.want {
			t.Errorf("%+v maps %v to %v, want %v", tc.a, tc.in, got, tc.want)
		}
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("../examples/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, tc := range badRigs {
		f.Add([]byte(tc.yaml))
	}
	for _, tc := range badCameraRigs {
		f.Add([]byte(tc.yaml))
	}
	allRigErrors := func(t *testing.T, err error) {
		if err == nil {
			return
		}
		for _, e := range flatten(err) {
			var re *Error
			if !errors.As(e, &re) {
				t.Fatalf("error %T %v is not a *rig.Error", e, e)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data, "fuzz.yaml")
		if err != nil {
			allRigErrors(t, err)
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("a loaded rig fails Validate: %v", err)
		}
		allRigErrors(t, r.CheckCameras())
	})
}
