package control

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"roadlog/record/drive"
	"roadlog/tools/inspect"
)

// DriveInfo is one entry of GET /api/drives, read from the drive's manifest.
type DriveInfo struct {
	ID         string       `json:"id"`
	Status     drive.Status `json:"status"`
	Vehicle    string       `json:"vehicle"`
	Start      time.Time    `json:"start"`
	Duration   float64      `json:"duration_s"` // 0 while recording
	Segments   int          `json:"segments"`
	StopReason string       `json:"stop_reason,omitempty"`
	Simulated  bool         `json:"simulated"`
	Current    bool         `json:"current"` // being recorded now
}

// maxList caps GET /api/drives (newest first); ?limit= asks for fewer.
const maxList = 1000

func (s *Server) handleDrives(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > maxList {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "limit %q: want a number from 1 to %d", q, maxList)
			return
		}
		limit = n
	}
	ents, err := os.ReadDir(s.opt.Root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		writeError(w, http.StatusInternalServerError, CodeInternal, "list drives: %v", err)
		return
	}
	cur := ""
	if d := s.opt.Recorder.Current(); d != nil {
		cur = d.ID
	}
	out := []DriveInfo{}
	// drive ids begin with their UTC start time, so names sort by age
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() > ents[j].Name() })
	for _, e := range ents {
		if len(out) >= limit {
			break
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		m, err := drive.ReadManifest(filepath.Join(s.opt.Root, e.Name()))
		if err != nil {
			continue
		}
		di := DriveInfo{ID: e.Name(), Status: m.Status, Vehicle: m.Vehicle, Start: time.Unix(0, m.StartT).UTC(),
			Segments: len(m.Segments), StopReason: m.StopReason, Simulated: m.Simulated, Current: e.Name() == cur}
		if m.EndT > m.StartT {
			di.Duration = float64(m.EndT-m.StartT) / 1e9
		}
		out = append(out, di)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDrive answers GET /api/drives/{id} with the drive's inspect summary.
func (s *Server) handleDrive(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || id != filepath.Base(id) || strings.HasPrefix(id, ".") || strings.ContainsAny(id, `/\`) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "drive id %q is not a drive folder name", id)
		return
	}
	dir := filepath.Join(s.opt.Root, id)
	if _, err := os.Stat(dir); err != nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "no drive %q in %s", id, s.opt.Root)
		return
	}
	sum, err := inspect.Inspect(dir)
	if err != nil {
		if errors.Is(err, drive.ErrNotDrive) {
			writeError(w, http.StatusNotFound, CodeNotFound, "%s is not a drive", id)
			return
		}
		writeError(w, http.StatusInternalServerError, CodeInternal, "inspect %s: %v", id, err)
		return
	}
	sum.Drive = id // not the daemon's folder layout
	writeJSON(w, http.StatusOK, sum)
}
