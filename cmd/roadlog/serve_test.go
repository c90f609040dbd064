package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"roadlog/internal/shared"
	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/schema"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two goroutines.
type syncBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`listening on (http://[^ ]+)/ `)

// daemon runs roadlog serve in this process with ctx and returns its URL and a
// channel with its result.
func daemon(t *testing.T, ctx context.Context, args ...string) (string, <-chan error, *syncBuffer) {
	t.Helper()
	root := newRoot()
	stderr := &syncBuffer{}
	root.SetErr(stderr)
	root.SetOut(io.Discard)
	root.SetArgs(append([]string{"serve", "--sim", "--addr", "127.0.0.1:0", "--cameras", "4", "--camera-size", "160x96"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], done, stderr
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before listening: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start listening:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func post(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %v", url, resp.StatusCode, m)
	}
	return m
}

// TestServeClosesOnSIGTERM starts the daemon, starts a drive through the API, sends
// this process SIGTERM and checks that the daemon closed the drive before exiting:
// the drive verifies, and says why it stopped.
func TestServeClosesOnSIGTERM(t *testing.T) {
	out := t.TempDir()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	url, done, stderr := daemon(t, ctx, "--out", out)
	started := post(t, url+"/api/start")
	dir, _ := started["dir"].(string)
	waitRows(t, url)
	waitDetections(t, url) // else the signal may come before the detector's first frame set
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not end after SIGTERM:\n%s", stderr)
	}
	rep, err := drive.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Status != drive.StatusClosed || rep.Rows["imu"] == 0 || rep.Frames == 0 {
		rep.Print(os.Stderr)
		t.Fatal("the drive was not closed cleanly")
	}
	m, err := drive.ReadManifest(dir)
	if err != nil || !strings.Contains(m.StopReason, "signal") {
		t.Fatalf("stop reason %q, %v", m.StopReason, err)
	}
	// Live detection stopped before the drive was closed (docs/adas.md, "Shutdown"): the
	// report the detector writes when it stops, a detector_stats event dated at the last
	// frame set it processed, is in the drive, not before its last targets row.
	var targets []schema.Target
	readTable(t, dir, schema.TargetsTable, func(r *schema.Target) { targets = append(targets, *r) })
	var lastStats *schema.Event
	readTable(t, dir, schema.EventsTable, func(e *schema.Event) {
		if e.Code == schema.EvDetectorStats && (lastStats == nil || e.T >= lastStats.T) {
			c := *e
			lastStats = &c
		}
	})
	if len(targets) == 0 {
		t.Fatal("the detector wrote no targets rows")
	}
	lastTarget := slices.MaxFunc(targets, func(a, b schema.Target) int { return cmp.Compare(a.T, b.T) })
	if lastStats == nil || lastStats.T < lastTarget.T {
		t.Errorf("the detector's final report is not in the drive: last detector_stats %+v, last targets row at %d", lastStats, lastTarget.T)
	}
}

// waitRows waits until the drive being recorded has rows on disk.
func waitRows(t *testing.T, url string) {
	t.Helper()
	waitStatus(t, url, "the drive to grow", func(st *serveStatus) bool { return st.Drive != nil && st.Drive.Bytes > 0 })
}

// waitDetections waits until the live detector has tagged a frame set (the status
// page counts the frame sets whose objects it saw).
func waitDetections(t *testing.T, url string) {
	t.Helper()
	waitStatus(t, url, "the live detector to tag a frame set", func(st *serveStatus) bool { return st.Detector != nil && st.Detector.Count > 0 })
}

// serveStatus is the part of /api/status the tests wait on.
type serveStatus struct {
	Drive *struct {
		Rows  int64 `json:"rows"`
		Bytes int64 `json:"bytes"`
	} `json:"drive"`
	Detector *struct {
		Count uint64 `json:"count"`
	} `json:"detector"`
}

// waitStatus polls /api/status until cond holds; the bound only keeps a broken test
// from hanging.
func waitStatus(t *testing.T, url, what string, cond func(*serveStatus) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		var st serveStatus
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if cond(&st) {
			return
		}
	}
	t.Fatalf("gave up waiting for %s", what)
}

// TestServeRepairsUnfinished leaves a drive as a crash would (still "recording",
// table files without footers) and checks that serve repairs it before it serves.
func TestServeRepairsUnfinished(t *testing.T) {
	out := t.TempDir()
	crashed := crashedDrive(t, out)
	ctx, cancel := context.WithCancel(context.Background())
	_, done, stderr := daemon(t, ctx, "--out", out, "--can-button", "off")
	m, err := drive.ReadManifest(crashed)
	if err != nil || m.Status != drive.StatusRecovered {
		t.Fatalf("the crashed drive is %v (%v), not recovered", m.Status, err)
	}
	rep, err := drive.Verify(crashed)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		rep.Print(os.Stderr)
		t.Fatal("the repaired drive does not verify")
	}
	if rep.Rows["imu"] < 1000 {
		t.Fatalf("repair kept %d IMU rows of 2000", rep.Rows["imu"])
	}
	if !strings.Contains(stderr.String(), "repaired an unfinished drive") {
		t.Errorf("serve did not say it repaired a drive:\n%s", stderr)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// crashedDrive records a little, copies the drive folder while it is being written
// (what a power cut leaves), and returns the copy's path under out.
func crashedDrive(t *testing.T, out string) string {
	t.Helper()
	e, err := record.New(record.Options{Root: t.TempDir(), Vehicle: "crash", FlushInterval: 100 * time.Millisecond, MinFreeBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Start("cli")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		e.Publish(&schema.IMU{T: e.Now(), Sensor: "imu", AZ: 9.8, Temp: schema.NaN32(), MX: schema.NaN32(), MY: schema.NaN32(), MZ: schema.NaN32()})
		if i%100 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond) // the rows are flushed, the footers are not written
	dst := filepath.Join(out, filepath.Base(d.Dir))
	if err := copyTree(d.Dir, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Stop("copied", "cli"); err != nil {
		t.Fatal(err)
	}
	if m, err := drive.ReadManifest(dst); err != nil || m.Status != drive.StatusRecording {
		t.Fatalf("the copy is not an unfinished drive: %v %v", m, err)
	}
	return dst
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func TestServeUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "--sim"},
		{[]string{"serve", "--sim", "--rig", "x.yaml"}, "--rig"},
		{[]string{"serve", "--rig", "/nonexistent/rig.yaml"}, "rig.yaml"},
		{[]string{"serve", "--sim", "--detector", "magic"}, "--detector"},
		{[]string{"serve", "--sim", "--addr", "0.0.0.0:8470"}, "token"},
		{[]string{"serve", "--sim", "--addr", "nonsense"}, "listen address"},
		{[]string{"serve", "--sim", "--cameras", "3"}, "--cameras"},
		{[]string{"serve", "--sim", "--speed", "0"}, "--speed"},
		{[]string{"serve", "--sim", "--can-button", "chassis:BODY"}, "MESSAGE.Signal"},
		{[]string{"serve", "--sim", "--gpio-chip", "gpiochip0"}, "--gpio-button"},
		{[]string{"serve", "--sim", "--token-file", "/nonexistent/token"}, "--token-file"},
	} {
		root := newRoot()
		root.SetErr(io.Discard)
		root.SetOut(io.Discard)
		root.SetArgs(c.args)
		err := root.ExecuteContext(context.Background())
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a usage error about %s", c.args, err, c.want)
		}
	}
}

// TestServeFromRigFile serves a rig file: a real CAN log (comma2k19's RAV4 candump)
// replayed at its own pace as the bus, decoded with the opendbc Toyota DBC. A drive
// started through the API holds the bus's frames and the decoded speed, and
// verifies after the daemon stops.
func TestServeFromRigFile(t *testing.T) {
	log := shared.Path(t, "testdata/candump/comma2k19/rav4_2018-08-02_seg40_can.log")
	dbcFile := shared.Path(t, "testdata/dbc/opendbc/toyota_new_mc_pt_generated.dbc")
	dir := t.TempDir()
	rigFile := filepath.Join(dir, "rav4.yaml")
	os.WriteFile(rigFile, []byte(`vehicle: rav4
can:
  - name: can0
    kind: candump
    file: `+log+`
    realtime: true
    dbc: [`+dbcFile+`]
    ego:
      speed: {signal: SPEED.SPEED, scale: 0.27777778}
`), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	root := newRoot()
	stderr := &syncBuffer{}
	root.SetErr(stderr)
	root.SetOut(io.Discard)
	out := filepath.Join(dir, "drives")
	root.SetArgs([]string{"serve", "--rig", rigFile, "--addr", "127.0.0.1:0", "--out", out, "--detector", "none"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var url string
	waitFor(t, "the daemon", func() bool {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	})
	started := post(t, url+"/api/start")
	waitRows(t, url)
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr)
	}
	drv, _ := started["dir"].(string)
	rep, err := drive.Verify(drv)
	if err != nil || !rep.OK() || rep.Rows["can"] == 0 || rep.Rows["ego"] == 0 {
		if rep != nil {
			rep.Print(os.Stderr)
		}
		t.Fatalf("drive of the rig: %v", err)
	}
	if m, err := drive.ReadManifest(drv); err != nil || m.Vehicle != "rav4" || m.Simulated {
		t.Fatalf("manifest %+v %v", m, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
