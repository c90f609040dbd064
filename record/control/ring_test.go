package control

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"roadlog/record"
	"roadlog/record/ring"
)

// TestRingMode serves ring capture: the page's status says so, a mark while no
// window is open keeps one, Start/Stop keep one by hand, /metrics has the ring's
// figures.
func TestRingMode(t *testing.T) {
	st := newStation(t, stationConfig{noSim: true})
	rg, err := ring.New(ring.Options{Feed: st.eng, Engine: record.Options{Root: st.root, Vehicle: "ring", Log: quietLog(),
		FlushInterval: 100 * time.Millisecond, MinFreeBytes: 1 << 20}, Pre: time.Second, Post: 300 * time.Millisecond, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Feed: st.eng, Recorder: rg, Root: st.root, Mode: "ring", Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	hs, own := httptest.NewServer(srv.Handler()), st.hs
	st.hs = hs
	defer func() { st.hs = own; hs.CloseClientConnections(); hs.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rg.Run(ctx); close(done) }()
	go srv.Run(ctx)
	defer func() { cancel(); <-done }()
	for rg.Stats().Kept == 0 && rg.State() == record.Idle {
		if code, _ := st.do("POST", "/api/mark", MarkRequest{Category: "near_miss"}, nil); code == 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := st.status()
	info, _ := json.Marshal(s.ModeInfo)
	if s.Mode != "ring" || !strings.Contains(string(info), `"pre_s":1`) {
		t.Fatalf("status mode %q info %s", s.Mode, info)
	}
	// the window closes by its clock once Post has passed with no samples
	waitFor(t, "the marked window to close", func() bool { return rg.Stats().Kept == 1 })
	if code, b := st.do("POST", "/api/start", nil, nil); code != 200 {
		t.Fatalf("start: %d %s", code, b)
	}
	if code, _ := st.do("POST", "/api/start", nil, nil); code != 409 {
		t.Fatalf("double start: %d", code)
	}
	code, b := st.do("POST", "/api/stop", nil, nil)
	if code != 200 {
		t.Fatalf("stop: %d %s", code, b)
	}
	var stop StopResponse
	json.Unmarshal(b, &stop)
	verifyDrive(t, stop.Dir)
	_, body := st.do("GET", "/metrics", nil, nil)
	m, err := parseExposition(string(body))
	if err != nil {
		t.Fatal(err)
	}
	if m["roadlog_ring_windows_kept_total"] != 2 {
		t.Fatalf("roadlog_ring_windows_kept_total %v", m["roadlog_ring_windows_kept_total"])
	}
}
