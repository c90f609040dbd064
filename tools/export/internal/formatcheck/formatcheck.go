// Package formatcheck checks label files against the formats' published definitions,
// independently of the code that writes them (it shares nothing with package export):
//
//   - COCO: the "Data format" page of cocodataset.org (object detection): a JSON object
//     with info, images, annotations and categories (licenses optional); images have an
//     int id, width, height and file_name; annotations an int id, image_id,
//     category_id, bbox [x, y, width, height], area, iscrowd 0 or 1 and segmentation
//     (polygons when iscrowd is 0); categories an int id, name and supercategory.
//   - YOLO: the Ultralytics detection dataset format: one .txt per image, one row per
//     object, "class x_center y_center width height", class a zero-based integer below
//     the number of names in the dataset YAML, coordinates normalised to 0–1.
//   - KITTI: the object development kit's readme (devkit_object/readme.txt): per
//     object, type truncated occluded alpha bbox(4) dimensions(3: h w l) location(3:
//     x y z) rotation_y, and score for results; calib files with P0–P3, R0_rect,
//     Tr_velo_to_cam, Tr_imu_to_velo.
package formatcheck

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Problem is one violation, with where it is.
type Problem struct {
	File string
	Line int // 1-based; 0 for JSON files
	Msg  string
}

func (p Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// COCOStats are what a valid COCO file holds.
type COCOStats struct {
	Images, Annotations, Categories int
	// ImageFiles lists the images' file_name values.
	ImageFiles []string
}

func isInt(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return int64(f), true
}

func isNum(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

// COCO checks a COCO object-detection file.
func COCO(path string) (COCOStats, error) {
	var st COCOStats
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return st, Problem{path, 0, "not a JSON object: " + err.Error()}
	}
	var probs []error
	bad := func(format string, a ...any) { probs = append(probs, Problem{path, 0, fmt.Sprintf(format, a...)}) }
	if _, ok := root["info"].(map[string]any); !ok {
		bad("info is missing or not an object")
	}
	if l, ok := root["licenses"]; ok {
		if _, ok := l.([]any); !ok {
			bad("licenses is not an array")
		}
	}
	arr := func(k string) []any {
		a, ok := root[k].([]any)
		if !ok {
			bad("%s is missing or not an array", k)
		}
		return a
	}
	images, anns, cats := arr("images"), arr("annotations"), arr("categories")
	type dims struct{ w, h float64 }
	imgs := map[int64]dims{}
	for i, v := range images {
		im, ok := v.(map[string]any)
		if !ok {
			bad("images[%d] is not an object", i)
			continue
		}
		id, ok := isInt(im["id"])
		if !ok {
			bad("images[%d].id is not an integer", i)
		}
		if _, dup := imgs[id]; dup {
			bad("images[%d].id %d is not unique", i, id)
		}
		w, okw := isInt(im["width"])
		h, okh := isInt(im["height"])
		if !okw || !okh || w <= 0 || h <= 0 {
			bad("images[%d] width/height are not positive integers", i)
		}
		fn, ok := im["file_name"].(string)
		if !ok || fn == "" {
			bad("images[%d].file_name is missing", i)
		}
		st.ImageFiles = append(st.ImageFiles, fn)
		imgs[id] = dims{float64(w), float64(h)}
	}
	catIDs := map[int64]bool{}
	for i, v := range cats {
		c, ok := v.(map[string]any)
		if !ok {
			bad("categories[%d] is not an object", i)
			continue
		}
		id, ok := isInt(c["id"])
		if !ok || catIDs[id] {
			bad("categories[%d].id is not a unique integer", i)
		}
		catIDs[id] = true
		if n, ok := c["name"].(string); !ok || n == "" {
			bad("categories[%d].name is missing", i)
		}
		if _, ok := c["supercategory"].(string); !ok {
			bad("categories[%d].supercategory is missing", i)
		}
	}
	annIDs := map[int64]bool{}
	for i, v := range anns {
		a, ok := v.(map[string]any)
		if !ok {
			bad("annotations[%d] is not an object", i)
			continue
		}
		id, ok := isInt(a["id"])
		if !ok || annIDs[id] {
			bad("annotations[%d].id is not a unique integer", i)
		}
		annIDs[id] = true
		imID, ok := isInt(a["image_id"])
		im, known := imgs[imID]
		if !ok || !known {
			bad("annotations[%d].image_id %v names no image", i, a["image_id"])
		}
		if c, ok := isInt(a["category_id"]); !ok || !catIDs[c] {
			bad("annotations[%d].category_id %v names no category", i, a["category_id"])
		}
		crowd, ok := isInt(a["iscrowd"])
		if !ok || (crowd != 0 && crowd != 1) {
			bad("annotations[%d].iscrowd is not 0 or 1", i)
		}
		if crowd == 0 {
			if _, ok := a["segmentation"].([]any); !ok {
				bad("annotations[%d].segmentation is not a list of polygons", i)
			}
		}
		bb, ok := a["bbox"].([]any)
		if !ok || len(bb) != 4 {
			bad("annotations[%d].bbox is not [x, y, width, height]", i)
			continue
		}
		var xywh [4]float64
		for k := range bb {
			if xywh[k], ok = isNum(bb[k]); !ok {
				bad("annotations[%d].bbox[%d] is not a number", i, k)
			}
		}
		x, y, w, h := xywh[0], xywh[1], xywh[2], xywh[3]
		const eps = 0.01
		if w <= 0 || h <= 0 || x < -eps || y < -eps || (known && (x+w > im.w+eps || y+h > im.h+eps)) {
			bad("annotations[%d].bbox %v is empty or outside its %vx%v image", i, xywh, im.w, im.h)
		}
		area, ok := isNum(a["area"])
		if !ok || area < 0 || math.Abs(area-w*h) > 0.01*w*h+0.01 {
			bad("annotations[%d].area %v is not the box's area %v", i, a["area"], w*h)
		}
	}
	st.Images, st.Annotations, st.Categories = len(images), len(anns), len(cats)
	return st, errors.Join(probs...)
}

// YOLONames reads the class names of an Ultralytics dataset YAML (the names: block,
// either "- name" items or "N: name" entries) and returns how many there are.
func YOLONames(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, n, line := false, 0, 0
	next := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if strings.HasPrefix(s, "names:") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(s, " ") && !strings.HasPrefix(s, "-") {
			break
		}
		t := strings.TrimSpace(s)
		if strings.HasPrefix(t, "- ") {
			n++
			continue
		}
		k, _, ok := strings.Cut(t, ":")
		id, err := strconv.Atoi(strings.TrimSpace(k))
		if !ok || err != nil || id != next {
			return 0, Problem{path, line, fmt.Sprintf("names entry %q: ids must run 0, 1, 2 … (want %d)", t, next)}
		}
		next++
		n++
	}
	if n == 0 {
		return 0, Problem{path, 0, "no names"}
	}
	return n, sc.Err()
}

// YOLO checks one YOLO label file against nc classes and returns its rows.
func YOLO(path string, nc int) (int, error) {
	return lines(path, func(line int, f []string) error {
		if len(f) != 5 {
			return fmt.Errorf("%d fields, want class x_center y_center width height", len(f))
		}
		c, err := strconv.Atoi(f[0])
		if err != nil || c < 0 || c >= nc {
			return fmt.Errorf("class %q is not an integer in 0–%d", f[0], nc-1)
		}
		var v [4]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(f[i+1], 64); err != nil || v[i] < 0 || v[i] > 1 {
				return fmt.Errorf("coordinate %q is not a number in 0–1", f[i+1])
			}
		}
		const eps = 1e-6
		if v[2] <= 0 || v[3] <= 0 || v[0]-v[2]/2 < -eps || v[0]+v[2]/2 > 1+eps || v[1]-v[3]/2 < -eps || v[1]+v[3]/2 > 1+eps {
			return fmt.Errorf("box %v is empty or leaves the image", v)
		}
		return nil
	})
}

// KITTITypes are the object types of the KITTI object benchmark.
var KITTITypes = map[string]bool{"Car": true, "Van": true, "Truck": true, "Pedestrian": true, "Person_sitting": true,
	"Cyclist": true, "Tram": true, "Misc": true, "DontCare": true}

// KITTI checks one KITTI label file and returns its rows.
func KITTI(path string) (int, error) {
	return lines(path, func(line int, f []string) error {
		if len(f) != 15 && len(f) != 16 {
			return fmt.Errorf("%d fields, want 15 (16 with score)", len(f))
		}
		if !KITTITypes[f[0]] {
			return fmt.Errorf("type %q is not a KITTI type", f[0])
		}
		num := make([]float64, len(f))
		for i := 1; i < len(f); i++ {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return fmt.Errorf("field %d %q is not a number", i+1, f[i])
			}
			num[i] = v
		}
		if num[1] < 0 || num[1] > 1 {
			return fmt.Errorf("truncated %v outside 0–1", num[1])
		}
		if o := f[2]; o != "0" && o != "1" && o != "2" && o != "3" {
			return fmt.Errorf("occluded %q is not 0, 1, 2 or 3", o)
		}
		angle := func(v float64) bool { return v == -10 || (v >= -math.Pi-0.01 && v <= math.Pi+0.01) }
		if !angle(num[3]) || !angle(num[14]) {
			return fmt.Errorf("alpha %v or rotation_y %v outside [-pi, pi] (or -10)", num[3], num[14])
		}
		if num[6] <= num[4] || num[7] <= num[5] || num[4] < 0 || num[5] < 0 {
			return fmt.Errorf("bbox %v %v %v %v is not left < right, top < bottom in the image", num[4], num[5], num[6], num[7])
		}
		for i := 8; i <= 10; i++ {
			if num[i] <= 0 && num[i] != -1 {
				return fmt.Errorf("dimension %v is neither positive nor -1 (unknown)", num[i])
			}
		}
		return nil
	})
}

// KITTICalib checks a KITTI calib file.
func KITTICalib(path string) error {
	want := map[string]int{"P0": 12, "P1": 12, "P2": 12, "P3": 12, "R0_rect": 9, "Tr_velo_to_cam": 12, "Tr_imu_to_velo": 12}
	seen := map[string]bool{}
	_, err := lines(path, func(line int, f []string) error {
		k := strings.TrimSuffix(f[0], ":")
		n, ok := want[k]
		if !ok || !strings.HasSuffix(f[0], ":") {
			return fmt.Errorf("unknown key %q", f[0])
		}
		if len(f)-1 != n {
			return fmt.Errorf("%s has %d values, want %d", k, len(f)-1, n)
		}
		for _, s := range f[1:] {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return fmt.Errorf("%s value %q is not a number", k, s)
			}
		}
		seen[k] = true
		return nil
	})
	if err != nil {
		return err
	}
	for k := range want {
		if !seen[k] {
			return Problem{path, 0, "missing " + k}
		}
	}
	return nil
}

func lines(path string, fn func(line int, fields []string) error) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	n, line := 0, 0
	for {
		s, err := r.ReadString('\n')
		if s != "" {
			line++
			if !strings.HasSuffix(s, "\n") {
				return n, Problem{path, line, "last line does not end with a newline"}
			}
			if e := fn(line, strings.Fields(s)); e != nil {
				return n, Problem{path, line, e.Error()}
			}
			n++
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
