package control

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/acquire/sim"
	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/reference"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle client connections' goroutines for a while
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// station is a daemon under test: the engine fed by the simulated rig in real time,
// the control server over a real HTTP listener.
type station struct {
	t      testing.TB
	root   string
	eng    *record.Engine
	srv    *Server
	hs     *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
}

type stationConfig struct {
	cameras int // simulated cameras (0: none)
	noSim   bool
	noRun   bool // the server is built but its Run (taps, pushes) does not run
	clock   bool // the reference timebase publishes sync rows, as in roadlog serve
	opt     Options
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newStation(t testing.TB, cfg stationConfig) *station {
	t.Helper()
	root := t.TempDir()
	var cams []drive.Camera
	var rig *sim.Rig
	if !cfg.noSim {
		n := cfg.cameras
		if n == 0 {
			n = -1
		}
		var err error
		rig, err = sim.New(sim.Config{Cameras: n, Width: 320, Height: 180, FPS: 10, Speed: 1, NoTruth: n < 0})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rig.Cameras() {
			cams = append(cams, drive.Camera{Index: c.Index, Name: c.Name, Codec: "mjpeg", Width: c.Width, Height: c.Height, FPS: 10})
		}
	}
	ref := reference.New(reference.Config{Start: clock.NewSystem()})
	eng, err := record.New(record.Options{Root: root, Vehicle: "test", FlushInterval: 100 * time.Millisecond,
		MinFreeBytes: 1 << 20, WarnFreeBytes: 2 << 20, Cameras: cams, Simulated: true, Log: quietLog(), Timebase: ref})
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.opt
	o.Feed, o.Root, o.Cameras, o.Log = eng, root, cams, quietLog()
	if o.Recorder == nil {
		o.Recorder = eng
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = 1 << 20
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &station{t: t, root: root, eng: eng, srv: srv, cancel: cancel, done: make(chan struct{})}
	st.hs = httptest.NewServer(srv.Handler())
	go func() {
		defer close(st.done)
		srvDone := make(chan struct{})
		go func() {
			if !cfg.noRun {
				srv.Run(ctx)
			}
			close(srvDone)
		}()
		refDone := make(chan struct{})
		go func() {
			if cfg.clock {
				ref.Run(ctx, eng)
			}
			close(refDone)
		}()
		if rig != nil {
			rig.Run(ctx, eng)
		}
		<-srvDone
		<-refDone
	}()
	t.Cleanup(st.close)
	return st
}

func (s *station) close() {
	if s.eng.State() == record.Recording {
		s.eng.Stop("test over", "api")
	}
	s.cancel()
	<-s.done
	s.hs.CloseClientConnections()
	s.hs.Close()
}

// do sends a request and returns the status code and body.
func (s *station) do(method, path string, body any, header map[string]string) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.hs.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (s *station) status() *Status {
	s.t.Helper()
	code, b := s.do("GET", "/api/status", nil, nil)
	if code != 200 {
		s.t.Fatalf("status: %d %s", code, b)
	}
	st := new(Status)
	if err := json.Unmarshal(b, st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// waitFor polls cond (without asserting any timing) until it holds or 20 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// driveEvents reads every events row of a drive.
func driveEvents(t testing.TB, dir string) []schema.Event {
	t.Helper()
	segs, err := drive.Segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []schema.Event
	for _, seg := range segs {
		_, err := drive.ReadRows(filepath.Join(dir, drive.SegmentDir(seg), drive.TableFile(schema.TableEvents)), schema.EventsTable,
			func(r *schema.Event) error { out = append(out, *r); return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// verifyDrive runs drive.Verify and fails on any problem.
func verifyDrive(t testing.TB, dir string) *drive.VerifyReport {
	t.Helper()
	rep, err := drive.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		rep.Print(os.Stderr)
		t.Fatalf("drive %s does not verify", dir)
	}
	return rep
}
