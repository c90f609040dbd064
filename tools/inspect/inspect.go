// Package inspect summarises a drive: duration, segments, per-table rows, rates,
// bytes, compression, drops and gaps.
package inspect

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"roadlog/record/drive"
	"roadlog/schema"
)

// Summary is what inspect reports about a drive.
type Summary struct {
	Drive      string           `json:"drive"`
	DriveID    string           `json:"drive_id"`
	Status     drive.Status     `json:"status"`
	Vehicle    string           `json:"vehicle"`
	Simulated  bool             `json:"simulated"`
	Start      time.Time        `json:"start"`
	Duration   float64          `json:"duration_s"`
	Segments   int              `json:"segments"`
	Cameras    int              `json:"cameras"`
	Tables     []TableSummary   `json:"tables"`
	Videos     VideoSummary     `json:"video"`
	Drops      map[string]int64 `json:"drops"`
	DropEvents int              `json:"drop_events"`
	Marks      int              `json:"marks"`
	StopReason string           `json:"stop_reason,omitempty"`
	Recovered  []drive.Cut      `json:"recovered,omitempty"`
	TotalBytes int64            `json:"total_bytes"`
}

// TableSummary describes one table across all segments.
type TableSummary struct {
	Name       string  `json:"name"`
	Rows       int64   `json:"rows"`
	Rate       float64 `json:"rate_hz"`
	Bytes      int64   `json:"bytes"`
	RawBytes   int64   `json:"raw_bytes"`
	Ratio      float64 `json:"compression_ratio"`
	MaxGap     float64 `json:"max_gap_s"`     // largest step of t between consecutive rows of one stream
	Gaps       int     `json:"gaps"`          // steps longer than 5× their stream's median step
	MedianStep float64 `json:"median_step_s"` // typical spacing of a stream's rows
}

// VideoSummary describes the video files.
type VideoSummary struct {
	Files     int     `json:"files"`
	Frames    int64   `json:"frames"`
	Keyframes int64   `json:"keyframes"`
	Bytes     int64   `json:"bytes"`
	MBPerS    float64 `json:"mb_per_s"`
}

// Inspect reads a drive (closed, recovered, or still being written) and summarises it.
func Inspect(dir string) (*Summary, error) {
	m, err := drive.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	s := &Summary{Drive: dir, DriveID: m.DriveID, Status: m.Status, Vehicle: m.Vehicle, Simulated: m.Simulated,
		Start: time.Unix(0, m.StartT).UTC(), Cameras: len(m.Cameras), Drops: m.Drops, StopReason: m.StopReason}
	if m.Recovery != nil {
		s.Recovered = m.Recovery.Cuts
	}
	segs, err := drive.Segments(dir)
	if err != nil {
		return nil, err
	}
	s.Segments = len(segs)
	var minT, maxT int64
	for _, t := range schema.Tables() {
		name := t.TableName()
		ts := TableSummary{Name: string(name)}
		// gaps are judged per stream (a CAN bus and id, a camera, a sensor…), whose rows
		// come at a steady rate, not across the interleaved streams of a table
		steps := map[string][]int64{}
		prev := map[string]int64{}
		keys := streamColumns[name]
		for _, seg := range segs {
			p := filepath.Join(dir, drive.SegmentDir(seg), drive.TableFile(name))
			st, err := os.Stat(p)
			if err != nil {
				continue
			}
			ts.Bytes += st.Size()
			_, err = drive.ReadTable(p, func(rec arrow.RecordBatch) error {
				for _, c := range rec.Columns() {
					for _, b := range c.Data().Buffers() {
						if b != nil {
							ts.RawBytes += int64(b.Len())
						}
					}
				}
				col, ok := rec.Column(0).(*array.Timestamp)
				if !ok {
					return nil
				}
				var keyCols []arrow.Array
				for _, k := range keys {
					if idx := rec.Schema().FieldIndices(k); len(idx) == 1 {
						keyCols = append(keyCols, rec.Column(idx[0]))
					}
				}
				for i, v := range col.TimestampValues() {
					x := int64(v)
					key := ""
					for _, kc := range keyCols {
						key += kc.ValueStr(i) + "/"
					}
					if p, ok := prev[key]; ok {
						steps[key] = append(steps[key], x-p)
					}
					prev[key] = x
					if minT == 0 || x < minT {
						minT = x
					}
					if x > maxT {
						maxT = x
					}
					ts.Rows++
				}
				if name == schema.TableEvents {
					codes := rec.Column(1).(*array.Uint16)
					for i := 0; i < codes.Len(); i++ {
						switch schema.EventCode(codes.Value(i)) {
						case schema.EvDrop:
							s.DropEvents++
						case schema.EvMark:
							s.Marks++
						}
					}
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("inspect %s: %w", p, err)
			}
		}
		if ts.RawBytes > 0 && ts.Bytes > 0 {
			ts.Ratio = float64(ts.RawBytes) / float64(ts.Bytes)
		}
		var meds []float64
		for _, st := range steps {
			if len(st) == 0 {
				continue
			}
			sorted := append([]int64(nil), st...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
			med := sorted[len(sorted)/2]
			meds = append(meds, float64(med)/1e9)
			ts.MaxGap = math.Max(ts.MaxGap, float64(sorted[len(sorted)-1])/1e9)
			for _, d := range st {
				if med > 0 && d > 5*med {
					ts.Gaps++
				}
			}
		}
		if len(meds) > 0 {
			sort.Float64s(meds)
			ts.MedianStep = meds[len(meds)/2]
		}
		s.Tables = append(s.Tables, ts)
		s.TotalBytes += ts.Bytes
	}
	for _, seg := range segs {
		ents, _ := os.ReadDir(filepath.Join(dir, drive.SegmentDir(seg)))
		for _, e := range ents {
			if _, _, ok := drive.ParseVideoFile(e.Name()); !ok {
				continue
			}
			v, err := drive.ScanMP4(filepath.Join(dir, drive.SegmentDir(seg), e.Name()))
			if err != nil {
				return nil, err
			}
			s.Videos.Files++
			s.Videos.Frames += int64(len(v.Samples))
			s.Videos.Bytes += v.Size
			for _, sm := range v.Samples {
				if sm.Sync {
					s.Videos.Keyframes++
				}
			}
		}
	}
	s.TotalBytes += s.Videos.Bytes
	if maxT > minT {
		s.Duration = float64(maxT-minT) / 1e9
		for i := range s.Tables {
			s.Tables[i].Rate = float64(s.Tables[i].Rows) / s.Duration
		}
		s.Videos.MBPerS = float64(s.Videos.Bytes) / 1e6 / s.Duration
	}
	return s, nil
}

// Print writes the summary as a table in plain words.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "drive     %s (%s)\n", s.DriveID, s.Status)
	fmt.Fprintf(w, "vehicle   %s%s\n", s.Vehicle, map[bool]string{true: " (simulated)", false: ""}[s.Simulated])
	fmt.Fprintf(w, "start     %s\nduration  %.1f s in %d segments, %d cameras\n", s.Start.Format(time.RFC3339Nano), s.Duration, s.Segments, s.Cameras)
	if s.StopReason != "" {
		fmt.Fprintf(w, "stopped   %s\n", s.StopReason)
	}
	fmt.Fprintf(w, "\n%-8s %10s %9s %10s %7s %9s %5s\n", "table", "rows", "rate/s", "bytes", "ratio", "max gap", "gaps")
	for _, t := range s.Tables {
		fmt.Fprintf(w, "%-8s %10d %9.1f %10d %7.1f %8.3fs %5d\n", t.Name, t.Rows, t.Rate, t.Bytes, t.Ratio, t.MaxGap, t.Gaps)
	}
	fmt.Fprintf(w, "%-8s %10d frames in %d files, %d keyframes, %.1f MB (%.2f MB/s)\n", "video", s.Videos.Frames, s.Videos.Files, s.Videos.Keyframes, float64(s.Videos.Bytes)/1e6, s.Videos.MBPerS)
	fmt.Fprintf(w, "\ntotal %.1f MB; driver marks %d; drop events %d", float64(s.TotalBytes)/1e6, s.Marks, s.DropEvents)
	if len(s.Drops) == 0 {
		fmt.Fprintln(w, "; no samples dropped")
	} else {
		fmt.Fprintf(w, "; dropped %v\n", s.Drops)
	}
	for _, c := range s.Recovered {
		fmt.Fprintf(w, "recovered %s: %s (%s)\n", c.File, c.Action, c.Reason)
	}
}

// streamColumns names, per table, the columns that tell its interleaved streams apart.
var streamColumns = map[schema.TableName][]string{
	schema.TableCAN:     {"bus", "id"},
	schema.TableGNSS:    {"receiver"},
	schema.TableIMU:     {"sensor"},
	schema.TableEgo:     {"source"},
	schema.TableFrames:  {"camera"},
	schema.TableObjects: {"camera"},
	schema.TableTruth:   {"actor_id", "camera"},
	schema.TableSync:    {"source"},
}
