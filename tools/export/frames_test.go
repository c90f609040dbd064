package export

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"roadlog/internal/testdrive"
	"roadlog/schema"
)

// countingFrames counts the reads of each segment's frames table.
type countingFrames struct {
	src frameTable

	mu    sync.Mutex // guards reads
	reads map[string]int
}

func (c *countingFrames) segmentFrames(seg string) ([]schema.Frame, error) {
	c.mu.Lock()
	if c.reads == nil {
		c.reads = map[string]int{}
	}
	c.reads[filepath.Base(seg)]++
	c.mu.Unlock()
	return c.src.segmentFrames(seg)
}

// TestExportReadsEachFramesTableOnce exports many short clips with several workers,
// every frame output on (JPEG, MP4 with its lead-in from the keyframe before, labels):
// each segment's frames table is read once, not once per clip, sub-window, camera
// lead-in or H.264 decoder.
func TestExportReadsEachFramesTableOnce(t *testing.T) {
	h264, err := testdrive.Write(t.TempDir(), testdrive.Options{Duration: 5 * time.Second, Segment: 2 * time.Second, H264: true, Live: true})
	if errors.Is(err, testdrive.ErrNoFFmpeg) {
		t.Log(err)
	} else if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		d    func(t testing.TB) *Drive
		clip time.Duration
	}{
		{"codec=mjpeg", testDrive, 700 * time.Millisecond},
		{"codec=h264", func(t testing.TB) *Drive {
			if h264 == nil {
				t.Skip("no ffmpeg to encode the H.264 drive")
			}
			d, err := Open(h264.Dir)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}, 400 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.d(t)
			count := &countingFrames{src: d.frames}
			d.frames = count
			l := labelsOf(t, d, LiveRun)
			var ws []Window
			for from := d.StartT; from < d.EndT; from += int64(c.clip) {
				ws = append(ws, Window{From: from, To: min(from+int64(c.clip), d.EndT), Reasons: []Reason{{Kind: "range"}}})
			}
			opt := Options{Out: t.TempDir(), Images: true, Video: true, Labels: []LabelFormat{YOLO}, Tables: []schema.TableName{}, Workers: 3}
			sum, err := Export(context.Background(), d, l, ws, opt)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Written != len(ws) || sum.Frames == 0 {
				t.Fatalf("%d of %d clips written, %d frames", sum.Written, len(ws), sum.Frames)
			}
			segs, _ := filepath.Glob(filepath.Join(d.Dir, "seg-*"))
			if len(count.reads) != len(segs) || len(segs) < 2 {
				t.Errorf("%d segments read of %d: %v", len(count.reads), len(segs), count.reads)
			}
			for seg, n := range count.reads {
				if n != 1 {
					t.Errorf("%s: frames table read %d times for %d clips, want once", seg, n, len(ws))
				}
			}
		})
	}
}

// fakeFrames serves segments of a given number of rows (seg-N: N rows), counting reads;
// a segment in fail fails its next read; a segment in block waits for the channel to
// close, after closing started.
type fakeFrames struct {
	mu    sync.Mutex // guards the maps
	reads map[string]int
	fail  map[string]bool
	block map[string]chan struct{}

	started chan struct{}
}

var errFake = errors.New("fake read error")

func (f *fakeFrames) segmentFrames(seg string) ([]schema.Frame, error) {
	f.mu.Lock()
	f.reads[seg]++
	fail := f.fail[seg]
	delete(f.fail, seg)
	block := f.block[seg]
	f.mu.Unlock()
	if block != nil {
		close(f.started)
		<-block
	}
	if fail {
		return nil, fmt.Errorf("read %s: %w", seg, errFake)
	}
	var n int
	fmt.Sscanf(seg, "seg-%d", &n)
	return make([]schema.Frame, n), nil
}

// cached lists the segments the cache holds, and checks its row count.
func cached(t *testing.T, c *frameCache) []string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	rows := 0
	for k, s := range c.segs {
		out = append(out, k)
		rows += len(s.rows)
	}
	if rows != c.rows {
		t.Errorf("the cache counts %d rows, holds %d", c.rows, rows)
	}
	sort.Strings(out)
	return out
}

func TestFrameCacheKeepsRecentSegmentsWithinItsBound(t *testing.T) {
	ctx := context.Background()
	f := &fakeFrames{reads: map[string]int{}, fail: map[string]bool{}}
	c := newFrameCache(f, 100)
	steps := []struct {
		get   string
		reads int      // reads of that segment so far
		held  []string // what the cache holds after
	}{
		{"seg-40", 1, []string{"seg-40"}},
		{"seg-50", 1, []string{"seg-40", "seg-50"}},
		{"seg-40", 1, []string{"seg-40", "seg-50"}},          // held: no read
		{"seg-30", 1, []string{"seg-30", "seg-40"}},          // 120 rows > 100: seg-50, least recently used, goes
		{"seg-50", 2, []string{"seg-30", "seg-50"}},          // read again; seg-40 goes
		{"seg-200", 1, []string{"seg-200"}},                  // larger than the bound: kept alone
		{"seg-0", 1, []string{"seg-0"}},                      // seg-200 goes
		{"seg-30", 2, []string{"seg-0", "seg-30"}},           //
		{"seg-70", 1, []string{"seg-0", "seg-30", "seg-70"}}, // exactly 100
	}
	for i, s := range steps {
		rows, err := c.get(ctx, s.get)
		var n int
		fmt.Sscanf(s.get, "seg-%d", &n)
		if err != nil || len(rows) != n {
			t.Fatalf("step %d: get %s: %d rows, %v", i, s.get, len(rows), err)
		}
		if f.reads[s.get] != s.reads {
			t.Errorf("step %d: %s read %d times, want %d", i, s.get, f.reads[s.get], s.reads)
		}
		if got := cached(t, c); fmt.Sprint(got) != fmt.Sprint(s.held) {
			t.Errorf("step %d: the cache holds %v, want %v", i, got, s.held)
		}
	}
}

func TestFrameCacheRetriesAFailedRead(t *testing.T) {
	ctx := context.Background()
	f := &fakeFrames{reads: map[string]int{}, fail: map[string]bool{"seg-5": true}}
	c := newFrameCache(f, 100)
	if _, err := c.get(ctx, "seg-5"); !errors.Is(err, errFake) {
		t.Fatalf("first get: %v, want the read's error", err)
	}
	if held := cached(t, c); len(held) != 0 {
		t.Errorf("a failed read is held: %v", held)
	}
	if rows, err := c.get(ctx, "seg-5"); err != nil || len(rows) != 5 || f.reads["seg-5"] != 2 {
		t.Fatalf("second get: %d rows, %v after %d reads, want 5 rows after 2", len(rows), err, f.reads["seg-5"])
	}
}

// TestFrameCacheWaiterCancelled: a get that waits for another's read of the segment
// returns when its context ends; the read still completes for the others.
func TestFrameCacheWaiterCancelled(t *testing.T) {
	release := make(chan struct{})
	f := &fakeFrames{reads: map[string]int{}, fail: map[string]bool{}, block: map[string]chan struct{}{"seg-3": release},
		started: make(chan struct{})}
	c := newFrameCache(f, 100)
	done := make(chan error)
	go func() {
		rows, err := c.get(context.Background(), "seg-3")
		if err == nil && len(rows) != 3 {
			err = fmt.Errorf("%d rows, want 3", len(rows))
		}
		done <- err
	}()
	<-f.started // the first get is reading
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.get(ctx, "seg-3"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rows, err := c.get(context.Background(), "seg-3"); err != nil || len(rows) != 3 || f.reads["seg-3"] != 1 {
		t.Errorf("after the read: %d rows, %v, %d reads; want 3 rows from one read", len(rows), err, f.reads["seg-3"])
	}
}
