package export

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
	"roadlog/tools/internal/videofile"
)

// ClipFile is the provenance file of a clip; a clip folder holding it is finished.
const ClipFile = "clip.json"

// ClipFormat and ClipVersion identify clip.json.
const (
	ClipFormat  = "roadlog-clip"
	ClipVersion = 1
)

// subWindow is how much of a clip is read at once (frames, objects).
const subWindow = int64(10e9)

// maxGOP is how far before a clip's start the MP4 remux looks for a keyframe.
const maxGOP = int64(120e9)

// clipWriter writes one clip into its partial folder.
type clipWriter struct {
	x     *exporter
	w     Window
	name  string
	tmp   string
	sums  *bufio.Writer // SHA256SUMS, a line per file as it is closed
	sumsF io.WriteCloser
	sumsH hash.Hash // of SHA256SUMS, for clip.json
	nfile int64
	dirs  map[string]bool // folders made under tmp

	frames, annotations, skippedFrames int64
	damage                             int64 // damaged parts of table files replay skipped
	bytes                              int64
	buf                                []byte
}

// SumsFile lists the SHA-256 of every other file of a clip, in the form sha256sum
// writes and checks ("<hex>  <path>"), in the order the files were written.
const SumsFile = "SHA256SUMS"

// clip writes (or skips) one clip.
func (x *exporter) clip(ctx context.Context, w Window) (ClipResult, error) {
	name := ClipName(w)
	final := filepath.Join(x.opt.Out, name)
	res := ClipResult{Name: name, Dir: final}
	if h, ok := readClipHash(final); ok {
		if h != x.settingsHash {
			return res, fmt.Errorf("export clip %s: %w (remove it or use another output folder)", final, ErrClipMismatch)
		}
		res.Skipped = true
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	c := &clipWriter{x: x, w: w, name: name, tmp: filepath.Join(x.opt.Out, "."+name+".partial"), dirs: map[string]bool{}}
	fs := x.opt.FS
	if err := fs.RemoveAll(c.tmp); err != nil {
		return res, fmt.Errorf("export clip %s: %w", name, err)
	}
	err := c.write(ctx)
	if err == nil {
		err = c.publish(final)
	}
	if err != nil {
		fs.RemoveAll(c.tmp)
		return res, fmt.Errorf("export clip %s: %w", name, wrapNoSpace(err))
	}
	res.Frames, res.Annotations, res.Bytes = c.frames, c.annotations, c.bytes
	return res, nil
}

func (c *clipWriter) write(ctx context.Context) (err error) {
	if err := c.mkdir(""); err != nil {
		return err
	}
	f, err := c.x.opt.FS.Create(filepath.Join(c.tmp, SumsFile))
	if err != nil {
		return err
	}
	c.sumsF, c.sumsH = f, sha256.New()
	c.sums = bufio.NewWriterSize(io.MultiWriter(f, c.sumsH), 64<<10)
	defer func() {
		if c.sumsF != nil {
			c.sumsF.Close()
		}
	}()
	if err := c.writeFrames(ctx); err != nil {
		return err
	}
	if err := c.writeTables(ctx); err != nil {
		return err
	}
	if err := c.writeCalibration(); err != nil {
		return err
	}
	return c.writeManifest()
}

// publish makes the partial folder durable and renames it into place.
func (c *clipWriter) publish(final string) error {
	fs := c.x.opt.FS
	if err := fs.SyncTree(c.tmp); err != nil {
		return err
	}
	if err := fs.Rename(c.tmp, final); err != nil {
		return err
	}
	return fs.SyncDir(c.x.opt.Out)
}

func (c *clipWriter) mkdir(rel string) error {
	if c.dirs[rel] {
		return nil
	}
	if err := c.x.opt.FS.MkdirAll(filepath.Join(c.tmp, rel)); err != nil {
		return err
	}
	for d := rel; ; d = path.Dir(d) {
		if d == "." || d == "/" {
			d = ""
		}
		c.dirs[d] = true
		if d == "" {
			break
		}
	}
	return nil
}

// trackedFile hashes and counts what is written and lists the file in clip.json when
// it is closed.
type trackedFile struct {
	c   *clipWriter
	rel string
	w   io.WriteCloser
	h   hash.Hash
	n   int64
}

func (f *trackedFile) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.h.Write(p[:n])
	f.n += int64(n)
	return n, err
}

func (f *trackedFile) Close() error {
	if err := f.w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", f.rel, err)
	}
	c := f.c
	var line [sha256.Size*2 + 2]byte
	hex.Encode(line[:], f.h.Sum(nil))
	line[sha256.Size*2], line[sha256.Size*2+1] = ' ', ' '
	c.sums.Write(line[:])
	c.sums.WriteString(f.rel)
	c.sums.WriteByte('\n')
	c.bytes += f.n
	c.nfile++
	return nil
}

// create creates a clip file (rel uses forward slashes).
func (c *clipWriter) create(rel string) (io.WriteCloser, error) {
	if err := c.mkdir(path.Dir(rel)); err != nil {
		return nil, err
	}
	w, err := c.x.opt.FS.Create(filepath.Join(c.tmp, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	return &trackedFile{c: c, rel: rel, w: w, h: sha256.New()}, nil
}

func (c *clipWriter) writeFile(rel string, data []byte) error {
	w, err := c.create(rel)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", rel, err)
	}
	return w.Close()
}

func (c *clipWriter) has(f LabelFormat) bool {
	for _, l := range c.x.opt.Labels {
		if l == f {
			return true
		}
	}
	return false
}

// frameRow is a frames row with the segment folder its video file is in.
type frameRow struct {
	schema.Frame
	seg string
}

// readFrames returns the frames rows of the chosen cameras in [from, to), sorted by t,
// camera and seq, with the segment folder each came from (its video file is there).
// A segment's frames table is small (a row per frame): the export reads it whole, once
// (frameCache).
func (c *clipWriter) readFrames(ctx context.Context, from, to int64, cams map[uint8]bool) ([]frameRow, error) {
	var rows []frameRow
	for _, seg := range c.x.d.segDirs(from, to) {
		all, err := c.x.frames.get(ctx, seg)
		if err != nil {
			return nil, err
		}
		for i := range all {
			if r := &all[i]; cams[r.Camera] && r.T >= from && r.T < to {
				rows = append(rows, frameRow{*r, seg})
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		if a.T != b.T {
			return a.T < b.T
		}
		if a.Camera != b.Camera {
			return a.Camera < b.Camera
		}
		return a.Seq < b.Seq
	})
	return rows, nil
}

type objKey struct {
	cam uint8
	seq int64
}

func (c *clipWriter) writeFrames(ctx context.Context) error {
	opt := &c.x.opt
	labels := len(opt.Labels) > 0
	if !opt.Images && !opt.Video && !labels {
		return nil
	}
	cams := map[uint8]bool{}
	for _, i := range opt.Cameras {
		cams[i] = true
	}
	vf := videofile.New()
	defer vf.Close()
	dec := newDecoders(c.x.frames, opt.JPEGQuality)
	defer dec.close()
	var coco *cocoWriter
	var cocoOut io.WriteCloser
	if c.has(COCO) {
		var err error
		if cocoOut, err = c.create("coco.json"); err != nil {
			return err
		}
		defer func() {
			if cocoOut != nil {
				cocoOut.Close()
			}
		}()
		m := c.x.d.Manifest
		info := cocoInfo{Description: fmt.Sprintf("roadlog clip %s of drive %s (labels: %s)", c.name, c.x.d.ID(), c.x.l.Run),
			Version: "1", Year: time.Unix(0, c.w.From).UTC().Year(), Contributor: m.Vehicle,
			DateCreated: time.Unix(0, c.x.d.StartT).UTC().Format(time.RFC3339)}
		if coco, err = newCOCO(cocoOut, c.tmp, info); err != nil {
			return err
		}
	}
	yoloClasses := map[uint16]string{}
	videos := map[uint8]*mp4Clip{}
	if opt.Video {
		for _, cam := range opt.Cameras {
			videos[cam] = &mp4Clip{c: c, base: "video/" + camDir(cam)}
			if err := c.leadIn(ctx, videos[cam], cam); err != nil {
				return err
			}
		}
	}
	for sub := c.w.From; sub < c.w.To; sub += subWindow {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(sub+subWindow, c.w.To)
		rows, err := c.readFrames(ctx, sub, end, cams)
		if err != nil {
			return err
		}
		objs := map[objKey][]schema.Object{}
		if labels {
			dmg, err := c.x.d.rows(schema.TableObjects, c.x.l.runName(), sub-1e9, end+1e9, opt.Cameras, func(s schema.Sample) error {
				o := s.(*schema.Object)
				if cams[o.Camera] {
					k := objKey{o.Camera, o.FrameSeq}
					objs[k] = append(objs[k], *o)
				}
				return nil
			})
			c.damage += dmg
			if err != nil {
				return err
			}
		}
		for i := range rows {
			r := &rows[i]
			cam, _ := c.x.d.Camera(r.Camera)
			ref := frameRef{frame: r.Frame, cam: cam, stem: c.stem(r.T)}
			ref.image = "images/" + camDir(r.Camera) + "/" + ref.stem + ".jpg"
			ref.objects = objs[objKey{r.Camera, r.Seq}]
			sortObjects(ref.objects)
			if opt.Images || opt.Video {
				src := filepath.Join(r.seg, r.File)
				data, err := vf.Read(src, r.Offset, r.Size, c.buf)
				if err != nil {
					var ce *drive.CorruptionError
					if errors.As(err, &ce) {
						c.skippedFrames++
						continue
					}
					return err
				}
				c.buf = data[:0]
				if opt.Video {
					if err := c.addLead(videos[r.Camera], vf, r); err != nil {
						return err
					}
					in, err := vf.Init(src)
					if err != nil {
						return err
					}
					file, idx, ok, err := videos[r.Camera].add(r.T, r.Keyframe, data, in)
					if err != nil {
						return err
					}
					if ok {
						ref.video, ref.videoFrame = file, idx
					}
				}
				if opt.Images {
					img := data // MJPEG: the recorded bytes as they are
					if r.Codec != schema.CodecMJPEG {
						if img, err = dec.jpeg(ctx, r.seg, &r.Frame); err != nil {
							return err
						}
					}
					if err := c.writeFile(ref.image, img); err != nil {
						return err
					}
				}
			}
			c.frames++
			if coco != nil {
				if err := coco.frame(&ref, opt.MinScore); err != nil {
					return err
				}
			}
			if c.has(YOLO) {
				if err := c.writeFile("labels/"+camDir(r.Camera)+"/"+ref.stem+".txt", yoloLines(&ref, opt.MinScore, yoloClasses)); err != nil {
					return err
				}
			}
			if c.has(KITTI) {
				if err := c.writeFile("kitti/"+camDir(r.Camera)+"/"+ref.stem+".txt", kittiLines(&ref, opt.MinScore)); err != nil {
					return err
				}
			}
			for i := range ref.objects {
				if ref.objects[i].Score >= opt.MinScore {
					if _, _, ok := clipBox(&ref.objects[i], int(r.Width), int(r.Height)); ok {
						c.annotations++
					}
				}
			}
		}
	}
	for _, cam := range opt.Cameras {
		if v := videos[cam]; v != nil {
			if err := v.finish(); err != nil {
				return err
			}
		}
	}
	if coco != nil {
		if err := coco.close(); err != nil {
			return err
		}
		err := cocoOut.Close()
		cocoOut = nil
		if err != nil {
			return err
		}
	}
	if c.has(YOLO) {
		if err := c.writeFile("data.yaml", yoloDataYAML(yoloClasses)); err != nil {
			return err
		}
	}
	if c.has(KITTI) {
		for _, cam := range opt.Cameras {
			if k, _ := c.x.d.Camera(cam); k.Calibration != nil {
				if err := c.writeFile("kitti/"+camDir(cam)+"/calib.txt", kittiCalib(k.Calibration)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// leadIn finds the frames from the last keyframe before the clip's start (MJPEG
// cameras have only keyframes and need none).
func (c *clipWriter) leadIn(ctx context.Context, m *mp4Clip, cam uint8) error {
	if k, _ := c.x.d.Camera(cam); k.Codec == "mjpeg" {
		return nil
	}
	rows, err := c.readFrames(ctx, c.w.From-maxGOP, c.w.From, map[uint8]bool{cam: true})
	if err != nil {
		return err
	}
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].Keyframe {
			m.lead = rows[i:]
			break
		}
	}
	return nil
}

// addLead adds the lead frames to the clip's MP4 when its first frame (first) is not a
// keyframe, so that the video starts decodable.
func (c *clipWriter) addLead(m *mp4Clip, vf *videofile.Files, first *frameRow) error {
	if m.leadDone {
		return nil
	}
	m.leadDone = true
	if first.Keyframe {
		return nil
	}
	for _, r := range m.lead {
		src := filepath.Join(r.seg, r.File)
		data, err := vf.Read(src, r.Offset, r.Size, nil)
		if err != nil {
			var ce *drive.CorruptionError
			if errors.As(err, &ce) {
				continue
			}
			return err
		}
		in, err := vf.Init(src)
		if err != nil {
			return err
		}
		if _, _, _, err := m.add(r.T, r.Keyframe, data, in); err != nil {
			return err
		}
	}
	return nil
}

// stem names a frame's files: milliseconds since the drive's start, 9 digits.
func (c *clipWriter) stem(t int64) string {
	ms := (t - c.x.d.StartT) / 1e6
	if ms < 0 {
		return fmt.Sprintf("m%09d", -ms)
	}
	return fmt.Sprintf("%09d", ms)
}

// sortObjects orders a frame's objects by track, class and box, so that label files do
// not depend on the order the detector wrote them in.
func sortObjects(o []schema.Object) {
	sort.SliceStable(o, func(i, j int) bool {
		a, b := &o[i], &o[j]
		switch {
		case a.TrackID != b.TrackID:
			return a.TrackID < b.TrackID
		case a.Class != b.Class:
			return a.Class < b.Class
		case a.X1 != b.X1:
			return a.X1 < b.X1
		}
		return a.Y1 < b.Y1
	})
}

// tableSource is one table a clip carries and where its rows come from.
type tableSource struct {
	out   string // file name without extension
	table schema.AnyTable
	run   string // objects, targets and events of this run ("": the drive's own)
}

func (c *clipWriter) tableSources() []tableSource {
	var out []tableSource
	for _, name := range c.x.opt.Tables {
		t, ok := schema.Lookup(name)
		if !ok {
			continue
		}
		ts := tableSource{out: string(name), table: t}
		if name == schema.TableObjects || name == schema.TableTargets {
			ts.run = c.x.l.runName()
		}
		out = append(out, ts)
		if name == schema.TableEvents && c.x.l.Run != LiveRun {
			out = append(out, tableSource{out: "run_events", table: t, run: c.x.l.runName()})
		}
	}
	return out
}

func (c *clipWriter) writeTables(ctx context.Context) error {
	if !c.x.opt.Parquet && !c.x.opt.CSV {
		return nil
	}
	for _, ts := range c.tableSources() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.writeTable(ts); err != nil {
			return fmt.Errorf("table %s: %w", ts.out, err)
		}
	}
	for _, t := range c.x.opt.Tables {
		if t == TableCANDecoded {
			if err := c.writeCANDecoded(); err != nil {
				return fmt.Errorf("table %s: %w", t, err)
			}
		}
	}
	return nil
}

// writeTable streams one table's rows in the window into Parquet and CSV.
func (c *clipWriter) writeTable(ts tableSource) error {
	tw, err := newTableFiles(c, "tables/"+ts.out, ts.table, c.x.opt.Parquet, c.x.opt.CSV)
	if err != nil {
		return err
	}
	a := newAppender(ts.table)
	defer a.release()
	flush := func() error {
		rec := a.batch()
		if rec == nil {
			return nil
		}
		defer rec.Release()
		return tw.write(rec)
	}
	dmg, err := c.x.d.rows(ts.table.TableName(), ts.run, c.w.From, c.w.To, nil, func(s schema.Sample) error {
		if a.add(s) {
			if a.n++; a.n == batchRows {
				return flush()
			}
		}
		return nil
	})
	c.damage += dmg
	if err == nil {
		err = flush()
	}
	if err != nil {
		tw.abort()
		return err
	}
	return tw.close()
}

// writeCalibration writes calibration.json: the chosen cameras with their calibration.
func (c *clipWriter) writeCalibration() error {
	type file struct {
		Frame   string   `json:"frame"`
		Cameras []Camera `json:"cameras"`
	}
	f := file{Frame: "vehicle: x forward, y left, z up (m), origin at the centre of the front bumper on the road; yaw left positive, pitch down positive (deg)"}
	for _, i := range c.x.opt.Cameras {
		cam, _ := c.x.d.Camera(i)
		f.Cameras = append(f.Cameras, cam)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return c.writeFile("calibration.json", append(b, '\n'))
}

// Manifest is clip.json.
type Manifest struct {
	Format       string          `json:"format"`
	Version      int             `json:"version"`
	Name         string          `json:"name"`
	Drive        ManifestDrive   `json:"drive"`
	Window       ManifestWindow  `json:"window"`
	Reasons      []Reason        `json:"reasons"`
	Selection    SelectionRecord `json:"selection"`
	Labels       ManifestLabels  `json:"labels"`
	Software     drive.Software  `json:"software"`
	Settings     Settings        `json:"settings"`
	SettingsHash string          `json:"settings_hash"`
	Counts       ManifestCounts  `json:"counts"`
	Checksums    ManifestSums    `json:"checksums"`
}

// ManifestDrive identifies the source drive.
type ManifestDrive struct {
	ID        string         `json:"id"`
	Vehicle   string         `json:"vehicle"`
	Simulated bool           `json:"simulated"`
	StartT    int64          `json:"start_t"`
	Software  drive.Software `json:"software"` // what recorded it
	Timebase  string         `json:"timebase"`
}

// ManifestWindow is the clip's time range.
type ManifestWindow struct {
	From      int64   `json:"from"`
	To        int64   `json:"to"`
	FromUTC   string  `json:"from_utc"`
	ToUTC     string  `json:"to_utc"`
	Seconds   float64 `json:"seconds"`
	FromDrive float64 `json:"from_drive_s"` // seconds after the drive's start
}

// ManifestLabels says whose labels these are.
type ManifestLabels struct {
	Run    string          `json:"run"`
	Model  json.RawMessage `json:"model,omitempty"`
	Device string          `json:"device,omitempty"`
	Config json.RawMessage `json:"config,omitempty"`
}

// ManifestSums points at SHA256SUMS.
type ManifestSums struct {
	File   string `json:"file"`   // SumsFile
	Files  int64  `json:"files"`  // files it lists (every file but clip.json and itself)
	Bytes  int64  `json:"bytes"`  // their bytes
	SHA256 string `json:"sha256"` // of SHA256SUMS
}

// ManifestCounts are the clip's figures.
type ManifestCounts struct {
	Frames        int64 `json:"frames"`
	Annotations   int64 `json:"annotations"`
	SkippedFrames int64 `json:"skipped_frames"` // frames rows pointing outside their video
	Damage        int64 `json:"damage"`         // damaged parts of the drive's tables skipped
}

func (c *clipWriter) writeManifest() error {
	d := c.x.d
	if err := c.sums.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", SumsFile, err)
	}
	err := c.sumsF.Close()
	c.sumsF = nil
	if err != nil {
		return fmt.Errorf("write %s: %w", SumsFile, err)
	}
	utc := func(t int64) string { return time.Unix(0, t).UTC().Format(time.RFC3339Nano) }
	m := Manifest{Format: ClipFormat, Version: ClipVersion, Name: c.name,
		Drive: ManifestDrive{ID: d.ID(), Vehicle: d.Manifest.Vehicle, Simulated: d.Manifest.Simulated, StartT: d.StartT,
			Software: d.Manifest.Software, Timebase: d.Manifest.Timebase.Kind},
		Window: ManifestWindow{From: c.w.From, To: c.w.To, FromUTC: utc(c.w.From), ToUTC: utc(c.w.To),
			Seconds: float64(c.w.To-c.w.From) / 1e9, FromDrive: float64(c.w.From-d.StartT) / 1e9},
		Reasons: c.w.Reasons, Selection: c.x.opt.Selection,
		Labels:   ManifestLabels{Run: c.x.l.Run, Model: compact(c.x.l.Model), Device: c.x.l.Device, Config: compact(c.x.l.Config)},
		Software: drive.Software{Name: "roadlog", Version: c.x.opt.Software}, Settings: c.x.settings, SettingsHash: c.x.settingsHash,
		Counts:    ManifestCounts{Frames: c.frames, Annotations: c.annotations, SkippedFrames: c.skippedFrames, Damage: c.damage},
		Checksums: ManifestSums{File: SumsFile, Files: c.nfile, Bytes: c.bytes, SHA256: hex.EncodeToString(c.sumsH.Sum(nil))}}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", ClipFile, err)
	}
	w, err := c.x.opt.FS.Create(filepath.Join(c.tmp, ClipFile)) // not listed in SHA256SUMS: it holds that file's hash
	if err != nil {
		return err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", ClipFile, err)
	}
	return w.Close()
}

func compact(r json.RawMessage) json.RawMessage {
	if len(strings.TrimSpace(string(r))) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, r); err != nil {
		return nil
	}
	return json.RawMessage(b.Bytes())
}
