package drive

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"roadlog/schema"
)

// Status of a drive, as written in its manifest.
type Status string

// Drive states.
const (
	StatusRecording Status = "recording" // being written, or left by a crash before repair
	StatusClosed    Status = "closed"    // closed cleanly
	StatusRecovered Status = "recovered" // repaired after a crash; Recovery says what was cut
)

// Manifest is manifest.json: the drive's metadata. It is rewritten atomically (temp
// file, fsync, rename, fsync of the folder) at every segment close and state change.
type Manifest struct {
	Format        string           `json:"format"`  // schema.FormatName
	Version       int              `json:"version"` // schema.FormatVersion
	DriveID       string           `json:"drive_id"`
	Vehicle       string           `json:"vehicle"`
	Status        Status           `json:"status"`
	Software      Software         `json:"software"`
	Created       time.Time        `json:"created"`
	StartT        int64            `json:"start_t"` // reference ns of the first segment's start
	EndT          int64            `json:"end_t"`   // reference ns of the last row (0 while recording)
	Timebase      Timebase         `json:"timebase"`
	SegmentLength Duration         `json:"segment_duration"`
	FlushInterval Duration         `json:"flush_interval"`
	Compression   string           `json:"compression"` // zstd, zstd-small, lz4 or none
	Simulated     bool             `json:"simulated"`
	Rig           string           `json:"rig,omitempty"` // rig.yaml when present
	DBC           []string         `json:"dbc,omitempty"` // files under dbc/
	Cameras       []Camera         `json:"cameras"`
	Segments      []Segment        `json:"segments"`
	Deleted       []int            `json:"deleted_segments,omitempty"` // removed by loop mode (held no driver mark)
	Drops         map[string]int64 `json:"drops,omitempty"`            // per queue: samples dropped
	StopReason    string           `json:"stop_reason,omitempty"`
	Recovery      *Recovery        `json:"recovery,omitempty"`
	Extra         json.RawMessage  `json:"extra,omitempty"` // scenario, calibration and other context
}

// Software identifies the program that wrote the drive.
type Software struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Timebase says what the drive's reference time is and when that changed.
type Timebase struct {
	Kind    string           `json:"kind"` // "host" (free-running host clock), "gnss_pps", "ptp"
	Changes []TimebaseChange `json:"changes,omitempty"`
}

// TimebaseChange is one change of the reference's state.
type TimebaseChange struct {
	T     int64  `json:"t"`
	State string `json:"state"`
}

// Camera describes one camera of the rig.
type Camera struct {
	Index  uint8   `json:"index"`
	Name   string  `json:"name"`
	Codec  string  `json:"codec,omitempty"`
	Width  int     `json:"width,omitempty"`
	Height int     `json:"height,omitempty"`
	FPS    float64 `json:"fps,omitempty"`
}

// Segment describes one seg-NNNNNN folder.
type Segment struct {
	Index  int                   `json:"index"`
	Dir    string                `json:"dir"`
	StartT int64                 `json:"start_t"`         // nominal start (reference ns)
	EndT   int64                 `json:"end_t,omitempty"` // nominal end; 0 while open
	Closed bool                  `json:"closed"`
	Tables map[string]TableStats `json:"tables,omitempty"`
	Videos map[string]VideoStats `json:"videos,omitempty"`
}

// TableStats are a table file's figures at segment close.
type TableStats struct {
	Rows     int64 `json:"rows"`
	Batches  int   `json:"batches"`
	Bytes    int64 `json:"bytes"`
	RawBytes int64 `json:"raw_bytes"`      // uncompressed size of the Arrow buffers
	Late     int64 `json:"late,omitempty"` // rows written after later rows (out of t order)
	FirstT   int64 `json:"first_t,omitempty"`
	LastT    int64 `json:"last_t,omitempty"`
}

// VideoStats are a video file's figures at segment close.
type VideoStats struct {
	Frames    int64 `json:"frames"`
	Keyframes int64 `json:"keyframes"`
	Bytes     int64 `json:"bytes"`
	FirstT    int64 `json:"first_t,omitempty"`
	LastT     int64 `json:"last_t,omitempty"`
}

// Recovery records what repair did.
type Recovery struct {
	At       time.Time `json:"at"`
	Cuts     []Cut     `json:"cuts"`
	Damaged  string    `json:"damaged"` // folder holding the damaged originals
	Software Software  `json:"software"`
}

// Cut is one repair action on one file.
type Cut struct {
	File      string `json:"file"`   // path relative to the drive
	Action    string `json:"action"` // "footer_written", "truncated", "rows_dropped", "rebuilt", "removed"
	KeptBytes int64  `json:"kept_bytes"`
	CutBytes  int64  `json:"cut_bytes"`
	KeptRows  int64  `json:"kept_rows,omitempty"`
	CutRows   int64  `json:"cut_rows,omitempty"`
	Reason    string `json:"reason"`
}

// Duration is a time.Duration written as a Go duration string ("60s").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !IsDrive(dir) {
			return nil, fmt.Errorf("read manifest of %s: %w", dir, ErrNotDrive)
		}
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m := new(Manifest)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, &CorruptionError{Path: filepath.Join(dir, ManifestFile), Offset: jsonOffset(err), Err: err}
	}
	if m.Format != schema.FormatName {
		return nil, fmt.Errorf("read manifest of %s: format %q is not %q: %w", dir, m.Format, schema.FormatName, ErrNotDrive)
	}
	if m.Version > schema.FormatVersion {
		return nil, fmt.Errorf("read manifest of %s: format version %d is newer than this roadlog reads (%d)", dir, m.Version, schema.FormatVersion)
	}
	return m, nil
}

func jsonOffset(err error) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Offset
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Offset
	}
	return 0
}

// WriteManifest writes m to dir/manifest.json atomically: a temp file is written and
// fsynced, renamed over the old manifest, and the folder is fsynced.
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, ManifestFile), append(b, '\n'))
}

// WriteFileAtomic replaces path with data: write a temp file beside it, fsync it,
// rename it over path, fsync the folder (prometheus tsdb writeMetaFile, etcd wal).
func WriteFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a folder so that renames and new files in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
