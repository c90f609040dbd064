package convert

import (
	"encoding/base64"
	"math"
	"strconv"

	"roadlog/schema"
)

// rowJSON returns an encoder of table t's rows as JSON objects: columns in order,
// timestamps as integer nanoseconds, NaN and null values as null, binary as base64.
func rowJSON[R any](t *schema.Table[R]) func(dst []byte, r *R) []byte {
	type col struct {
		key  []byte
		get  any
		null func(*R) bool
	}
	cols := make([]col, len(t.Columns))
	for i, c := range t.Columns {
		key := strconv.Quote(c.Field.Name) + ":"
		if i > 0 {
			key = "," + key
		}
		cols[i] = col{key: []byte(key), get: c.Get, null: c.Null}
	}
	float := func(dst []byte, v float64, bits int) []byte {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, v, 'g', -1, bits)
	}
	return func(dst []byte, r *R) []byte {
		dst = append(dst, '{')
		for _, c := range cols {
			dst = append(dst, c.key...)
			if c.null != nil && c.null(r) {
				dst = append(dst, "null"...)
				continue
			}
			switch g := c.get.(type) {
			case func(*R) int64:
				dst = strconv.AppendInt(dst, g(r), 10)
			case func(*R) int32:
				dst = strconv.AppendInt(dst, int64(g(r)), 10)
			case func(*R) int8:
				dst = strconv.AppendInt(dst, int64(g(r)), 10)
			case func(*R) uint32:
				dst = strconv.AppendUint(dst, uint64(g(r)), 10)
			case func(*R) uint16:
				dst = strconv.AppendUint(dst, uint64(g(r)), 10)
			case func(*R) uint8:
				dst = strconv.AppendUint(dst, uint64(g(r)), 10)
			case func(*R) float32:
				dst = float(dst, float64(g(r)), 32)
			case func(*R) float64:
				dst = float(dst, g(r), 64)
			case func(*R) bool:
				dst = strconv.AppendBool(dst, g(r))
			case func(*R) string:
				dst = strconv.AppendQuote(dst, g(r))
			case func(*R) []byte:
				dst = append(dst, '"')
				dst = base64.StdEncoding.AppendEncode(dst, g(r))
				dst = append(dst, '"')
			default:
				dst = append(dst, "null"...)
			}
		}
		return append(dst, '}')
	}
}

// fxTime is a Foxglove time.
type fxTime struct {
	Sec  int64 `json:"sec"`
	Nsec int64 `json:"nsec"`
}

func toTime(t int64) fxTime {
	s := t / 1e9
	ns := t - s*1e9
	if ns < 0 {
		s--
		ns += 1e9
	}
	return fxTime{s, ns}
}

type fxCompressed struct {
	Timestamp fxTime `json:"timestamp"`
	FrameID   string `json:"frame_id"`
	Data      []byte `json:"data"`
	Format    string `json:"format"`
}

type fxColor struct {
	R float64 `json:"r"`
	G float64 `json:"g"`
	B float64 `json:"b"`
	A float64 `json:"a"`
}

type fxPoint2 struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

type fxPoints struct {
	Timestamp     fxTime     `json:"timestamp"`
	Type          int        `json:"type"`
	Points        []fxPoint2 `json:"points"`
	OutlineColor  fxColor    `json:"outline_color"`
	OutlineColors []fxColor  `json:"outline_colors"`
	FillColor     fxColor    `json:"fill_color"`
	Thickness     float64    `json:"thickness"`
}

type fxText struct {
	Timestamp       fxTime   `json:"timestamp"`
	Position        fxPoint2 `json:"position"`
	Text            string   `json:"text"`
	FontSize        float64  `json:"font_size"`
	TextColor       fxColor  `json:"text_color"`
	BackgroundColor fxColor  `json:"background_color"`
}

type fxAnnotations struct {
	Circles []struct{} `json:"circles"`
	Points  []fxPoints `json:"points"`
	Texts   []fxText   `json:"texts"`
}

// laneColor colours a box by the object's lane: ego red, left blue, right green.
func laneColor(l schema.Lane) fxColor {
	switch l {
	case schema.LaneEgo:
		return fxColor{1, 0.2, 0.2, 1}
	case schema.LaneLeft:
		return fxColor{0.2, 0.5, 1, 1}
	case schema.LaneRight:
		return fxColor{0.2, 0.9, 0.3, 1}
	}
	return fxColor{1, 0.9, 0.2, 1}
}

// annotations draws a frame's objects: a box (LINE_LOOP) per object and a label with
// class, track and distance.
func annotations(t int64, objs []schema.Object) fxAnnotations {
	a := fxAnnotations{Circles: []struct{}{}, Points: []fxPoints{}, Texts: []fxText{}}
	ts := toTime(t)
	for i := range objs {
		o := &objs[i]
		x1, y1, x2, y2 := float64(o.X1), float64(o.Y1), float64(o.X2), float64(o.Y2)
		if math.IsNaN(x1 + y1 + x2 + y2) {
			continue
		}
		c := laneColor(o.Lane)
		a.Points = append(a.Points, fxPoints{Timestamp: ts, Type: 2, Points: []fxPoint2{{x1, y1}, {x2, y1}, {x2, y2}, {x1, y2}},
			OutlineColor: c, OutlineColors: []fxColor{}, Thickness: 2})
		text := o.Label
		if o.TrackID >= 0 {
			text += " #" + strconv.FormatInt(o.TrackID, 10)
		}
		if d := float64(o.Distance); !math.IsNaN(d) {
			text += " " + strconv.FormatFloat(d, 'f', 1, 64) + " m"
		}
		a.Texts = append(a.Texts, fxText{Timestamp: ts, Position: fxPoint2{x1, y1}, Text: text, FontSize: 12,
			TextColor: fxColor{1, 1, 1, 1}, BackgroundColor: fxColor{c.R * 0.5, c.G * 0.5, c.B * 0.5, 0.7}})
	}
	return a
}

type fxLocationFix struct {
	Timestamp              fxTime     `json:"timestamp"`
	FrameID                string     `json:"frame_id"`
	Latitude               float64    `json:"latitude"`
	Longitude              float64    `json:"longitude"`
	Altitude               float64    `json:"altitude"`
	PositionCovariance     [9]float64 `json:"position_covariance"`
	PositionCovarianceType int        `json:"position_covariance_type"`
}

// locationFix turns a GNSS row into a LocationFix (false without a position).
func locationFix(g *schema.GNSS) (fxLocationFix, bool) {
	if math.IsNaN(g.Lat) || math.IsNaN(g.Lon) || g.Quality == schema.FixInvalid {
		return fxLocationFix{}, false
	}
	f := fxLocationFix{Timestamp: toTime(g.T), FrameID: g.Receiver, Latitude: g.Lat, Longitude: g.Lon}
	if !math.IsNaN(g.Alt) {
		f.Altitude = g.Alt
	}
	if !math.IsNaN(g.StdLat) && !math.IsNaN(g.StdLon) {
		up := 0.0
		if !math.IsNaN(g.StdAlt) {
			up = g.StdAlt * g.StdAlt
		}
		// ENU order: east (longitude), north (latitude), up
		f.PositionCovariance = [9]float64{g.StdLon * g.StdLon, 0, 0, 0, g.StdLat * g.StdLat, 0, 0, 0, up}
		f.PositionCovarianceType = 2
	}
	return f, true
}
