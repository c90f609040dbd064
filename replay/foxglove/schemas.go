package foxglove

import (
	"encoding/json"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

// JSON schemas of the Foxglove message types roadlog writes (the WebSocket server and
// the MCAP conversion), from the published definitions (github.com/foxglove/foxglove-sdk,
// schemas/jsonschema), with the fields roadlog fills.
const (
	timeSchema  = `{"type":"object","title":"time","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}}}`
	colorSchema = `{"type":"object","title":"foxglove.Color","properties":{"r":{"type":"number"},"g":{"type":"number"},"b":{"type":"number"},"a":{"type":"number"}}}`
	point2      = `{"type":"object","title":"foxglove.Point2","properties":{"x":{"type":"number"},"y":{"type":"number"}}}`

	CompressedImageSchema = `{"title":"foxglove.CompressedImage","description":"A compressed image","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"frame_id":{"type":"string"},` +
		`"data":{"type":"string","contentEncoding":"base64"},"format":{"type":"string"}}}`

	CompressedVideoSchema = `{"title":"foxglove.CompressedVideo","description":"A single frame of a compressed video bitstream","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"frame_id":{"type":"string"},` +
		`"data":{"type":"string","contentEncoding":"base64"},"format":{"type":"string"}}}`

	ImageAnnotationsSchema = `{"title":"foxglove.ImageAnnotations","description":"Array of annotations for a 2D image","type":"object","properties":{` +
		`"circles":{"type":"array","items":{"title":"foxglove.CircleAnnotation","type":"object"}},` +
		`"points":{"type":"array","items":{"title":"foxglove.PointsAnnotation","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"type":{"title":"foxglove.PointsAnnotationType","type":"integer","oneOf":[` +
		`{"title":"UNKNOWN","const":0},{"title":"POINTS","const":1},{"title":"LINE_LOOP","const":2},{"title":"LINE_STRIP","const":3},{"title":"LINE_LIST","const":4}]},` +
		`"points":{"type":"array","items":` + point2 + `},` +
		`"outline_color":` + colorSchema + `,"outline_colors":{"type":"array","items":` + colorSchema + `},` +
		`"fill_color":` + colorSchema + `,"thickness":{"type":"number"}}}},` +
		`"texts":{"type":"array","items":{"title":"foxglove.TextAnnotation","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"position":` + point2 + `,"text":{"type":"string"},"font_size":{"type":"number"},` +
		`"text_color":` + colorSchema + `,"background_color":` + colorSchema + `}}}}}`

	LocationFixSchema = `{"title":"foxglove.LocationFix","description":"A navigation satellite fix for any Global Navigation Satellite System","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"frame_id":{"type":"string"},"latitude":{"type":"number"},"longitude":{"type":"number"},` +
		`"altitude":{"type":"number"},"position_covariance":{"type":"array","items":{"type":"number"},"minItems":9,"maxItems":9},` +
		`"position_covariance_type":{"title":"foxglove.PositionCovarianceType","type":"integer","oneOf":[` +
		`{"title":"UNKNOWN","const":0},{"title":"APPROXIMATED","const":1},{"title":"DIAGONAL_KNOWN","const":2},{"title":"KNOWN","const":3}]}}}`
)

// TableSchema is a JSON schema for a table's rows: each column with its type, and its
// unit, meaning and codes in the description; withTable adds the "table" field that
// replay.JSONEncoder writes (the MCAP conversion's rows have none).
func TableSchema(t schema.AnyTable, withTable bool) []byte {
	props := map[string]any{}
	if withTable {
		props["table"] = map[string]any{"type": "string"}
	}
	for _, f := range t.Schema().Fields() {
		p := map[string]any{}
		switch f.Type.ID() {
		case arrow.TIMESTAMP, arrow.INT64, arrow.INT32, arrow.INT16, arrow.INT8, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
			p["type"] = "integer"
		case arrow.FLOAT32, arrow.FLOAT64:
			p["type"] = "number"
		case arrow.BOOL:
			p["type"] = "boolean"
		case arrow.STRING:
			p["type"] = "string"
		case arrow.BINARY:
			p["type"], p["contentEncoding"] = "string", "base64"
		}
		if f.Nullable {
			p["type"] = []any{p["type"], "null"}
		}
		var desc []string
		for _, k := range []string{"doc", "unit", "codes"} {
			if v, ok := f.Metadata.GetValue(k); ok && v != "" {
				if k != "doc" {
					v = k + " " + v
				}
				desc = append(desc, v)
			}
		}
		if len(desc) > 0 {
			p["description"] = strings.Join(desc, "; ")
		}
		props[f.Name] = p
	}
	b, _ := json.Marshal(map[string]any{"title": "roadlog." + string(t.TableName()), "type": "object", "properties": props})
	return b
}
