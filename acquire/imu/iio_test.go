package imu

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/internal/shared"
	"roadlog/rig"
	"roadlog/schema"
	"roadlog/sync/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type syncSink struct {
	mu     sync.Mutex // guards rows and events
	rows   []*schema.IMU
	events []*schema.Event
}

func (s *syncSink) Publish(x schema.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch v := x.(type) {
	case *schema.IMU:
		s.rows = append(s.rows, v)
	case *schema.Event:
		s.events = append(s.events, v)
	}
}

func (s *syncSink) snapshot() ([]*schema.IMU, []*schema.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*schema.IMU(nil), s.rows...), append([]*schema.Event(nil), s.events...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

// fakeIIO is a sysfs tree and a /dev node (a FIFO) shaped like a BMI088-class IMU
// driver: accel le:s16, gyro be:s16 with one per-axis scale, a 12-bit temperature, a
// kernel timestamp, and a channel another program enabled.
type fakeIIO struct {
	root, dev, dir, node string
}

// Byte offsets in a record, worked out by hand from the kernel's alignment rule.
const (
	offAccel = 0  // x, y, z: le:s16/16, indices 0–2
	offGyro  = 6  // x, y, z: be:s16/16, indices 3–5
	offTemp  = 12 // le:s12/16>>4, index 6
	offTime  = 16 // le:s64/64, index 7: aligned to 8
	offHum   = 24 // le:u32/32, index 8, enabled by someone else
	recSize  = 32 // padded to the largest channel (8)
	accScale = 0.000598550
	gyrScale = 0.000266316
	gyrXScl  = 0.000532632
)

func newFakeIIO(t *testing.T) *fakeIIO {
	t.Helper()
	f := &fakeIIO{root: t.TempDir(), dev: t.TempDir()}
	f.dir = filepath.Join(f.root, "iio:device3")
	f.node = filepath.Join(f.dev, "iio:device3")
	files := map[string]string{
		"name": "bmi088_accel", "sampling_frequency": "100", "current_timestamp_clock": "realtime",
		"in_accel_scale": strconv.FormatFloat(accScale, 'f', -1, 64), "in_anglvel_scale": strconv.FormatFloat(gyrScale, 'f', -1, 64),
		"in_anglvel_x_scale": strconv.FormatFloat(gyrXScl, 'f', -1, 64), "in_temp_scale": "125", "in_temp_offset": "184",
		"buffer/length": "4", "buffer/enable": "0", "trigger/current_trigger": "",
	}
	elem := func(name string, idx int, typ string, en int) {
		files["scan_elements/"+name+"_en"] = strconv.Itoa(en)
		files["scan_elements/"+name+"_index"] = strconv.Itoa(idx)
		files["scan_elements/"+name+"_type"] = typ
	}
	for i, a := range []string{"x", "y", "z"} {
		elem("in_accel_"+a, i, "le:s16/16>>0", 0)
		elem("in_anglvel_"+a, 3+i, "be:s16/16>>0", 0)
	}
	elem("in_temp", 6, "le:s12/16>>4", 0)
	elem("in_timestamp", 7, "le:s64/64>>0", 0)
	elem("in_humidityrelative", 8, "le:u32/32>>0", 1)
	elem("in_proximity", 9, "le:u16/16>>0", 0)
	for name, v := range files {
		p := filepath.Join(f.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(f.node, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	return f
}

func (f *fakeIIO) attr(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// imuSample is one row of comma2k19's RAV4 IMU log.
type imuSample struct {
	t        float64
	acc, gyr [3]float64
}

func commaIMU(t *testing.T, n int) []imuSample {
	t.Helper()
	fh, err := os.Open(shared.Path(t, "testdata/imu/comma2k19/rav4_seg40_imu.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []imuSample
	for _, r := range recs[1:min(len(recs), n+1)] {
		var s imuSample
		v := make([]float64, 8)
		for i := range v {
			if v[i], err = strconv.ParseFloat(r[i], 64); err != nil {
				t.Fatal(err)
			}
		}
		s.t = v[0]
		copy(s.acc[:], v[1:4])
		copy(s.gyr[:], v[5:8])
		out = append(out, s)
	}
	return out
}

// record encodes a sample the way the fake driver stores it.
func record(s imuSample, tempRaw int64) []byte {
	f := func(t string) Format { v, _ := ParseFormat(t); return v }
	acc, gyr, tmp, ts, hum := f("le:s16/16>>0"), f("be:s16/16>>0"), f("le:s12/16>>4"), f("le:s64/64>>0"), f("le:u32/32>>0")
	b := make([]byte, recSize)
	for i := range 3 {
		acc.Put(b[offAccel+2*i:], 0, int64(math.Round(s.acc[i]/accScale)))
		scale := gyrScale
		if i == 0 {
			scale = gyrXScl
		}
		gyr.Put(b[offGyro+2*i:], 0, int64(math.Round(s.gyr[i]/scale)))
	}
	tmp.Put(b[offTemp:], 0, tempRaw)
	ts.Put(b[offTime:], 0, int64(s.t*1e9))
	hum.Put(b[offHum:], 0, 0xdeadbeef)
	return b
}

func TestIIOFakeDevice(t *testing.T) {
	fake := newFakeIIO(t)
	samples := commaIMU(t, 500)
	// The test holds the FIFO open for writing first, as the kernel holds the node.
	w, err := os.OpenFile(fake.node, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	tb := clock.NewSystem()
	axes, _ := rig.Axes{X: "y", Y: "-x", Z: "z"}.Map()
	src := &IIO{Device: "bmi088_accel", Name: "bmi088", Rate: 400, Axes: axes, Timebase: tb,
		SysfsRoot: fake.root, DevDir: fake.dev}
	sink := &syncSink{}
	done := make(chan error, 1)
	go func() { done <- src.Run(context.Background(), sink) }()
	var all []byte
	for _, s := range samples {
		all = append(all, record(s, 0)...)
	}
	// Odd-sized writes: records arrive split across reads.
	for rest := all; len(rest) > 0; {
		n := min(len(rest), 7*recSize+5)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	waitFor(t, "every sample", func() bool { return src.Stats().Samples == int64(len(samples)) })
	if got := fake.attr(t, "buffer/enable"); got != "1" {
		t.Errorf("buffer/enable = %q while running", got)
	}
	w.Close() // the device goes away
	err = <-done
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Run: %v, want an error wrapping io.EOF", err)
	}

	rows, events := sink.snapshot()
	if len(rows) != len(samples) {
		t.Fatalf("%d rows, want %d", len(rows), len(samples))
	}
	for i, r := range rows {
		s := samples[i]
		// vehicle x = sensor y, vehicle y = -sensor x
		want := [6]float64{s.acc[1], -s.acc[0], s.acc[2], s.gyr[1], -s.gyr[0], s.gyr[2]}
		got := [6]float32{r.AX, r.AY, r.AZ, r.GX, r.GY, r.GZ}
		tol := [6]float64{accScale, accScale, accScale, gyrScale, gyrXScl, gyrScale}
		for k := range want {
			if math.Abs(float64(got[k])-want[k]) > tol[k]/2+1e-6 {
				t.Fatalf("row %d value %d = %g, want %g", i, k, got[k], want[k])
			}
		}
		if r.TDevice != int64(s.t*1e9) || r.T != tb.Ref(r.TDevice) || r.Sensor != "bmi088" {
			t.Fatalf("row %d: t_device %d (want %d), t %d (want Ref(t_device) %d)", i, r.TDevice, int64(s.t*1e9), r.T, tb.Ref(r.TDevice))
		}
		if math.Abs(float64(r.Temp)-23) > 1e-6 || !math.IsNaN(float64(r.MX)) {
			t.Fatalf("row %d: temp %g, mag %g", i, r.Temp, r.MX)
		}
	}
	for name, want := range map[string]string{
		"sampling_frequency": "400", "buffer/length": "256", "buffer/enable": "0",
		"current_timestamp_clock": "monotonic", "scan_elements/in_accel_z_en": "1",
		"scan_elements/in_timestamp_en": "1", "scan_elements/in_proximity_en": "0",
		"scan_elements/in_humidityrelative_en": "1",
	} {
		if got := fake.attr(t, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if len(events) == 0 || events[0].Code != schema.EvConfig || !strings.Contains(events[0].Message, "32-byte records") {
		t.Errorf("no EvConfig describing the layout: %+v", events)
	}
}

func TestIIOStopsOnCancel(t *testing.T) {
	fake := newFakeIIO(t)
	w, err := os.OpenFile(fake.node, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	src := &IIO{Device: "iio:device3", SysfsRoot: fake.root, DevDir: fake.dev}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, &syncSink{}) }()
	w.Write(record(imuSample{t: 1}, 0))
	waitFor(t, "one sample", func() bool { return src.Stats().Samples == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if got := fake.attr(t, "buffer/enable"); got != "0" {
		t.Errorf("buffer left enabled: %q", got)
	}
	if got := fake.attr(t, "sampling_frequency"); got != "100" {
		t.Errorf("rate changed without Rate: %q", got)
	}
}

func TestIIOBadTrees(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(f *fakeIIO)
		want   error
	}{
		{"no such device", func(f *fakeIIO) {}, ErrNoDevice},
		{"bad type", func(f *fakeIIO) {
			os.WriteFile(filepath.Join(f.dir, "scan_elements/in_accel_x_type"), []byte("le:s16/12>>0\n"), 0o644)
		}, ErrFormat},
		{"bad scale", func(f *fakeIIO) { os.WriteFile(filepath.Join(f.dir, "in_accel_scale"), []byte("fast\n"), 0o644) }, ErrSysfs},
		{"no motion channels", func(f *fakeIIO) {
			for _, n := range []string{"accel_x", "accel_y", "accel_z", "anglvel_x", "anglvel_y", "anglvel_z"} {
				os.Remove(filepath.Join(f.dir, "scan_elements/in_"+n+"_en"))
			}
		}, ErrNoChannels},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIIO(t)
			tc.break_(f)
			dev := "bmi088_accel"
			if tc.want == ErrNoDevice {
				dev = "icm42688"
			}
			err := (&IIO{Device: dev, SysfsRoot: f.root, DevDir: f.dev}).Run(context.Background(), &syncSink{})
			if !errors.Is(err, tc.want) {
				t.Errorf("Run: %v, want %v", err, tc.want)
			}
		})
	}
}
