package imu

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"roadlog/internal/shared"
	"roadlog/rig"
	"roadlog/schema"
)

func withXOR(body string) string { return fmt.Sprintf("$%s*%02X", body, xor8([]byte(body))) }
func withCRC(body string) string { return fmt.Sprintf("$%s*%04X", body, CRC16([]byte(body))) }

// vnCases is the VectorNav parser's case table; it seeds FuzzVectorNav.
var vnCases = []struct {
	line string
	err  error
	typ  string
	acc  [3]float32
	temp float32
}{
	{line: withXOR("VNIMU,-02.4285,-00.7722,+02.0549,-00.173,+00.088,-09.839,-0.000218,+0.000401,+0.000177,+23.0,+101.123"),
		typ: "VNIMU", acc: [3]float32{-0.173, 0.088, -9.839}, temp: 23},
	{line: withCRC("VNIMU,-02.4285,-00.7722,+02.0549,-00.173,+00.088,-09.839,-0.000218,+0.000401,+0.000177,+23.0,+101.123"),
		typ: "VNIMU", acc: [3]float32{-0.173, 0.088, -9.839}, temp: 23},
	{line: withXOR("VNYMR,+006.380,+000.023,-001.953,+1.0640,-0.2531,+3.0614,+00.005,+00.344,-09.758,-0.001222,-0.000450,-0.001218"),
		typ: "VNYMR", acc: [3]float32{0.005, 0.344, -9.758}, temp: float32(math.NaN())},
	{line: withXOR("VNERR,12"), err: &SensorError{12}},
	{line: withXOR("VNRRG,07,200"), err: ErrVNUnknown},
	{line: "$VNYMR,+006.380,+000.023,-001.953,+1.0640,-0.2531,+3.0614,+00.005,+00.344,-09.758,-0.001222,-0.000450,-0.001218*00", err: ErrVNChecksum},
	{line: "$VNYMR,+006.380,+000.023,-001.953*ABCD", err: ErrVNChecksum},
	{line: withXOR("VNIMU,1,2,3"), err: ErrVNFormat},
	{line: withXOR("VNIMU,-02.4285,-00.7722,+02.0549,-00.173,+00.088,-09.839,-0.000218,+0.000401,+0.000177,+23.0,pres"), err: ErrVNFormat},
	{line: withXOR("VNIMU,NaN,-00.7722,+02.0549,-00.173,+00.088,-09.839,-0.000218,+0.000401,+0.000177,+23.0,+1"), err: ErrVNFormat},
	{line: "$VNIMU,1,2", err: ErrVNFormat},
	{line: "$VNIMU,1,2*1", err: ErrVNFormat},
	{line: "VNIMU*00", err: ErrVNFormat},
	{line: withXOR("VNIMU" + strings.Repeat(",1", 14)), err: ErrVNFormat},
}

func TestParseVN(t *testing.T) {
	for _, tc := range vnCases {
		s, err := ParseVN([]byte(tc.line))
		if tc.err != nil {
			var se *SensorError
			if want, ok := tc.err.(*SensorError); ok {
				if !errors.As(err, &se) || se.Code != want.Code {
					t.Errorf("%s: %v, want %v", tc.line, err, tc.err)
				}
				continue
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: %v, want %v", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if s.Type != tc.typ || s.Accel != tc.acc || !(s.Temp == tc.temp || math.IsNaN(float64(s.Temp)) && math.IsNaN(float64(tc.temp))) {
			t.Errorf("%s: %+v", tc.line, s)
		}
	}
}

func TestCRC16(t *testing.T) {
	// CRC-16/XMODEM check value.
	if got := CRC16([]byte("123456789")); got != 0x31C3 {
		t.Errorf("CRC16(123456789) = %04X, want 31C3", got)
	}
}

func TestParseVNErrorsNameColumn(t *testing.T) {
	_, err := ParseVN([]byte(withXOR("VNIMU,-02.4285,-00.7722,+02.0549,-00.173,x,-09.839,-0.000218,+0.000401,+0.000177,+23.0,+101.1")))
	if !errors.Is(err, ErrVNFormat) || !strings.Contains(err.Error(), "field 5") || !strings.Contains(err.Error(), "column 43") {
		t.Errorf("%v: want field 5 at column 43", err)
	}
}

// FuzzVectorNav: the parser never panics; a line it accepts re-encodes (as $VNIMU) to
// a line that parses to the same numbers within the encoder's precision.
func FuzzVectorNav(f *testing.F) {
	for _, tc := range vnCases {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		s, err := ParseVN(line)
		if err != nil {
			return
		}
		if s.Type == "VNYMR" {
			s.Temp, s.Pressure = 0, 0
		}
		for _, v := range append(append(append(s.Accel[:], s.Gyro[:]...), s.Mag[:]...), s.Temp, s.Pressure) {
			if math.Abs(float64(v)) > 1e6 {
				return // beyond what a sensor reports; the encoder's fixed formats still hold it, the comparison below would not
			}
		}
		enc := AppendVNIMU(nil, s)
		g, err := ParseVN(enc[:len(enc)-2])
		if err != nil {
			t.Fatalf("%q re-encoded as %q: %v", line, enc, err)
		}
		for i := range 3 {
			if d := math.Abs(float64(g.Accel[i] - s.Accel[i])); d > 6e-4*math.Max(1, math.Abs(float64(s.Accel[i]))) {
				t.Fatalf("accel %d: %g → %g", i, s.Accel[i], g.Accel[i])
			}
		}
	})
}

func TestVNLines(t *testing.T) {
	var l vnLines
	var got []string
	in := "\x00\xff$VNIMU,1*00\r\n$VNY" + "MR,2*00\n$VN$VNERR,1*00\r" + "$" + strings.Repeat("A", MaxVNLine+5) + "\n$VNX*00\n"
	for i := 0; i < len(in); i += 3 {
		l.feed([]byte(in[i:min(i+3, len(in))]), func(b []byte) { got = append(got, string(b)) })
	}
	want := []string{"$VNIMU,1*00", "$VNYMR,2*00", "$VN", "$VNERR,1*00", "$VNX*00"}
	if strings.Join(got, " ") != strings.Join(want, " ") || l.noise != 7 || l.long != 1 {
		t.Errorf("lines %q noise %d long %d", got, l.noise, l.long)
	}
}

// fusionRows reads the x-io Fusion example log: time, gyro (deg/s), accel (g), mag (µT).
func fusionRows(t *testing.T, n int) [][10]float64 {
	t.Helper()
	fh, err := os.Open(shared.Path(t, "testdata/imu/fusion/sensor_data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r := csv.NewReader(bufio.NewReader(fh))
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	var out [][10]float64
	for len(out) < n {
		rec, err := r.Read()
		if err != nil {
			break
		}
		var v [10]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(rec[i], 64); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, v)
	}
	return out
}

const g0 = 9.80665

func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// TestVectorNavPTY replays the Fusion example log through the VectorNav encoder into a
// pseudo-terminal, with a command reply, a sensor error and a corrupt line mixed in,
// and checks the rows the serial source makes of it.
func TestVectorNavPTY(t *testing.T) {
	data := fusionRows(t, 3000)
	master, slave := openPTY(t)
	defer slave.Close()
	defer master.Close()
	axes, _ := rig.Axes{X: "x", Y: "-y", Z: "-z"}.Map() // VectorNav frame (z down) → vehicle (z up)
	src := &VectorNav{Port: slave.Name(), Baud: 921600, Name: "vn100", Rate: 200, Axes: axes}
	sink := &syncSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()

	// The source first sets the rate: read its command from the master side.
	cmd := make([]byte, 64)
	n, err := master.Read(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(cmd[:n]), withXOR("VNWRG,07,200")+"\r\n"; got != want {
		t.Errorf("rate command %q, want %q", got, want)
	}
	var out []byte
	out = append(out, withXOR("VNWRG,07,200")+"\r\n"...)
	out = append(out, withXOR("VNERR,3")+"\r\n"...)
	out = append(out, "$VNIMU,garbage*00\r\n\x00\xff"...)
	for _, r := range data {
		s := VNSample{
			Gyro:  [3]float32{float32(r[1] * math.Pi / 180), float32(r[2] * math.Pi / 180), float32(r[3] * math.Pi / 180)},
			Accel: [3]float32{float32(r[4] * g0), float32(r[5] * g0), float32(r[6] * g0)},
			Mag:   [3]float32{float32(r[7] / 100), float32(r[8] / 100), float32(r[9] / 100)},
			Temp:  24.5, Pressure: 101.325,
		}
		out = AppendVNIMU(out, s)
	}
	go master.Write(out)
	waitFor(t, "every sample", func() bool { return src.Stats().Samples == int64(len(data)) })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	rows, events := sink.snapshot()
	if len(rows) != len(data) {
		t.Fatalf("%d rows, want %d", len(rows), len(data))
	}
	for i, r := range rows {
		d := data[i]
		want := []float64{d[4] * g0, -d[5] * g0, -d[6] * g0, d[1] * math.Pi / 180, -d[2] * math.Pi / 180, -d[3] * math.Pi / 180, d[7], -d[8], -d[9]}
		got := []float32{r.AX, r.AY, r.AZ, r.GX, r.GY, r.GZ, r.MX, r.MY, r.MZ}
		tol := []float64{6e-4, 6e-4, 6e-4, 6e-7, 6e-7, 6e-7, 6e-3, 6e-3, 6e-3}
		for k := range want {
			if math.Abs(float64(got[k])-want[k]) > tol[k]+1e-6*math.Abs(want[k]) {
				t.Fatalf("row %d value %d = %g, want %g", i, k, got[k], want[k])
			}
		}
		if r.Temp != 24.5 || r.Sensor != "vn100" || r.TDevice != 0 || r.T == 0 {
			t.Fatalf("row %d: %+v", i, r)
		}
	}
	st := src.Stats()
	if st.Errors != 1 || st.Bad != 1 || st.Unknown != 1 {
		t.Errorf("stats %+v: want 1 sensor error, 1 bad line, 1 other message", st)
	}
	var sawErr, sawStats bool
	for _, e := range events {
		sawErr = sawErr || e.Code == schema.EvSourceError && e.Message == "vectornav error 3"
		sawStats = sawStats || e.Code == schema.EvSourceStats && e.Count == 1
	}
	if !sawErr || !sawStats {
		t.Errorf("events %+v", events)
	}
}

func TestVectorNavVanishes(t *testing.T) {
	master, slave := openPTY(t)
	src := &VectorNav{Port: slave.Name()}
	done := make(chan error, 1)
	go func() { done <- src.Run(context.Background(), &syncSink{}) }()
	master.Write([]byte(withXOR("VNYMR,+006.380,+000.023,-001.953,+1.0640,-0.2531,+3.0614,+00.005,+00.344,-09.758,-0.001222,-0.000450,-0.001218") + "\r\n"))
	waitFor(t, "a sample", func() bool { return src.Stats().Samples == 1 })
	slave.Close()
	master.Close()
	if err := <-done; err == nil {
		t.Fatal("Run returned nil after the port vanished")
	}
}

func TestFromRig(t *testing.T) {
	for _, f := range []string{"../../examples/imu-iio.yaml", "../../examples/imu-serial.yaml"} {
		r, err := rig.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := FromRig(r.IMU[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		switch v := s.(type) {
		case *IIO:
			if v.Device != "iio:device0" || v.Rate != 400 || v.Buffer != 256 || v.Axes.Src != [3]int{1, 0, 2} || v.Axes.Sign != [3]float32{1, -1, 1} {
				t.Errorf("%s: %+v", f, v)
			}
		case *VectorNav:
			if v.Port != "/dev/ttyUSB0" || v.Baud != 921600 || v.Rate != 200 {
				t.Errorf("%s: %+v", f, v)
			}
		}
	}
	if _, err := FromRig(rig.IMU{Kind: "i2c"}, nil); !errors.Is(err, rig.ErrInvalid) {
		t.Errorf("unknown kind: %v", err)
	}
}
