// Package export turns parts of a drive into labelled clips for dataset teams.
//
// Select picks the clips' time windows: explicit ranges, events (forward-collision
// and emergency-brake warnings from their start to when they clear, cut-ins, driver
// marks by category, any event kind) widened by seconds before and after, and hits of
// label queries (package query) over the chosen run's objects or targets; windows
// that overlap merge into one clip. Export writes each clip into its own folder:
//
//	<out>/<clip>/                       clip = <UTC start>_<duration ms>ms, e.g. 20261130T081503.250Z_6000ms
//	  clip.json                         provenance: drive, window, why, labels' run and model, software, settings
//	  SHA256SUMS                        SHA-256 of every other file (sha256sum --check)
//	  calibration.json                  the chosen cameras and their calibration (manifest extra.calibration or rig.yaml)
//	  images/camN/<stem>.jpg            frames (MJPEG bytes copied as recorded); <stem> = ms since the drive's start, 9 digits
//	  video/camN.mp4                    or: the frames remuxed into fragmented MP4 from the keyframe at or before the start
//	  coco.json                         COCO detection labels (category_id = class + 1)
//	  labels/camN/<stem>.txt, data.yaml YOLO labels (Ultralytics layout: labels/ beside images/)
//	  kitti/camN/<stem>.txt, calib.txt  KITTI object labels and calibration
//	  tables/<table>.parquet|.csv       the window's rows of ego, gnss, imu, can, objects, targets, events
//
// A clip is written into <out>/.<clip>.partial/, every file fsynced, and renamed into
// place when complete: a clip folder without the dot is finished, and a second run
// skips it (resume). Clips are written by parallel workers; everything in them is
// sorted and free of the export's own time, so the same drive and settings give the
// same bytes. Memory stays bounded whatever the drive's length: rows are streamed
// window by window, labels of at most one sub-window (10 s) are held at a time, and
// each segment's frames table (a row per frame) is read once and shared by every clip
// and worker, the most recently used ones kept up to 2^17 rows (about 16 MiB).
package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"roadlog/schema"
)

// Options say what goes into each clip.
type Options struct {
	Out     string  // output folder (created)
	Cameras []uint8 // cameras to export (nil: all)
	Images  bool    // write frames as JPEG
	Video   bool    // write frames as MP4 remuxed at keyframes
	Labels  []LabelFormat
	Tables  []schema.TableName // signal tables (nil: DefaultTables)
	Parquet bool               // write tables as Parquet
	CSV     bool               // write tables as CSV
	// JPEGQuality is the quality of frames decoded from H.264/H.265 and encoded as
	// JPEG (default DefaultJPEGQuality); MJPEG frames are copied as recorded.
	JPEGQuality int
	// MinScore leaves out objects below this confidence from the label files.
	MinScore float32
	Workers  int    // clips written at once (default GOMAXPROCS)
	Software string // this roadlog's version, for the provenance

	// Selection is recorded in the provenance (what was asked for).
	Selection SelectionRecord

	// Progress, when set, is called after every clip (from the worker that wrote it).
	Progress func(Progress)
	// FS is the output's file system (default OSFS).
	FS FS
}

// SelectionRecord is what was asked for, as clip.json records it.
type SelectionRecord struct {
	Ranges  []string `json:"ranges,omitempty"`
	Events  []string `json:"events,omitempty"`
	Queries []string `json:"queries,omitempty"`
	BeforeS float64  `json:"before_s"`
	AfterS  float64  `json:"after_s"`
}

// DefaultTables are the tables a clip carries by default (and can_decoded when the
// drive has DBC files).
var DefaultTables = []schema.TableName{schema.TableEgo, schema.TableGNSS, schema.TableIMU, schema.TableCAN,
	schema.TableObjects, schema.TableTargets, schema.TableEvents}

// Progress reports how far an export is.
type Progress struct {
	Clips, Total int   // clips done (written or skipped) of Total
	Skipped      int   // clips found finished and skipped
	Frames       int64 // frames written so far
	Bytes        int64 // bytes written so far
}

// Summary says what an export did.
type Summary struct {
	Clips       []ClipResult
	Written     int
	Skipped     int
	Frames      int64
	Annotations int64
	Bytes       int64
}

// ClipResult is one clip's outcome.
type ClipResult struct {
	Name        string
	Dir         string
	Skipped     bool // already complete from an earlier run
	Frames      int64
	Annotations int64
	Bytes       int64
}

// Errors of Export.
var (
	// ErrClipMismatch reports a finished clip in the output folder written with other
	// settings (or from another drive); export never overwrites it.
	ErrClipMismatch = errors.New("finished clip exists with different settings")
)

// Export writes one clip per window. It returns when every clip is written or
// skipped, or at the first error; a full destination stops every worker cleanly
// (finished clips stay, partial ones are removed) and returns an error that matches
// ErrDestinationFull.
func Export(ctx context.Context, d *Drive, l *Labels, windows []Window, opt Options) (*Summary, error) {
	if opt.FS == nil {
		opt.FS = OSFS{}
	}
	if opt.JPEGQuality <= 0 {
		opt.JPEGQuality = DefaultJPEGQuality
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.Tables == nil {
		opt.Tables = append([]schema.TableName{}, DefaultTables...)
		if _, err := d.DBC(); err == nil {
			opt.Tables = append(opt.Tables, TableCANDecoded)
		}
	}
	for _, t := range opt.Tables {
		if t == TableCANDecoded {
			if _, err := d.DBC(); err != nil {
				return nil, fmt.Errorf("export: %w", err)
			}
		}
	}
	if len(opt.Cameras) == 0 {
		for _, c := range d.Cameras {
			opt.Cameras = append(opt.Cameras, c.Index)
		}
	}
	cams := append([]uint8(nil), opt.Cameras...)
	sort.Slice(cams, func(i, j int) bool { return cams[i] < cams[j] })
	opt.Cameras = cams
	for _, c := range cams {
		if _, ok := d.Camera(c); !ok {
			return nil, fmt.Errorf("export: the drive has no camera %d", c)
		}
	}
	if err := opt.FS.MkdirAll(opt.Out); err != nil {
		return nil, fmt.Errorf("export: %w", wrapNoSpace(err))
	}
	x := &exporter{d: d, l: l, opt: opt, frames: newFrameCache(d.frames, frameCacheRows)}
	x.settings, x.settingsHash = x.settingsRecord()

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sum := &Summary{Clips: make([]ClipResult, len(windows))}
	jobs := make(chan int)
	var (
		mu       sync.Mutex // guards sum, firstErr and prog
		firstErr error
		prog     = Progress{Total: len(windows)}
	)
	var wg sync.WaitGroup
	for range min(opt.Workers, max(len(windows), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r, err := x.clip(ctx, windows[i])
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					cancel()
				} else {
					sum.Clips[i] = r
					prog.Clips++
					if r.Skipped {
						prog.Skipped++
					}
					prog.Frames += r.Frames
					prog.Bytes += r.Bytes
					if opt.Progress != nil {
						opt.Progress(prog)
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range windows {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil {
		firstErr = parent.Err()
	}
	var done []ClipResult
	for _, r := range sum.Clips {
		if r.Name == "" {
			continue
		}
		done = append(done, r)
		if r.Skipped {
			sum.Skipped++
		} else {
			sum.Written++
		}
		sum.Frames += r.Frames
		sum.Annotations += r.Annotations
		sum.Bytes += r.Bytes
	}
	sum.Clips = done
	if firstErr != nil {
		return sum, firstErr
	}
	return sum, nil
}

// exporter holds what every clip of one export shares.
type exporter struct {
	d            *Drive
	l            *Labels
	opt          Options
	settings     Settings
	settingsHash string
	frames       *frameCache // segments' frames rows, read once
}

// Settings are the export settings a clip records; a finished clip is reused only when
// they are the same.
type Settings struct {
	Cameras  []uint8       `json:"cameras"`
	Images   bool          `json:"images"`
	Video    bool          `json:"video"`
	Labels   []LabelFormat `json:"labels"`
	Tables   []string      `json:"tables"`
	Parquet  bool          `json:"parquet"`
	CSV      bool          `json:"csv"`
	MinScore float32       `json:"min_score"`
	JPEG     int           `json:"jpeg_quality"`
	Run      string        `json:"run"`
}

func (x *exporter) settingsRecord() (Settings, string) {
	s := Settings{Cameras: x.opt.Cameras, Images: x.opt.Images, Video: x.opt.Video, Labels: append([]LabelFormat{}, x.opt.Labels...),
		Parquet: x.opt.Parquet, CSV: x.opt.CSV, MinScore: x.opt.MinScore, JPEG: x.opt.JPEGQuality, Run: x.l.Run}
	sort.Slice(s.Labels, func(i, j int) bool { return s.Labels[i] < s.Labels[j] })
	for _, t := range x.opt.Tables {
		s.Tables = append(s.Tables, string(t))
	}
	sort.Strings(s.Tables)
	b, _ := json.Marshal(struct {
		Drive    string   `json:"drive"`
		Settings Settings `json:"settings"`
	}{x.d.ID(), s})
	h := sha256.Sum256(b)
	return s, hex.EncodeToString(h[:])
}

// ClipName names a window's clip folder: its UTC start to the millisecond and its
// length, e.g. 20261130T081503.250Z_6000ms.
func ClipName(w Window) string {
	return time.Unix(0, w.From).UTC().Format("20060102T150405.000Z") + fmt.Sprintf("_%dms", (w.To-w.From)/1e6)
}

// wrapNoSpace marks a no-space error with ErrDestinationFull.
func wrapNoSpace(err error) error {
	if err != nil && isNoSpace(err) && !errors.Is(err, ErrDestinationFull) {
		return fmt.Errorf("%w: %w", ErrDestinationFull, err)
	}
	return err
}

// readClipHash returns the settings hash of a finished clip: false when the folder
// has no readable clip.json, "" when that file cannot be decoded.
func readClipHash(dir string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, ClipFile))
	if err != nil {
		return "", false
	}
	var m struct {
		SettingsHash string `json:"settings_hash"`
	}
	if json.Unmarshal(b, &m) != nil {
		return "", true
	}
	return m.SettingsHash, true
}
