package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"roadlog/dbc"
	"roadlog/record/drive"
	"roadlog/replay"
	"roadlog/rig"
	"roadlog/schema"
)

// segMargin widens a segment's nominal time range when deciding whether it may hold
// rows of a window: rows arrive late, and a segment closes a little after its end.
const segMargin = int64(5e9)

// Drive is a drive opened for export: its manifest, segments, cameras and their
// calibration, and a shared index of its table files.
type Drive struct {
	Dir      string
	Manifest *drive.Manifest
	Cameras  []Camera
	// StartT and EndT bound the drive's rows (reference ns).
	StartT, EndT int64

	segs   []segment
	rd     *replay.Drive // the merged, seeking reader of the drive's tables
	frames frameTable    // reads a segment's frames table (each export caches it)

	dbcOnce sync.Once
	dbc     *dbc.Database
	dbcErr  error
}

type segment struct {
	dir      string
	from, to int64 // nominal range widened by segMargin; to is MaxInt64 when unknown
}

// Camera is one camera of the drive with its calibration, when known.
type Camera struct {
	Index       uint8        `json:"index"`
	Name        string       `json:"name"`
	Codec       string       `json:"codec,omitempty"`
	Width       int          `json:"width,omitempty"`
	Height      int          `json:"height,omitempty"`
	Calibration *Calibration `json:"calibration,omitempty"`
}

// Calibration is a pinhole camera and its mounting on the vehicle: x forward, y left,
// z up, origin at the centre of the front bumper on the road (the frame distance and
// lateral are given in).
type Calibration struct {
	rig.Calibration        // fx, fy, cx, cy (px); x_m, y_m, height_m; yaw_deg (left positive), pitch_deg (down positive)
	Source          string `json:"source"` // drive.CalibrationFromManifest (extra.calibration) or drive.CalibrationFromRig (rig.yaml)
}

// Open opens a drive folder for export.
func Open(dir string) (*Drive, error) {
	m, err := drive.ReadManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("open drive: %w", err)
	}
	rd, err := replay.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open drive: %w", err)
	}
	d := &Drive{Dir: dir, Manifest: m, StartT: m.StartT, EndT: m.EndT, rd: rd, frames: arrowFrames{}}
	known := map[int]drive.Segment{}
	for _, s := range m.Segments {
		known[s.Index] = s
	}
	idx, err := drive.Segments(dir)
	if err != nil {
		return nil, fmt.Errorf("open drive: %w", err)
	}
	for _, i := range idx {
		s := segment{dir: filepath.Join(dir, drive.SegmentDir(i)), from: math.MinInt64, to: math.MaxInt64}
		if ms, ok := known[i]; ok && ms.StartT != 0 {
			s.from = ms.StartT - segMargin
			if ms.EndT != 0 && ms.Closed {
				s.to = ms.EndT + segMargin
			}
			if ms.EndT > d.EndT {
				d.EndT = ms.EndT
			}
		}
		d.segs = append(d.segs, s)
	}
	if len(d.segs) == 0 {
		return nil, fmt.Errorf("open drive %s: %w", dir, drive.ErrNotDrive)
	}
	if m.EndT != 0 {
		d.EndT = m.EndT
	}
	if d.EndT <= d.StartT { // still recording, or left by a crash: no known end
		d.EndT = math.MaxInt64
	}
	if d.Cameras, err = cameras(dir, m); err != nil {
		return nil, fmt.Errorf("open drive: %w", err)
	}
	return d, nil
}

// ID returns the drive id.
func (d *Drive) ID() string {
	if d.Manifest.DriveID != "" {
		return d.Manifest.DriveID
	}
	return filepath.Base(d.Dir)
}

// segDirs returns the segment folders that may hold rows in [from, to).
func (d *Drive) segDirs(from, to int64) []string {
	var out []string
	for _, s := range d.segs {
		if s.to < from || s.from >= to {
			continue
		}
		out = append(out, s.dir)
	}
	return out
}

// Camera returns the camera with index i.
func (d *Drive) Camera(i uint8) (Camera, bool) {
	for _, c := range d.Cameras {
		if c.Index == i {
			return c, true
		}
	}
	return Camera{}, false
}

// CameraNames maps lower-case camera names (and "camN") to indexes, for queries.
func (d *Drive) CameraNames() map[string]uint8 {
	m := map[string]uint8{}
	for _, c := range d.Cameras {
		m[fmt.Sprintf("cam%d", c.Index)] = c.Index
		if c.Name != "" {
			m[strings.ToLower(c.Name)] = c.Index
		}
	}
	return m
}

// cameras lists the manifest's cameras with their calibration (drive.ReadCalibration:
// the manifest's extra.calibration or the drive's rig.yaml, rig.yaml's when both have
// a camera), and the calibrated cameras the manifest does not list.
func cameras(dir string, m *drive.Manifest) ([]Camera, error) {
	var out []Camera
	for _, c := range m.Cameras {
		out = append(out, Camera{Index: c.Index, Name: c.Name, Codec: c.Codec, Width: c.Width, Height: c.Height})
	}
	find := func(i uint8) *Camera {
		for k := range out {
			if out[k].Index == i {
				return &out[k]
			}
		}
		out = append(out, Camera{Index: i, Name: fmt.Sprintf("cam%d", i)})
		return &out[len(out)-1]
	}
	cals, err := drive.ReadCalibration(dir, m)
	if err != nil {
		return nil, err
	}
	for _, k := range cals {
		c := find(k.Index)
		if c.Name == "" {
			c.Name = k.Name
		}
		if c.Width == 0 {
			c.Width, c.Height = k.Width, k.Height
		}
		c.Calibration = &Calibration{Calibration: k.Calibration, Source: k.Source}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}

// LiveRun is the name of the labels written while recording.
const LiveRun = "live"

// ErrNoRun reports a run that the drive does not have.
var ErrNoRun = errors.New("no such run")

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Labels is where a clip's objects, targets and perception events come from: the
// drive's own tables (live) or a replay run's (runs/<id>/).
type Labels struct {
	Run    string          // "live" or the run id
	Model  json.RawMessage // the run's model identity (run.json "model"); for live, the manifest's extra.model or extra.perception
	Device string          // the run's device (run.json "device")
	Config json.RawMessage // the run's perception configuration (run.json "config")

	d   *Drive
	dir string // run folder; "" for live
}

// Labels opens the labels of a run: "" or "live" for the drive's own, else a run id.
func (d *Drive) Labels(run string) (*Labels, error) {
	if run == "" || run == LiveRun {
		l := &Labels{Run: LiveRun, d: d}
		var extra map[string]json.RawMessage
		if len(d.Manifest.Extra) > 0 && json.Unmarshal(d.Manifest.Extra, &extra) == nil {
			if m, ok := extra["model"]; ok {
				l.Model = m
			} else if m, ok := extra["perception"]; ok {
				l.Model = m
			}
		}
		return l, nil
	}
	if !runIDPattern.MatchString(run) {
		return nil, fmt.Errorf("labels of run %q: %w (run ids are letters, digits, '.', '_', '-')", run, ErrNoRun)
	}
	dir := filepath.Join(d.Dir, drive.RunsDir, run)
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("labels of run %q: %w in %s (runs: %s)", run, ErrNoRun, d.Dir, strings.Join(d.Runs(), ", "))
		}
		return nil, fmt.Errorf("labels of run %q: %w", run, err)
	}
	var info struct {
		Model  json.RawMessage `json:"model"`
		Device string          `json:"device"`
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("labels of run %q: %w", run, &drive.CorruptionError{Path: filepath.Join(dir, "run.json"), Err: err})
	}
	return &Labels{Run: run, Model: info.Model, Device: info.Device, Config: info.Config, d: d, dir: dir}, nil
}

// Runs lists the drive's replay runs.
func (d *Drive) Runs() []string {
	ents, _ := os.ReadDir(filepath.Join(d.Dir, drive.RunsDir))
	var out []string
	for _, e := range ents {
		if e.IsDir() && runIDPattern.MatchString(e.Name()) {
			if _, err := os.Stat(filepath.Join(d.Dir, drive.RunsDir, e.Name(), "run.json")); err == nil {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// runName is the run replay reads objects, targets and events from.
func (l *Labels) runName() string {
	if l.Run == LiveRun {
		return ""
	}
	return l.Run
}

// rows calls fn with every row of table t in [from, to) (from 0 and to 0: the whole
// drive), read with replay (batches found by their t bounds, damage skipped), in t
// order; objects, targets and events of run (""/live: the drive's own). It returns
// how many damaged parts replay skipped.
func (d *Drive) rows(t schema.TableName, run string, from, to int64, cams []uint8, fn func(schema.Sample) error) (damage int64, err error) {
	opt := replay.Options{Tables: []schema.TableName{t}, From: from, Run: run, Cameras: cams, NoVideoData: true, Prefetch: -1}
	if to != 0 {
		opt.To = to - 1 // replay's To is inclusive
	}
	r, err := d.rd.NewReader(opt)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", t, err)
	}
	defer r.Close()
	for {
		s, err := r.Next()
		if errors.Is(err, io.EOF) {
			return damage, nil
		}
		if err != nil {
			return damage, fmt.Errorf("read %s: %w", t, err)
		}
		if e, ok := s.(*schema.Event); ok && e.Code == schema.EvReplayDamage {
			damage++
			continue
		}
		if s.Table() != t {
			continue
		}
		if err := fn(s); err != nil {
			return damage, err
		}
	}
}

// camDir is the folder name of a camera's files in a clip.
func camDir(i uint8) string { return "cam" + strconv.Itoa(int(i)) }
