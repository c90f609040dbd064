package control

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"strings"
)

// ErrTokenRequired reports a listen address other than loopback without a token.
var ErrTokenRequired = errors.New("a token is required to listen on an address other than loopback")

// CheckListen checks that addr (host:port) may be served with token: loopback
// addresses may go without one; any other (including all interfaces, ":8470") may not.
func CheckListen(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if token == "" && !loopbackHost(host) {
		return fmt.Errorf("listen address %q: %w (give --token-file)", addr, ErrTokenRequired)
	}
	return nil
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cookieName holds the token in the browser after the page was opened with ?token=.
const cookieName = "roadlog_token"

// authorize lets a request through when it carries the token (bearer header or the
// page's cookie), or, on a daemon without a token, when it comes from loopback.
// Browser POSTs must also come from the daemon's own page (Origin check); the JSON
// content type they must carry keeps other sites' forms out as well.
func (s *Server) authorize(next http.Handler) http.Handler {
	token := []byte(s.opt.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !sameOrigin(r) {
			writeError(w, http.StatusForbidden, CodeBadOrigin, "request from another site (%s) refused", r.Header.Get("Origin"))
			return
		}
		if len(token) == 0 {
			if remoteLoopback(r) {
				next.ServeHTTP(w, r)
				return
			}
			s.unauthorized(w, r, "this daemon has no token, so only this machine may use it")
			return
		}
		if q := r.URL.Query().Get("token"); q != "" && r.Method == http.MethodGet && r.URL.Path == "/" {
			if !equalToken(q, token) {
				s.unauthorized(w, r, "wrong token")
				return
			}
			// Log the page in: keep the token in a cookie for the page's requests and
			// the WebSocket, and drop it from the address bar.
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: q, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 365 * 24 * 3600})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if got, ok := bearer(r); ok {
			if equalToken(got, token) {
				next.ServeHTTP(w, r)
				return
			}
			s.unauthorized(w, r, "wrong token")
			return
		}
		if c, err := r.Cookie(cookieName); err == nil && equalToken(c.Value, token) {
			next.ServeHTTP(w, r)
			return
		}
		s.unauthorized(w, r, "a token is required: send \"Authorization: Bearer TOKEN\", or open the page once as /?token=TOKEN")
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
		return strings.TrimSpace(h[len(p):]), true
	}
	return "", false
}

func equalToken(got string, want []byte) bool {
	return subtle.ConstantTimeCompare([]byte(got), want) == 1
}

func remoteLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, why string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="roadlog"`)
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `<!doctype html><meta name="viewport" content="width=device-width"><title>roadlog: token required</title>
<body style="font:24px sans-serif;padding:2em"><h1>roadlog</h1><p>%s.</p><p>Open this page as <b>/?token=YOUR_TOKEN</b> once; the tablet remembers it.</p></body>`,
			html.EscapeString(why))
		return
	}
	writeError(w, http.StatusUnauthorized, CodeUnauthorized, "%s", why)
}
