package export

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"roadlog/internal/testdrive"
	"roadlog/record/drive"
	"roadlog/schema"
	"roadlog/tools/export/query"
)

var rangeCases = []struct {
	in       string
	from, to int64 // offsets from the start
	bad      bool
}{
	{in: "10s..25s", from: 10e9, to: 25e9},
	{in: "1.5..2", from: 1.5e9, to: 2e9},
	{in: "1m..1m30s", from: 60e9, to: 90e9},
	{in: "2026-11-30T08:15:03Z..2026-11-30T08:15:04.5Z", from: 3e9, to: 4.5e9},
	{in: "0..2026-11-30T08:15:01Z", from: 0, to: 1e9},
	{in: "5s", bad: true},
	{in: "5s..5s", bad: true},
	{in: "6s..5s", bad: true},
	{in: "..5s", bad: true},
	{in: "-1s..5s", bad: true},
	{in: "x..5s", bad: true},
	{in: "2026-13-30T08:15:03Z..2026-11-30T08:15:04Z", bad: true},
}

func TestParseRange(t *testing.T) {
	for _, c := range rangeCases {
		r, err := ParseRange(c.in, testdrive.Start)
		if c.bad {
			if !errors.Is(err, ErrBadRange) {
				t.Errorf("%q: %v, want ErrBadRange", c.in, err)
			}
			continue
		}
		if err != nil || r.From != testdrive.Start+c.from || r.To != testdrive.Start+c.to {
			t.Errorf("%q: %+v %v, want [%d, %d) after the start", c.in, r, err, c.from, c.to)
		}
	}
}

func TestParseEvent(t *testing.T) {
	for in, want := range map[string]EventSpec{
		"fcw": {Code: schema.EvFCW}, "AEB": {Code: schema.EvAEB}, "cut-in": {Code: schema.EvCutIn}, "cut_in": {Code: schema.EvCutIn},
		"mark": {Code: schema.EvMark}, "mark:pothole": {Code: schema.EvMark, Category: "pothole"}, "203": {Code: schema.EvDiskFull},
		"source_down": {Code: schema.EvSourceDown},
	} {
		got, err := ParseEvent(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fwc", "fcw:x", "mark:", "999"} {
		if _, err := ParseEvent(in); !errors.Is(err, ErrBadEvent) {
			t.Errorf("%q: %v, want ErrBadEvent", in, err)
		}
	}
}

// events reads the events of a table file set straight from the drive.
func events(t *testing.T, pattern string) []schema.Event {
	t.Helper()
	paths, _ := filepath.Glob(pattern)
	var out []schema.Event
	for _, p := range paths {
		if _, err := drive.ReadRows(p, schema.EventsTable, func(e *schema.Event) error { out = append(out, *e); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestSelectEvents(t *testing.T) {
	d := testDrive(t)
	live, run := labelsOf(t, d, LiveRun), labelsOf(t, d, testRun)
	sec := int64(time.Second)

	// driver marks by category
	ws := windowsOf(t, d, live, Selection{Events: []EventSpec{{Code: schema.EvMark, Category: "glare"}}, Before: 2 * time.Second, After: time.Second})
	if len(ws) != 1 || ws[0].From != d.StartT+6_500_000_000 || ws[0].To != d.StartT+9_500_000_000 || ws[0].Reasons[0].Category != "glare" {
		t.Fatalf("mark:glare: %+v", ws)
	}
	// a forward-collision warning spans from its start to when it clears
	for _, c := range []struct {
		l       *Labels
		pattern string
	}{{live, filepath.Join(d.Dir, "seg-*", "events.arrow")}, {run, filepath.Join(d.Dir, "runs", testRun, "events.arrow")}} {
		var start, end int64
		for _, e := range events(t, c.pattern) {
			if e.Code == schema.EvFCW && start == 0 {
				start = e.T
			}
			if e.Code == schema.EvFCWEnd && start != 0 && end == 0 {
				end = e.T
			}
		}
		if start == 0 {
			t.Fatalf("%s: the test drive has no FCW", c.l.Run)
		}
		to := start + sec/2 // a warning that never clears: its start plus after
		if end != 0 {
			to = min(end+sec/2, d.EndT)
		}
		ws := windowsOf(t, d, c.l, Selection{Events: []EventSpec{{Code: schema.EvFCW}}, Before: time.Second, After: time.Second / 2})
		if len(ws) != 1 || ws[0].From != start-sec || ws[0].To != to || ws[0].Reasons[0].End != end || ws[0].Reasons[0].Source != c.l.Run {
			t.Errorf("%s fcw: %+v, want [%d, %d)", c.l.Run, ws, start-sec, to)
		}
	}
	// the run's earlier threshold starts its warning sooner than the live one
	a := windowsOf(t, d, live, Selection{Events: []EventSpec{{Code: schema.EvFCW}}})
	b := windowsOf(t, d, run, Selection{Events: []EventSpec{{Code: schema.EvFCW}}})
	if len(a) != 1 || len(b) != 1 || b[0].From >= a[0].From {
		t.Errorf("run FCW %+v does not start before the live one %+v", b, a)
	}
}

func TestSelectMergesAndClips(t *testing.T) {
	d := testDrive(t)
	l := labelsOf(t, d, LiveRun)
	s := d.StartT
	ws := windowsOf(t, d, l, Selection{
		Ranges: []Range{{s + 4e9, s + 6e9}, {s - 5e9, s + 1e9}, {s + 5e9, s + 7e9}, {s + 13e9, s + 99e9}, {s + 7e9, s + 8e9}},
		Events: []EventSpec{{Code: schema.EvMark, Category: "pothole"}}, // t = 3 s: [2.5, 3.5) stays apart
		Before: 500 * time.Millisecond, After: 500 * time.Millisecond,
	})
	want := [][2]int64{{s, s + 1e9}, {s + 2.5e9, s + 3.5e9}, {s + 4e9, s + 8e9}, {s + 13e9, d.EndT}}
	if len(ws) != len(want) {
		t.Fatalf("%d windows %+v, want %d", len(ws), ws, len(want))
	}
	for i, w := range want {
		if ws[i].From != w[0] || ws[i].To != w[1] {
			t.Errorf("window %d: [%d, %d), want [%d, %d)", i, ws[i].From-s, ws[i].To-s, w[0]-s, w[1]-s)
		}
	}
	if n := len(ws[2].Reasons); n != 3 {
		t.Errorf("merged window has %d reasons, want 3", n)
	}
	// nothing selected
	if ws := windowsOf(t, d, l, Selection{Events: []EventSpec{{Code: schema.EvDiskFull}}}); len(ws) != 0 {
		t.Errorf("disk_full selected %d windows in a drive without one", len(ws))
	}
	q, err := query.Parse("distance < 0.01 and class = bus")
	if err != nil {
		t.Fatal(err)
	}
	if ws := windowsOf(t, d, l, Selection{Queries: []*query.Query{q}}); len(ws) != 0 {
		t.Errorf("an impossible query selected %d windows", len(ws))
	}
}

func TestSelectQueryErrors(t *testing.T) {
	d := testDrive(t)
	l := labelsOf(t, d, LiveRun)
	q, err := query.Parse("camera = roof and score > 0.5")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Select(context.Background(), d, l, Selection{Queries: []*query.Query{q}})
	var se *query.SyntaxError
	if !errors.As(err, &se) || se.Column() != 10 {
		t.Fatalf("unknown camera: %v, want a *query.SyntaxError at column 10", err)
	}
	if _, err := d.Labels("nope"); !errors.Is(err, ErrNoRun) {
		t.Fatalf("missing run: %v, want ErrNoRun", err)
	}
	if _, err := d.Labels("../x"); !errors.Is(err, ErrNoRun) {
		t.Fatalf("run id with a path: %v, want ErrNoRun", err)
	}
}

func TestTrackLengthQuery(t *testing.T) {
	d := testDrive(t)
	l := labelsOf(t, d, LiveRun)
	tracks, err := trackStats(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	if len(tracks) == 0 {
		t.Fatal("no tracks")
	}
	// the shortest track's length selects it and only tracks at least that long
	shortest := int64(1 << 62)
	for _, tr := range tracks {
		shortest = min(shortest, tr.Rows)
	}
	q, err := query.Parse("track_len <= " + strconv.FormatInt(shortest, 10))
	if err != nil {
		t.Fatal(err)
	}
	ws := windowsOf(t, d, l, Selection{Queries: []*query.Query{q}})
	var hits int64
	for _, w := range ws {
		hits += w.Reasons[0].Hits
	}
	var want int64
	for _, tr := range tracks {
		if tr.Rows <= shortest {
			want += tr.Rows
		}
	}
	if hits != want {
		t.Errorf("track_len <= %d: %d hits, want %d", shortest, hits, want)
	}
}
