package rerun

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/detect/pipeline"
	"roadlog/record/drive"
	"roadlog/replay"
	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if simDir != "" {
			os.RemoveAll(simDir)
		}
	}))
}

var (
	simOnce sync.Once
	simDir  string
	simPath string
	simErr  error
)

// simDrive is a 16 s simulated drive (the lead car brakes hard from 9 s: FCW),
// recorded once for the package.
func simDrive(t testing.TB) string {
	if t != nil {
		t.Helper()
	}
	simOnce.Do(func() {
		simDir, simErr = os.MkdirTemp("", "rerun-test-")
		if simErr == nil {
			simPath, simErr = testdrive.SimDrive(simDir, testdrive.SimSpec{Duration: 16 * time.Second, Cameras: 4, Width: 640, Height: 360})
		}
	})
	if simErr != nil {
		panic(simErr)
	}
	return simPath
}

// copyDrive copies a drive so that a test can add runs to it.
func copyDrive(t *testing.T, src string) *replay.Drive { return copyDriveB(t, src) }

func copyDriveB(t testing.TB, src string) *replay.Drive {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	d, err := replay.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkingDetector is the truth detector, checking what it is given: every frame
// set holds the frames the drive has for its instant (perSet, from the frames table;
// the recorder may have dropped some under load).
type checkingDetector struct {
	t      *testing.T
	perSet map[int64]int
	images bool
	sets   int
	lastT  int64
	inner  Detector
}

// truth is the truth-fed perception of d.
func truth(t testing.TB, d *replay.Drive) Perception {
	t.Helper()
	p, err := Select(d, ModelTruth, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// framesPerSet counts the frames of each instant in the drive (cameras nil: all).
func framesPerSet(t *testing.T, d *replay.Drive, cams []uint8, from, to int64) map[int64]int {
	t.Helper()
	r, err := d.NewReader(replay.Options{Tables: []schema.TableName{schema.TableFrames}, NoVideoData: true, Cameras: cams, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[int64]int{}
	for {
		s, err := r.Next()
		if err != nil {
			return out
		}
		out[s.(*schema.Frame).T]++
	}
}

func (c *checkingDetector) Detect(ctx context.Context, fs *FrameSet) ([]Detection, error) {
	c.sets++
	if fs.T <= c.lastT {
		c.t.Errorf("frame set at %d after %d", fs.T, c.lastT)
	}
	c.lastT = fs.T
	if len(fs.Frames) != c.perSet[fs.T] {
		c.t.Errorf("frame set at %d has %d frames, the drive %d", fs.T, len(fs.Frames), c.perSet[fs.T])
	}
	for _, f := range fs.Frames {
		if c.images {
			if f.Image == nil || f.Image.Bounds().Dx() != f.Width || f.Width == 0 {
				c.t.Errorf("frame %d of camera %d: image %v, size %dx%d", f.Seq, f.Camera, f.Image != nil, f.Width, f.Height)
			}
		} else if f.Image != nil {
			c.t.Errorf("decoded an image nobody needs")
		}
	}
	for _, tr := range fs.Truth {
		if tr.T != fs.T {
			c.t.Errorf("truth row at %d in the frame set at %d", tr.T, fs.T)
		}
	}
	return c.inner.Detect(ctx, fs)
}

func TestRunIsDeterministic(t *testing.T) {
	d := copyDrive(t, simDrive(t))
	runA, err := Run(context.Background(), d, Options{RunID: "a", Perception: truth(t, d), Software: drive.Software{Name: "roadlog", Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	p := truth(t, d)
	perSet := framesPerSet(t, d, nil, 0, 0)
	frames := 0
	for _, n := range perSet {
		frames += n
	}
	det := &checkingDetector{t: t, perSet: perSet, inner: p.Detector}
	p.Detector = det
	runB, err := Run(context.Background(), d, Options{RunID: "b", Perception: p, FlushSets: 30})
	if err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []schema.TableName{schema.TableObjects, schema.TableTargets, schema.TableEvents} {
		a, err := os.ReadFile(filepath.Join(d.Dir, "runs", "a", drive.TableFile(tbl)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(d.Dir, "runs", "b", drive.TableFile(tbl)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs between two runs of the same drive", tbl)
		}
	}
	if runA.Stats.FrameSets != int64(len(perSet)) || runA.Stats.Frames != int64(frames) || det.sets != len(perSet) || len(perSet) < 470 {
		t.Fatalf("stats %+v, detector saw %d sets: want %d frame sets of %d frames", runA.Stats, det.sets, len(perSet), frames)
	}
	if runA.Stats.Objects == 0 || runA.Stats.Targets != int64(len(perSet)) || runA.Tables["objects"].Rows != runA.Stats.Objects {
		t.Fatalf("stats %+v tables %+v", runA.Stats, runA.Tables)
	}
	// every figure but the wall-clock ones is a function of the drive and the detector
	sa, sb := runA.Stats, runB.Stats
	sa.WallSeconds, sa.RealTime, sa.FramesPerSec = 0, 0, 0
	sb.WallSeconds, sb.RealTime, sb.FramesPerSec = 0, 0, 0
	if sa != sb {
		t.Fatalf("two runs differ: %+v vs %+v", runA.Stats, runB.Stats)
	}
	// the lead car brakes from 9 s: the run warns
	at, ev, err := d.NextEvent(0, "a", schema.EvFCW)
	if err != nil || ev == nil {
		t.Fatalf("no FCW in the run: %v", err)
	}
	if s := float64(at-d.StartT()) / 1e9; s < 9 || s > 16 {
		t.Fatalf("FCW at %.2fs, want after the lead brakes at 9 s", s)
	}
	// the recorded data is untouched and the run is listed
	runs, err := d.Runs()
	if err != nil || len(runs) != 2 || runs[0] != "a" || runs[1] != "b" {
		t.Fatalf("runs %v %v", runs, err)
	}
	info, err := ReadInfo(filepath.Join(d.Dir, "runs", "a"))
	if err != nil || info.Model.Name != "truth" || info.Software.Version != "test" || info.DriveID != d.ID() {
		t.Fatalf("run.json %+v %v", info, err)
	}
	rep, err := drive.Verify(d.Dir)
	if err != nil || !rep.OK() {
		t.Fatalf("drive no longer verifies after the runs: %v %+v", err, rep)
	}
}

func TestRunDecodesImages(t *testing.T) {
	d := copyDrive(t, simDrive(t))
	p := truth(t, d)
	from := d.StartT() + int64(2*time.Second)
	det := &checkingDetector{t: t, perSet: framesPerSet(t, d, []uint8{0, 2}, from, from+int64(time.Second)), images: true, inner: p.Detector}
	p.Detector, p.NeedImages = det, true
	info, err := Run(context.Background(), d, Options{RunID: "img", Perception: p, Cameras: []uint8{0, 2},
		From: from, To: from + int64(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if info.Stats.DecodeErrors != 0 || info.Stats.FrameSets < 29 || info.Stats.FrameSets > 31 {
		t.Fatalf("stats %+v", info.Stats)
	}
}

func TestRunBadInput(t *testing.T) {
	d := copyDrive(t, simDrive(t))
	if _, err := Run(context.Background(), d, Options{RunID: "../x", Perception: truth(t, d)}); !errors.Is(err, ErrBadRunID) {
		t.Fatalf("run id with a path: %v", err)
	}
	if _, err := Run(context.Background(), d, Options{RunID: "x", Perception: truth(t, d), To: d.StartT() + 1e8}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), d, Options{RunID: "x", Perception: truth(t, d)}); !errors.Is(err, ErrRunExists) {
		t.Fatalf("same run id twice: %v", err)
	}
	// a cancelled run leaves nothing behind
	ctx, cancel := context.WithCancel(context.Background())
	p := truth(t, d)
	n := 0
	p.Detector = detectorFunc(func(ctx context.Context, fs *FrameSet) ([]Detection, error) {
		if n++; n == 10 {
			cancel()
		}
		return nil, nil
	})
	if _, err := Run(ctx, d, Options{RunID: "cancelled", Perception: p}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(d.Dir, "runs"))
	for _, e := range ents {
		if e.Name() != "x" {
			t.Fatalf("left behind in runs/: %s", e.Name())
		}
	}
	// a detector failure stops the run with its error
	p.Detector = detectorFunc(func(context.Context, *FrameSet) ([]Detection, error) { return nil, errBoom })
	if _, err := Run(context.Background(), d, Options{RunID: "boom", Perception: p}); !errors.Is(err, errBoom) {
		t.Fatalf("failing detector: %v", err)
	}
}

var errBoom = errors.New("boom")

type detectorFunc func(ctx context.Context, fs *FrameSet) ([]Detection, error)

func (f detectorFunc) Detect(ctx context.Context, fs *FrameSet) ([]Detection, error) {
	return f(ctx, fs)
}

// setsDetector takes several frame sets per call, delegating each to inner; it checks
// that a group's sets come in the drive's order and fails one frame of set number bad.
type setsDetector struct {
	t      *testing.T
	inner  Detector
	calls  int
	sizes  map[int]int // sets per call -> calls
	lastT  int64
	seen   int
	badSet int
}

func (s *setsDetector) Detect(ctx context.Context, fs *FrameSet) ([]Detection, error) {
	d, errs := s.DetectSets(ctx, []*FrameSet{fs})
	return d[0], errs[0]
}

func (s *setsDetector) DetectSets(ctx context.Context, sets []*FrameSet) ([][]Detection, []error) {
	s.calls++
	s.sizes[len(sets)]++
	dets, errs := make([][]Detection, len(sets)), make([]error, len(sets))
	for i, fs := range sets {
		if fs.T <= s.lastT {
			s.t.Errorf("set at %d after the set at %d", fs.T, s.lastT)
		}
		s.lastT = fs.T
		s.seen++
		dets[i], errs[i] = s.inner.Detect(ctx, fs)
		if s.seen == s.badSet {
			errs[i] = &pipeline.FrameError{Camera: fs.Frames[0].Camera, Seq: fs.Frames[0].Seq, Err: errBoom}
		}
	}
	return dets, errs
}

func TestRunGroupsSetsPerCall(t *testing.T) {
	d := copyDrive(t, simDrive(t))
	if _, err := Run(context.Background(), d, Options{RunID: "one", Perception: truth(t, d)}); err != nil {
		t.Fatal(err)
	}
	p := truth(t, d)
	sd := &setsDetector{t: t, inner: p.Detector, sizes: map[int]int{}}
	p.Detector, p.SetsPerCall = sd, 5
	info, err := Run(context.Background(), d, Options{RunID: "five", Perception: p})
	if err != nil {
		t.Fatal(err)
	}
	if sd.sizes[5] < 90 || int64(sd.seen) != info.Stats.FrameSets {
		t.Fatalf("calls by size %v, %d sets seen, stats %+v", sd.sizes, sd.seen, info.Stats)
	}
	for _, tbl := range []schema.TableName{schema.TableObjects, schema.TableTargets, schema.TableEvents} {
		a, _ := os.ReadFile(filepath.Join(d.Dir, "runs", "one", drive.TableFile(tbl)))
		b, _ := os.ReadFile(filepath.Join(d.Dir, "runs", "five", drive.TableFile(tbl)))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s: five sets per call differ from one (%d vs %d bytes)", tbl, len(a), len(b))
		}
	}
	// a frame the detector cannot read is an event; the run goes on
	p = truth(t, d)
	sd = &setsDetector{t: t, inner: p.Detector, sizes: map[int]int{}, badSet: 42}
	p.Detector, p.SetsPerCall = sd, 3
	info, err = Run(context.Background(), d, Options{RunID: "bad", Perception: p})
	if err != nil {
		t.Fatal(err)
	}
	if info.Stats.DecodeErrors != 1 || info.Stats.FrameSets != int64(sd.seen) {
		t.Fatalf("stats %+v", info.Stats)
	}
	_, ev, err := d.NextEvent(0, "bad", schema.EvVideoError)
	if err != nil || ev == nil || !strings.Contains(ev.Message, "boom") {
		t.Fatalf("no event for the bad frame: %+v %v", ev, err)
	}
}
