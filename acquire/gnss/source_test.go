package gnss

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncSink collects samples from a running source.
type syncSink struct {
	mu     sync.Mutex // guards rows and events
	rows   []*schema.GNSS
	events []*schema.Event
}

func (s *syncSink) Publish(x schema.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch v := x.(type) {
	case *schema.GNSS:
		s.rows = append(s.rows, v)
	case *schema.Event:
		s.events = append(s.events, v)
	}
}

func (s *syncSink) snapshot() ([]*schema.GNSS, []*schema.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*schema.GNSS(nil), s.rows...), append([]*schema.Event(nil), s.events...)
}

// waitFor polls cond until it holds; the bound only keeps a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

// sameRows compares rows from a live source with rows decoded from the same bytes in
// one go, ignoring the arrival times.
func sameRows(t *testing.T, got, want []*schema.GNSS) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	eq := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for i := range want {
		g, w := *got[i], *want[i]
		g.T, g.THost, w.T, w.THost = 0, 0, 0, 0
		if !eq(g.Lat, w.Lat) || !eq(g.Lon, w.Lon) || !eq(g.Alt, w.Alt) || !eq(g.Speed, w.Speed) ||
			!eq(g.HDOP, w.HDOP) || g.TDevice != w.TDevice || g.Sats != w.Sats || g.Quality != w.Quality ||
			g.Mode != w.Mode || g.Raw != w.Raw || g.Talker != w.Talker || g.Receiver != w.Receiver {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// corpusFile returns one gpsd log with its comments removed.
func corpusFile(t *testing.T, name string) []byte {
	t.Helper()
	for _, f := range corpusLogs(t) {
		if f[len(f)-len(name):] == name {
			return gpsdLog(t, f)
		}
	}
	t.Skipf("%s is not in the corpus", name)
	return nil
}

// openPTY returns a pseudo-terminal in raw mode: what the test writes to master, the
// source reads from the slave's path unchanged.
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

func TestSerialPTY(t *testing.T) {
	data := corpusFile(t, "ublox-zed-f9p-nmea.log")
	want, _ := decodeAll(data, Config{Name: "f9p", Raw: true})
	master, slave := openPTY(t)
	defer slave.Close()
	defer master.Close()
	src := &Serial{Port: slave.Name(), Baud: 115200, Config: Config{Name: "f9p", Raw: true, EpochTimeout: -1, StatsInterval: -1}}
	sink := &syncSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	// The noise of a receiver being plugged in, then the log in odd-sized writes.
	if _, err := master.Write([]byte("\x00\xff\xb5b\x01")); err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 777)
		if _, err := master.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	waitFor(t, "the source to read everything", func() bool { return src.Stats().Framer.Bytes == int64(len(data)+5) })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, events := sink.snapshot()
	sameRows(t, got, want.rows)
	if len(events) == 0 || events[len(events)-1].Code != schema.EvSourceStats || events[len(events)-1].Source != "f9p" {
		t.Errorf("no closing EvSourceStats event: %+v", events)
	}
	if st := src.Stats(); st.Framer.Noise < 5 || st.Merger.Epochs != int64(len(want.rows)) {
		t.Errorf("stats %+v", st)
	}
}

// TestSerialVanishes unplugs the receiver: Run must return an error, not hang or panic,
// and publish what it had.
func TestSerialVanishes(t *testing.T) {
	master, slave := openPTY(t)
	src := &Serial{Port: slave.Name(), Config: Config{Name: "usb", EpochTimeout: -1}}
	sink := &syncSink{}
	done := make(chan error, 1)
	go func() { done <- src.Run(context.Background(), sink) }()
	epoch := withSum("$GPRMC,120000.00,A,4807.038,N,01131.000,E,0.0,,010203,,") + "\r\n"
	if _, err := master.Write([]byte(epoch)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first sentence", func() bool { return src.Stats().Classes[ClassStandard] == 1 })
	slave.Close()
	master.Close()
	err := <-done
	if err == nil {
		t.Fatal("Run returned nil after the port vanished")
	}
	t.Logf("Run: %v", err)
	if rows, _ := sink.snapshot(); len(rows) != 1 {
		t.Errorf("%d rows published, want the pending epoch", len(rows))
	}
}

func TestSerialMissingPort(t *testing.T) {
	src := &Serial{Port: "/dev/nonexistent-gnss"}
	if err := src.Run(context.Background(), &syncSink{}); err == nil {
		t.Fatal("no error for a missing port")
	}
}

func TestTCP(t *testing.T) {
	data := corpusFile(t, "ericsson-gru04.log")
	want, _ := decodeAll(data, Config{Name: "tcp"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write(data)
		c.Close()
	}()
	src := &TCP{Address: ln.Addr().String(), Config: Config{Name: "tcp"}}
	sink := &syncSink{}
	err = src.Run(context.Background(), sink)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Run: %v, want an error wrapping io.EOF when the server closes", err)
	}
	got, _ := sink.snapshot()
	sameRows(t, got, want.rows)
}

func TestTCPRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := (&TCP{Address: addr}).Run(context.Background(), &syncSink{}); !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("Run: %v, want connection refused", err)
	}
}

func TestUDP(t *testing.T) {
	data := corpusFile(t, "tcp-test.log")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	src := &UDP{Address: addr, Config: Config{Name: "udp", EpochTimeout: -1}}
	sink := &syncSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor(t, "the listener", func() bool {
		conn.Write([]byte("probe\n"))
		return src.Stats().Framer.Noise > 0
	})
	// One datagram per line, the line ends stripped: a datagram's end ends a sentence.
	for _, line := range splitLines(data) {
		if _, err := conn.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	want, wst := decodeAll(data, Config{Name: "udp"})
	waitFor(t, "every datagram", func() bool { return src.Stats().Framer.Sentences >= wst.Framer.Sentences })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, _ := sink.snapshot()
	sameRows(t, got, want.rows)
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		for i < len(b) && (b[i] == '\n' || b[i] == '\r') {
			i++
		}
		b = b[i:]
	}
	return out
}

func TestFreePort(t *testing.T) {
	// UDP must refuse an address it cannot bind with an error, not a panic.
	err := (&UDP{Address: "256.0.0.1:" + strconv.Itoa(1)}).Run(context.Background(), &syncSink{})
	if err == nil {
		t.Fatal("no error for an impossible address")
	}
}

// TestEpochTimeoutAndStats: a receiver that sends one epoch and then nothing gets its
// row when the epoch goes quiet, and counters are published while the source runs.
func TestEpochTimeoutAndStats(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hold := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte(strings.ReplaceAll(f9pEpoch, "\n", "\r\n")))
		<-hold
		c.Close()
	}()
	src := &TCP{Address: ln.Addr().String(), Config: Config{Name: "quiet", EpochTimeout: 20 * time.Millisecond, StatsInterval: 10 * time.Millisecond}}
	sink := &syncSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, sink) }()
	waitFor(t, "both epochs without a third", func() bool { rows, _ := sink.snapshot(); return len(rows) == 2 })
	waitFor(t, "a stats event while running", func() bool {
		_, evs := sink.snapshot()
		for _, e := range evs {
			if e.Code == schema.EvSourceStats && strings.Contains(e.Detail, `"GGA":1`) {
				return true
			}
		}
		return false
	})
	cancel()
	close(hold)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
