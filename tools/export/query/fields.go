package query

import (
	"math"
	"sort"
	"strings"

	"roadlog/schema"
)

// Table is the table a query runs over: every row of it is tested.
type Table uint8

// Tables.
const (
	Objects Table = 1 // objects.arrow: one row per detected object per camera frame
	Targets Table = 2 // targets.arrow: one row per frame set
)

func (t Table) String() string {
	if t == Targets {
		return "targets"
	}
	return "objects"
}

type kind uint8

const (
	kNum   kind = 1 // numbers, every comparison
	kEnum  kind = 2 // names of codes: = != in
	kBool  kind = 3 // true/false, or the field alone
	kClass kind = 4 // class: a number (class index) or a name (label)
	kCam   kind = 5 // camera: a number (index) or the rig's camera name
	kText  kind = 6 // a free string: = != in
)

// Track holds what is known about an object's whole track: how many rows carry its
// track id, and the time between its first and last row.
type Track struct {
	Rows    int64
	Seconds float64
}

// Row is what a query is tested against: an object (with its track's figures) or a
// target row.
type Row struct {
	Object *schema.Object
	Track  Track
	Target *schema.Target
}

type field struct {
	name  string
	table Table
	kind  kind
	unit  string
	doc   string
	num   func(*Row) float64 // kNum, kEnum, kClass, kCam (the code), kBool (0/1); NaN: null
	text  func(*Row) string  // kText, kClass (the label)
	codes map[string]float64 // kEnum: name → code
	// single: the value is a float32 on disk; literals are rounded to float32 so that
	// score >= 0.7 includes a score stored as float32(0.7).
	single bool
}

func f32(v float32) float64 { return float64(v) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func id(v int64) float64 {
	if v < 0 {
		return math.NaN()
	}
	return float64(v)
}

func codes[E ~uint8](names map[E]string) map[string]float64 {
	m := make(map[string]float64, len(names))
	for k, v := range names {
		m[v] = float64(k)
	}
	return m
}

var fieldList = []*field{
	// objects
	{name: "class", table: Objects, kind: kClass, doc: "class index (0 person, 2 car, 7 truck …) or class name (car)",
		num: func(r *Row) float64 { return float64(r.Object.Class) }, text: func(r *Row) string { return r.Object.Label }},
	{name: "label", table: Objects, kind: kText, doc: "class name as the model reports it",
		text: func(r *Row) string { return r.Object.Label }},
	{name: "camera", table: Objects, kind: kCam, doc: "camera index or the rig's camera name (front, left …)",
		num: func(r *Row) float64 { return float64(r.Object.Camera) }},
	{name: "score", table: Objects, kind: kNum, single: true, unit: "1", doc: "detection confidence 0–1",
		num: func(r *Row) float64 { return f32(r.Object.Score) }},
	{name: "distance", table: Objects, kind: kNum, single: true, unit: "m", doc: "x of the object's near edge, ahead of the ego front bumper (negative behind it); from sideways cameras the x of its centre",
		num: func(r *Row) float64 { return f32(r.Object.Distance) }},
	{name: "lateral", table: Objects, kind: kNum, single: true, unit: "m", doc: "lateral offset, left positive",
		num: func(r *Row) float64 { return f32(r.Object.Lateral) }},
	{name: "rel_speed", table: Objects, kind: kNum, single: true, unit: "m/s", doc: "rate of change of distance (negative: closing)",
		num: func(r *Row) float64 { return f32(r.Object.RelSpeed) }},
	{name: "ttc", table: Objects, kind: kNum, single: true, unit: "s", doc: "time to collision (null when not closing)",
		num: func(r *Row) float64 { return f32(r.Object.TTC) }},
	{name: "width", table: Objects, kind: kNum, single: true, unit: "m", doc: "object width",
		num: func(r *Row) float64 { return f32(r.Object.Width) }},
	{name: "lane", table: Objects, kind: kEnum, doc: "lane: ego, left, right, other, unknown", codes: codes(schema.LaneNames),
		num: func(r *Row) float64 { return float64(r.Object.Lane) }},
	{name: "manner", table: Objects, kind: kEnum, doc: "lane change: cut_in, cut_out, none", codes: codes(schema.MannerNames),
		num: func(r *Row) float64 { return float64(r.Object.Manner) }},
	{name: "track", table: Objects, kind: kNum, doc: "track id (null: untracked)",
		num: func(r *Row) float64 { return id(r.Object.TrackID) }},
	{name: "track_len", table: Objects, kind: kNum, unit: "rows", doc: "rows (camera frames) that carry the object's track id in the whole drive",
		num: func(r *Row) float64 {
			if r.Object.TrackID < 0 {
				return math.NaN()
			}
			return float64(r.Track.Rows)
		}},
	{name: "track_s", table: Objects, kind: kNum, unit: "s", doc: "seconds between the track's first and last row",
		num: func(r *Row) float64 {
			if r.Object.TrackID < 0 {
				return math.NaN()
			}
			return r.Track.Seconds
		}},
	{name: "box_w", table: Objects, kind: kNum, single: true, unit: "px", doc: "box width in the image",
		num: func(r *Row) float64 { return f32(r.Object.X2 - r.Object.X1) }},
	{name: "box_h", table: Objects, kind: kNum, single: true, unit: "px", doc: "box height in the image",
		num: func(r *Row) float64 { return f32(r.Object.Y2 - r.Object.Y1) }},

	// targets
	{name: "fcw", table: Targets, kind: kBool, doc: "forward-collision warning active",
		num: func(r *Row) float64 { return b2f(r.Target.FCW) }},
	{name: "aeb", table: Targets, kind: kBool, doc: "emergency-brake warning active",
		num: func(r *Row) float64 { return b2f(r.Target.AEB) }},
	{name: "cipv", table: Targets, kind: kBool, doc: "a closest in-path vehicle exists",
		num: func(r *Row) float64 { return b2f(r.Target.CIPV >= 0) }},
	{name: "cipv_id", table: Targets, kind: kNum, doc: "track id of the closest in-path vehicle",
		num: func(r *Row) float64 { return id(r.Target.CIPV) }},
	{name: "cipv_distance", table: Targets, kind: kNum, single: true, unit: "m", doc: "distance to the closest in-path vehicle",
		num: func(r *Row) float64 { return f32(r.Target.CIPVDistance) }},
	{name: "cipv_ttc", table: Targets, kind: kNum, single: true, unit: "s", doc: "time to collision with the closest in-path vehicle",
		num: func(r *Row) float64 { return f32(r.Target.CIPVTTC) }},
	{name: "cipv_rel_speed", table: Targets, kind: kNum, single: true, unit: "m/s", doc: "relative speed of the closest in-path vehicle",
		num: func(r *Row) float64 { return f32(r.Target.CIPVRelSpeed) }},
	{name: "cut_in", table: Targets, kind: kBool, doc: "a vehicle is cutting in",
		num: func(r *Row) float64 { return b2f(r.Target.CutIn >= 0) }},
	{name: "cut_in_id", table: Targets, kind: kNum, doc: "track id of the cut-in vehicle",
		num: func(r *Row) float64 { return id(r.Target.CutIn) }},
	{name: "cut_in_ttc", table: Targets, kind: kNum, single: true, unit: "s", doc: "time to collision with the cut-in vehicle",
		num: func(r *Row) float64 { return f32(r.Target.CutInTTC) }},
	{name: "cut_in_left", table: Targets, kind: kBool, doc: "left cut-in zone occupied",
		num: func(r *Row) float64 { return b2f(r.Target.CutInLeft) }},
	{name: "cut_in_right", table: Targets, kind: kBool, doc: "right cut-in zone occupied",
		num: func(r *Row) float64 { return b2f(r.Target.CutInRight) }},
	{name: "ahead", table: Targets, kind: kNum, doc: "number of targets ahead",
		num: func(r *Row) float64 { return float64(r.Target.Ahead) }},
	{name: "ego_speed", table: Targets, kind: kNum, single: true, unit: "m/s", doc: "ego speed",
		num: func(r *Row) float64 { return f32(r.Target.EgoSpeed) }},
	{name: "required_decel", table: Targets, kind: kNum, single: true, unit: "m/s^2", doc: "deceleration needed to avoid the closest in-path vehicle",
		num: func(r *Row) float64 { return f32(r.Target.RequiredDecel) }},
}

var fields = func() map[string]*field {
	m := make(map[string]*field, len(fieldList))
	for _, f := range fieldList {
		m[f.name] = f
	}
	return m
}()

// Field describes one field a query may name.
type Field struct {
	Name  string
	Table Table
	Unit  string
	Doc   string
}

// Fields lists every field, objects' first, for help texts.
func Fields() []Field {
	out := make([]Field, len(fieldList))
	for i, f := range fieldList {
		out[i] = Field{Name: f.name, Table: f.table, Unit: f.unit, Doc: f.doc}
	}
	return out
}

// closest returns the known field name nearest to s (edit distance ≤ 2), or "".
func closest(s string) string {
	best, bestD := "", 3
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func enumNames(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return m[names[i]] < m[names[j]] })
	return strings.Join(names, ", ")
}
