package control

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"roadlog/schema"
)

// apiStep is one request of a scripted session and the answer it must get.
type apiStep struct {
	name   string
	method string
	path   string
	body   any
	header map[string]string
	code   int
	errc   string // APIError.Code expected (error answers)
	want   string // substring the body must hold
}

// TestAPISession drives one daemon through good and bad requests while the simulated
// rig records: every bad request gets a clear answer and the drive is unaffected.
func TestAPISession(t *testing.T) {
	st := newStation(t, stationConfig{})
	waitFor(t, "sensors", func() bool { return len(st.status().Sensors) >= 4 })

	steps := []apiStep{
		{name: "stop while idle", method: "POST", path: "/api/stop", code: 409, errc: CodeNotRecording},
		{name: "mark while idle", method: "POST", path: "/api/mark", body: MarkRequest{Category: "interesting"}, code: 409, errc: CodeNotRecording},
		{name: "start", method: "POST", path: "/api/start", body: StartRequest{Input: "web"}, code: 200, want: `"state":"recording"`},
		{name: "double start", method: "POST", path: "/api/start", code: 409, errc: CodeAlreadyRecording},
		{name: "truncated JSON", method: "POST", path: "/api/mark", body: `{"category": "cut_in",`, code: 400, errc: CodeBadJSON, want: "ends before"},
		{name: "syntax error", method: "POST", path: "/api/mark", body: `{"category": cut_in}`, code: 400, errc: CodeBadJSON, want: "at byte 14"},
		{name: "wrong type", method: "POST", path: "/api/mark", body: `{"category": 5}`, code: 400, errc: CodeBadJSON, want: `field \"category\"`},
		{name: "unknown field", method: "POST", path: "/api/mark", body: `{"categry": "cut_in"}`, code: 400, errc: CodeBadJSON, want: "categry"},
		{name: "trailing data", method: "POST", path: "/api/mark", body: `{"category": "cut_in"} {}`, code: 400, errc: CodeBadJSON, want: "more data"},
		{name: "empty body", method: "POST", path: "/api/mark", body: "", code: 400, errc: CodeBadJSON},
		{name: "unknown category", method: "POST", path: "/api/mark", body: MarkRequest{Category: "boring"}, code: 400, errc: CodeBadRequest, want: "boring"},
		{name: "bad input", method: "POST", path: "/api/mark", body: MarkRequest{Category: "cut_in", Input: "gpio"}, code: 400, errc: CodeBadRequest},
		{name: "note too long", method: "POST", path: "/api/mark", body: MarkRequest{Category: "cut_in", Note: strings.Repeat("x", 501)}, code: 400, errc: CodeBadRequest},
		{name: "body too large", method: "POST", path: "/api/mark", body: `{"note":"` + strings.Repeat("x", 5000) + `"}`, code: 413, errc: CodeTooLarge},
		{name: "form post", method: "POST", path: "/api/mark", body: "category=cut_in", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, code: 415, errc: CodeMediaType},
		{name: "other site", method: "POST", path: "/api/stop", header: map[string]string{"Origin": "http://evil.example"}, code: 403, errc: CodeBadOrigin},
		{name: "GET on a POST endpoint", method: "GET", path: "/api/start", code: 405},
		{name: "unknown endpoint", method: "GET", path: "/api/nothing", code: 404, errc: CodeNotFound},
		{name: "bad thumbnail", method: "GET", path: "/api/thumb/x", code: 400, errc: CodeBadRequest},
		{name: "missing drive", method: "GET", path: "/api/drives/nope", code: 404, errc: CodeNotFound},
		{name: "dot drive", method: "GET", path: "/api/drives/..", code: 404},
		{name: "mark", method: "POST", path: "/api/mark", body: MarkRequest{Category: "cut_in", Note: "white van from the left", Input: "web"}, code: 200, want: `"category":"cut_in"`},
		{name: "api mark", method: "POST", path: "/api/mark", body: MarkRequest{Category: "near_miss"}, code: 200},
	}
	for _, s := range steps {
		code, body := st.do(s.method, s.path, s.body, s.header)
		if code != s.code {
			t.Fatalf("%s: status %d, want %d (%s)", s.name, code, s.code, body)
		}
		if s.errc != "" {
			var e APIError
			if err := json.Unmarshal(body, &e); err != nil || e.Code != s.errc || e.Error == "" {
				t.Fatalf("%s: error body %s, want code %s", s.name, body, s.errc)
			}
		}
		if s.want != "" && !strings.Contains(string(body), s.want) {
			t.Fatalf("%s: body %s does not say %q", s.name, body, s.want)
		}
	}

	// A WebSocket client that vanishes without a close handshake.
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(st.hs.URL, "http")+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	c.CloseNow() // drops the TCP connection
	waitFor(t, "the client to be forgotten", func() bool { return st.srv.hub.count() == 0 })

	if st.eng.State().String() != "recording" {
		t.Fatal("bad requests changed the recording state")
	}
	code, body := st.do("POST", "/api/stop", StopRequest{Input: "web"}, nil)
	if code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	var stop StopResponse
	if err := json.Unmarshal(body, &stop); err != nil {
		t.Fatal(err)
	}
	if stop.Drops != 0 || stop.Rows["can"] == 0 || stop.Rows["imu"] == 0 {
		t.Fatalf("recording affected: %+v", stop)
	}
	verifyDrive(t, stop.Dir)
	evs := driveEvents(t, stop.Dir)
	var got []string
	for _, e := range evs {
		switch e.Code {
		case schema.EvRecordStart, schema.EvRecordStop, schema.EvMark:
			got = append(got, e.Kind+"/"+e.Input+"/"+e.Category+"/"+e.Message)
		}
	}
	want := []string{"record_start/web//recording started", "mark/web/cut_in/white van from the left", "mark/api/near_miss/",
		"record_stop/web//recording stopped: stopped by the driver (web)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The drive is listed and summarised.
	code, body = st.do("GET", "/api/drives", nil, nil)
	var list []DriveInfo
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list) != 1 || list[0].ID != stop.Drive || list[0].Status != "closed" {
		t.Fatalf("drives: %d %s", code, body)
	}
	code, body = st.do("GET", "/api/drives/"+stop.Drive, nil, nil)
	if code != 200 || !strings.Contains(string(body), `"marks":2`) {
		t.Fatalf("drive summary: %d %s", code, body)
	}
}

// TestWebSocketPushesEvents checks that an event published by a source reaches a
// WebSocket client in a status.
func TestWebSocketPushesEvents(t *testing.T) {
	st := newStation(t, stationConfig{noSim: true})
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(st.hs.URL, "http")+"/api/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	st.eng.Publish(schema.NewEvent(st.eng.Now(), schema.EvSourceDown, schema.SevError, "gnss0", "serial port unplugged"))
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var s Status
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, w := range s.Warnings {
			if w.Text == "gnss0: serial port unplugged" && w.Level == "error" {
				found = true
			}
		}
		if found {
			break
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// TestDriveIDPaths checks that drive ids cannot leave the drives folder.
func TestDriveIDPaths(t *testing.T) {
	st := newStation(t, stationConfig{noSim: true})
	for _, id := range []string{"..%2F..%2Fetc", "%2E%2E", ".hidden", "a%5Cb"} {
		code, body := st.do("GET", "/api/drives/"+id, nil, nil)
		if code != 400 && code != 404 {
			t.Errorf("drive %q: %d %s", id, code, body)
		}
	}
}

func TestCheckListen(t *testing.T) {
	cases := []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8470", "", true},
		{"[::1]:8470", "", true},
		{"localhost:8470", "", true},
		{":8470", "", false},
		{"0.0.0.0:8470", "", false},
		{"192.168.1.20:8470", "", false},
		{"192.168.1.20:8470", "s3cret", true},
		{":8470", "s3cret", true},
		{"nonsense", "", false},
	}
	for _, c := range cases {
		err := CheckListen(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckListen(%q, %q) = %v", c.addr, c.token, err)
		}
	}
}

// nonLoopbackIP returns an address of this machine that is not loopback.
func nonLoopbackIP() net.IP {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	return nil
}
