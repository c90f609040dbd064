package can

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/dbc"
	"roadlog/internal/shared"
	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collector is a sink that keeps everything.
type collector struct {
	mu     sync.Mutex
	can    []*schema.CAN
	ego    []*schema.Ego
	events []*schema.Event
}

func (c *collector) Publish(s schema.Sample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch v := s.(type) {
	case *schema.CAN:
		c.can = append(c.can, v)
	case *schema.Ego:
		c.ego = append(c.ego, v)
	case *schema.Event:
		c.events = append(c.events, v)
	}
}

func (c *collector) count(code schema.EventCode) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.events {
		if e.Code == code {
			n++
		}
	}
	return n
}

func (c *collector) frames() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.can)
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Kind: KindCandump, Device: "x"},
		{Bus: "a", Kind: "can-over-carrier-pigeon"},
		{Bus: "a", Kind: KindSocketCAN},
		{Bus: "a", Kind: KindUDP},
		{Bus: "a", Kind: KindCandump, Device: "x", Rate: -1},
		{Bus: "a", Kind: KindCandump, Device: "x", Ego: []dbc.EgoSignal{{Column: "speed"}}},
	} {
		if _, err := New(c, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestCandumpSourceRAV4 replays the RAV4 log as fast as possible with the Toyota
// DBC mapped to ego columns, and checks rows, sample-and-hold and the last
// steering angle against comma's value.
func TestCandumpSourceRAV4(t *testing.T) {
	logPath := shared.Path(t, "testdata/candump/comma2k19/rav4_2018-08-02_seg40_can.log")
	dbcPath := shared.Path(t, "testdata/dbc/opendbc/toyota_new_mc_pt_generated.dbc")
	src, err := New(Config{Bus: "can0", Kind: KindCandump, Device: logPath, DBC: []string{dbcPath},
		Filters: []Filter{{ID: 0, Mask: 0, Extended: false}},
		Ego: []dbc.EgoSignal{
			{Column: "speed", Message: "SPEED", Signal: "SPEED"},
			{Column: "steering_angle", Message: "0x25", Signal: "STEER_ANGLE", Plus: []string{"STEER_FRACTION"}},
			// the rest of the docs/can.md example
			{Column: "gear", Message: "GEAR_PACKET", Signal: "GEAR"},
			{Column: "turn_left", Message: "1556", Signal: "TURN_SIGNALS", Values: map[string]string{"left": "true"}},
			{Column: "turn_right", Message: "1556", Signal: "TURN_SIGNALS", Values: map[string]string{"right": "true"}},
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	if st.Frames != 98800 || st.Bad != 0 || len(c.can) != 98800 {
		t.Fatalf("stats %+v, %d rows", st, len(c.can))
	}
	if c.can[0].TDevice != 46408_584930000 || c.can[0].ID != 0x260 || c.can[0].Bus != "can0" || len(c.can[0].Data) != 8 {
		t.Errorf("first row %+v", c.can[0])
	}
	if len(c.ego) == 0 || int64(len(c.ego)) != st.EgoRows {
		t.Fatalf("%d ego rows, stats %d", len(c.ego), st.EgoRows)
	}
	first, last := c.ego[0], c.ego[len(c.ego)-1]
	// the log's first mapped frame is SPEED (0xB4): the steering angle is not known
	// yet; the next row (STEER_ANGLE_SENSOR, 0x25) holds the speed (sample and hold)
	second := c.ego[1]
	if first.SteeringAngle == first.SteeringAngle || first.Speed < 8 || first.Speed > 8.3 ||
		second.Speed != first.Speed || second.SteeringAngle != -0.4 {
		t.Errorf("first ego rows\n%+v\n%+v", first, second)
	}
	// comma's last steering_angle_deg in rav4_seg40_can_steering_angle.csv
	wantSteer := lastCSV(t, shared.Path(t, "testdata/other/comma2k19/rav4_seg40_can_steering_angle.csv"))
	if d := float64(last.SteeringAngle) - wantSteer; d > 1e-4 || d < -1e-4 {
		t.Errorf("last steering %v, comma %v", last.SteeringAngle, wantSteer)
	}
	if last.Gear != schema.GearDrive {
		t.Errorf("last gear %v, want drive", last.Gear)
	}
	if last.Speed < 10 || last.Speed > 13 { // comma: 11.16 m/s (mean wheel speed) at the end
		t.Errorf("last speed %v m/s", last.Speed)
	}
	if c.count(schema.EvSourceStats) == 0 {
		t.Error("no stats event")
	}
}

func lastCSV(t *testing.T, path string) float64 {
	rows := readLines(t, path)
	var ts, v float64
	if _, err := sscan(rows[len(rows)-1], &ts, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCandumpSourceBadInput: bad lines are counted and reported, never fatal;
// the replay is paced by Rate.
func TestCandumpSourceBadInput(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.log")
	in := "(1.000000) can0 123#11\n(1.010000) can0 12#11\ngarbage\x00\xff\n(1.020000) can0 124#22\n(1.030000) can0 125##0" + "\n"
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{Bus: "b", Kind: KindCandump, Device: p, Rate: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	start := time.Now()
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 25*time.Millisecond {
		t.Errorf("a 30 ms log replayed in real time took %v", el)
	}
	st := src.Stats()
	if st.Frames != 3 || st.Bad != 2 || c.count(schema.EvSourceError) != 2 {
		t.Errorf("stats %+v, %d error events", st, c.count(schema.EvSourceError))
	}
	// a missing file is an error of Run (the supervisor retries), not of New
	src, err = New(Config{Bus: "b", Kind: KindCandump, Device: p + ".missing"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(context.Background(), &c); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestDBCProblemsAreEvents: a DBC with an error still decodes what it could read,
// and the error (with file:line:col) is an event.
func TestDBCProblemsAreEvents(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "car.dbc")
	dbcText := "VERSION \"\"\nBU_: A\nBO_ 291 Speed: 2 A\n SG_ V : 0|16@1+ (0.01,0) [0|655] \"km/h\" A\nBO_ 1 Broken: 8 A\n SG_ X : 0 8@1+ (1,0) [0|0] \"\" A\n"
	if err := os.WriteFile(d, []byte(dbcText), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "x.log")
	if err := os.WriteFile(log, []byte("(1.000000) can0 123#1027\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{Bus: "pt", Kind: KindCandump, Device: log, DBC: []string{d},
		Ego: []dbc.EgoSignal{{Column: "speed", Message: "Speed", Signal: "V"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.ego) != 1 || c.ego[0].Speed != float32(100.0/3.6) || c.ego[0].Source != "pt" {
		t.Fatalf("ego %+v", c.ego)
	}
	var ev *schema.Event
	for _, e := range c.events {
		if e.Code == schema.EvConfig {
			ev = e
		}
	}
	if ev == nil || ev.Count != 1 || !contains(ev.Detail, "car.dbc:6:12") {
		t.Fatalf("DBC event %+v", ev)
	}
}
