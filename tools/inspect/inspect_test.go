package inspect

import (
	"strings"
	"testing"
)

// The format-v1 fixture drive: one second of the simulated rig.
const fixture = "../../record/drive/testdata/v1/drive"

func TestInspectFixture(t *testing.T) {
	s, err := Inspect(fixture)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]TableSummary{}
	for _, tb := range s.Tables {
		rows[tb.Name] = tb
	}
	if rows["imu"].Rows != 1000 || rows["can"].Rows == 0 || s.Videos.Frames != 120 || s.Cameras != 4 {
		t.Fatalf("imu %d, can %d, frames %d, cameras %d", rows["imu"].Rows, rows["can"].Rows, s.Videos.Frames, s.Cameras)
	}
	// every stream of the fixture is regular: no gaps, steps as recorded
	for _, name := range []string{"imu", "can", "frames", "gnss"} {
		if rows[name].Gaps != 0 {
			t.Errorf("%s: %d gaps", name, rows[name].Gaps)
		}
	}
	if st := rows["imu"].MedianStep; st < 0.0009 || st > 0.0011 {
		t.Errorf("imu median step %v s, want 1 ms", st)
	}
	if r := rows["imu"].Ratio; r <= 1 {
		t.Errorf("imu compression ratio %v", r)
	}
	var b strings.Builder
	s.Print(&b)
	if !strings.Contains(b.String(), "imu") || !strings.Contains(b.String(), "no samples dropped") {
		t.Fatalf("print:\n%s", b.String())
	}
}
