package dbc

import (
	"bufio"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"roadlog/acquire/can/candump"
	"roadlog/internal/shared"
)

// TestRAV4MatchesComma decodes the comma2k19 RAV4 log (bus can0) with opendbc's
// toyota_new_mc_pt DBC and compares with comma's own decoded values:
//
//   - wheel_speed: WHEEL_SPEEDS (0xAA) WHEEL_SPEED_FL/FR/RL/RR in km/h ÷ 3.6 → m/s
//   - speed: the mean of the four wheel speeds of the same frame (comma2k19's
//     "speed" is that mean, not SPEED 0xB4)
//   - steering_angle: STEER_ANGLE_SENSOR (0x25) STEER_ANGLE + STEER_FRACTION, deg
//
// Every CSV row must pair with the frame of the same time (the log keeps
// microseconds, comma's arrays nanoseconds: |Δt| ≤ 0.5 µs) and the values must
// agree to 1e-9 (both sides are the same float64 arithmetic; only rounding of
// the ÷3.6 order differs).
func TestRAV4MatchesComma(t *testing.T) {
	logPath := shared.Path(t, "testdata/candump/comma2k19/rav4_2018-08-02_seg40_can.log")
	dbcPath := shared.Path(t, "testdata/dbc/opendbc/toyota_new_mc_pt_generated.dbc")
	db := mustCompile(t, dbcPath)
	wheels := db.MessageByName("WHEEL_SPEEDS")
	steer := db.MessageByName("STEER_ANGLE_SENSOR")
	if wheels == nil || steer == nil || wheels.ID != 0xaa || steer.ID != 0x25 {
		t.Fatalf("messages not found: %v %v", wheels, steer)
	}
	type row struct {
		t float64
		v []float64
	}
	var gotWheel, gotSpeed, gotSteer []row
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := candump.NewReader(f)
	var l candump.Line
	for {
		err := r.Read(&l)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if l.Iface != "can0" || l.Frame.Flags != 0 {
			continue
		}
		ts := float64(l.T()) / 1e9
		data := l.Frame.Payload()
		switch l.Frame.ID {
		case wheels.ID:
			var v [4]float64
			for i, n := range []string{"WHEEL_SPEED_FL", "WHEEL_SPEED_FR", "WHEEL_SPEED_RL", "WHEEL_SPEED_RR"} {
				kmh, ok := wheels.Signal(n).Decode(data)
				if !ok {
					t.Fatalf("%s not decoded from %x", n, data)
				}
				v[i] = kmh / 3.6
			}
			gotWheel = append(gotWheel, row{ts, v[:]})
			gotSpeed = append(gotSpeed, row{ts, []float64{(v[0] + v[1] + v[2] + v[3]) / 4}})
		case steer.ID:
			a, ok1 := steer.Signal("STEER_ANGLE").Decode(data)
			fr, ok2 := steer.Signal("STEER_FRACTION").Decode(data)
			if !ok1 || !ok2 {
				t.Fatalf("steering not decoded from %x", data)
			}
			gotSteer = append(gotSteer, row{ts, []float64{a + fr}})
		}
	}
	for _, c := range []struct {
		file string
		got  []row
	}{
		{"rav4_seg40_can_wheel_speed.csv", gotWheel},
		{"rav4_seg40_can_speed.csv", gotSpeed},
		{"rav4_seg40_can_steering_angle.csv", gotSteer},
	} {
		want := readCSV(t, shared.Path(t, "testdata/other/comma2k19/"+c.file))
		if len(want) != len(c.got) {
			t.Errorf("%s: %d rows, decoded %d", c.file, len(want), len(c.got))
			continue
		}
		worst := 0.0
		for i, w := range want {
			g := c.got[i]
			if math.Abs(g.t-w[0]) > 0.5e-6+1e-9 {
				t.Fatalf("%s row %d: time %.9f, want %.9f", c.file, i+1, g.t, w[0])
			}
			for j, wv := range w[1:] {
				d := math.Abs(g.v[j] - wv)
				worst = max(worst, d)
				if d > 1e-9 {
					t.Fatalf("%s row %d col %d: %.12f, want %.12f", c.file, i+1, j+1, g.v[j], wv)
				}
			}
		}
		t.Logf("%s: %d rows match; largest difference %.3g", c.file, len(want), worst)
	}
}

func mustCompile(t testing.TB, path string) *Database {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(path, b)
	if err != nil {
		t.Fatal(err)
	}
	return Compile(f)
}

func readCSV(t *testing.T, path string) [][]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]float64
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		var row []float64
		for _, s := range strings.Split(sc.Text(), ",") {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			row = append(row, v)
		}
		out = append(out, row)
	}
	return out
}
