package ring

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"go.uber.org/goleak"

	"roadlog/acquire/sim"
	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// followClock is a reference clock that reads the newest t the simulated rig has
// published: the simulation runs faster than the wall clock, and the recorder's own
// events (start, stop, marks) must fall on the simulation's time.
type followClock struct{ t atomic.Int64 }

func (c *followClock) Ref(int64) int64 { return c.t.Load() }

// at is a scripted event at a simulation time (seconds).
type at struct {
	s    float64
	code schema.EventCode // or 0 for a driver mark through Ring.Mark
}

// script forwards the rig's samples to the live engine, advances the clock, and
// publishes the scripted triggers when the simulation passes their time.
type script struct {
	sink  schema.Sink
	clock *followClock
	t0    int64
	ring  *Ring
	mu    gosync.Mutex // guards todo (cameras publish from goroutines of their own)
	todo  []at
}

func (s *script) Publish(x schema.Sample) {
	t := record.SampleTime(x)
	if t > s.clock.t.Load() {
		s.clock.t.Store(t)
	}
	s.sink.Publish(x)
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.todo) > 0 && t >= s.t0+int64(s.todo[0].s*1e9) {
		a := s.todo[0]
		s.todo = s.todo[1:]
		if a.code == 0 {
			s.ring.Mark("cut_in", "scripted mark", "web")
			continue
		}
		ev := schema.NewEvent(t, a.code, schema.SevWarn, "adas", "scripted "+a.code.String())
		s.sink.Publish(ev)
	}
}

type ringRun struct {
	root  string
	t0    int64
	ring  *Ring
	live  *record.Engine
	stats Stats
}

// runRing plays dur of the simulated drive (4 cameras, as fast as the machine
// manages ×5) through a live engine into ring capture with the scripted triggers.
func runRing(t *testing.T, dur time.Duration, triggers []at, opt Options) *ringRun {
	t.Helper()
	root := t.TempDir()
	clock := &followClock{}
	t0 := int64(1_800_000_000) * 1e9
	clock.t.Store(t0)
	live, err := record.New(record.Options{Root: filepath.Join(root, "unused"), Timebase: clock, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	opt.Feed = live
	opt.Engine = record.Options{Root: root, Vehicle: "ring", Timebase: clock, FlushInterval: 100 * time.Millisecond,
		MinFreeBytes: 1 << 20, Log: quiet(), Simulated: true}
	opt.Log = quiet()
	rg, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	rig, err := sim.New(sim.Config{Cameras: 4, Width: 160, Height: 96, FPS: 10, Speed: 5, Duration: dur, Start: t0, Timebase: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- rg.Run(ctx) }()
	for !rg.running.Load() {
		time.Sleep(time.Millisecond)
	}
	if err := rig.Run(ctx, &script{sink: live, clock: clock, t0: t0, ring: rg, todo: triggers}); err != nil {
		t.Fatal(err)
	}
	// let the ring take in what is queued, then end (an open window closes)
	for len(rg.cmds) > 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return &ringRun{root: root, t0: t0, ring: rg, live: live, stats: rg.Stats()}
}

// keptWindow is what one kept drive holds.
type keptWindow struct {
	id       string
	minT     int64
	maxT     int64
	imu      int64
	triggers []string // categories of its ring_window events
	starts   []string // input of record_start
	marks    int
}

func kept(t *testing.T, root string) []keptWindow {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []keptWindow
	for _, e := range ents {
		if !e.IsDir() || e.Name() == "unused" {
			continue
		}
		dir := filepath.Join(root, e.Name())
		rep, err := drive.Verify(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			rep.Print(os.Stderr)
			t.Fatalf("kept window %s does not verify", e.Name())
		}
		m, err := drive.ReadManifest(dir)
		if err != nil || !IsWindow(m) || m.Status != drive.StatusClosed {
			t.Fatalf("%s: manifest %v, %v", e.Name(), m, err)
		}
		w := keptWindow{id: e.Name(), minT: 1 << 62, imu: rep.Rows["imu"]}
		segs, _ := drive.Segments(dir)
		for _, s := range segs {
			for _, tbl := range schema.Tables() {
				if tbl.TableName() == schema.TableEvents {
					continue // the recorder's stop event carries the time it stopped
				}
				p := filepath.Join(dir, drive.SegmentDir(s), drive.TableFile(tbl.TableName()))
				_, err := drive.ReadTable(p, func(rec arrowRecord) error {
					for _, v := range timestamps(rec) {
						w.minT, w.maxT = min(w.minT, v), max(w.maxT, v)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err := drive.ReadRows(filepath.Join(dir, drive.SegmentDir(s), "events.arrow"), schema.EventsTable, func(ev *schema.Event) error {
				switch ev.Code {
				case schema.EvRecordPaused:
					w.triggers = append(w.triggers, ev.Category)
				case schema.EvRecordStart:
					w.starts = append(w.starts, ev.Input)
				case schema.EvMark:
					w.marks++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].minT < out[j].minT })
	return out
}

// TestRingKeepsOnlyWindows records 16 s of the simulated drive through ring
// capture with an FCW at 4 s, a driver mark at 9 s, an AEB at 10.5 s (inside the
// mark's window: it extends it) and a cut-in at 14 s (its window is cut by the end).
// Each window is a closed drive that verifies, covering Pre before to Post after its
// triggers, and nothing outside the windows was written.
func TestRingKeepsOnlyWindows(t *testing.T) {
	pre, post := 2*time.Second, 1500*time.Millisecond
	run := runRing(t, 16*time.Second, []at{{4, schema.EvFCW}, {9, 0}, {10.5, schema.EvAEB}, {14, schema.EvCutIn}},
		Options{Pre: pre, Post: post})
	ws := kept(t, run.root)
	if len(ws) != 3 {
		t.Fatalf("%d windows kept, want 3: %+v", len(ws), ws)
	}
	sec := func(x float64) int64 { return run.t0 + int64(x*1e9) }
	const slack = int64(50 * time.Millisecond) // one sample period and the stop event
	want := []struct {
		from, to float64
		triggers string
		start    string
		marks    int
	}{
		{2, 5.5, "fcw", "auto", 0},
		{7, 12, "mark", "web", 1}, // the AEB at 10.5 s extends the mark's window to 12 s
		{12, 15.5, "cut_in", "auto", 0},
	}
	var imu int64
	for i, w := range ws {
		wnt := want[i]
		if w.minT < sec(wnt.from)-slack || w.minT > sec(wnt.from)+slack {
			t.Errorf("window %d starts at %.3f s, want %.1f s", i, float64(w.minT-run.t0)/1e9, wnt.from)
		}
		if w.maxT > sec(wnt.to)+slack || w.maxT < sec(wnt.to)-slack {
			t.Errorf("window %d ends at %.3f s, want %.1f s", i, float64(w.maxT-run.t0)/1e9, wnt.to)
		}
		if strings.Join(w.triggers, ",") != wnt.triggers || strings.Join(w.starts, ",") != wnt.start || w.marks != wnt.marks {
			t.Errorf("window %d: triggers %v starts %v marks %d", i, w.triggers, w.starts, w.marks)
		}
		imu += w.imu
	}
	// nothing outside the windows: the 1 kHz IMU holds exactly the windows' time
	if inWindows := int64((3.5 + 5 + 3.5) * 1000); imu < inWindows-30 || imu > inWindows+30 {
		t.Errorf("%d IMU rows kept, want about %d (the windows only)", imu, inWindows)
	}
	if s := run.stats; s.Kept != 3 || s.TapDropped != 0 || s.Overflow != 0 || s.FailedWindows != 0 || s.WindowOpen {
		t.Errorf("stats %+v", s)
	}
}

// TestRingMemoryBound caps the buffer below what Pre needs: the buffer never holds
// more than the cap (plus one sample), the pre-roll is shortened and says so, and
// the window still verifies.
func TestRingMemoryBound(t *testing.T) {
	const limit = 256 << 10
	run := runRing(t, 6*time.Second, []at{{4, schema.EvFCW}}, Options{Pre: 3 * time.Second, Post: time.Second, MaxBufferBytes: limit})
	s := run.stats
	if s.MaxBufferedBytes > limit+64<<10 || s.MaxBufferedBytes < limit/2 {
		t.Errorf("buffer held up to %d bytes with a %d byte cap", s.MaxBufferedBytes, limit)
	}
	if s.Overflow == 0 {
		t.Error("no overflow counted although Pre does not fit the cap")
	}
	ws := kept(t, run.root)
	if len(ws) != 1 {
		t.Fatalf("%d windows", len(ws))
	}
	if from := float64(ws[0].minT-run.t0) / 1e9; from <= 1.05 || from >= 4 {
		t.Errorf("window starts at %.2f s: the cap should have cut the 3 s pre-roll short", from)
	}
}

// TestRingDiskBound keeps many windows under a small disk budget: the oldest are
// deleted, the newest stay, and the kept windows stay within the budget plus the
// last one.
func TestRingDiskBound(t *testing.T) {
	var triggers []at
	for s := 1.5; s < 12; s += 1.5 {
		triggers = append(triggers, at{s, schema.EvCutIn})
	}
	const budget = 1 << 20
	run := runRing(t, 12*time.Second, triggers, Options{Pre: 500 * time.Millisecond, Post: 500 * time.Millisecond, MaxDiskBytes: budget})
	ws := kept(t, run.root)
	s := run.stats
	if s.Kept != int64(len(triggers)) || s.Deleted == 0 || int64(len(ws)) != s.Kept-s.Deleted {
		t.Fatalf("kept %d, deleted %d, on disk %d, triggers %d", s.Kept, s.Deleted, len(ws), len(triggers))
	}
	var total, last int64
	for _, w := range ws {
		n := dirSize(filepath.Join(run.root, w.id))
		total += n
		last = n
	}
	if total > budget+last {
		t.Errorf("%d bytes kept with a %d byte budget (last window %d)", total, budget, last)
	}
	// the newest window is among those kept
	if ws[len(ws)-1].minT < run.t0+int64(10*time.Second) {
		t.Errorf("the newest window is gone")
	}
}

// TestRingByHand opens a window by hand (Start), marks inside it, and closes it with
// Stop; bad commands get the recorder's errors.
func TestRingByHand(t *testing.T) {
	root := t.TempDir()
	live, err := record.New(record.Options{Root: filepath.Join(root, "unused"), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	rg, err := New(Options{Feed: live, Engine: record.Options{Root: root, Vehicle: "ring", Log: quiet(), FlushInterval: 100 * time.Millisecond, MinFreeBytes: 1 << 20},
		Pre: time.Second, Post: time.Second, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rg.Start("api"); err != ErrNotRunning {
		t.Fatalf("start before Run: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- rg.Run(ctx) }()
	for !rg.running.Load() {
		time.Sleep(time.Millisecond)
	}
	if _, err := rg.Stop("x", "api"); err != record.ErrNotRecording {
		t.Fatalf("stop while idle: %v", err)
	}
	feed := func(n int) {
		for range n {
			live.Publish(&schema.CAN{T: live.Now(), Bus: "pt", ID: 1, DLC: 1, Data: []byte{1}})
			time.Sleep(time.Millisecond)
		}
	}
	feed(50)
	d, err := rg.Start("web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rg.Start("web"); err != record.ErrRecording {
		t.Fatalf("double start: %v", err)
	}
	feed(50)
	if err := rg.Mark("interesting", "by hand", "api"); err != nil {
		t.Fatal(err)
	}
	feed(50)
	sum, err := rg.Stop("done", "web")
	if err != nil {
		t.Fatal(err)
	}
	if sum.ID != d.ID || rg.State() != record.Idle || rg.LastSummary() != sum {
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			t.Log(e.Name())
		}
		t.Fatalf("summary %+v, d %s, state %v, last %+v", sum, d.ID, rg.State(), rg.LastSummary())
	}
	cancel()
	<-done
	ws := kept(t, root)
	if len(ws) != 1 || ws[0].marks != 1 || strings.Join(ws[0].starts, ",") != "web" || strings.Join(ws[0].triggers, ",") != "start" {
		t.Fatalf("kept %+v", ws)
	}
	if sum.Rows["can"] < 140 {
		t.Fatalf("%d CAN rows: the pre-roll or the window lost frames", sum.Rows["can"])
	}
}

type arrowRecord = arrow.RecordBatch

// timestamps returns the t column (the first of every table) of a record batch.
func timestamps(rec arrow.RecordBatch) []int64 {
	col, ok := rec.Column(0).(*array.Timestamp)
	if !ok {
		return nil
	}
	out := make([]int64, 0, col.Len())
	for _, v := range col.TimestampValues() {
		out = append(out, int64(v))
	}
	return out
}
