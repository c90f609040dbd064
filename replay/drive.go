package replay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"roadlog/record/drive"
	"roadlog/schema"
)

// ErrNoRun reports a run id that has no folder under the drive's runs/.
var ErrNoRun = errors.New("no such run")

// LiveRun names the tables the drive recorded live (objects, targets and events of
// its segments), as opposed to a re-run under runs/<run-id>/.
const LiveRun = "live"

// Drive is an opened drive folder.
type Drive struct {
	Dir string
	// Manifest is nil when the drive has none yet (a crash before the first segment
	// closed); everything else is then found from the folders on disk.
	Manifest *drive.Manifest
	Segments []Segment
}

// Segment is one seg-NNNNNN folder present on disk.
type Segment struct {
	Index  int
	Dir    string // path of the folder
	Closed bool   // the manifest says it was closed cleanly
	StartT int64  // nominal start, reference ns (0: unknown)
	Tables map[string]drive.TableStats
}

// Open opens the drive in dir: a closed, recovered or still-recording drive, or one
// left by a crash. It reads the manifest and lists the segment folders; table files
// are opened only when read.
func Open(dir string) (*Drive, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open drive: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open drive %s: %w", dir, drive.ErrNotDrive)
	}
	d := &Drive{Dir: dir}
	m, err := drive.ReadManifest(dir)
	switch {
	case err == nil:
		d.Manifest = m
	case errors.Is(err, os.ErrNotExist) && drive.IsDrive(dir):
		// segments but no manifest yet: read what is on disk
	default:
		return nil, fmt.Errorf("open drive %s: %w", dir, err)
	}
	idx, err := drive.Segments(dir)
	if err != nil {
		return nil, fmt.Errorf("open drive %s: %w", dir, err)
	}
	byIndex := map[int]drive.Segment{}
	if m != nil {
		for _, s := range m.Segments {
			byIndex[s.Index] = s
		}
	}
	for _, i := range idx {
		s := Segment{Index: i, Dir: filepath.Join(dir, drive.SegmentDir(i))}
		if ms, ok := byIndex[i]; ok {
			s.Closed, s.StartT, s.Tables = ms.Closed, ms.StartT, ms.Tables
		}
		d.Segments = append(d.Segments, s)
	}
	return d, nil
}

// ID returns the drive id (the folder name when there is no manifest).
func (d *Drive) ID() string {
	if d.Manifest != nil && d.Manifest.DriveID != "" {
		return d.Manifest.DriveID
	}
	return filepath.Base(d.Dir)
}

// StartT returns the reference time the drive started at (0: unknown without reading).
func (d *Drive) StartT() int64 {
	if d.Manifest != nil && d.Manifest.StartT != 0 {
		return d.Manifest.StartT
	}
	for _, s := range d.Segments {
		if s.StartT != 0 {
			return s.StartT
		}
	}
	return 0
}

// Cameras returns the rig's cameras as the manifest lists them.
func (d *Drive) Cameras() []drive.Camera {
	if d.Manifest == nil {
		return nil
	}
	return d.Manifest.Cameras
}

// Runs lists the re-runs stored under runs/, sorted by id.
func (d *Drive) Runs() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(d.Dir, drive.RunsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// RunDir returns the folder of a re-run, checking that it exists. LiveRun is not a
// folder: it returns ErrNoRun for it too; callers treat it apart.
func (d *Drive) RunDir(id string) (string, error) {
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id {
		return "", fmt.Errorf("run %q: %w (a run id is a folder name under %s)", id, ErrNoRun, drive.RunsDir)
	}
	p := filepath.Join(d.Dir, drive.RunsDir, id)
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		runs, _ := d.Runs()
		return "", fmt.Errorf("run %q in %s: %w (runs: %v)", id, d.Dir, ErrNoRun, runs)
	}
	return p, nil
}

// tableFiles returns the files that hold table t, in time order: one per segment, or
// the run's single file for the perception tables of a re-run.
func (d *Drive) tableFiles(t schema.TableName, run string) ([]fileRef, error) {
	if run != "" && run != LiveRun && (t == schema.TableObjects || t == schema.TableTargets || t == schema.TableEvents) {
		dir, err := d.RunDir(run)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, drive.TableFile(t))
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("run %s: %w", run, err)
		}
		return []fileRef{{path: p, rel: filepath.Join(drive.RunsDir, run, drive.TableFile(t)), dir: dir, sorted: true}}, nil
	}
	var out []fileRef
	for _, s := range d.Segments {
		p := filepath.Join(s.Dir, drive.TableFile(t))
		if _, err := os.Stat(p); err != nil {
			continue // a table a segment does not have (truth in a real drive, or not yet created)
		}
		ref := fileRef{path: p, rel: filepath.Join(filepath.Base(s.Dir), drive.TableFile(t)), dir: s.Dir, sorted: s.Closed}
		if st, ok := s.Tables[string(t)]; ok {
			ref.firstT, ref.lastT = st.FirstT, st.LastT
			ref.sorted = s.Closed && st.Late == 0
			if st.Rows == 0 {
				ref.firstT, ref.lastT = 0, 0
			}
		}
		out = append(out, ref)
	}
	return out, nil
}

// fileRef is one table file to read.
type fileRef struct {
	path   string
	rel    string // relative to the drive, for messages
	dir    string // folder holding it (video files of frames rows are relative to it)
	sorted bool   // believed in t order (closed segment, no late rows)
	firstT int64  // from the manifest (0: unknown)
	lastT  int64
}
