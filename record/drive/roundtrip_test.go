package drive

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"roadlog/schema"
)

// sampleRows returns a few rows of every table with every field set, nulls included.
func sampleRows() map[schema.TableName][]any {
	nan32 := schema.NaN32()
	return map[schema.TableName][]any{
		schema.TableCAN: {
			&schema.CAN{T: 1e18, TDevice: 5, THost: 7, Bus: "pt", ID: 0x123, DLC: 8, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			&schema.CAN{T: 1e18 + 1, THost: 8, Bus: "chassis", ID: 0x1FFFFFFF, Ext: true, FD: true, BRS: true, ESI: true, DLC: 15, Data: make([]byte, 64)},
			&schema.CAN{T: 1e18 + 2, Bus: "pt", ID: 0x7FF, RTR: true, DLC: 2, Data: []byte{}},
			&schema.CAN{T: 1e18 + 3, Bus: "pt", ID: 0x4, Err: true, DLC: 8, Data: []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		},
		schema.TableGNSS: {
			func() any {
				g := schema.NewGNSS()
				g.T = 1e18
				g.Talker = "GN"
				g.Lat = 48.1
				g.Lon = 11.5
				g.Sats = 9
				g.Quality = schema.FixRTK
				g.Mode = schema.Mode3D
				g.Raw = "$GNGGA,…"
				return g
			}(),
			schema.NewGNSS(),
		},
		schema.TableIMU: {
			&schema.IMU{T: 1e18, TDevice: 1, THost: 2, Sensor: "imu0", AX: 1, AY: -2, AZ: 9.81, GX: .1, GY: .2, GZ: .3, Temp: nan32, MX: nan32, MY: 1, MZ: nan32},
		},
		schema.TableEgo: {
			schema.NewEgo(),
			&schema.Ego{T: 3, Source: "sim", Speed: 20, Gear: schema.GearDrive, EngineRPM: 2000, Wipers: schema.WipersLow, SteeringAngle: -5, TurnLeft: true, Throttle: 12, Brake: 0, BrakePressed: false, YawRate: 1.5},
		},
		schema.TableFrames: {
			&schema.Frame{T: 9, TDevice: 8, THost: 7, Camera: 3, Seq: 42, TriggerID: -1, ExposureUS: nan32, Codec: schema.CodecH264, Width: 1920, Height: 1080, Keyframe: true, File: "cam3.mp4", Offset: 1234, Size: 99, Sample: 0, PTS: 0},
			&schema.Frame{T: 10, Camera: 0, Seq: 1, TriggerID: 77, ExposureUS: 800, Codec: schema.CodecMJPEG, File: "cam0.mp4"},
		},
		schema.TableObjects: {
			&schema.Object{T: 1, TriggerID: 5, Camera: 1, FrameSeq: 3, TrackID: -1, Class: 2, Label: "car", Score: .9, X1: 1, Y1: 2, X2: 3, Y2: 4, Distance: 20, Lateral: -1, RelSpeed: -3, RelSpeedStd: .5, TTC: nan32, Width: 1.8, Lane: schema.LaneEgo, Manner: schema.MannerCutIn},
		},
		schema.TableTargets: {
			&schema.Target{T: 1, TriggerID: -1, EgoSpeed: 20, CIPV: 4, CIPVDistance: 30, CIPVRelSpeed: -2, CIPVTTC: 15, CutIn: -1, CutInTTC: nan32, FCW: true, AEB: false, Ahead: 3, CutInLeft: true, RequiredDecel: nan32},
		},
		schema.TableEvents: {
			func() any {
				e := schema.NewEvent(5, schema.EvDrop, schema.SevWarn, "frames", "queue full")
				e.Count = 3
				e.TFirst = 1
				e.TLast = 4
				return e
			}(),
			func() any {
				e := schema.NewEvent(6, schema.EvMark, schema.SevInfo, "driver", "near miss")
				e.Value = 1.5
				e.Category = "near_miss"
				e.Input = "gpio"
				e.Detail = `{"a":1}`
				return e
			}(),
		},
		schema.TableTruth: {
			&schema.Truth{T: 1, TriggerID: 2, ActorID: 3, Kind: schema.ActorPedestrian, Camera: schema.TruthNoCamera, X1: nan32, Y1: nan32, X2: nan32, Y2: nan32, Distance: 10, Lateral: 1, RelSpeed: -1, TTC: 10, Width: .6, Lane: schema.LaneRight, CutIn: true, InPath: true},
		},
		schema.TableSync: {
			&schema.SyncRow{T: 1, Source: "reference", State: schema.SyncLocked, Offset: -12, DriftPPM: 3.5, Jitter: 100, Uncertainty: 300, Samples: 60},
		},
	}
}

func roundTrip[R any, P interface {
	*R
	schema.Sample
}](t *testing.T, dir string, tbl *schema.Table[R], rows []any, codec Codec) {
	t.Helper()
	path := filepath.Join(dir, string(tbl.Name)+"-"+string(codec)+".arrow")
	f, err := OSFS{}.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewTableWriter(f, tbl, codec)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		w.Append(r.(P), int64(i))
		if i%2 == 1 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []any
	scan, err := ReadRows(path, tbl, func(r *R) error {
		c := new(R)
		*c = *r
		// Binary columns are copied into the reused row: detach them.
		if cf, ok := any(c).(*schema.CAN); ok {
			cf.Data = append([]byte{}, cf.Data...)
		}
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", tbl.Name, err)
	}
	if !scan.Footer || len(scan.Damage) != 0 {
		t.Fatalf("%s: footer=%v damage=%v", tbl.Name, scan.Footer, scan.Damage)
	}
	if len(got) != len(rows) {
		t.Fatalf("%s: read %d rows, wrote %d", tbl.Name, len(got), len(rows))
	}
	for i := range rows {
		if !equalNaN(rows[i], got[i]) {
			t.Errorf("%s row %d:\n wrote %+v\n read  %+v", tbl.Name, i, rows[i], got[i])
		}
	}
	// The message scan (the recovery path) must see the same rows.
	s2, err := ScanArrow(path)
	if err != nil || s2.Rows() != int64(len(rows)) || !s2.Footer {
		t.Fatalf("%s: scan rows=%d footer=%v err=%v", tbl.Name, s2.Rows(), s2.Footer, err)
	}
}

// equalNaN compares two rows treating NaN as equal to NaN and nil slices as empty.
func equalNaN(a, b any) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := 0; i < va.NumField(); i++ {
		x, y := va.Field(i), vb.Field(i)
		switch x.Kind() {
		case reflect.Float32, reflect.Float64:
			fx, fy := x.Float(), y.Float()
			if !(fx == fy || math.IsNaN(fx) && math.IsNaN(fy)) {
				return false
			}
		case reflect.Slice:
			if x.Len() != y.Len() || !reflect.DeepEqual(x.Bytes(), y.Bytes()) && x.Len() > 0 {
				return false
			}
		default:
			if !reflect.DeepEqual(x.Interface(), y.Interface()) {
				return false
			}
		}
	}
	return true
}

func TestRoundTripEveryTable(t *testing.T) {
	rows := sampleRows()
	for _, codec := range []Codec{CodecZSTD, CodecZSTDSmall, CodecLZ4, CodecNone} {
		dir := t.TempDir()
		roundTrip(t, dir, schema.CANTable, rows[schema.TableCAN], codec)
		roundTrip(t, dir, schema.GNSSTable, rows[schema.TableGNSS], codec)
		roundTrip(t, dir, schema.IMUTable, rows[schema.TableIMU], codec)
		roundTrip(t, dir, schema.EgoTable, rows[schema.TableEgo], codec)
		roundTrip(t, dir, schema.FramesTable, rows[schema.TableFrames], codec)
		roundTrip(t, dir, schema.ObjectsTable, rows[schema.TableObjects], codec)
		roundTrip(t, dir, schema.TargetsTable, rows[schema.TableTargets], codec)
		roundTrip(t, dir, schema.EventsTable, rows[schema.TableEvents], codec)
		roundTrip(t, dir, schema.TruthTable, rows[schema.TableTruth], codec)
		roundTrip(t, dir, schema.SyncTable, rows[schema.TableSync], codec)
	}
	if n := len(rows); n != len(schema.Tables()) {
		t.Fatalf("sample rows cover %d tables, schema has %d", n, len(schema.Tables()))
	}
}

func TestFootlessFileReadsAsStream(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "can.arrow")
	f, _ := OSFS{}.Create(path)
	w, err := NewTableWriter(f, schema.CANTable, CodecZSTD)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		w.Append(&schema.CAN{T: int64(i), Bus: "b", Data: []byte{byte(i)}}, int64(i))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// no Close: the footer is missing, as after a crash
	f.(interface{ Close() error }).Close()
	var ts []int64
	scan, err := ReadRows(path, schema.CANTable, func(r *schema.CAN) error { ts = append(ts, r.T); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if scan.Footer || len(ts) != 10 || ts[9] != 9 {
		t.Fatalf("footer=%v rows=%v", scan.Footer, ts)
	}
}

func TestVideoWriterIndexMatchesScan(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cam0.mp4")
	f, _ := OSFS{}.Create(path)
	mk := func(i int) *schema.VideoFrame {
		data := make([]byte, 100+i*7)
		for j := range data {
			data[j] = byte(i + j)
		}
		return &schema.VideoFrame{Frame: schema.Frame{T: 1e9 + int64(i)*33_333_333, Camera: 0, Seq: int64(i), Codec: schema.CodecMJPEG, Width: 64, Height: 48, Keyframe: i%5 == 0}, Data: data}
	}
	w, err := NewVideoWriter(f, "cam0.mp4", mk(0))
	if err != nil {
		t.Fatal(err)
	}
	var rows []schema.Frame
	for i := 0; i < 23; i++ {
		w.Add(mk(i))
		if i%4 == 3 {
			r, err := w.Flush()
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, r...)
		}
	}
	r, err := w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	rows = append(rows, r...)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	scan, err := ScanMP4(path)
	if err != nil || scan.Damage != nil {
		t.Fatalf("scan: %v %v", err, scan.Damage)
	}
	if len(scan.Samples) != 23 || len(rows) != 23 || scan.Timescale != VideoTimescale {
		t.Fatalf("samples=%d rows=%d timescale=%d", len(scan.Samples), len(rows), scan.Timescale)
	}
	raw, _ := os.ReadFile(path)
	for i, row := range rows {
		s := scan.Samples[i]
		if s.Offset != row.Offset || s.Size != row.Size || s.Sync != row.Keyframe || row.Sample != int64(i) {
			t.Fatalf("frame %d: row %+v sample %+v", i, row, s)
		}
		want := mk(i).Data
		if string(raw[row.Offset:row.Offset+int64(row.Size)]) != string(want) {
			t.Fatalf("frame %d: bytes differ", i)
		}
		if got := int64(s.DecodeTime) * 1_000_000_000 / VideoTimescale; abs(got-row.PTS) > 1_000_000_000/VideoTimescale+1 {
			t.Fatalf("frame %d: decode time %d ns, pts %d ns", i, got, row.PTS)
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
