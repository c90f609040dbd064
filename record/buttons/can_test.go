package buttons

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.einride.tech/can"
	"go.einride.tech/can/pkg/descriptor"

	"roadlog/acquire/sim"
	"roadlog/record"
	"roadlog/schema"
)

// simDBC is the simulated car's DBC file (what sim.DBC embeds).
const simDBC = "../../acquire/sim/testdata/" + sim.DBCName

// simButton is the simulated car's steering-wheel button.
func simButton(e *record.Engine) *CANButton {
	return &CANButton{Feed: e, DBCFiles: []string{simDBC}, Bus: "chassis", Message: "BODY", Signal: "DriverButton",
		Recorder: e, Log: quiet()}
}

// pressing rewrites the simulated car's BODY frames so that DriverButton holds value
// v during [from, to) seconds of the drive: a driver pressing the steering-wheel
// button, on the simulated bus.
type pressing struct {
	from, to float64
	v        uint64
}

type buttonBus struct {
	sink    schema.Sink
	t0      int64
	presses []pressing
	cs      *canSignal
	enc     *descriptor.Signal // the button encoded with einride's descriptor, as the simulator encodes
}

func (b *buttonBus) Publish(s schema.Sample) {
	if f, ok := s.(*schema.CAN); ok {
		if _, ok := b.cs.value(f); ok && f.Bus == "chassis" {
			at := float64(f.T-b.t0) / 1e9
			for _, p := range b.presses {
				if at >= p.from && at < p.to {
					var d can.Data
					copy(d[:], f.Data)
					b.enc.MarshalUnsigned(&d, p.v)
					f.Data = append([]byte(nil), d[:len(f.Data)]...)
				}
			}
		}
	}
	b.sink.Publish(s)
}

// TestCANButtonOnSimulatedBus drives the simulated rig into a live engine, presses
// the steering-wheel button in the BODY frames, and checks that the button started,
// marked and stopped the drive, and that the drive says the CAN input did it.
func TestCANButtonOnSimulatedBus(t *testing.T) {
	e := newEngine(t)
	b := simButton(e)
	cs, err := b.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if cs.msg.ID != 1556 || cs.startStop != 1 || cs.mark != 2 {
		t.Fatalf("resolved %+v", cs)
	}
	t0 := e.Now()
	rig, err := sim.New(sim.Config{Cameras: -1, NoTruth: true, Speed: 4, Duration: 6 * time.Second, Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	enc := &descriptor.Signal{Name: "DriverButton", Start: 8, Length: 2}
	bus := &buttonBus{sink: e, t0: t0, cs: cs, enc: enc, presses: []pressing{
		{1.0, 1.3, 1}, // press: start
		{2.0, 2.2, 2}, // mark
		{3.0, 3.5, 1}, // a short press of start/stop while recording does nothing
		{4.0, 5.3, 1}, // held: stops once held 1 s (the frame at 5.0), before release
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.Run(ctx) }()
	if err := rig.Run(ctx, bus); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drive to close", func() bool { return e.LastSummary() != nil })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := lifecycle(t, e.Options().Root)
	want := []string{"record_start/can//recording started", "mark/can/interesting/steering-wheel button",
		"record_stop/can//recording stopped: steering-wheel button held 1.0 s"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e.LastSummary().Rows["can"] == 0 {
		t.Fatal("the drive holds no CAN frames")
	}
}

func TestCANButtonConfig(t *testing.T) {
	e := newEngine(t)
	for _, c := range []struct {
		ref  string
		ok   bool
		desc string
	}{
		{"BODY.DriverButton", true, ""},
		{"BODY.Nothing", false, "no signal"},
		{"NOPE.DriverButton", false, "no message"},
		{"BODY", false, "MESSAGE.Signal"},
		{"BODY.Driver.Button", false, "MESSAGE.Signal"},
		{".DriverButton", false, "MESSAGE.Signal"},
	} {
		m, s, err := SplitSignal(c.ref)
		if err == nil {
			b := simButton(e)
			b.Message, b.Signal = m, s
			_, err = b.resolve()
		}
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), c.desc)) {
			t.Errorf("%s: %v", c.ref, err)
		}
		if err != nil && !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v is not ErrBadConfig", c.ref, err)
		}
	}
	b := simButton(e)
	b.StartStop, b.Mark = 3, 3
	if _, err := b.resolve(); !errors.Is(err, ErrBadConfig) {
		t.Errorf("equal values: %v", err)
	}
	broken := filepath.Join(t.TempDir(), "broken.dbc")
	os.WriteFile(broken, []byte("BO_ 12 X: 8 Y\n SG_ broken"), 0o644)
	b = simButton(e)
	b.DBCFiles = []string{broken}
	if _, err := b.resolve(); err == nil || !strings.Contains(err.Error(), "broken.dbc") || !errors.Is(err, ErrBadConfig) {
		t.Errorf("broken DBC: %v", err)
	}
	b.DBCFiles = []string{filepath.Join(t.TempDir(), "missing.dbc")}
	if _, err := b.resolve(); !errors.Is(err, ErrBadConfig) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing DBC: %v", err)
	}
}

// canFrames is the case table of raw BODY frames fed to the button logic (the test),
// the fuzzer's seeds and the benchmark.
var canFrames = []struct {
	name string
	data []byte
	v    uint64
	ok   bool
}{
	{"idle", []byte{0, 0, 0, 0, 0, 0, 0, 0}, 0, true},
	{"start_stop", []byte{0, 1, 0, 0, 0, 0, 0, 0}, 1, true},
	{"mark", []byte{0, 2, 0, 0, 0, 0, 0, 0}, 2, true},
	{"other bits set", []byte{0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 2, true},
	{"short frame holding the signal", []byte{0, 1}, 1, true},
	{"too short for the signal", []byte{0}, 0, false},
	{"empty", nil, 0, false},
}

func TestCANSignalValue(t *testing.T) {
	b := simButton(newEngine(t))
	cs, err := b.resolve()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range canFrames {
		v, ok := cs.value(&schema.CAN{Bus: "chassis", ID: 1556, DLC: uint8(len(c.data)), Data: c.data})
		if v != c.v || ok != c.ok {
			t.Errorf("%s: %d %v, want %d %v", c.name, v, ok, c.v, c.ok)
		}
	}
	if _, ok := cs.value(&schema.CAN{ID: 1556, Ext: true, Data: make([]byte, 8)}); ok {
		t.Error("an extended id with the same number was taken for BODY")
	}
	if _, ok := cs.value(&schema.CAN{ID: 1556, Err: true, Data: make([]byte, 8)}); ok {
		t.Error("an error frame was decoded")
	}
}

// FuzzCANSignal decodes arbitrary frames as the simulated car's button: never a
// panic, never a value from a frame that is not BODY or too short to hold the
// signal (bits 8-9), never a value wider than the 2-bit signal.
func FuzzCANSignal(f *testing.F) {
	for _, c := range canFrames {
		f.Add(uint32(1556), false, c.data)
	}
	f.Add(uint32(1556), true, make([]byte, 8))
	b := simButton(newEngine(f))
	cs, err := b.resolve()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id uint32, ext bool, data []byte) {
		v, ok := cs.value(&schema.CAN{Bus: "chassis", ID: id, Ext: ext, DLC: uint8(len(data) & 15), Data: data})
		if ok && (id != 1556 || ext || len(data) < 2) {
			t.Fatalf("decoded a frame of id %d ext %v with %d bytes", id, ext, len(data))
		}
		if v > 3 {
			t.Fatalf("2-bit signal decoded as %d", v)
		}
	})
}

func BenchmarkCANButtonFrame(b *testing.B) {
	e := newEngine(b)
	btn := simButton(e)
	cs, err := btn.resolve()
	if err != nil {
		b.Fatal(err)
	}
	st := &canState{b: btn, cs: cs, hold: time.Second, category: "interesting", log: quiet()}
	f := &schema.CAN{Bus: "chassis", ID: 1556, DLC: 8, Data: canFrames[0].data}
	b.ReportAllocs()
	for b.Loop() {
		st.frame(f)
	}
}
