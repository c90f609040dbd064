package query

import (
	"errors"
	"math"
	"strings"
	"testing"

	"roadlog/schema"
)

var nan = float32(math.NaN())

// Rows the cases are matched against.
var (
	carAhead = &schema.Object{Camera: 0, TrackID: 4, Class: 2, Label: "car", Score: 0.9, X1: 10, Y1: 20, X2: 50, Y2: 45,
		Distance: 18, Lateral: 0.3, RelSpeed: -4, TTC: 4.5, Width: 1.8, Lane: schema.LaneEgo}
	truckLeft = &schema.Object{Camera: 1, TrackID: 9, Class: 7, Label: "truck", Score: 0.55, X1: 0, Y1: 0, X2: 100, Y2: 80,
		Distance: 40, Lateral: 3.5, RelSpeed: 1, TTC: nan, Width: 2.4, Lane: schema.LaneLeft, Manner: schema.MannerCutIn}
	person = &schema.Object{Camera: 0, TrackID: -1, Class: 0, Label: "person", Score: 0.7, X1: 5, Y1: 5, X2: 9, Y2: 30,
		Distance: nan, Lateral: nan, RelSpeed: nan, TTC: nan, Width: nan, Lane: schema.LaneUnknown}
	warn = &schema.Target{FCW: true, CIPV: 4, CIPVDistance: 12, CIPVTTC: 1.9, CutIn: -1, CutInTTC: nan, Ahead: 2,
		EgoSpeed: 20, CIPVRelSpeed: -6, RequiredDecel: 1.5}
	calm = &schema.Target{CIPV: -1, CIPVDistance: nan, CIPVTTC: nan, CutIn: 3, CutInTTC: 5, CutInLeft: true, Ahead: 0,
		EgoSpeed: 25, CIPVRelSpeed: nan, RequiredDecel: nan}
)

var cameras = map[string]uint8{"front": 0, "left": 1, "rear": 2, "right": 3}

type queryCase struct {
	src       string
	canonical string
	// for objects queries: which of carAhead, truckLeft, person match; for targets
	// queries: warn, calm.
	match []bool
	// errors
	col int
	msg string // a phrase the message must contain (tests only)
}

var cases = []queryCase{
	{src: "class = car and distance < 30 and ttc < 2.5", canonical: "class = car and distance < 30 and ttc < 2.5", match: []bool{false, false, false}},
	{src: "class = car and distance < 30 and ttc < 5", canonical: "class = car and distance < 30 and ttc < 5", match: []bool{true, false, false}},
	{src: "CLASS == Car", canonical: "class = Car", match: []bool{true, false, false}},
	{src: "class in (car, truck, 0)", canonical: "class in (car, truck, 0)", match: []bool{true, true, true}},
	{src: "class = 7", canonical: "class = 7", match: []bool{false, true, false}},
	{src: "class != car", canonical: "class != car", match: []bool{false, true, true}},
	{src: "lane = ego or manner = cut_in", canonical: "lane = ego or manner = cut_in", match: []bool{true, true, false}},
	{src: "not (lane = ego)", canonical: "not lane = ego", match: []bool{false, true, true}},
	{src: "not lane = ego and score > 0.6", canonical: "not lane = ego and score > 0.6", match: []bool{false, false, true}},
	{src: "not (lane = ego and score > 0.6)", canonical: "not (lane = ego and score > 0.6)", match: []bool{false, true, true}},
	{src: "(a_x)", col: 2, msg: "unknown field"},
	{src: "camera = front and score >= 0.7", canonical: "camera = front and score >= 0.7", match: []bool{true, false, true}},
	{src: "camera in (1, rear)", canonical: "camera in (1, rear)", match: []bool{false, true, false}},
	{src: "ttc != 4.5", canonical: "ttc != 4.5", match: []bool{false, false, false}},
	{src: "distance >= 18 and distance <= 40", canonical: "distance >= 18 and distance <= 40", match: []bool{true, true, false}},
	{src: "lateral > -1 and lateral < 1e1", canonical: "lateral > -1 and lateral < 10", match: []bool{true, true, false}},
	{src: "track_len >= 10", canonical: "track_len >= 10", match: []bool{true, false, false}},
	{src: "track = 9 or track_s > 1", canonical: "track = 9 or track_s > 1", match: []bool{true, true, false}},
	{src: "box_h > 24 and box_w < 10", canonical: "box_h > 24 and box_w < 10", match: []bool{false, false, true}},
	{src: `label = "person"`, canonical: "label = person", match: []bool{false, false, true}},
	{src: `label in ('traffic light', "car")`, canonical: `label in ("traffic light", car)`, match: []bool{true, false, false}},
	{src: "a or b and c", col: 1, msg: "unknown field"},
	{src: "lane = ego or lane = left and score < 0.6", canonical: "lane = ego or lane = left and score < 0.6", match: []bool{true, true, false}},
	{src: "(lane = ego or lane = left) and score < 0.6", canonical: "(lane = ego or lane = left) and score < 0.6", match: []bool{false, true, false}},
	{src: "lane = ego or (lane = left or score < 0.8)", canonical: "lane = ego or (lane = left or score < 0.8)", match: []bool{true, true, true}},

	{src: "fcw", canonical: "fcw", match: []bool{true, false}},
	{src: "fcw or aeb", canonical: "fcw or aeb", match: []bool{true, false}},
	{src: "fcw = false and cut_in", canonical: "fcw = false and cut_in", match: []bool{false, true}},
	{src: "cipv_ttc < 2 and cipv_distance < 15", canonical: "cipv_ttc < 2 and cipv_distance < 15", match: []bool{true, false}},
	{src: "cut_in_left or ahead >= 2", canonical: "cut_in_left or ahead >= 2", match: []bool{true, true}},
	{src: "not cipv", canonical: "not cipv", match: []bool{false, true}},

	// errors, with the column they point at
	{src: "", col: 1, msg: "empty query"},
	{src: "   ", col: 4, msg: "empty query"},
	{src: "class =", col: 8, msg: "expected a value"},
	{src: "distnce < 30", col: 1, msg: "did you mean distance"},
	{src: "distance < thirty", col: 12, msg: "takes a number"},
	{src: "distance < 30m", col: 14, msg: "units are not written"},
	{src: "lane < ego", col: 6, msg: "cannot be compared"},
	{src: "lane = middle", col: 8, msg: "has no value"},
	{src: "class = car and fcw", col: 17, msg: "field of targets"},
	{src: "fcw and class = car", col: 9, msg: "field of objects"},
	{src: "(class = car", col: 1, msg: "never closed"},
	{src: "class = car)", col: 12, msg: `unmatched ")"`},
	{src: "class = car score > 1", col: 13, msg: `expected "and"`},
	{src: "class in car", col: 10, msg: `expected "("`},
	{src: "class in (car truck)", col: 15, msg: `expected "," or ")"`},
	{src: "class in ()", col: 11, msg: "expected a value"},
	{src: `label = "car`, col: 9, msg: "unterminated string"},
	{src: `label = "c\ar"`, col: 11, msg: "unknown escape"},
	{src: "score ! 1", col: 7, msg: `"!" must be followed`},
	{src: "score > 1 & ttc < 2", col: 11, msg: "unexpected character"},
	{src: "score > 1.2.3", col: 12, msg: "malformed number"},
	{src: "score > 1e", col: 9, msg: "exponent"},
	{src: "class = 2.5", col: 9, msg: "whole number"},
	{src: "fcw = 1", col: 7, msg: "not a number"},
	{src: "fcw = yes", col: 7, msg: "true or false"},
	{src: "distance", col: 9, msg: "expected a comparison"},
	{src: "not", col: 4, msg: "expected a field name"},
	{src: "and", col: 1, msg: "expected a field name"},
	{src: "()", col: 2, msg: "empty"},
	{src: "score > 1e999", col: 9, msg: "out of range"},
	{src: "camera = 1.5", col: 10, msg: "whole number"},
	{src: "ttc < 2 or é", col: 12, msg: "unexpected character"},
	{src: "é = 1", col: 1, msg: "unexpected character"},
	{src: strings.Repeat("(", 70) + "fcw" + strings.Repeat(")", 70), col: 66, msg: "nested deeper"},
	{src: strings.Repeat("not ", 70) + "fcw", col: 261, msg: "nested deeper"},
}

func TestParse(t *testing.T) {
	for _, c := range cases {
		q, err := Parse(c.src)
		if c.msg != "" {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("%q: error %v, want a *SyntaxError", c.src, err)
				continue
			}
			if se.Column() != c.col || !strings.Contains(se.Msg, c.msg) {
				t.Errorf("%q: %v (column %d), want column %d and %q", c.src, err, se.Column(), c.col, c.msg)
			}
			if !strings.HasPrefix(se.Error(), "query:1:") {
				t.Errorf("%q: error %q does not start with its position", c.src, se.Error())
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		if got := q.String(); got != c.canonical {
			t.Errorf("%q: canonical %q, want %q", c.src, got, c.canonical)
		}
		if err := q.Bind(cameras); err != nil {
			t.Errorf("%q: bind: %v", c.src, err)
			continue
		}
		var rows []*Row
		if q.Table() == Objects {
			rows = []*Row{{Object: carAhead, Track: Track{Rows: 30, Seconds: 2}}, {Object: truckLeft, Track: Track{Rows: 5, Seconds: 0.5}}, {Object: person}}
		} else {
			rows = []*Row{{Target: warn}, {Target: calm}}
		}
		if len(rows) != len(c.match) {
			t.Fatalf("%q: case lists %d matches for %d rows", c.src, len(c.match), len(rows))
		}
		for i, r := range rows {
			if got := q.Match(r); got != c.match[i] {
				t.Errorf("%q: row %d matched %v, want %v", c.src, i, got, c.match[i])
			}
		}
	}
}

func TestBindUnknownCamera(t *testing.T) {
	q, err := Parse("score > 0.5 and camera = roof")
	if err != nil {
		t.Fatal(err)
	}
	err = q.Bind(cameras)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Column() != 26 {
		t.Fatalf("bind: %v, want a *SyntaxError at column 26", err)
	}
	if !strings.Contains(se.Caret(), "\n"+strings.Repeat(" ", 25)+"^") {
		t.Errorf("caret:\n%s", se.Caret())
	}
}

func TestNeedsTracks(t *testing.T) {
	for src, want := range map[string]bool{"track_len > 3": true, "score > 0 or track_s < 1": true, "track = 3": false} {
		q, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if q.NeedsTracks() != want {
			t.Errorf("%q: NeedsTracks %v", src, !want)
		}
	}
}

func TestTooLong(t *testing.T) {
	_, err := Parse(strings.Repeat("fcw or ", MaxLength))
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("%v", err)
	}
}

func BenchmarkParse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		for _, c := range cases {
			Parse(c.src)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	q, err := Parse("class in (car, truck) and lane = ego and distance < 30 and (ttc < 2.5 or score > 0.8)")
	if err != nil {
		b.Fatal(err)
	}
	r := &Row{Object: carAhead}
	for i := 0; i < b.N; i++ {
		q.Match(r)
	}
}
