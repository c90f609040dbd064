package export

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"roadlog/schema"
)

// ErrBadOption reports a value of an export option that is not one of its choices.
var ErrBadOption = errors.New("bad export option")

// splitList splits comma-separated values, dropping empty ones.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// ParseCameras resolves camera names (front) and indexes (0, cam0) against the drive;
// no value means every camera.
func (d *Drive) ParseCameras(vals []string) ([]uint8, error) {
	names := d.CameraNames()
	var out []uint8
	seen := map[uint8]bool{}
	for _, v := range splitList(vals) {
		i, ok := names[strings.ToLower(v)]
		if !ok {
			n, err := strconv.ParseUint(v, 10, 8)
			if _, known := d.Camera(uint8(n)); err != nil || !known {
				var have []string
				for _, c := range d.Cameras {
					have = append(have, fmt.Sprintf("%d=%s", c.Index, c.Name))
				}
				return nil, fmt.Errorf("%w: camera %q (the drive has %s)", ErrBadOption, v, strings.Join(have, ", "))
			}
			i = uint8(n)
		}
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out, nil
}

// ParseFrames reads how frames are written: jpeg, mp4, both or none.
func ParseFrames(s string) (images, video bool, err error) {
	switch strings.ToLower(s) {
	case "jpeg", "jpg":
		return true, false, nil
	case "mp4":
		return false, true, nil
	case "both":
		return true, true, nil
	case "none":
		return false, false, nil
	}
	return false, false, fmt.Errorf("%w: frames %q (want jpeg, mp4, both or none)", ErrBadOption, s)
}

// ParseLabelFormats reads label formats (coco, yolo, kitti; "none" for none).
func ParseLabelFormats(vals []string) ([]LabelFormat, error) {
	var out []LabelFormat
	for _, v := range splitList(vals) {
		switch f := LabelFormat(strings.ToLower(v)); f {
		case COCO, YOLO, KITTI:
			out = append(out, f)
		case "none":
		default:
			return nil, fmt.Errorf("%w: label format %q (want coco, yolo, kitti or none)", ErrBadOption, v)
		}
	}
	return out, nil
}

// ParseTables reads the tables a clip carries ("none" for none).
func ParseTables(vals []string) ([]schema.TableName, error) {
	out := []schema.TableName{}
	for _, v := range splitList(vals) {
		if v == "none" {
			continue
		}
		if v == string(TableCANDecoded) {
			out = append(out, TableCANDecoded)
			continue
		}
		if _, ok := schema.Lookup(schema.TableName(v)); !ok || v == string(schema.TableFrames) {
			var names []string
			for _, t := range schema.Tables() {
				if t.TableName() != schema.TableFrames {
					names = append(names, string(t.TableName()))
				}
			}
			names = append(names, string(TableCANDecoded))
			return nil, fmt.Errorf("%w: table %q (want %s or none)", ErrBadOption, v, strings.Join(names, ", "))
		}
		out = append(out, schema.TableName(v))
	}
	return out, nil
}

// ParseTableFormats reads parquet, csv (both by default; "none" for neither).
func ParseTableFormats(vals []string) (parquet, csv bool, err error) {
	for _, v := range splitList(vals) {
		switch strings.ToLower(v) {
		case "parquet":
			parquet = true
		case "csv":
			csv = true
		case "none":
		default:
			return false, false, fmt.Errorf("%w: table format %q (want parquet, csv or none)", ErrBadOption, v)
		}
	}
	return parquet, csv, nil
}
