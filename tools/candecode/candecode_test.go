package candecode

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"roadlog/acquire/can/candump"
	"roadlog/dbc"
	"roadlog/internal/shared"
	"roadlog/schema"
)

// writeDrive writes rows into seg-NNNNNN/can.arrow files of n rows each.
func writeDrive(t *testing.T, rows []schema.CAN, per int) string {
	t.Helper()
	drive := t.TempDir()
	for seg := 0; seg*per < len(rows); seg++ {
		dir := filepath.Join(drive, "seg-"+pad6(seg))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "can.arrow"))
		if err != nil {
			t.Fatal(err)
		}
		w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema.CANTable.Schema()), ipc.WithZstd())
		if err != nil {
			t.Fatal(err)
		}
		b := array.NewRecordBuilder(memory.NewGoAllocator(), schema.CANTable.Schema())
		for i := seg * per; i < min(len(rows), (seg+1)*per); i++ {
			schema.CANTable.Append(b, &rows[i])
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return drive
}

func pad6(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}

type collect []Row

func (c *collect) Write(r *Row) error { *c = append(*c, *r); return nil }

func TestDecodeDrive(t *testing.T) {
	logPath := shared.Path(t, "testdata/candump/comma2k19/rav4_2018-08-02_seg40_can.log")
	dbcPath := shared.Path(t, "testdata/dbc/opendbc/toyota_new_mc_pt_generated.dbc")
	src, err := os.ReadFile(dbcPath)
	if err != nil {
		t.Fatal(err)
	}
	file, err := dbc.Parse(dbcPath, src)
	if err != nil {
		t.Fatal(err)
	}
	db := dbc.Compile(file)
	lf, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	r := candump.NewReader(lf)
	var l candump.Line
	var rows []schema.CAN
	for len(rows) < 5000 {
		if err := r.Read(&l); err != nil {
			t.Fatal(err)
		}
		var row schema.CAN
		l.Frame.ToRow(&row)
		row.T, row.Bus = l.T(), l.Iface
		rows = append(rows, row)
	}
	drive := writeDrive(t, rows, 2000)
	// what the decoder must produce: every STEER_ANGLE and WHEEL_SPEED_FL of can0
	var want []Row
	for _, row := range rows {
		m := db.Message(row.ID, row.Ext)
		if row.Bus != "can0" || m == nil {
			continue
		}
		for _, name := range []string{"STEER_ANGLE", "WHEEL_SPEED_FL"} {
			if s := m.Signal(name); s != nil && (name != "STEER_ANGLE" || m.Name == "STEER_ANGLE_SENSOR") {
				raw, _ := s.Raw(row.Data)
				want = append(want, Row{T: row.T, Bus: "can0", ID: row.ID, Message: m.Name, Signal: name, Value: s.Physical(raw), Raw: raw, Unit: s.Unit})
			}
		}
	}
	var arrowBuf, csvBuf bytes.Buffer
	aw, err := NewArrowWriter(&arrowBuf)
	if err != nil {
		t.Fatal(err)
	}
	cw, err := NewCSVWriter(&csvBuf)
	if err != nil {
		t.Fatal(err)
	}
	var got collect
	st, err := Decode(drive, db, Options{Bus: "can0", Signals: []string{"STEER_ANGLE_SENSOR.STEER_ANGLE", "WHEEL_SPEED_FL"}},
		Multi{&got, aw, cw})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(aw.Close(), cw.Close()); err != nil {
		t.Fatal(err)
	}
	if st.Segments != 3 || int(st.Rows) != len(want) || len(got) != len(want) || len(want) < 100 {
		t.Fatalf("stats %+v, %d rows, want %d", st, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// the Arrow file reads back
	fr, err := ipc.NewFileReader(bytes.NewReader(arrowBuf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		vals := rec.Column(5).(*array.Float64)
		sigs := rec.Column(4).(*array.String)
		for j := 0; j < int(rec.NumRows()); j++ {
			if vals.Value(j) != want[n].Value || sigs.Value(j) != want[n].Signal {
				t.Fatalf("arrow row %d differs", n)
			}
			n++
		}
	}
	if n != len(want) {
		t.Fatalf("arrow file has %d rows", n)
	}
	recs, err := csv.NewReader(&csvBuf).ReadAll()
	if err != nil || len(recs) != len(want)+1 || recs[1][4] != want[0].Signal {
		t.Fatalf("csv: %v, %d records", err, len(recs))
	}
	// a signal that never appears is an error naming it
	_, err = Decode(drive, db, Options{Signals: []string{"NO_SUCH_SIGNAL"}}, &collect{})
	if !errors.Is(err, ErrSignalNotSeen) {
		t.Errorf("unknown signal: %v", err)
	}
	if _, err := Decode(t.TempDir(), db, Options{}, &collect{}); !errors.Is(err, ErrNoSegments) {
		t.Errorf("empty drive: %v", err)
	}
}
