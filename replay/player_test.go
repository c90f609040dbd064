package replay

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// fakeClock is a Clock whose time moves only when the player waits on it (or a test
// consumer spends time): pacing becomes exact arithmetic.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openTest(t *testing.T, spec testdrive.Spec) (*testdrive.Drive, *Drive) {
	t.Helper()
	td, err := testdrive.Write(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(td.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return td, d
}

type collect struct {
	mu sync.Mutex
	ss []schema.Sample
	fn func(schema.Sample)
}

func (c *collect) Publish(s schema.Sample) {
	c.mu.Lock()
	c.ss = append(c.ss, s)
	c.mu.Unlock()
	if c.fn != nil {
		c.fn(s)
	}
}

func TestPacingIsExact(t *testing.T) {
	td, d := openTest(t, testdrive.Spec{Seed: 21, Segments: 2})
	for _, rate := range []float64{0.1, 1, 2.5, 100} {
		r, err := d.NewReader(Options{})
		if err != nil {
			t.Fatal(err)
		}
		clk := newFakeClock()
		start := clk.Now()
		var out collect
		p, err := NewPlayer(r, &out, PlayerOptions{Rate: rate, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.Close()
		first, last := sampleT(out.ss[0]), sampleT(out.ss[len(out.ss)-1])
		want := time.Duration(float64(last-first) / rate)
		if got := clk.Now().Sub(start); got < want-time.Microsecond || got > want+time.Microsecond {
			t.Fatalf("rate %v: played %v of media in %v, want %v", rate, time.Duration(last-first), got, want)
		}
		st := p.Status()
		if !st.Done || st.Behind != 0 || st.Samples != int64(len(out.ss)) {
			t.Fatalf("rate %v: status %+v", rate, st)
		}
		if st.Achieved < rate*0.999 || st.Achieved > rate*1.001 {
			t.Fatalf("rate %v: achieved %v", rate, st.Achieved)
		}
		sameKeys(t, keys(out.ss), expected(td, nil))
	}
	if _, err := NewPlayer(nil, nil, PlayerOptions{Rate: 200}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("rate 200: %v, want ErrBadOptions", err)
	}
}

// A consumer that needs more time per frame than the frames are apart slows the
// whole replay down: nothing is skipped, the order holds, the achieved rate says so.
func TestSlowConsumerSlowsReplayUniformly(t *testing.T) {
	td, d := openTest(t, testdrive.Spec{Seed: 22, Segments: 2, FPS: 10})
	r, err := d.NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	clk := newFakeClock()
	var out collect
	out.fn = func(s schema.Sample) {
		if _, ok := s.(*schema.VideoFrame); ok {
			clk.advance(150 * time.Millisecond) // 10 fps × 2 cameras: 300 ms of work per 100 ms of media
		}
	}
	p, err := NewPlayer(r, &out, PlayerOptions{Rate: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkOrdered(t, out.ss)
	sameKeys(t, keys(out.ss), expected(td, nil))
	st := p.Status()
	// per 100 ms of media: 100 ms of schedule plus 300 ms inside Publish
	if st.Behind <= 0 || st.Achieved < 0.24 || st.Achieved > 0.26 {
		t.Fatalf("status %+v: want the replay slowed to a quarter of real time", st)
	}
}

// A bounded queue in front of a stalled consumer: the player waits for room rather
// than letting the queue drop.
func TestQueueBackpressure(t *testing.T) {
	td, d := openTest(t, testdrive.Spec{Seed: 23, Segments: 1})
	r, err := d.NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []schema.Sample
	gate := make(chan struct{})
	q := NewQueue(4, func(s schema.Sample) {
		if len(got) == 10 {
			<-gate // the consumer stalls for a while
		}
		got = append(got, s)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	p, err := NewPlayer(r, q, PlayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for p.Status().Samples < 14 { // the player filled the queue behind the stall
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
		close(gate)
	}()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if q.Dropped() != 0 {
		t.Fatalf("queue dropped %d samples", q.Dropped())
	}
	checkOrdered(t, got)
	sameKeys(t, keys(got), expected(td, nil))
}

func TestLoopAndRange(t *testing.T) {
	_, d := openTest(t, testdrive.Spec{Seed: 24, Segments: 2})
	from, to := testdrive.T0+int64(time.Second), testdrive.T0+int64(2*time.Second)
	r, err := d.NewReader(Options{From: from, To: to, Tables: []schema.TableName{schema.TableGNSS}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var p *Player
	var out collect
	out.fn = func(schema.Sample) {
		if len(out.ss) == 30 {
			p.Quit()
		}
	}
	p, err = NewPlayer(r, &out, PlayerOptions{Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); !errors.Is(err, ErrQuit) {
		t.Fatalf("run: %v, want ErrQuit", err)
	}
	// GNSS at 10 Hz: 10 or 11 rows per pass, each pass starting again at from
	passes := 0
	for i, s := range out.ss {
		tt := sampleT(s)
		if tt < from || tt > to {
			t.Fatalf("sample at %d outside the range", tt)
		}
		if i == 0 || tt < sampleT(out.ss[i-1]) {
			passes++
		}
	}
	if st := p.Status(); passes < 2 || st.Loops != passes-1 {
		t.Fatalf("%d passes, status loops %d", passes, st.Loops)
	}
}

func TestStepAndSeekControls(t *testing.T) {
	_, d := openTest(t, testdrive.Spec{Seed: 25, Segments: 3, SegLen: 10 * time.Second, CANRate: 20, IMURate: 10, FPS: 5})
	r, err := d.NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out collect
	p, err := NewPlayer(r, &out, PlayerOptions{Rate: 1, Clock: newFakeClock(), Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Run(context.Background()) }()
	waitFor(t, "first step", func() bool { return true })
	p.Step()
	waitFor(t, "first frame set", func() bool { st := p.Status(); return st.Frames == 2 && st.Paused })
	frameT := p.Status().T
	out.mu.Lock()
	for _, s := range out.ss {
		if sampleT(s) > frameT {
			t.Fatalf("step published a sample past the frame set")
		}
	}
	out.mu.Unlock()
	p.SeekBy(10 * time.Second)
	waitFor(t, "seek +10 s", func() bool { return p.Status().T == frameT+int64(10*time.Second) })
	p.Step()
	waitFor(t, "step after seek", func() bool { st := p.Status(); return st.Frames == 4 && st.Paused })
	if st := p.Status(); st.T < frameT+int64(10*time.Second) || st.T > frameT+int64(10*time.Second)+int64(time.Second) {
		t.Fatalf("after the seek the step landed at %+.3fs", float64(st.T-frameT)/1e9)
	}
	p.Quit()
	if err := <-errc; !errors.Is(err, ErrQuit) {
		t.Fatalf("run: %v", err)
	}
}

// waitFor polls cond (the player works in its own goroutine); it fails after 10 s
// as a guard against a hang, which no correct run comes near.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: never happened", what)
		}
		time.Sleep(time.Millisecond)
	}
}
