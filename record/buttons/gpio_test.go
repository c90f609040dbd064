package buttons

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/record"
	"roadlog/record/drive"
	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEngine(t testing.TB) *record.Engine {
	t.Helper()
	e, err := record.New(record.Options{Root: t.TempDir(), Vehicle: "test", FlushInterval: 100 * time.Millisecond,
		MinFreeBytes: 1 << 20, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if e.State() == record.Recording {
			e.Stop("test over", "cli")
		}
	})
	return e
}

// lifecycle returns "kind/input/category/message" of the start, mark and stop events
// of every drive under root, oldest drive first; every drive must verify.
func lifecycle(t testing.TB, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ents {
		dir := filepath.Join(root, d.Name())
		rep, err := drive.Verify(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			rep.Print(os.Stderr)
			t.Fatalf("drive %s does not verify", dir)
		}
		segs, _ := drive.Segments(dir)
		for _, s := range segs {
			_, err := drive.ReadRows(filepath.Join(dir, drive.SegmentDir(s), drive.TableFile(schema.TableEvents)), schema.EventsTable,
				func(e *schema.Event) error {
					switch e.Code {
					case schema.EvRecordStart, schema.EvRecordStop, schema.EvMark:
						out = append(out, e.Kind+"/"+e.Input+"/"+e.Category+"/"+e.Message)
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

const (
	btn  = 17
	mark = 27
)

type edgeStep struct {
	line    int
	pressed bool
	at      float64 // seconds
	act     action  // what this edge must do
}

// gpioCases are edge sequences and what each edge must do, with the events the
// drives must hold at the end.
var gpioCases = []struct {
	name   string
	edges  []edgeStep
	events []string
}{
	{name: "tap starts", edges: []edgeStep{{btn, true, 0, actStart}, {btn, false, 0.2, actNone}},
		events: []string{"record_start/gpio//recording started"}},
	{name: "bouncy press starts once", edges: []edgeStep{
		{btn, true, 0, actStart}, {btn, false, 0.002, actNone}, {btn, true, 0.005, actNone}, {btn, false, 0.008, actNone},
		{btn, true, 0.012, actNone}, {btn, false, 0.4, actNone}},
		events: []string{"record_start/gpio//recording started"}},
	{name: "short press marks, held press stops", edges: []edgeStep{
		{btn, true, 0, actStart}, {btn, false, 0.2, actNone},
		{btn, true, 2, actNone}, {btn, false, 2.3, actMark},
		{btn, true, 3, actNone}, {btn, false, 4.2, actStop}},
		events: []string{"record_start/gpio//recording started", "mark/gpio/interesting/button",
			"record_stop/gpio//recording stopped: GPIO button held 1.2 s"}},
	{name: "just under the hold marks", edges: []edgeStep{
		{btn, true, 0, actStart}, {btn, false, 0.1, actNone}, {btn, true, 1, actNone}, {btn, false, 1.999, actMark}},
		events: []string{"record_start/gpio//recording started", "mark/gpio/interesting/button"}},
	{name: "bounce after a hold stops once", edges: []edgeStep{
		{btn, true, 0, actStart}, {btn, false, 0.1, actNone},
		{btn, true, 1, actNone}, {btn, false, 2.5, actStop}, {btn, true, 2.505, actNone}, {btn, false, 2.51, actNone}},
		events: []string{"record_start/gpio//recording started", "record_stop/gpio//recording stopped: GPIO button held 1.5 s"}},
	{name: "a held press while idle only starts", edges: []edgeStep{{btn, true, 0, actStart}, {btn, false, 3, actNone}},
		events: []string{"record_start/gpio//recording started"}},
	{name: "mark button", edges: []edgeStep{
		{mark, true, 0, actNone}, {mark, false, 0.1, actNone}, // idle: nothing to mark
		{btn, true, 1, actStart}, {btn, false, 1.1, actNone},
		{mark, true, 2, actMark}, {mark, false, 5, actNone}, // held: still one mark
		{mark, true, 5.01, actNone}, // bounce
		{mark, true, 6, actMark},    // a new press
		{mark, true, 7, actNone}},   // repeated level: a release was lost, no new press
		events: []string{"record_start/gpio//recording started", "mark/gpio/interesting/button", "mark/gpio/interesting/button"}},
	{name: "stop then start again", edges: []edgeStep{
		{btn, true, 0, actStart}, {btn, false, 0.1, actNone}, {btn, true, 1, actNone}, {btn, false, 2.1, actStop},
		{btn, true, 3, actStart}, {btn, false, 3.1, actNone}},
		events: []string{"record_start/gpio//recording started", "record_stop/gpio//recording stopped: GPIO button held 1.1 s",
			"record_start/gpio//recording started"}},
}

func TestButtonLogic(t *testing.T) {
	for _, c := range gpioCases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t)
			b := &button{rec: e, log: quiet(), debounce: 30 * time.Millisecond, hold: time.Second, category: "interesting",
				main: btn, mark: mark, last: map[int]Edge{}, down: map[int]bool{}}
			for i, s := range c.edges {
				got := b.edge(Edge{Offset: s.line, Pressed: s.pressed, At: time.Duration(s.at * 1e9)})
				if got != s.act {
					t.Fatalf("edge %d (line %d pressed %v at %vs): action %d, want %d", i, s.line, s.pressed, s.at, got, s.act)
				}
			}
			if e.State() == record.Recording {
				e.Stop("test over", "cli")
			}
			got := lifecycle(t, e.Options().Root)
			want := append([]string(nil), c.events...)
			// a drive still open at the end was stopped by the test
			if n := len(want); n > 0 && strings.HasPrefix(want[n-1], "record_start") || n > 0 && strings.HasPrefix(want[n-1], "mark") {
				want = append(want, "record_stop/cli//recording stopped: test over")
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestGPIOWithTwin runs the GPIO buttons on the software twin of a chip against a
// recording engine: start, mark, stop through the lines, and the LED following.
func TestGPIOWithTwin(t *testing.T) {
	e := newEngine(t)
	chip := NewTwin()
	g := &GPIO{Lines: chip, Button: btn, MarkButton: mark, LED: 5, Recorder: e, Log: quiet()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	waitFor(t, "the LED line", func() bool { v, open := chip.Values(5); return open && len(v) >= 1 })
	if _, err := chip.WatchButton(btn, 0, func(Edge) {}); err == nil {
		t.Fatal("the twin let a requested line be requested again")
	}
	chip.Press(btn, 0)
	chip.Release(btn, 100*time.Millisecond)
	waitFor(t, "recording and the LED on", func() bool {
		v, _ := chip.Values(5)
		return e.State() == record.Recording && v[len(v)-1] == 1
	})
	d := e.Current()
	chip.Press(mark, 2*time.Second)
	chip.Release(mark, 2100*time.Millisecond)
	chip.Press(btn, 3*time.Second)
	chip.Release(btn, 4500*time.Millisecond)
	<-d.Done()
	waitFor(t, "the LED off", func() bool { v, _ := chip.Values(5); return v[len(v)-1] == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, open := chip.Values(5); open {
		t.Fatal("the LED line was not released")
	}
	got := lifecycle(t, e.Options().Root)
	want := []string{"record_start/gpio//recording started", "mark/gpio/interesting/button",
		"record_stop/gpio//recording stopped: GPIO button held 1.5 s"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// the lines are free again
	if c, err := chip.WatchButton(btn, 0, func(Edge) {}); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
}

func TestGPIOBadConfig(t *testing.T) {
	e := newEngine(t)
	chip := NewTwin()
	for _, g := range []*GPIO{
		{Lines: nil, Button: 1, Recorder: e},
		{Lines: chip, Button: -1, Recorder: e},
		{Lines: chip, Button: 1, MarkButton: 1, Recorder: e, LED: -1}, // the same line twice
		{Lines: chip, Button: 1, MarkButton: -1, LED: 1, Recorder: e},
	} {
		if err := g.Run(context.Background()); err == nil {
			t.Errorf("%+v: no error", g)
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
