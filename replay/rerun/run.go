package rerun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"roadlog/detect/pipeline"
	"roadlog/record/drive"
	"roadlog/record/videoread"
	"roadlog/replay"
	"roadlog/schema"
)

// Options configure a run.
type Options struct {
	RunID      string // default: <UTC start>_<model name>
	Perception Perception
	Software   drive.Software
	From, To   int64   // reference-time range (0: open)
	Cameras    []uint8 // cameras to detect on (nil: all)
	// FlushSets is how many frame sets go into one record batch (default 30).
	FlushSets int
	// Decoders run this many frames' decoding at once (default GOMAXPROCS).
	Decoders int
	// Progress, when set, is called after every frame set from the run's goroutine.
	Progress func(Stats)
	// Now is the wall clock (for run.json and the rate figures); default time.Now.
	Now func() time.Time
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Run re-runs perception over drive d and writes runs/<run-id>/. The run is written
// into a hidden folder and renamed into place at the end, so a failed or cancelled
// run leaves no half run behind.
func Run(ctx context.Context, d *replay.Drive, opt Options) (*Info, error) {
	p := opt.Perception
	if p.Detector == nil || p.Pipeline == nil {
		return nil, errors.New("rerun: no detector or pipeline")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.FlushSets <= 0 {
		opt.FlushSets = 30
	}
	if opt.Decoders <= 0 {
		opt.Decoders = runtime.GOMAXPROCS(0)
	}
	start := opt.Now()
	if opt.RunID == "" {
		opt.RunID = start.UTC().Format("20060102T150405Z") + "_" + sanitize(p.Model.Name)
	}
	if !runIDPattern.MatchString(opt.RunID) {
		return nil, fmt.Errorf("rerun %q: %w (letters, digits, '.', '_', '-'; not starting with a dot)", opt.RunID, ErrBadRunID)
	}
	runs := filepath.Join(d.Dir, drive.RunsDir)
	final := filepath.Join(runs, opt.RunID)
	if _, err := os.Stat(final); err == nil {
		return nil, fmt.Errorf("rerun %s: %w", final, ErrRunExists)
	}
	tmp := filepath.Join(runs, "."+opt.RunID+".partial")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("rerun: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("rerun: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	w, err := newRunWriter(tmp)
	if err != nil {
		return nil, err
	}
	info := &Info{RunID: opt.RunID, DriveID: d.ID(), Created: start.UTC().Format(time.RFC3339), Software: opt.Software,
		Model: p.Model, Device: p.Device, From: opt.From, To: opt.To, Cameras: opt.Cameras}
	if p.Config != nil {
		if info.Config, err = json.Marshal(p.Config); err != nil {
			w.abort()
			return nil, fmt.Errorf("rerun: encode config: %w", err)
		}
	}
	if p.Close != nil {
		defer p.Close()
	}
	st, err := run(ctx, d, opt, w)
	if err != nil {
		w.abort()
		return nil, err
	}
	if info.Tables, err = w.close(); err != nil {
		return nil, err
	}
	st.WallSeconds = opt.Now().Sub(start).Seconds()
	if st.WallSeconds > 0 {
		st.RealTime = st.MediaSeconds / st.WallSeconds
		st.FramesPerSec = float64(st.Frames) / st.WallSeconds
	}
	info.Stats = st
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rerun: encode %s: %w", InfoFile, err)
	}
	if err := drive.WriteFileAtomic(filepath.Join(tmp, InfoFile), append(b, '\n')); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("rerun: publish run: %w", err)
	}
	if err := drive.SyncDir(runs); err != nil {
		return nil, err
	}
	ok = true
	return info, nil
}

func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '-'
	}, s)
	if s == "" {
		s = "run"
	}
	return s
}

// pendingSet is a frame set being assembled, with where its frames' pictures are.
type pendingSet struct {
	fs     *FrameSet
	frames []source        // parallel to fs.Frames (empty without images)
	pre    []schema.Sample // ego rows and damage events that come before it
	errs   []*schema.Event // decode errors
	seq    int64           // order of the set in the drive
	dets   []Detection     // what the detector found (detect stage)
	detErr error
}

// run reads the drive, assembles frame sets, decodes, detects and writes.
func run(ctx context.Context, d *replay.Drive, opt Options, w *runWriter) (Stats, error) {
	p := opt.Perception
	tables := []schema.TableName{schema.TableFrames, schema.TableEgo, schema.TableTruth}
	// rows are read with NextRow: a frame's bytes are copied only when the run decodes
	// them itself (MJPEG); tables are decoded ahead in the reader's goroutines
	r, err := d.NewReader(replay.Options{Tables: tables, Cameras: opt.Cameras, From: opt.From, To: opt.To, NoVideoData: true, Prefetch: 2})
	if err != nil {
		return Stats{}, err
	}
	defer r.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	group := max(p.SetsPerCall, 1)
	sets := make(chan *pendingSet, 4)
	decoded := make(chan []*pendingSet, 4) // groups of up to SetsPerCall consecutive sets
	var wg sync.WaitGroup
	var readErr, decErr error
	wg.Add(2)
	go func() { // stage 1: assemble frame sets in time order
		defer wg.Done()
		defer close(sets)
		readErr = assemble(ctx, r, p.NeedImages, sets)
	}()
	go func() { // stage 2: decode each set's frames (in parallel within a set)
		defer wg.Done()
		defer close(decoded)
		dec := newDecoders(opt.Decoders)
		dec.jpegDirect = p.JPEG
		defer dec.close()
		var seq int64
		var g []*pendingSet
		send := func() bool {
			if len(g) == 0 {
				return true
			}
			select {
			case decoded <- g:
				g = nil
				return true
			case <-ctx.Done():
				return false
			}
		}
		for ps := range sets {
			ps.seq = seq
			seq++
			if p.NeedImages {
				dec.decode(ctx, ps)
				if dec.fatal != nil {
					decErr = dec.fatal
					cancel()
					return
				}
			}
			if g = append(g, ps); len(g) == group && !send() {
				return
			}
		}
		send()
	}()
	// stage 3: detect — frame sets are independent, so several detectors (GPU
	// pipelines) work on sets in flight at once
	detectors := append([]Detector{p.Detector}, p.More...)
	detected := make(chan *pendingSet, 2*len(detectors)*group)
	var dwg sync.WaitGroup
	for _, det := range detectors {
		dwg.Add(1)
		go func(det Detector) {
			defer dwg.Done()
			for g := range decoded {
				if ctx.Err() == nil {
					detectGroup(ctx, det, g)
				}
				for _, ps := range g {
					select {
					case detected <- ps:
					case <-ctx.Done():
						// keep draining so the stage above finishes
					}
				}
			}
		}(det)
	}
	go func() {
		dwg.Wait()
		close(detected)
	}()
	var st Stats
	var first, last int64
	var procErr error
	waiting := map[int64]*pendingSet{}
	next := int64(0)
	for got := range detected { // stage 4: track, range and write, in the drive's order
		waiting[got.seq] = got
		for {
			ps, ok := waiting[next]
			if !ok {
				break
			}
			delete(waiting, next)
			next++
			if procErr != nil {
				continue // drain so the stages above finish
			}
			procErr = process(ctx, p, ps, w, &st, opt.FlushSets)
			if ps.fs != nil {
				if first == 0 {
					first = ps.fs.T
				}
				last = ps.fs.T
			}
			if procErr != nil {
				cancel()
				continue
			}
			if opt.Progress != nil && ps.fs != nil {
				opt.Progress(st)
			}
		}
	}
	wg.Wait()
	if procErr != nil {
		return st, procErr
	}
	if decErr != nil {
		return st, decErr
	}
	if readErr != nil {
		return st, readErr
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if last > first {
		st.MediaSeconds = float64(last-first) / 1e9
	}
	return st, nil
}

// detectGroup detects the frame sets of a group that hold frames or truth rows: in one
// call when the detector takes several sets, else one by one.
func detectGroup(ctx context.Context, det Detector, g []*pendingSet) {
	var todo []*pendingSet
	for _, ps := range g {
		if ps.fs != nil && (len(ps.fs.Frames) > 0 || len(ps.fs.Truth) > 0) {
			todo = append(todo, ps)
		}
	}
	if sd, ok := det.(pipeline.SetsDetector); ok && len(todo) > 1 {
		fss := make([]*FrameSet, len(todo))
		for i, ps := range todo {
			fss[i] = ps.fs
		}
		dets, errs := sd.DetectSets(ctx, fss)
		for i, ps := range todo {
			ps.dets, ps.detErr = dets[i], errs[i]
		}
		return
	}
	for _, ps := range todo {
		ps.dets, ps.detErr = det.Detect(ctx, ps.fs)
	}
}

// setWindow bounds how far apart the rows of one frame set may be stamped.
const setWindow = 20 * int64(1e6)

// sameTrigger reports whether a frame or truth row (trigger id, t) belongs to set ps:
// the same trigger id when both have one, else the same t.
func sameTrigger(ps *pendingSet, trigger, t int64) bool {
	if trigger >= 0 && ps.fs.TriggerID >= 0 {
		return trigger == ps.fs.TriggerID
	}
	return t == ps.fs.T
}

// source is where a frame's picture comes from: an MJPEG frame's bytes (the run's
// copy), or an H.264/H.265 frame's sample in its video file — the file its frames row
// names in the row's own segment, which record/videoread decodes from the file itself,
// so its bytes are never read here.
type source struct {
	t      int64
	codec  schema.Codec
	data   []byte // MJPEG
	path   string // H.264/H.265 (and codecs without a decoder)
	sample int64
}

// frameSource returns the source of frame row fr (row).
func frameSource(row *replay.Row, fr *schema.Frame) (source, error) {
	src := source{t: fr.T, codec: fr.Codec, sample: fr.Sample}
	if fr.Codec == schema.CodecMJPEG {
		b, err := row.FrameData()
		if err != nil {
			return src, err
		}
		src.data = append([]byte(nil), b...) // decoded later, in another goroutine
		return src, nil
	}
	var err error
	src.path, err = row.FramePath()
	return src, err
}

// assemble groups frames by trigger (by instant when a frame has none) with the
// truth rows of that instant, and passes ego rows and damage events along in order.
// With images each frame comes with its source; a frame whose bytes are not in its
// file is left out and the damage of the file reported once, as Reader.Next does.
func assemble(ctx context.Context, r *replay.Reader, images bool, out chan<- *pendingSet) error {
	var cur *pendingSet
	var pre []schema.Sample
	var fr schema.Frame
	reported := map[string]bool{} // video files whose damage was reported
	emit := func(ps *pendingSet) error {
		select {
		case out <- ps:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		row, err := r.NextRow()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		t := row.T()
		// A set is the frames (and truth rows) of one trigger. With real clocks the
		// cameras of one trigger are stamped a little apart, and other rows fall between
		// them: a set ends when another trigger's frame or truth arrives, or when a row
		// comes later than the set's start by more than setWindow.
		if cur != nil && t > cur.fs.T+setWindow {
			if err := emit(cur); err != nil {
				return err
			}
			cur = nil
		}
		var s schema.Sample
		var src source
		switch {
		case replay.ReadRow(row, schema.FramesTable, &fr):
			if !images {
				break
			}
			if src, err = frameSource(row, &fr); err != nil {
				var dmg *replay.DamageError
				if !errors.As(err, &dmg) {
					return err
				}
				// as Next does: the frame is skipped, the damage of its file reported once
				if reported[dmg.Path] {
					continue
				}
				reported[dmg.Path] = true
				s = replay.DamageEvent(schema.TableFrames, t, dmg)
			}
		default:
			if s, err = row.Sample(); err != nil {
				return err
			}
		}
		switch v := s.(type) {
		case nil: // a frame
		case *schema.Truth:
			if cur != nil && !sameTrigger(cur, v.TriggerID, v.T) {
				if err := emit(cur); err != nil {
					return err
				}
				cur = nil
			}
			if cur == nil {
				cur = newSet(v.T, v.TriggerID, &pre)
			}
			cur.fs.Truth = append(cur.fs.Truth, *v)
			continue
		default: // ego rows, damage events
			if cur != nil {
				cur.pre = append(cur.pre, s) // within the set's window: before it
			} else {
				pre = append(pre, s)
			}
			continue
		}
		if cur != nil && !sameTrigger(cur, fr.TriggerID, fr.T) {
			if err := emit(cur); err != nil {
				return err
			}
			cur = nil
		}
		if cur == nil {
			cur = newSet(fr.T, fr.TriggerID, &pre)
		}
		if cur.fs.TriggerID < 0 {
			cur.fs.TriggerID = fr.TriggerID
		}
		cur.fs.Frames = append(cur.fs.Frames, Frame{Camera: fr.Camera, Seq: fr.Seq, Width: int(fr.Width), Height: int(fr.Height)})
		if images {
			cur.frames = append(cur.frames, src)
		}
	}
	if cur != nil {
		if err := emit(cur); err != nil {
			return err
		}
	}
	if len(pre) > 0 {
		return emit(&pendingSet{pre: pre})
	}
	return nil
}

func newSet(t, trigger int64, pre *[]schema.Sample) *pendingSet {
	ps := &pendingSet{fs: &FrameSet{T: t, TriggerID: trigger}, pre: *pre}
	*pre = nil
	return ps
}

// process runs one frame set through the detector and the pipeline.
func process(ctx context.Context, p Perception, ps *pendingSet, w *runWriter, st *Stats, flush int) error {
	for _, s := range ps.pre {
		switch v := s.(type) {
		case *schema.Ego:
			p.Pipeline.Ego(v)
		case *schema.Event:
			if v.Code == schema.EvReplayDamage {
				st.Damage++
			}
			w.event(v)
			st.Events++
		}
	}
	if ps.fs == nil {
		return nil
	}
	for _, ev := range ps.errs {
		w.event(ev)
		st.Events++
		st.DecodeErrors++
	}
	if len(ps.fs.Frames) == 0 && len(ps.fs.Truth) == 0 {
		return nil
	}
	dets, err := ps.dets, ps.detErr
	if err != nil {
		bad, partial := pipeline.FrameErrors(err)
		if !partial {
			return fmt.Errorf("detect frame set at %d: %w", ps.fs.T, err)
		}
		for _, fe := range bad { // frames the detector could not read: the others count
			ev := schema.NewEvent(ps.fs.T, schema.EvVideoError, schema.SevWarn, fmt.Sprintf("cam%d", fe.Camera),
				fmt.Sprintf("frame %d of camera %d not detected: %v", fe.Seq, fe.Camera, fe.Err))
			ev.Count = 1
			w.event(ev)
			st.Events++
			st.DecodeErrors++
		}
	}
	res := p.Pipeline.Process(ps.fs, dets)
	st.FrameSets++
	st.Frames += int64(len(ps.fs.Frames))
	st.Detections += int64(len(dets))
	for _, o := range res.Objects {
		w.object(o)
		st.Objects++
	}
	if res.Target != nil {
		w.target(res.Target)
		st.Targets++
	}
	for _, ev := range res.Events {
		w.event(ev)
		st.Events++
	}
	if st.FrameSets%int64(flush) == 0 {
		return w.flush()
	}
	return nil
}

// decoders decodes frames: MJPEG in process, H.264/H.265 through record/videoread
// (an ffmpeg decoder per video file, fed in order). A frame set's frames are decoded
// at once, at most n at a time.
type decoders struct {
	jpegDirect bool // hand MJPEG bytes to the detector undecoded
	sem        chan struct{}
	mu         sync.Mutex // guards video
	video      map[string]*videoread.Reader
	fatal      error // the decoder program is missing: the run cannot go on
}

func newDecoders(n int) *decoders {
	return &decoders{sem: make(chan struct{}, n), video: map[string]*videoread.Reader{}}
}

func (d *decoders) close() {
	for p, r := range d.video {
		r.Close()
		delete(d.video, p)
	}
}

// reader returns the video reader of a file, opened by the file's own sample index on
// first use. A file torn by a crash opens with its complete fragments: their frames
// decode, and a frame past them is a decode error of its own (frames whose bytes are
// past the end of the file never get here: assemble leaves them out as damage).
func (d *decoders) reader(path string) (*videoread.Reader, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.video[path]; r != nil {
		return r, nil
	}
	r, err := videoread.OpenFile(path, videoread.Options{})
	if r == nil {
		return nil, err
	}
	d.video[path] = r
	return r, nil
}

func (d *decoders) decodeOne(ctx context.Context, src *source) (image.Image, error) {
	if src.codec == schema.CodecMJPEG {
		img, err := jpeg.Decode(bytes.NewReader(src.data))
		if err != nil {
			return nil, fmt.Errorf("decode jpeg: %w", err)
		}
		return img, nil
	}
	if src.codec != schema.CodecH264 && src.codec != schema.CodecH265 {
		return nil, fmt.Errorf("decode %v frame: %w", src.codec, ErrNoDecoder)
	}
	r, err := d.reader(src.path)
	if err != nil {
		return nil, err
	}
	return r.Decode(ctx, int(src.sample))
}

func (d *decoders) decode(ctx context.Context, ps *pendingSet) {
	if ps.fs == nil {
		return
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ps.frames))
	for i := range ps.frames {
		src := &ps.frames[i]
		if d.jpegDirect && src.codec == schema.CodecMJPEG {
			ps.fs.Frames[i].JPEG = src.data // the detector decodes JPEG itself (nvJPEG on the GPU)
			continue
		}
		wg.Add(1)
		d.sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-d.sem }()
			img, err := d.decodeOne(ctx, src)
			if err != nil {
				errs[i] = err
				return
			}
			ps.fs.Frames[i].Image = img
			if b := img.Bounds(); ps.fs.Frames[i].Width == 0 {
				ps.fs.Frames[i].Width, ps.fs.Frames[i].Height = b.Dx(), b.Dy()
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		if errors.Is(err, videoread.ErrNoFFmpeg) {
			d.fatal = fmt.Errorf("decode frames: %w", err)
			return
		}
		f := ps.fs.Frames[i]
		ev := schema.NewEvent(ps.frames[i].t, schema.EvVideoError, schema.SevWarn, fmt.Sprintf("cam%d", f.Camera),
			fmt.Sprintf("frame %d of camera %d not decoded: %v", f.Seq, f.Camera, err))
		ev.Count = 1
		ps.errs = append(ps.errs, ev)
	}
	ps.frames = nil // the payloads are done with
}

// ReadInfo reads a run's run.json.
func ReadInfo(dir string) (*Info, error) {
	b, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		return nil, fmt.Errorf("read run info: %w", err)
	}
	info := new(Info)
	if err := json.Unmarshal(b, info); err != nil {
		return nil, &drive.CorruptionError{Path: filepath.Join(dir, InfoFile), Offset: 0, Err: err}
	}
	return info, nil
}
