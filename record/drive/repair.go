package drive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"roadlog/schema"
)

// RepairReport says what Repair did to a drive.
type RepairReport struct {
	Drive   string
	Before  Status // status found in the manifest ("" if there was none)
	Cuts    []Cut
	Changed bool // anything was cut, rebuilt or rewritten
}

// Repair recovers a drive left by a crash (or damaged later): every Arrow file without
// a valid footer is rebuilt from its complete record batches (read as a message stream
// from byte 8, skipping damaged batches); every video file is cut at its last complete
// fragment; frames rows that point outside their video file are dropped, and video
// frames that lost their rows (written but not yet indexed at the crash) get rows
// rebuilt from the video's own index. Damaged originals are moved to damaged/ with the
// same relative path. The manifest is rebuilt from what is on disk, with status
// recovered and the list of cuts. A drive that needs nothing keeps its status.
func Repair(dir string, sw Software) (*RepairReport, error) {
	m, err := ReadManifest(dir)
	rep := &RepairReport{Drive: dir}
	switch {
	case err == nil:
		rep.Before = m.Status
	case errors.Is(err, ErrNotDrive):
		return nil, err
	default:
		if !IsDrive(dir) {
			return nil, err
		}
		// The manifest is missing or unreadable: rebuild it from the segments.
		if _, statErr := os.Stat(filepath.Join(dir, ManifestFile)); statErr == nil {
			if err := moveAside(dir, ManifestFile); err != nil {
				return nil, err
			}
		}
		m = &Manifest{Format: schema.FormatName, Version: schema.FormatVersion, DriveID: filepath.Base(dir),
			Status: StatusRecording, Created: time.Now().UTC(), Software: sw, Compression: string(CodecZSTD)}
		rep.Cuts = append(rep.Cuts, Cut{File: ManifestFile, Action: "rebuilt", Reason: err.Error()})
	}
	os.Remove(filepath.Join(dir, ManifestFile+".tmp"))
	os.Remove(filepath.Join(dir, ReserveFile))
	segs, err := Segments(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, s := range segs {
		ents, err := os.ReadDir(filepath.Join(dir, SegmentDir(s)))
		if err != nil {
			return nil, fmt.Errorf("repair: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			rel := filepath.Join(SegmentDir(s), e.Name())
			if isLeftover(e.Name()) {
				// a temp file of an interrupted rewrite: the original it was to replace is intact
				if err := os.Remove(filepath.Join(dir, rel)); err != nil {
					return nil, fmt.Errorf("repair: %w", err)
				}
				rep.Cuts = append(rep.Cuts, Cut{File: rel, Action: "removed", Reason: "temp file of an interrupted rewrite"})
				continue
			}
			files = append(files, rel)
		}
	}
	cuts, err := repairFiles(dir, files, Codec(m.Compression))
	rep.Cuts = append(rep.Cuts, cuts...)
	if err != nil {
		return rep, err
	}
	// Tables that had no rows yet when the segment was cut short get an empty file, as
	// every closed segment has.
	for _, seg := range segs {
		for _, t := range schema.Tables() {
			rel := filepath.Join(SegmentDir(seg), TableFile(t.TableName()))
			if _, err := os.Stat(filepath.Join(dir, rel)); !errors.Is(err, os.ErrNotExist) {
				continue
			}
			f, err := OSFS{}.Create(filepath.Join(dir, rel))
			if err != nil {
				return rep, fmt.Errorf("repair: %w", err)
			}
			if err := WriteEmpty(f, t, Codec(m.Compression)); err != nil {
				return rep, err
			}
			rep.Cuts = append(rep.Cuts, Cut{File: rel, Action: "created", Reason: "the table had no rows in this segment yet: empty table written"})
		}
	}
	rep.Changed = len(rep.Cuts) > 0
	if !rep.Changed && m.Status != StatusRecording {
		return rep, nil
	}
	if err := RefreshSegments(dir, m); err != nil {
		return rep, err
	}
	m.Status = StatusRecovered
	m.Recovery = &Recovery{At: time.Now().UTC(), Cuts: rep.Cuts, Damaged: DamagedDir, Software: sw}
	if m.Cuts() == nil {
		m.Recovery.Cuts = []Cut{}
	}
	rep.Changed = true
	return rep, WriteManifest(dir, m)
}

// Cuts returns the recovery cuts recorded in the manifest, if any.
func (m *Manifest) Cuts() []Cut {
	if m.Recovery == nil {
		return nil
	}
	return m.Recovery.Cuts
}

func repairFiles(dir string, rels []string, codec Codec) ([]Cut, error) {
	var cuts []Cut
	segs := map[string]bool{}
	var errs []error
	for _, rel := range rels {
		segs[filepath.Dir(rel)] = true
		var c *Cut
		var err error
		switch {
		case strings.HasSuffix(rel, ".arrow"):
			c, err = repairArrow(dir, rel, codec)
		case strings.HasSuffix(rel, ".mp4"):
			c, err = repairMP4(dir, rel)
		default:
			continue
		}
		if err != nil {
			errs = append(errs, err)
		}
		if c != nil {
			cuts = append(cuts, *c)
		}
	}
	var segList []string
	for s := range segs {
		segList = append(segList, s)
	}
	sort.Strings(segList)
	for _, s := range segList {
		c, err := repairFrames(dir, s, codec)
		if err != nil {
			errs = append(errs, err)
		}
		if c != nil {
			cuts = append(cuts, *c)
		}
	}
	return cuts, errors.Join(errs...)
}

// moveAside moves dir/rel to dir/damaged/rel (with a numeric suffix if one is there).
func moveAside(dir, rel string) error {
	dst := filepath.Join(dir, DamagedDir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("keep damaged original: %w", err)
	}
	for i := 1; ; i++ {
		if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		dst = filepath.Join(dir, DamagedDir, fmt.Sprintf("%s.%d", rel, i))
	}
	if err := os.Rename(filepath.Join(dir, rel), dst); err != nil {
		return fmt.Errorf("keep damaged original: %w", err)
	}
	return nil
}

// tableOfFile returns the table a segment file holds, if it is one of ours.
func tableOfFile(rel string) (schema.AnyTable, bool) {
	base := filepath.Base(rel)
	if !strings.HasSuffix(base, ".arrow") {
		return nil, false
	}
	return schema.Lookup(schema.TableName(strings.TrimSuffix(base, ".arrow")))
}

func repairArrow(dir, rel string, codec Codec) (*Cut, error) {
	path := filepath.Join(dir, rel)
	scan, err := ScanArrow(path)
	if err == nil && scan.Footer && len(scan.Damage) == 0 {
		return nil, nil
	}
	st, statErr := os.Stat(path)
	if statErr != nil {
		return nil, fmt.Errorf("repair %s: %w", rel, statErr)
	}
	if err != nil {
		// Not even the schema is readable: keep the original aside, write an empty table.
		t, ok := tableOfFile(rel)
		if !ok {
			return nil, nil
		}
		if err := moveAside(dir, rel); err != nil {
			return nil, err
		}
		f, ferr := OSFS{}.Create(path)
		if ferr != nil {
			return nil, fmt.Errorf("repair %s: %w", rel, ferr)
		}
		if werr := WriteEmpty(f, t, codec); werr != nil {
			return nil, werr
		}
		return &Cut{File: rel, Action: "rebuilt", CutBytes: st.Size(), Reason: "unreadable before the first batch: " + err.Error() + "; replaced by an empty table"}, nil
	}
	tmp := path + ".repair"
	f, err := OSFS{}.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	opts := append([]ipc.Option{ipc.WithSchema(scan.Schema)}, codec.option()...)
	w, err := ipc.NewFileWriter(f, opts...)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	src, err := os.Open(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	var kept int64
	var werr error
	for _, b := range scan.Batches {
		msg := make([]byte, b.Length)
		if _, err := src.ReadAt(msg, b.Offset); err != nil {
			werr = err
			break
		}
		if _, err := decodeBatch(scan.SchemaBytes, msg, func(rec arrow.RecordBatch) error { return w.Write(rec) }); err != nil {
			werr = err
			break
		}
		kept += b.Rows
	}
	src.Close()
	if werr == nil && len(scan.Batches) == 0 {
		// arrow-go writes nothing for a writer with no batches: start the stream
		werr = writeEmptyRecord(w, scan.Schema)
	}
	if werr == nil {
		werr = w.Close()
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("repair %s: %w", rel, werr)
	}
	if err := moveAside(dir, rel); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	nst, _ := os.Stat(path)
	c := &Cut{File: rel, KeptRows: kept, KeptBytes: nst.Size()}
	good := int64(8 + len(scan.SchemaBytes))
	for _, b := range scan.Batches {
		good += b.Length
	}
	c.CutBytes = st.Size() - good
	if len(scan.Damage) == 0 {
		c.Action = "footer_written"
		c.Reason = fmt.Sprintf("no footer: file was being written; kept %d complete batches", len(scan.Batches))
		if tail := st.Size() - scan.End(); tail > 0 && scan.EOS == 0 {
			c.Reason += fmt.Sprintf(", cut a partial batch of %d bytes at offset %d", tail, scan.End())
		}
	} else {
		c.Action = "truncated"
		var parts []string
		for _, d := range scan.Damage {
			parts = append(parts, fmt.Sprintf("byte %d: %v", d.Offset, d.Err))
		}
		c.Reason = fmt.Sprintf("kept %d batches; damaged: %s", len(scan.Batches), strings.Join(parts, "; "))
	}
	return c, nil
}

func repairMP4(dir, rel string) (*Cut, error) {
	path := filepath.Join(dir, rel)
	scan, err := ScanMP4(path)
	if err != nil {
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	if scan.Damage == nil && scan.ValidEnd == scan.Size {
		return nil, nil
	}
	if !scan.Init {
		if err := moveAside(dir, rel); err != nil {
			return nil, err
		}
		return &Cut{File: rel, Action: "removed", CutBytes: scan.Size, Reason: "no complete init segment: " + scan.Damage.Error()}, nil
	}
	tmp := path + ".repair"
	if err := copyPrefix(path, tmp, scan.ValidEnd); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	if err := moveAside(dir, rel); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	reason := fmt.Sprintf("cut at the end of fragment %d (byte %d)", scan.Fragments, scan.ValidEnd)
	if scan.Damage != nil {
		reason += ": " + scan.Damage.Err.Error()
	}
	return &Cut{File: rel, Action: "truncated", KeptBytes: scan.ValidEnd, CutBytes: scan.Size - scan.ValidEnd, Reason: reason}, nil
}

func copyPrefix(src, dst string, n int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.LimitReader(in, n)); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// repairFrames drops frames rows of a segment that point outside their video file and
// rebuilds rows for indexed-less trailing video frames.
func repairFrames(dir, segRel string, codec Codec) (*Cut, error) {
	rel := filepath.Join(segRel, TableFile(schema.TableFrames))
	path := filepath.Join(dir, rel)
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	var rows []schema.Frame
	if _, err := ReadRows(path, schema.FramesTable, func(r *schema.Frame) error {
		rows = append(rows, *r)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	videos := map[string]*MP4Scan{}
	video := func(name string) *MP4Scan {
		if s, ok := videos[name]; ok {
			return s
		}
		s, err := ScanMP4(filepath.Join(dir, segRel, name))
		if err != nil {
			s = nil
		}
		videos[name] = s
		return s
	}
	kept := rows[:0]
	var dropped int64
	lastRow := map[string]schema.Frame{}
	for _, r := range rows {
		s := video(r.File)
		if s == nil || r.Sample < 0 || r.Sample >= int64(len(s.Samples)) ||
			s.Samples[r.Sample].Offset != r.Offset || s.Samples[r.Sample].Size != r.Size {
			dropped++
			continue
		}
		kept = append(kept, r)
		if lr, ok := lastRow[r.File]; !ok || r.Sample > lr.Sample {
			lastRow[r.File] = r
		}
	}
	// Video frames written after the last indexed one (their rows were still queued at
	// the crash): rebuild their rows from the video index.
	var rebuilt int64
	var names []string
	for name := range lastRow {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		last := lastRow[name]
		s := video(name)
		base := last.T - last.PTS
		for i := last.Sample + 1; i < int64(len(s.Samples)); i++ {
			sm := s.Samples[i]
			pts := int64(sm.DecodeTime) * 1_000_000_000 / int64(max(s.Timescale, 1))
			r := last
			r.T, r.TDevice, r.THost = base+pts, 0, 0
			r.Seq = last.Seq + (i - last.Sample)
			r.TriggerID = -1
			r.Keyframe, r.Offset, r.Size, r.Sample, r.PTS = sm.Sync, sm.Offset, sm.Size, i, pts
			kept = append(kept, r)
			rebuilt++
		}
	}
	if dropped == 0 && rebuilt == 0 {
		return nil, nil
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].T < kept[j].T })
	tmp := path + ".repair"
	f, err := OSFS{}.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	w, err := NewTableWriter(f, schema.FramesTable, codec)
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	for i := range kept {
		w.Append(&kept[i], kept[i].T)
	}
	if err := w.Close(); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := moveAside(dir, rel); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("repair %s: %w", rel, err)
	}
	reason := ""
	if dropped > 0 {
		reason = fmt.Sprintf("dropped %d rows pointing outside their video file", dropped)
	}
	if rebuilt > 0 {
		if reason != "" {
			reason += "; "
		}
		reason += fmt.Sprintf("rebuilt %d rows from the video index for frames written but not yet indexed (trigger ids unknown)", rebuilt)
	}
	return &Cut{File: rel, Action: "rows_dropped", KeptRows: int64(len(kept)), CutRows: dropped, Reason: reason}, nil
}

// RefreshSegments rebuilds the manifest's segment list and figures from the files on
// disk (keeping the recorded start and end of known segments).
func RefreshSegments(dir string, m *Manifest) error {
	segs, err := Segments(dir)
	if err != nil {
		return err
	}
	old := map[int]Segment{}
	for _, s := range m.Segments {
		old[s.Index] = s
	}
	m.Segments = m.Segments[:0]
	for _, idx := range segs {
		s := Segment{Index: idx, Dir: SegmentDir(idx), Closed: true, Tables: map[string]TableStats{}}
		if o, ok := old[idx]; ok {
			s.StartT, s.EndT = o.StartT, o.EndT
		} else if m.SegmentLength > 0 && m.StartT != 0 {
			s.StartT = m.StartT + int64(idx)*int64(m.SegmentLength)
			s.EndT = s.StartT + int64(m.SegmentLength)
		}
		ents, err := os.ReadDir(filepath.Join(dir, s.Dir))
		if err != nil {
			return err
		}
		for _, e := range ents {
			p := filepath.Join(dir, s.Dir, e.Name())
			if _, ok := tableOfFile(e.Name()); ok {
				st, err := TableFileStats(p)
				if err != nil {
					return err
				}
				s.Tables[strings.TrimSuffix(e.Name(), ".arrow")] = st
				if st.LastT > m.EndT {
					m.EndT = st.LastT
				}
				if m.StartT == 0 && st.FirstT != 0 {
					m.StartT = st.FirstT
				}
			}
			if _, _, ok := ParseVideoFile(e.Name()); ok {
				vs, err := ScanMP4(p)
				if err != nil {
					return err
				}
				if s.Videos == nil {
					s.Videos = map[string]VideoStats{}
				}
				v := VideoStats{Frames: int64(len(vs.Samples)), Bytes: vs.Size}
				for _, sm := range vs.Samples {
					if sm.Sync {
						v.Keyframes++
					}
				}
				s.Videos[e.Name()] = v
			}
		}
		m.Segments = append(m.Segments, s)
	}
	return nil
}

// TableFileStats reads a table file and returns its figures: rows, batches, bytes,
// first and last t, and how many rows came after a row with a later t.
func TableFileStats(path string) (TableStats, error) {
	var st TableStats
	var last int64
	first := true
	scan, err := ReadTable(path, func(rec arrow.RecordBatch) error {
		ts, _ := timeColumn(rec)
		for _, tv := range ts {
			v := int64(tv)
			if first {
				st.FirstT, first = v, false
			} else if v < last {
				st.Late++
			}
			if v > st.LastT {
				st.LastT = v
			}
			last = v
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.Rows = scan.Rows()
	for _, b := range scan.Batches {
		if b.Rows > 0 {
			st.Batches++
		}
	}
	st.Bytes = scan.Size
	return st, nil
}

// isLeftover reports whether a file name is a temp file of an interrupted rewrite
// (sort at segment close, repair, atomic manifest write).
func isLeftover(name string) bool {
	for _, suf := range []string{".sort", ".repair", ".tmp"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}
