package control

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"roadlog/record"
	"roadlog/schema"
)

// Status is what the page shows, sent over the WebSocket and by GET /api/status.
type Status struct {
	Seq        uint64        `json:"seq"`
	SentUnixNs int64         `json:"sent_unix_ns"` // wall time the status was built
	Version    string        `json:"version"`
	Mode       string        `json:"mode"`  // record or ring
	State      string        `json:"state"` // idle, recording, stopping
	Drive      *DriveStatus  `json:"drive,omitempty"`
	Last       *LastDrive    `json:"last,omitempty"`
	Sensors    []Sensor      `json:"sensors"`
	Clocks     []Clock       `json:"clocks"`
	GNSS       *Fix          `json:"gnss,omitempty"`
	Cameras    []CameraView  `json:"cameras"`
	Disk       Disk          `json:"disk"`
	Warnings   []Warning     `json:"warnings"`
	Events     []EventLine   `json:"events"`
	Categories []string      `json:"categories"`
	ModeInfo   any           `json:"mode_info,omitempty"`
	Detector   *DetectorInfo `json:"detector,omitempty"`
}

// DriveStatus is the drive being recorded.
type DriveStatus struct {
	ID      string  `json:"id"`
	Segment int     `json:"segment"`
	Elapsed float64 `json:"elapsed_s"`
	Span    float64 `json:"span_s"` // reference time covered
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
	Drops   int64   `json:"drops"`
}

// LastDrive is the last drive closed.
type LastDrive struct {
	ID         string `json:"id"`
	StopReason string `json:"stop_reason"`
	Segments   int    `json:"segments"`
	Bytes      int64  `json:"bytes"`
	Drops      int64  `json:"drops"`
}

// Sensor is the health of one stream.
type Sensor struct {
	Table      string  `json:"table"`
	Name       string  `json:"name"`
	Label      string  `json:"label"` // plain words: "Camera 2 (front_left)", "CAN bus pt"
	Rate       float64 `json:"rate"`
	Rows       int64   `json:"rows"`
	Age        float64 `json:"age_s"` // seconds since the newest sample
	Drops      int64   `json:"drops"` // dropped from its queue in the current drive
	SyncState  string  `json:"sync_state,omitempty"`
	SyncOffset float64 `json:"sync_offset_ms,omitempty"` // device minus reference time (any epoch)
	SyncError  float64 `json:"sync_uncertainty_ms,omitempty"`
	OK         bool    `json:"ok"`
}

// Clock is the newest estimate of one clock from the sync table.
type Clock struct {
	Source      string  `json:"source"`
	State       string  `json:"state"`
	Offset      float64 `json:"offset_ms"`
	Uncertainty float64 `json:"uncertainty_ms"`
	DriftPPM    float64 `json:"drift_ppm"`
	Age         float64 `json:"age_s"`
}

// Fix is the newest GNSS epoch.
type Fix struct {
	Receiver string  `json:"receiver"`
	Quality  string  `json:"quality"`
	Mode     string  `json:"mode"`
	Sats     int32   `json:"sats"`
	HDOP     float64 `json:"hdop,omitempty"`
	Lat      float64 `json:"lat,omitempty"`
	Lon      float64 `json:"lon,omitempty"`
	Speed    float64 `json:"speed_kmh,omitempty"`
	Age      float64 `json:"age_s"`
	HasFix   bool    `json:"has_fix"`
}

// CameraView is one camera's thumbnail and boxes.
type CameraView struct {
	Index     uint8   `json:"index"`
	Name      string  `json:"name"`
	Width     int     `json:"width"`
	Height    int     `json:"height"`
	Codec     string  `json:"codec"`
	Thumb     uint64  `json:"thumb"` // version of GET /api/thumb/{index}; 0: none
	Objects   []Box   `json:"objects"`
	Truth     []Box   `json:"truth,omitempty"`
	ObjectAge float64 `json:"object_age_s,omitempty"`
}

// Disk is the free space and how long it lasts.
type Disk struct {
	Free      int64   `json:"free_bytes"`
	WriteRate float64 `json:"write_bytes_per_s"` // 0: not measured yet
	Left      float64 `json:"left_s"`            // -1: unknown
	Error     string  `json:"error,omitempty"`
}

// Warning is one thing the driver should know, in plain words.
type Warning struct {
	Level string `json:"level"` // warn or error
	Text  string `json:"text"`
}

// EventLine is one recent event.
type EventLine struct {
	T        int64  `json:"t"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Source   string `json:"source"`
	Message  string `json:"message"`
	Category string `json:"category,omitempty"`
	Input    string `json:"input,omitempty"`
}

// DetectorInfo summarises detection latency.
type DetectorInfo struct {
	LastLatency float64 `json:"last_latency_s"`
	Count       uint64  `json:"count"`
}

var statusSeq atomic.Uint64

// boxesFresh is how long a camera's newest boxes stay drawn without an update.
const boxesFresh = time.Second

// status builds the status now.
func (s *Server) status() *Status {
	now := time.Now()
	o := s.opt
	rec := o.Recorder
	st := &Status{Seq: statusSeq.Add(1), SentUnixNs: now.UnixNano(), Version: o.Version, Mode: o.Mode,
		State: rec.State().String(), Categories: o.Categories, Sensors: []Sensor{}, Clocks: []Clock{},
		Cameras: []CameraView{}, Warnings: []Warning{}, Events: []EventLine{}}
	if d := rec.Current(); d != nil {
		p := d.Progress()
		st.Drive = &DriveStatus{ID: d.ID, Segment: p.Segment, Elapsed: p.Elapsed.Seconds(), Span: float64(p.SpanT) / 1e9,
			Rows: p.Rows, Bytes: p.Bytes, Drops: p.Drops}
	}
	if l := rec.LastSummary(); l != nil {
		st.Last = &LastDrive{ID: l.ID, StopReason: l.StopReason, Segments: l.Segments, Bytes: l.Bytes, Drops: l.Drops}
	}
	if d, ok := rec.(Describer); ok {
		st.ModeInfo = d.Describe()
	}
	drops := rec.Drops()

	l := s.live
	l.mu.Lock()
	clocks := make(map[string]clockState, len(l.clocks))
	for k, v := range l.clocks {
		clocks[k] = v
	}
	for _, c := range sortedKeys(clocks) {
		cs := clocks[c]
		st.Clocks = append(st.Clocks, Clock{Source: c, State: cs.row.State.String(), Offset: float64(cs.row.Offset) / 1e6,
			Uncertainty: finite(cs.row.Uncertainty) / 1e6, DriftPPM: finite(cs.row.DriftPPM), Age: now.Sub(cs.at).Seconds()})
	}
	if g := l.gnss; g != nil {
		st.GNSS = &Fix{Receiver: g.Receiver, Quality: schema.FixQualityNames[g.Quality], Mode: schema.FixModeNames[g.Mode],
			Sats: g.Sats, HDOP: finite(g.HDOP), Lat: finite(g.Lat), Lon: finite(g.Lon), Speed: finite(g.Speed) * 3.6,
			Age: now.Sub(l.gnssAt).Seconds(), HasFix: g.Quality != schema.FixInvalid && g.Mode != schema.ModeNoFix && !math.IsNaN(g.Lat)}
	}
	cams := map[uint8]*CameraView{}
	for _, c := range o.Cameras {
		cams[c.Index] = &CameraView{Index: c.Index, Name: c.Name, Width: c.Width, Height: c.Height, Codec: c.Codec}
	}
	view := func(i uint8) *CameraView {
		if cams[i] == nil {
			cams[i] = &CameraView{Index: i, Name: fmt.Sprintf("cam%d", i)}
		}
		return cams[i]
	}
	for i, th := range l.thumbs {
		v := view(i)
		v.Width, v.Height, v.Codec = th.width, th.height, th.codec.String()
		if th.data != nil {
			v.Thumb = th.version
		}
	}
	// boxes are drawn while they are current: a camera whose detector has found
	// nothing for a while shows none
	for i, set := range l.objects {
		v := view(i)
		v.ObjectAge = now.Sub(set.at).Seconds()
		if now.Sub(set.at) < boxesFresh {
			v.Objects = append([]Box(nil), set.boxes...)
		}
	}
	for i, set := range l.truth {
		if now.Sub(set.at) < boxesFresh {
			view(i).Truth = append([]Box(nil), set.boxes...)
		}
	}
	if l.detLat.n > 0 {
		st.Detector = &DetectorInfo{LastLatency: l.detLat.last, Count: l.detLat.n}
	}
	peak := l.peak
	health := o.Feed.Health()
	for _, h := range health {
		key := string(h.Table) + "/" + h.Name
		if h.Rate > peak[key] {
			peak[key] = h.Rate
		}
	}
	l.mu.Unlock()

	for _, i := range sortedKeys(cams) {
		v := cams[i]
		if v.Objects == nil {
			v.Objects = []Box{}
		}
		st.Cameras = append(st.Cameras, *v)
	}
	names := map[uint8]string{}
	for _, c := range o.Cameras {
		names[c.Index] = c.Name
	}
	for _, h := range health {
		sn := Sensor{Table: string(h.Table), Name: h.Name, Label: label(h.Table, h.Name, names), Rate: h.Rate, Rows: h.Rows,
			Age: now.Sub(h.LastSeen).Seconds()}
		sn.Drops = drops[queueOf(h.Table, h.Name)]
		if c, ok := clocks[h.Name]; ok {
			sn.SyncState, sn.SyncOffset, sn.SyncError = c.row.State.String(), float64(c.row.Offset)/1e6, finite(c.row.Uncertainty)/1e6
		}
		sn.OK = sn.Age < s.staleAfter(peak[string(h.Table)+"/"+h.Name]).Seconds() || !isSensor(h.Table)
		st.Sensors = append(st.Sensors, sn)
	}
	for _, ev := range lastN(o.Feed.RecentEvents(), 12) {
		st.Events = append(st.Events, EventLine{T: ev.T, Kind: ev.Kind, Severity: schema.SeverityNames[ev.Severity],
			Source: ev.Source, Message: ev.Message, Category: ev.Category, Input: ev.Input})
	}
	st.Disk = s.disk()
	st.Warnings = warnings(st, o.Feed.RecentEvents(), o.Feed.Now(), s.opt)
	return st
}

// staleAfter is how long a stream may be silent before the page calls it silent: the
// configured time, or three periods of a slow stream.
func (s *Server) staleAfter(peakRate float64) time.Duration {
	d := s.opt.StaleAfter
	if peakRate > 0 {
		if p := time.Duration(3 * float64(time.Second) / peakRate); p > d {
			d = p
		}
	}
	return d
}

func (s *Server) disk() Disk {
	d := Disk{Left: -1}
	// the drives folder may not exist before the first drive: ask its file system
	dir := s.opt.Root
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	free, err := record.FreeBytes(dir)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	d.Free = free
	if r, ok := s.rate.get(); ok && r > 0 {
		d.WriteRate = r
		d.Left = math.Max(0, float64(free-s.opt.MinFreeBytes)/r)
	}
	return d
}

// isSensor reports whether a table holds raw sensor data whose silence is a fault
// (detections, targets and clock rows may legitimately pause).
func isSensor(t schema.TableName) bool {
	switch t {
	case schema.TableCAN, schema.TableGNSS, schema.TableIMU, schema.TableFrames, schema.TableEgo:
		return true
	}
	return false
}

// queueOf names the recorder queue a stream's samples go through (Engine.Drops keys).
func queueOf(t schema.TableName, name string) string {
	if t == schema.TableFrames {
		return name // cam0 …
	}
	return string(t)
}

// label names a stream in plain words.
func label(t schema.TableName, name string, cams map[uint8]string) string {
	switch t {
	case schema.TableCAN:
		return "CAN bus " + name
	case schema.TableGNSS:
		return "GNSS " + name
	case schema.TableIMU:
		return "IMU " + name
	case schema.TableEgo:
		return "Vehicle (" + name + ")"
	case schema.TableFrames:
		var i int
		if _, err := fmt.Sscanf(name, "cam%d", &i); err == nil {
			if n := cams[uint8(i)]; n != "" && n != name {
				return fmt.Sprintf("Camera %d (%s)", i, n)
			}
			return fmt.Sprintf("Camera %d", i)
		}
	case schema.TableObjects:
		return "Detections " + name
	case schema.TableTargets:
		return "ADAS targets"
	case schema.TableSync:
		return "Clock " + name
	case schema.TableTruth:
		return "Simulation truth"
	}
	return string(t) + " " + name
}

// warnings lists, in plain words, what the driver should know now.
func warnings(st *Status, recent []schema.Event, nowRef int64, o Options) []Warning {
	out := []Warning{}
	add := func(level, format string, a ...any) {
		out = append(out, Warning{Level: level, Text: fmt.Sprintf(format, a...)})
	}
	if len(st.Sensors) == 0 {
		add("error", "No sensor is sending data")
	}
	for _, sn := range st.Sensors {
		if !sn.OK {
			what := "data"
			switch schema.TableName(sn.Table) {
			case schema.TableFrames:
				what = "pictures"
			case schema.TableCAN:
				what = "messages"
			}
			add("error", "%s: no %s for %s", sn.Label, what, human(sn.Age))
		}
		if sn.Drops > 0 && st.State == "recording" {
			add("warn", "%s: %d samples lost in this drive (the disk or the writer cannot keep up)", sn.Label, sn.Drops)
		}
	}
	for _, c := range st.Clocks {
		switch c.State {
		case "locked", "passthrough":
		case "fault":
			add("error", "Clock %s has failed: timestamps may be wrong", c.Source)
		case "free_run":
			add("warn", "Clock %s is running free: not locked to GNSS time", c.Source)
		case "holdover":
			add("warn", "Clock %s lost its lock and is holding over", c.Source)
		default:
			add("warn", "Clock %s is not locked (%s)", c.Source, strings.ReplaceAll(c.State, "_", " "))
		}
	}
	if g := st.GNSS; g != nil && !g.HasFix {
		add("warn", "GNSS %s: no position fix", g.Receiver)
	}
	switch d := st.Disk; {
	case d.Error != "":
		add("error", "Cannot read free disk space: %s", d.Error)
	case d.Free <= o.MinFreeBytes:
		add("error", "Disk full: recording cannot continue")
	case d.Left >= 0 && d.Left < 5*60:
		add("error", "Disk almost full: about %s left", human(d.Left))
	case d.Left >= 0 && d.Left < 30*60:
		add("warn", "Disk getting full: about %s left", human(d.Left))
	}
	// warnings and errors the system logged in the last minute, newest first, once each
	seen := map[string]bool{}
	for i := len(recent) - 1; i >= 0 && len(seen) < 5; i-- {
		ev := recent[i]
		if ev.Severity == schema.SevInfo || nowRef-ev.T > int64(time.Minute) {
			continue
		}
		text := ev.Message
		if ev.Source != "" {
			text = ev.Source + ": " + text
		}
		if seen[text] {
			continue
		}
		seen[text] = true
		level := "warn"
		if ev.Severity == schema.SevError {
			level = "error"
		}
		out = append(out, Warning{Level: level, Text: text})
	}
	return out
}

// human writes a duration in seconds the way a driver reads it: "4 s", "12 min",
// "3 h 20 min".
func human(sec float64) string {
	switch {
	case sec < 90:
		return fmt.Sprintf("%.0f s", sec)
	case sec < 3600:
		return fmt.Sprintf("%.0f min", sec/60)
	default:
		h := math.Floor(sec / 3600)
		return fmt.Sprintf("%.0f h %.0f min", h, (sec-h*3600)/60)
	}
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func lastN[T any](s []T, n int) []T {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func sortedKeys[K interface{ ~string | ~uint8 }, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
