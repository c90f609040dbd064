package gnss

import (
	"bytes"
	"context"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"roadlog/schema"
)

// startGPSFake runs gpsd's own test harness: gpsfake starts a private gpsd on port and
// feeds it the log through a pseudo-terminal, cycling until stopped.
func startGPSFake(t *testing.T, log string, port int) {
	t.Helper()
	bin, err := exec.LookPath("gpsfake")
	if err != nil {
		t.Skip("gpsfake is not installed (Debian: apt-get install gpsd gpsd-clients); skipping the real-gpsd test")
	}
	if _, err := exec.LookPath("gpsd"); err != nil {
		if _, err := os.Stat("/usr/sbin/gpsd"); err != nil {
			t.Skip("gpsd is not installed (Debian: apt-get install gpsd); skipping the real-gpsd test")
		}
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-q", "-P", strconv.Itoa(port), "-c", "0.002", log)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gpsfake: %v", err)
	}
	t.Cleanup(func() {
		// gpsfake stops its gpsd on SIGTERM; the group kill catches what it leaves.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("gpsfake output:\n%s", out.String())
		}
	})
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestGPSDFake connects the GPSD source to a real gpsd fed by gpsfake with a receiver
// log, and checks that the rows are the ones the same log gives when decoded directly.
func TestGPSDFake(t *testing.T) {
	var log string
	for _, f := range corpusLogs(t) {
		if filepath.Base(f) == "ublox-lea-4h.log" {
			log = f
		}
	}
	if log == "" {
		t.Skip("ublox-lea-4h.log is not in the corpus")
	}
	want, _ := decodeAll(gpsdLog(t, log), Config{Name: "gpsd"})
	byTime := map[int64]*schema.GNSS{}
	for _, r := range want.rows {
		byTime[r.TDevice] = r
	}
	port := freeTCPPort(t)
	startGPSFake(t, log, port)

	src := &GPSD{Address: "127.0.0.1:" + strconv.Itoa(port), Config: Config{Name: "gpsd", EpochTimeout: -1, StatsInterval: -1}}
	sink := &syncSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runs int
	go func() { // what the recorder's supervisor does: restart until stopped
		defer close(done)
		for ctx.Err() == nil {
			runs++
			if err := src.Run(ctx, sink); err != nil && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	need := 2*len(want.rows) + 1
	waitFor(t, "rows through gpsd", func() bool { rows, _ := sink.snapshot(); return len(rows) >= need })
	cancel()
	<-done

	rows, events := sink.snapshot()
	matched := 0
	for i, r := range rows[1 : len(rows)-1] { // the first and last epochs may be cut
		w, ok := byTime[r.TDevice]
		if !ok {
			t.Errorf("row %d at %v is not an epoch of the log", i+1, time.Unix(0, r.TDevice).UTC())
			continue
		}
		if math.Abs(r.Lat-w.Lat) > 1e-9 || math.Abs(r.Lon-w.Lon) > 1e-9 || r.Sats != w.Sats || r.Quality != w.Quality ||
			r.Mode != w.Mode || r.Receiver != "gpsd" {
			t.Errorf("row %d: %+v\nwant %+v", i+1, *r, *w)
			continue
		}
		matched++
	}
	st := src.Stats()
	t.Logf("%d rows through gpsd %s after %d connection attempts, %d match the log; %d JSON reports", len(rows),
		st.GPSD.Release, runs, matched, st.GPSD.Reports)
	if matched < need-2 {
		t.Errorf("only %d rows matched", matched)
	}
	if st.GPSD.Reports == 0 || st.GPSD.Release == "" || st.GPSD.BadJSON != 0 {
		t.Errorf("gpsd report counts %+v", st.GPSD)
	}
	var config bool
	for _, e := range events {
		if e.Code == schema.EvConfig && strings.HasPrefix(e.Message, "gpsd ") && strings.Contains(e.Message, "/dev/") {
			config = true
		}
	}
	if !config {
		for _, e := range events {
			t.Logf("event %v %q", e.Code, e.Message)
		}
		t.Errorf("no EvConfig event naming gpsd's device in %d events", len(events))
	}
}

// TestGPSDLines checks the JSON/NMEA split of the GPSD source without a daemon: every
// report kind, an over-long line, broken JSON and a report split across reads.
func TestGPSDLines(t *testing.T) {
	sink := &syncSink{}
	p := newPipeline(Config{Name: "g"}, sink, nil)
	p.gpsd = &gpsdLines{}
	in := `{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}
{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/ttyACM0","driver":"u-blox","activated":"2026-01-01T00:00:00.000Z"}]}
{"class":"WATCH","enable":true,"json":true,"nmea":true}
` + withSum("$GPRMC,120000.00,A,4807.038,N,01131.000,E,0.0,,010203,,") + `
{"class":"DEVICE","path":"/dev/ttyACM0","driver":"u-blox","activated":"2026-01-01T00:00:00.000Z"}
{"class":"DEVICE","path":"/dev/ttyACM1","driver":"NMEA0183","activated":"2026-01-01T00:00:00.000Z"}
{"class":"TPV","device":"/dev/ttyACM0","mode":3,"lat":48.1173}
{"class":"ERROR","message":"unrecognized request"}
{"class":"DEVICE","path":"/dev/ttyACM0","activated":0}
{"class": broken
{"class":"SKY","satellites":[` + strings.Repeat(`{"PRN":1},`, MaxJSONLine/10) + `{}]}
` + withSum("$GPRMC,120001.00,A,4807.038,N,01131.000,E,0.0,,010203,,") + "\n"
	for i := 0; i < len(in); i += 100 {
		p.feed([]byte(in[i:min(i+100, len(in))]), 1)
	}
	p.endEpoch()
	p.sync()
	st := p.st
	rows, events := sink.snapshot()
	if len(rows) != 2 {
		t.Errorf("%d rows, want 2", len(rows))
	}
	if st.GPSD.Reports != 8 || st.GPSD.BadJSON != 2 || st.GPSD.Errors != 1 || st.GPSD.Release != "3.22" ||
		st.GPSD.Devices != "/dev/ttyACM0 (u-blox)" || st.GPSD.LastTPV != 1 {
		t.Errorf("gpsd stats %+v", st.GPSD)
	}
	var codes []schema.EventCode
	for _, e := range events {
		codes = append(codes, e.Code)
	}
	if len(codes) != 4 || codes[0] != schema.EvConfig || codes[1] != schema.EvConfig || codes[2] != schema.EvSourceError || codes[3] != schema.EvSourceError {
		t.Errorf("events %v", codes)
	}
	if st.Framer.Noise != 0 || st.Classes[ClassStandard] != 2 {
		t.Errorf("JSON leaked into the framer: %+v", st)
	}
}
