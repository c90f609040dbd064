package control

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roadlog/schema"
)

func TestWarnings(t *testing.T) {
	now := int64(1_800_000_000e9)
	okSensor := Sensor{Table: "imu", Name: "imu0", Label: "IMU imu0", OK: true}
	cases := []struct {
		name   string
		st     Status
		recent []schema.Event
		want   []string // level: text, in order
	}{
		{name: "all well", st: Status{State: "recording", Sensors: []Sensor{okSensor}, Disk: Disk{Free: 1e12, Left: 36000}}},
		{name: "nothing at all", st: Status{Disk: Disk{Free: 1e12, Left: -1}}, want: []string{"error: No sensor is sending data"}},
		{name: "silent camera", st: Status{Sensors: []Sensor{okSensor, {Table: "frames", Label: "Camera 2 (front_left)", Age: 4.2}}, Disk: Disk{Free: 1e12, Left: -1}},
			want: []string{"error: Camera 2 (front_left): no pictures for 4 s"}},
		{name: "silent bus", st: Status{Sensors: []Sensor{{Table: "can", Label: "CAN bus pt", Age: 125}}, Disk: Disk{Free: 1e12, Left: -1}},
			want: []string{"error: CAN bus pt: no messages for 2 min"}},
		{name: "drops while recording", st: Status{State: "recording", Sensors: []Sensor{{Table: "frames", Label: "Camera 1", OK: true, Drops: 120}}, Disk: Disk{Free: 1e12, Left: -1}},
			want: []string{"warn: Camera 1: 120 samples lost in this drive (the disk or the writer cannot keep up)"}},
		{name: "drops of a past drive are not news", st: Status{State: "idle", Sensors: []Sensor{{Table: "frames", Label: "Camera 1", OK: true, Drops: 120}}, Disk: Disk{Free: 1e12, Left: -1}}},
		{name: "clocks", st: Status{Sensors: []Sensor{okSensor}, Clocks: []Clock{{Source: "gnss0", State: "holdover"}, {Source: "can0", State: "locked"}, {Source: "cam", State: "fault"}, {Source: "imu", State: "free_run"}}, Disk: Disk{Free: 1e12, Left: -1}},
			want: []string{"warn: Clock gnss0 lost its lock and is holding over", "error: Clock cam has failed: timestamps may be wrong", "warn: Clock imu is running free: not locked to GNSS time"}},
		{name: "converging", st: Status{Sensors: []Sensor{okSensor}, Clocks: []Clock{{Source: "reference", State: "converging"}}, Disk: Disk{Free: 1e12, Left: -1}},
			want: []string{"warn: Clock reference is not locked (converging)"}},
		{name: "no fix", st: Status{Sensors: []Sensor{okSensor}, GNSS: &Fix{Receiver: "ublox", HasFix: false}, Disk: Disk{Free: 1e12, Left: -1}},
			want: []string{"warn: GNSS ublox: no position fix"}},
		{name: "disk soon full", st: Status{Sensors: []Sensor{okSensor}, Disk: Disk{Free: 5e9, Left: 240}}, want: []string{"error: Disk almost full: about 4 min left"}},
		{name: "disk getting full", st: Status{Sensors: []Sensor{okSensor}, Disk: Disk{Free: 5e9, Left: 1500}}, want: []string{"warn: Disk getting full: about 25 min left"}},
		{name: "disk full", st: Status{Sensors: []Sensor{okSensor}, Disk: Disk{Free: 1 << 19, Left: 0}}, want: []string{"error: Disk full: recording cannot continue"}},
		{name: "recent events", st: Status{Sensors: []Sensor{okSensor}, Disk: Disk{Free: 1e12, Left: -1}},
			recent: []schema.Event{
				*schema.NewEvent(now-int64(2*time.Minute), schema.EvSourceDown, schema.SevError, "gnss0", "too old"),
				*schema.NewEvent(now-int64(time.Second), schema.EvMark, schema.SevInfo, "driver", "info is not a warning"),
				*schema.NewEvent(now-int64(time.Second), schema.EvSourceDown, schema.SevError, "gnss0", "serial port unplugged"),
				*schema.NewEvent(now-int64(time.Second), schema.EvSlowSync, schema.SevWarn, "", "fsync took 800ms"),
				*schema.NewEvent(now, schema.EvSourceDown, schema.SevError, "gnss0", "serial port unplugged"),
			},
			want: []string{"error: gnss0: serial port unplugged", "warn: fsync took 800ms"}},
	}
	for _, c := range cases {
		got := warnings(&c.st, c.recent, now, Options{MinFreeBytes: 1 << 20})
		var lines []string
		for _, w := range got {
			lines = append(lines, w.Level+": "+w.Text)
		}
		if strings.Join(lines, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", c.name, lines, c.want)
		}
	}
}

func TestHuman(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want string
	}{{0, "0 s"}, {4.4, "4 s"}, {89, "89 s"}, {90, "2 min"}, {3599, "60 min"}, {3600, "1 h 0 min"}, {12000, "3 h 20 min"}} {
		if got := human(c.s); got != c.want {
			t.Errorf("human(%v) = %q, want %q", c.s, got, c.want)
		}
	}
}

// TestStatusShowsTheRig checks the live status of the simulated rig: every sensor
// with a rate, GNSS fix, thumbnails of every camera with the truth boxes, the disk.
func TestStatusShowsTheRig(t *testing.T) {
	st := newStation(t, stationConfig{cameras: 4})
	var s *Status
	waitFor(t, "a full status", func() bool {
		s = st.status()
		thumbs := 0
		for _, c := range s.Cameras {
			if c.Thumb > 0 {
				thumbs++
			}
		}
		return len(s.Sensors) >= 8 && s.GNSS != nil && thumbs == 4 && s.Sensors[0].Rate > 0
	})
	if s.State != "idle" || s.Mode != "record" || s.Disk.Free <= 0 || len(s.Categories) != 4 {
		t.Fatalf("status %+v", s)
	}
	labels := map[string]bool{}
	for _, sn := range s.Sensors {
		labels[sn.Label] = true
	}
	for _, l := range []string{"CAN bus pt", "CAN bus chassis", "IMU sim", "Camera 0 (front)"} {
		if !labels[l] {
			t.Errorf("no sensor %q in %v", l, labels)
		}
	}
	code, b := st.do("GET", "/api/thumb/0", nil, nil)
	if code != 200 || len(b) < 100 || b[0] != 0xFF || b[1] != 0xD8 {
		t.Fatalf("thumbnail: %d, %d bytes", code, len(b))
	}
	if code, _ := st.do("GET", "/api/thumb/9", nil, nil); code != 404 {
		t.Fatalf("thumbnail of a missing camera: %d", code)
	}
	code, b = st.do("GET", "/", nil, nil)
	if code != 200 || !strings.Contains(string(b), `id="startstop"`) {
		t.Fatalf("page: %d", code)
	}
}

// TestDiskBeforeTheFirstDrive asks for free space while the drives folder does not
// exist yet: the answer comes from the file system it will be on.
func TestDiskBeforeTheFirstDrive(t *testing.T) {
	st := newStation(t, stationConfig{noSim: true})
	srv, err := New(Options{Feed: st.eng, Recorder: st.eng, Root: filepath.Join(t.TempDir(), "not", "yet"), Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if d := srv.disk(); d.Error != "" || d.Free <= 0 {
		t.Fatalf("disk %+v", d)
	}
}
