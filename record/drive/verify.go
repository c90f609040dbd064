package drive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

// Finding is one thing verify found wrong (or worth a warning) in a drive.
type Finding struct {
	Path    string `json:"path"`             // relative to the drive
	Offset  int64  `json:"offset,omitempty"` // byte offset, when it applies
	Problem string `json:"problem"`
	Warn    bool   `json:"warn,omitempty"` // a warning does not fail verify
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Drive    string           `json:"drive"`
	Status   Status           `json:"status"`
	Segments int              `json:"segments"`
	Rows     map[string]int64 `json:"rows"`   // per table
	Frames   int64            `json:"frames"` // video frames
	Files    int              `json:"files"`
	Findings []Finding        `json:"findings"`
}

// OK reports whether verify found no problem (warnings allowed).
func (r *VerifyReport) OK() bool {
	for _, f := range r.Findings {
		if !f.Warn {
			return false
		}
	}
	return true
}

// Print writes the report in plain words.
func (r *VerifyReport) Print(w io.Writer) {
	fmt.Fprintf(w, "drive %s: status %s, %d segments, %d files\n", r.Drive, r.Status, r.Segments, r.Files)
	names := make([]string, 0, len(r.Rows))
	for n := range r.Rows {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %10d rows\n", n, r.Rows[n])
	}
	fmt.Fprintf(w, "  %-8s %10d frames\n", "video", r.Frames)
	problems, warns := 0, 0
	for _, f := range r.Findings {
		kind := "PROBLEM"
		if f.Warn {
			kind = "warning"
			warns++
		} else {
			problems++
		}
		at := ""
		if f.Offset > 0 {
			at = fmt.Sprintf(" (byte %d)", f.Offset)
		}
		fmt.Fprintf(w, "%s: %s%s: %s\n", kind, f.Path, at, f.Problem)
	}
	if problems == 0 {
		fmt.Fprintf(w, "OK: every file readable, row counts match, t ordered, every frame inside its video (%d warnings)\n", warns)
	} else {
		fmt.Fprintf(w, "FAILED: %d problems, %d warnings\n", problems, warns)
	}
}

// Verify checks every file of a drive: the manifest is readable and matches the
// segments on disk; every table file has its footer, decodes entirely, has the
// expected schema and the row count the manifest recorded, and its t never goes
// backwards (beyond the rows the manifest declares late); every frames row points at
// exactly one sample inside its video file; every video file is whole.
func Verify(dir string) (*VerifyReport, error) {
	rep := &VerifyReport{Drive: dir, Rows: map[string]int64{}}
	add := func(path string, off int64, warn bool, format string, a ...any) {
		rep.Findings = append(rep.Findings, Finding{Path: path, Offset: off, Problem: fmt.Sprintf(format, a...), Warn: warn})
	}
	m, err := ReadManifest(dir)
	if err != nil {
		if errors.Is(err, ErrNotDrive) {
			return nil, err
		}
		add(ManifestFile, 0, false, "%v", err)
		m = &Manifest{}
	}
	rep.Status = m.Status
	switch m.Status {
	case StatusClosed, StatusRecovered:
	case StatusRecording:
		add(ManifestFile, 0, false, "drive is still recording or was left by a crash: run roadlog repair")
	}
	segs, err := Segments(dir)
	if err != nil {
		return nil, err
	}
	rep.Segments = len(segs)
	known := map[int]Segment{}
	for _, s := range m.Segments {
		known[s.Index] = s
	}
	onDisk := map[int]bool{}
	for _, idx := range segs {
		onDisk[idx] = true
		if _, ok := known[idx]; !ok && m.Format != "" {
			add(SegmentDir(idx), 0, false, "segment folder is not in the manifest")
		}
	}
	for _, s := range m.Segments {
		if !onDisk[s.Index] {
			add(s.Dir, 0, false, "segment is in the manifest but missing on disk")
		}
	}
	for _, idx := range segs {
		verifySegment(dir, idx, known[idx], rep, add)
	}
	return rep, nil
}

func verifySegment(dir string, idx int, seg Segment, rep *VerifyReport, add func(string, int64, bool, string, ...any)) {
	segRel := SegmentDir(idx)
	ents, err := os.ReadDir(filepath.Join(dir, segRel))
	if err != nil {
		add(segRel, 0, false, "%v", err)
		return
	}
	present := map[string]bool{}
	videos := map[string]*MP4Scan{}
	for _, e := range ents {
		name := e.Name()
		rel := filepath.Join(segRel, name)
		present[name] = true
		rep.Files++
		switch {
		case strings.HasSuffix(name, ".arrow"):
			t, ok := tableOfFile(name)
			if !ok {
				add(rel, 0, true, "unknown table file")
				continue
			}
			verifyTable(dir, rel, t, seg, rep, add)
		case strings.HasSuffix(name, ".mp4"):
			s, err := ScanMP4(filepath.Join(dir, rel))
			if err != nil {
				add(rel, 0, false, "%v", err)
				continue
			}
			if s.Damage != nil {
				add(rel, s.Damage.Offset, false, "%v", s.Damage.Err)
			} else if s.ValidEnd != s.Size {
				add(rel, s.ValidEnd, false, "%d bytes after the last complete fragment", s.Size-s.ValidEnd)
			}
			videos[name] = s
			rep.Frames += int64(len(s.Samples))
			if v, ok := seg.Videos[name]; ok && seg.Closed && v.Frames != int64(len(s.Samples)) {
				add(rel, 0, false, "manifest records %d frames, file has %d", v.Frames, len(s.Samples))
			}
		default:
			add(rel, 0, true, "unexpected file")
		}
	}
	for _, t := range schema.Tables() {
		if !present[TableFile(t.TableName())] {
			add(filepath.Join(segRel, TableFile(t.TableName())), 0, false, "table file missing")
		}
	}
	// Every frames row must point at exactly its sample; every sample should have a row.
	framesRel := filepath.Join(segRel, TableFile(schema.TableFrames))
	if !present[TableFile(schema.TableFrames)] {
		return
	}
	indexed := map[string]map[int64]bool{}
	bad := 0
	_, err = ReadRows(filepath.Join(dir, framesRel), schema.FramesTable, func(r *schema.Frame) error {
		s, ok := videos[r.File]
		switch {
		case !ok:
			bad++
			if bad <= 5 {
				add(framesRel, 0, false, "frame camera %d seq %d points into %s, which is missing", r.Camera, r.Seq, r.File)
			}
		case r.Sample < 0 || r.Sample >= int64(len(s.Samples)):
			bad++
			if bad <= 5 {
				add(framesRel, 0, false, "frame camera %d seq %d: sample %d is past the end of %s (%d samples)", r.Camera, r.Seq, r.Sample, r.File, len(s.Samples))
			}
		case s.Samples[r.Sample].Offset != r.Offset || s.Samples[r.Sample].Size != r.Size:
			bad++
			if bad <= 5 {
				add(framesRel, 0, false, "frame camera %d seq %d: offset %d size %d, but sample %d of %s is at %d size %d",
					r.Camera, r.Seq, r.Offset, r.Size, r.Sample, r.File, s.Samples[r.Sample].Offset, s.Samples[r.Sample].Size)
			}
		case s.Samples[r.Sample].Sync != r.Keyframe:
			bad++
			if bad <= 5 {
				add(framesRel, 0, false, "frame camera %d seq %d: keyframe flag %v disagrees with the video", r.Camera, r.Seq, r.Keyframe)
			}
		default:
			if indexed[r.File] == nil {
				indexed[r.File] = map[int64]bool{}
			}
			if indexed[r.File][r.Sample] {
				add(framesRel, 0, false, "two frames rows point at sample %d of %s", r.Sample, r.File)
			}
			indexed[r.File][r.Sample] = true
		}
		return nil
	})
	if err != nil {
		return // already reported by verifyTable
	}
	if bad > 5 {
		add(framesRel, 0, false, "%d frames rows in all point outside their video", bad)
	}
	for name, s := range videos {
		if n := len(indexed[name]); n != len(s.Samples) {
			add(filepath.Join(segRel, name), 0, true, "%d of %d video frames have no frames row", len(s.Samples)-n, len(s.Samples))
		}
		if len(s.Samples) > 0 && !s.Samples[0].Sync {
			add(filepath.Join(segRel, name), 0, false, "video does not start with a keyframe")
		}
	}
}

func verifyTable(dir, rel string, t schema.AnyTable, seg Segment, rep *VerifyReport, add func(string, int64, bool, string, ...any)) {
	path := filepath.Join(dir, rel)
	scan, err := ScanArrow(path)
	if err != nil {
		add(rel, offsetOf(err), false, "unreadable: %v", err)
		return
	}
	if !scan.Footer {
		add(rel, scan.End(), false, "no footer (the file was being written): run roadlog repair")
	}
	for _, d := range scan.Damage {
		add(rel, d.Offset, false, "%v", d.Err)
	}
	if !sameFields(scan.Schema, t.Schema()) {
		add(rel, 8, false, "schema does not match table %s of format version %d", t.TableName(), schema.FormatVersion)
		return
	}
	st, err := TableFileStats(path)
	if err != nil {
		add(rel, offsetOf(err), false, "%v", err)
		return
	}
	name := string(t.TableName())
	rep.Rows[name] += st.Rows
	if want, ok := seg.Tables[name]; ok && seg.Closed {
		if want.Rows != st.Rows {
			add(rel, 0, false, "manifest records %d rows, file has %d", want.Rows, st.Rows)
		}
		if st.Late > want.Late {
			add(rel, 0, false, "t goes backwards %d times (the manifest declares %d late rows)", st.Late, want.Late)
		} else if st.Late > 0 {
			add(rel, 0, true, "%d rows arrived late and are out of t order (declared in the manifest)", st.Late)
		}
	} else if st.Late > 0 {
		add(rel, 0, false, "t goes backwards %d times", st.Late)
	}
}

func sameFields(a, b *arrow.Schema) bool {
	if a == nil || a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		if a.Field(i).Name != b.Field(i).Name || !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}

func offsetOf(err error) int64 {
	var ce *CorruptionError
	if errors.As(err, &ce) {
		return ce.Offset
	}
	return 0
}
