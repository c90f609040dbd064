package control

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// web holds the driver's-station page: plain HTML, CSS and JavaScript with no
// external resources, so the tablet needs nothing but this daemon.
//
//go:embed web/index.html web/app.js web/style.css
var web embed.FS

// postOnly are the endpoints that take POST only ("GET /" would otherwise serve them
// as missing files).
var postOnly = map[string]bool{"/api/start": true, "/api/stop": true, "/api/mark": true}

func (s *Server) page() http.Handler {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if postOnly[r.URL.Path] {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, CodeBadRequest, "%s takes POST, not %s", r.URL.Path, r.Method)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeError(w, http.StatusNotFound, CodeNotFound, "no API endpoint %s %s", r.Method, r.URL.Path)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self'; connect-src 'self'; style-src 'self'; script-src 'self'")
		files.ServeHTTP(w, r)
	})
}
