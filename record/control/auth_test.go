package control

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAuthorize runs requests from loopback and other addresses, with and without
// the token, against daemons with and without one.
func TestAuthorize(t *testing.T) {
	st := newStation(t, stationConfig{noSim: true})
	withToken, err := New(Options{Feed: st.eng, Recorder: st.eng, Root: st.root, Token: "s3cret", Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		srv     *Server
		remote  string
		path    string
		header  map[string]string
		code    int
		cookie  bool // the answer sets the login cookie
		htmlMsg bool // the answer is a page explaining what to do
	}{
		{name: "no token, loopback", srv: st.srv, remote: "127.0.0.1:5000", path: "/api/status", code: 200},
		{name: "no token, ipv6 loopback", srv: st.srv, remote: "[::1]:5000", path: "/api/status", code: 200},
		{name: "no token, LAN", srv: st.srv, remote: "192.168.1.50:5000", path: "/api/status", code: 401},
		{name: "no token, LAN metrics", srv: st.srv, remote: "10.0.0.7:5000", path: "/metrics", code: 401},
		{name: "token, LAN, none given", srv: withToken, remote: "192.168.1.50:5000", path: "/api/status", code: 401},
		{name: "token, loopback, none given", srv: withToken, remote: "127.0.0.1:5000", path: "/api/status", code: 401},
		{name: "token, LAN, bearer", srv: withToken, remote: "192.168.1.50:5000", path: "/api/status", header: map[string]string{"Authorization": "Bearer s3cret"}, code: 200},
		{name: "token, LAN, lower-case scheme", srv: withToken, remote: "192.168.1.50:5000", path: "/metrics", header: map[string]string{"Authorization": "bearer s3cret"}, code: 200},
		{name: "token, LAN, wrong bearer", srv: withToken, remote: "192.168.1.50:5000", path: "/api/status", header: map[string]string{"Authorization": "Bearer s3cre"}, code: 401},
		{name: "token, LAN, cookie", srv: withToken, remote: "192.168.1.50:5000", path: "/api/status", header: map[string]string{"Cookie": cookieName + "=s3cret"}, code: 200},
		{name: "token, LAN, wrong cookie", srv: withToken, remote: "192.168.1.50:5000", path: "/api/status", header: map[string]string{"Cookie": cookieName + "=nope"}, code: 401},
		{name: "token, page login", srv: withToken, remote: "192.168.1.50:5000", path: "/?token=s3cret", code: 303, cookie: true},
		{name: "token, page wrong login", srv: withToken, remote: "192.168.1.50:5000", path: "/?token=bad", code: 401},
		{name: "token, token in API query is not accepted", srv: withToken, remote: "192.168.1.50:5000", path: "/api/status?token=s3cret", code: 401},
		{name: "token, browser without login", srv: withToken, remote: "192.168.1.50:5000", path: "/", header: map[string]string{"Accept": "text/html"}, code: 401, htmlMsg: true},
	}
	for _, c := range cases {
		req := httptest.NewRequest("GET", c.path, nil)
		req.RemoteAddr = c.remote
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		c.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != c.code {
			t.Errorf("%s: %d, want %d (%s)", c.name, rec.Code, c.code, rec.Body)
			continue
		}
		if c.code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
		if got := strings.Contains(rec.Header().Get("Set-Cookie"), cookieName+"=s3cret"); got != c.cookie {
			t.Errorf("%s: Set-Cookie %q", c.name, rec.Header().Get("Set-Cookie"))
		}
		if c.htmlMsg && !strings.Contains(rec.Body.String(), "?token=") {
			t.Errorf("%s: page does not say how to log in: %s", c.name, rec.Body)
		}
	}
}

// TestAuthOverNetwork serves on all interfaces with a token and calls the daemon
// through a non-loopback address of this machine: 401 without the token, 200 with.
func TestAuthOverNetwork(t *testing.T) {
	ip := nonLoopbackIP()
	if ip == nil {
		t.Skip("this machine has no non-loopback IPv4 address")
	}
	st := newStation(t, stationConfig{noSim: true})
	srv, err := New(Options{Feed: st.eng, Recorder: st.eng, Root: st.root, Token: "s3cret", Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckListen("0.0.0.0:0", ""); err == nil {
		t.Fatal("CheckListen accepts all interfaces without a token")
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	url := fmt.Sprintf("http://%s:%d/api/status", ip, ln.Addr().(*net.TCPAddr).Port)
	for _, c := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer s3cret", 200}} {
		req, _ := http.NewRequest("GET", url, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("authorization %q from %s: %d, want %d", c.auth, ip, resp.StatusCode, c.code)
		}
	}
	// the same daemon without a token refuses that address too
	ln2, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	hs2 := &http.Server{Handler: st.srv.Handler()}
	go hs2.Serve(ln2)
	defer hs2.Close()
	resp, err := http.Get(fmt.Sprintf("http://%s:%d/api/status", ip, ln2.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no-token daemon answered a non-loopback client with %d", resp.StatusCode)
	}
}
