package foxglove

import (
	"encoding/json"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/schema"
)

// JSON schemas of the foxglove message types the server sends, from the published
// definitions (github.com/foxglove/schemas, schemas/jsonschema), trimmed to the
// fields roadlog fills.
const (
	timeSchema  = `{"type":"object","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}}}`
	colorSchema = `{"type":"object","properties":{"r":{"type":"number"},"g":{"type":"number"},"b":{"type":"number"},"a":{"type":"number"}}}`
	pointSchema = `{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}}}`

	compressedImageSchema = `{"title":"foxglove.CompressedImage","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"frame_id":{"type":"string"},` +
		`"data":{"type":"string","contentEncoding":"base64"},"format":{"type":"string"}}}`

	compressedVideoSchema = `{"title":"foxglove.CompressedVideo","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"frame_id":{"type":"string"},` +
		`"data":{"type":"string","contentEncoding":"base64"},"format":{"type":"string"}}}`

	imageAnnotationsSchema = `{"title":"foxglove.ImageAnnotations","type":"object","properties":{` +
		`"circles":{"type":"array","items":{"type":"object"}},` +
		`"points":{"type":"array","items":{"title":"foxglove.PointsAnnotation","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"type":{"type":"integer"},"points":{"type":"array","items":` + pointSchema + `},` +
		`"outline_color":` + colorSchema + `,"outline_colors":{"type":"array","items":` + colorSchema + `},` +
		`"fill_color":` + colorSchema + `,"thickness":{"type":"number"}}}},` +
		`"texts":{"type":"array","items":{"title":"foxglove.TextAnnotation","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"position":` + pointSchema + `,"text":{"type":"string"},"font_size":{"type":"number"},` +
		`"text_color":` + colorSchema + `,"background_color":` + colorSchema + `}}}}}`

	locationFixSchema = `{"title":"foxglove.LocationFix","type":"object","properties":{` +
		`"timestamp":` + timeSchema + `,"frame_id":{"type":"string"},"latitude":{"type":"number"},"longitude":{"type":"number"},` +
		`"altitude":{"type":"number"},"position_covariance":{"type":"array","items":{"type":"number"},"minItems":9,"maxItems":9},` +
		`"position_covariance_type":{"type":"integer"}}}`
)

// tableSchema returns a JSON schema for a table's rows as replay.JSONEncoder writes
// them: each column with its type, unit and meaning.
func tableSchema(t schema.AnyTable) string {
	props := map[string]any{"table": map[string]any{"type": "string"}}
	for _, f := range t.Schema().Fields() {
		p := map[string]any{}
		switch f.Type.ID() {
		case arrow.TIMESTAMP, arrow.INT64, arrow.INT32, arrow.INT8, arrow.UINT8, arrow.UINT16, arrow.UINT32:
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
		if d, ok := f.Metadata.GetValue("doc"); ok && d != "" {
			desc = append(desc, d)
		}
		if u, ok := f.Metadata.GetValue("unit"); ok && u != "" {
			desc = append(desc, "unit "+u)
		}
		if c, ok := f.Metadata.GetValue("codes"); ok && c != "" {
			desc = append(desc, "codes "+c)
		}
		if len(desc) > 0 {
			p["description"] = strings.Join(desc, "; ")
		}
		props[f.Name] = p
	}
	b, _ := json.Marshal(map[string]any{"title": "roadlog." + string(t.TableName()), "type": "object", "properties": props})
	return string(b)
}
