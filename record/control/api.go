package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"roadlog/record"
)

// APIError is the body of every error response: a sentence for people and a code
// for programs.
type APIError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Error codes of the API.
const (
	CodeAlreadyRecording = "already_recording"
	CodeNotRecording     = "not_recording"
	CodeBadJSON          = "bad_json"
	CodeBadRequest       = "bad_request"
	CodeTooLarge         = "body_too_large"
	CodeMediaType        = "unsupported_media_type"
	CodeBadOrigin        = "bad_origin"
	CodeNotFound         = "not_found"
	CodeUnauthorized     = "unauthorized"
	CodeInternal         = "internal"
)

// maxBody caps request bodies.
const maxBody = 4 << 10

// StartRequest is the optional body of POST /api/start.
type StartRequest struct {
	Input string `json:"input,omitempty"` // web or api (default api)
}

// StopRequest is the optional body of POST /api/stop.
type StopRequest struct {
	Reason string `json:"reason,omitempty"`
	Input  string `json:"input,omitempty"`
}

// MarkRequest is the body of POST /api/mark.
type MarkRequest struct {
	Category string `json:"category"`
	Note     string `json:"note,omitempty"`
	Input    string `json:"input,omitempty"`
}

// StartResponse answers POST /api/start.
type StartResponse struct {
	State string `json:"state"`
	Drive string `json:"drive"`
	Dir   string `json:"dir"`
}

// StopResponse answers POST /api/stop.
type StopResponse struct {
	State    string           `json:"state"`
	Drive    string           `json:"drive"`
	Dir      string           `json:"dir"`
	Reason   string           `json:"reason"`
	Segments int              `json:"segments"`
	Bytes    int64            `json:"bytes"`
	Drops    int64            `json:"drops"`
	Rows     map[string]int64 `json:"rows"`
}

// MarkResponse answers POST /api/mark.
type MarkResponse struct {
	Category string `json:"category"`
	Drive    string `json:"drive,omitempty"`
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.Handle("GET /", s.page())
	m.HandleFunc("POST /api/start", s.handleStart)
	m.HandleFunc("POST /api/stop", s.handleStop)
	m.HandleFunc("POST /api/mark", s.handleMark)
	m.HandleFunc("GET /api/status", s.handleStatus)
	m.HandleFunc("GET /api/drives", s.handleDrives)
	m.HandleFunc("GET /api/drives/{id}", s.handleDrive)
	m.HandleFunc("GET /api/thumb/{cam}", s.handleThumb)
	m.HandleFunc("GET /api/ws", s.handleWS)
	m.HandleFunc("GET /metrics", s.handleMetrics)
	s.mux = m
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, format string, a ...any) {
	writeJSON(w, status, APIError{Error: fmt.Sprintf(format, a...), Code: code})
}

// decode reads an optional (empty allowed) or required JSON body into v, answering
// the error itself; it reports whether the handler may go on.
func decode(w http.ResponseWriter, r *http.Request, v any, required bool) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" || required {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, CodeMediaType, "send the request body as application/json (got %q)", ct)
			return false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than %d bytes", maxBody)
			return false
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, "read request body: %v", err)
		return false
	}
	if len(body) == 0 {
		if required {
			writeError(w, http.StatusBadRequest, CodeBadJSON, "empty request body: send a JSON object")
			return false
		}
		return true
	}
	if err := strictJSON(body, v); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadJSON, "%v", err)
		return false
	}
	return true
}

// ErrBadJSON reports a malformed request body; the message says where.
var ErrBadJSON = errors.New("malformed JSON")

// strictJSON decodes one JSON object with no unknown fields and nothing after it.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("%w at byte %d: %v", ErrBadJSON, se.Offset, se)
		case errors.As(err, &te):
			return fmt.Errorf("%w at byte %d: field %q must be a %s, not %s", ErrBadJSON, te.Offset, te.Field, te.Type, te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return fmt.Errorf("%w: the body ends before the JSON object does", ErrBadJSON)
		}
		return fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	if dec.More() {
		return fmt.Errorf("%w at byte %d: more data after the JSON object", ErrBadJSON, dec.InputOffset())
	}
	return nil
}

// inputOf checks the input a client names: web (the page) or api (anything else).
func inputOf(w http.ResponseWriter, in string) (string, bool) {
	switch in {
	case "":
		return "api", true
	case "web", "api":
		return in, true
	}
	writeError(w, http.StatusBadRequest, CodeBadRequest, "input %q: want web or api", in)
	return "", false
}

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request) {
	var req StartRequest
	if !decode(w, r, &req, false) {
		return
	}
	in, ok := inputOf(w, req.Input)
	if !ok {
		return
	}
	d, err := s.opt.Recorder.Start(in)
	if err != nil {
		s.lifecycleError(w, err)
		return
	}
	s.hub.wakeup()
	writeJSON(w, http.StatusOK, StartResponse{State: s.opt.Recorder.State().String(), Drive: d.ID, Dir: d.Dir})
}

func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) {
	var req StopRequest
	if !decode(w, r, &req, false) {
		return
	}
	in, ok := inputOf(w, req.Input)
	if !ok {
		return
	}
	reason := req.Reason
	if reason == "" {
		reason = "stopped by the driver (" + in + ")"
	}
	if len(reason) > s.opt.MaxNote {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "reason is %d bytes long; at most %d", len(reason), s.opt.MaxNote)
		return
	}
	sum, err := s.opt.Recorder.Stop(reason, in)
	if err != nil {
		s.lifecycleError(w, err)
		return
	}
	s.hub.wakeup()
	writeJSON(w, http.StatusOK, StopResponse{State: s.opt.Recorder.State().String(), Drive: sum.ID, Dir: sum.Dir,
		Reason: sum.StopReason, Segments: sum.Segments, Bytes: sum.Bytes, Drops: sum.Drops, Rows: sum.Rows})
}

func (s *Server) handleMark(w http.ResponseWriter, r *http.Request) {
	var req MarkRequest
	if !decode(w, r, &req, true) {
		return
	}
	in, ok := inputOf(w, req.Input)
	if !ok {
		return
	}
	if !slices.Contains(s.opt.Categories, req.Category) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "category %q: want one of %v", req.Category, s.opt.Categories)
		return
	}
	if len(req.Note) > s.opt.MaxNote {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "note is %d bytes long; at most %d", len(req.Note), s.opt.MaxNote)
		return
	}
	if err := s.opt.Recorder.Mark(req.Category, req.Note, in); err != nil {
		s.lifecycleError(w, err)
		return
	}
	s.hub.wakeup()
	resp := MarkResponse{Category: req.Category}
	if d := s.opt.Recorder.Current(); d != nil {
		resp.Drive = d.ID
	}
	writeJSON(w, http.StatusOK, resp)
}

// lifecycleError answers a failed start, stop or mark.
func (s *Server) lifecycleError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, record.ErrRecording):
		writeError(w, http.StatusConflict, CodeAlreadyRecording, "already recording: stop the current drive first")
	case errors.Is(err, record.ErrNotRecording):
		writeError(w, http.StatusConflict, CodeNotRecording, "not recording: start a drive first")
	default:
		s.opt.Log.Error("control", "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "%v", err)
	}
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.status())
}

func (s *Server) handleThumb(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseUint(r.PathValue("cam"), 10, 8)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "camera %q: want a number 0-255", r.PathValue("cam"))
		return
	}
	data, version, ok := s.live.thumbnail(uint8(n))
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "no picture from camera %d yet", n)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Thumb-Version", strconv.FormatUint(version, 10))
	w.Write(data)
}

// sameOrigin reports whether a browser request comes from this daemon's own page
// (requests without an Origin header come from programs and pass).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}
