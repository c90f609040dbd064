package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"roadlog/schema"
)

// LabelFormat is one way of writing a clip's labels.
type LabelFormat string

// Label formats.
const (
	COCO  LabelFormat = "coco"  // coco.json: images, annotations (bbox), categories
	YOLO  LabelFormat = "yolo"  // labels/camN/<stem>.txt and data.yaml (Ultralytics layout)
	KITTI LabelFormat = "kitti" // kitti/camN/<stem>.txt and kitti/camN/calib.txt
)

// box is an object's box clipped to its image.
type box struct{ x1, y1, x2, y2 float64 }

func (b box) w() float64 { return b.x2 - b.x1 }
func (b box) h() float64 { return b.y2 - b.y1 }

// clipBox clips o's box to a w×h image. It returns the clipped box, the fraction of the
// box's area outside the image (KITTI's truncation), and false when nothing is left.
func clipBox(o *schema.Object, w, h int) (box, float64, bool) {
	x1, y1, x2, y2 := float64(o.X1), float64(o.Y1), float64(o.X2), float64(o.Y2)
	if math.IsNaN(x1+y1+x2+y2) || math.IsInf(x1+y1+x2+y2, 0) || x2 <= x1 || y2 <= y1 {
		return box{}, 0, false
	}
	b := box{max(x1, 0), max(y1, 0), min(x2, float64(w)), min(y2, float64(h))}
	if b.w() <= 0 || b.h() <= 0 {
		return box{}, 0, false
	}
	trunc := 1 - b.w()*b.h()/((x2-x1)*(y2-y1))
	return b, max(trunc, 0), true
}

// round3 rounds to 0.001 (pixel coordinates in COCO).
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// frameRef is one exported camera frame as the label writers see it.
type frameRef struct {
	frame      schema.Frame
	cam        Camera
	stem       string // file name without extension, shared by the image and its label files
	image      string // clip-relative path of the JPEG (written or not)
	video      string // clip-relative path of the MP4 holding the frame ("" none)
	videoFrame int    // sample index in video
	objects    []schema.Object
}

// ---- COCO ----

// cocoWriter writes coco.json as it goes: images straight into the file, annotations
// into a temporary file appended at the end, categories last (they are known only
// then). Memory stays bounded by one frame's objects.
type cocoWriter struct {
	out     *bufio.Writer
	ann     *os.File
	annW    *bufio.Writer
	images  int
	anns    int
	classes map[uint16]string
}

type cocoInfo struct {
	Description string `json:"description"`
	Version     string `json:"version"`
	Year        int    `json:"year"`
	Contributor string `json:"contributor"`
	DateCreated string `json:"date_created"` // the drive's start (never the export's time)
	URL         string `json:"url"`
}

type cocoImage struct {
	ID           int    `json:"id"`
	FileName     string `json:"file_name"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	License      int    `json:"license"`
	DateCaptured string `json:"date_captured"`
	// roadlog extensions
	Camera     uint8  `json:"camera"`
	CameraName string `json:"camera_name"`
	T          int64  `json:"t"`
	FrameSeq   int64  `json:"frame_seq"`
	TriggerID  *int64 `json:"trigger_id,omitempty"`
	Video      string `json:"video,omitempty"`
	VideoFrame *int   `json:"video_frame,omitempty"`
}

type cocoAnnotation struct {
	ID           int        `json:"id"`
	ImageID      int        `json:"image_id"`
	CategoryID   int        `json:"category_id"`
	Segmentation [][]string `json:"segmentation"`
	Area         float64    `json:"area"`
	BBox         [4]float64 `json:"bbox"`
	IsCrowd      int        `json:"iscrowd"`
	// roadlog extensions
	Score      float64        `json:"score"`
	TrackID    *int64         `json:"track_id,omitempty"`
	Attributes cocoAttributes `json:"attributes"`
}

type cocoAttributes struct {
	Distance    *float64 `json:"distance,omitempty"`
	Lateral     *float64 `json:"lateral,omitempty"`
	RelSpeed    *float64 `json:"rel_speed,omitempty"`
	RelSpeedStd *float64 `json:"rel_speed_std,omitempty"`
	TTC         *float64 `json:"ttc,omitempty"`
	Width       *float64 `json:"width,omitempty"`
	Lane        string   `json:"lane"`
	Manner      string   `json:"manner"`
	Truncated   float64  `json:"truncated"`
}

type cocoCategory struct {
	ID            int    `json:"id"`
	Name          string `json:"name"`
	Supercategory string `json:"supercategory"`
	Class         uint16 `json:"class"`
}

// opt returns a pointer to v rounded to 4 decimals, or nil for NaN.
func opt(v float32) *float64 {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return nil
	}
	r := math.Round(float64(v)*1e4) / 1e4
	if r == 0 {
		r = 0 // no "-0" in the file
	}
	return &r
}

func newCOCO(out io.Writer, tmpDir string, info cocoInfo) (*cocoWriter, error) {
	ann, err := os.CreateTemp(tmpDir, ".coco-annotations-*")
	if err != nil {
		return nil, fmt.Errorf("start coco.json: %w", err)
	}
	c := &cocoWriter{out: bufio.NewWriterSize(out, 64<<10), ann: ann, annW: bufio.NewWriterSize(ann, 64<<10), classes: map[uint16]string{}}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c.out, "{\"info\": %s,\n\"licenses\": [],\n\"images\": [", b)
	return c, nil
}

func (c *cocoWriter) frame(f *frameRef, minScore float32) error {
	c.images++
	img := cocoImage{ID: c.images, FileName: f.image, Width: int(f.frame.Width), Height: int(f.frame.Height),
		DateCaptured: time.Unix(0, f.frame.T).UTC().Format("2006-01-02 15:04:05"),
		Camera:       f.cam.Index, CameraName: f.cam.Name, T: f.frame.T, FrameSeq: f.frame.Seq}
	if f.frame.TriggerID >= 0 {
		v := f.frame.TriggerID
		img.TriggerID = &v
	}
	if f.video != "" {
		img.Video = f.video
		v := f.videoFrame
		img.VideoFrame = &v
	}
	b, err := json.Marshal(img)
	if err != nil {
		return err
	}
	sep := ",\n"
	if c.images == 1 {
		sep = "\n"
	}
	c.out.WriteString(sep)
	c.out.Write(b)
	for i := range f.objects {
		o := &f.objects[i]
		if o.Score < minScore {
			continue
		}
		bx, trunc, ok := clipBox(o, int(f.frame.Width), int(f.frame.Height))
		if !ok {
			continue
		}
		c.anns++
		c.classes[o.Class] = o.Label
		a := cocoAnnotation{ID: c.anns, ImageID: img.ID, CategoryID: int(o.Class) + 1, Segmentation: [][]string{},
			Area: round3(bx.w() * bx.h()), BBox: [4]float64{round3(bx.x1), round3(bx.y1), round3(bx.w()), round3(bx.h())},
			Score: math.Round(float64(o.Score)*1e4) / 1e4,
			Attributes: cocoAttributes{Distance: opt(o.Distance), Lateral: opt(o.Lateral), RelSpeed: opt(o.RelSpeed),
				RelSpeedStd: opt(o.RelSpeedStd), TTC: opt(o.TTC), Width: opt(o.Width),
				Lane: schema.LaneNames[o.Lane], Manner: schema.MannerNames[o.Manner], Truncated: math.Round(trunc*1e4) / 1e4}}
		if o.TrackID >= 0 {
			v := o.TrackID
			a.TrackID = &v
		}
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if c.anns > 1 {
			c.annW.WriteString(",\n")
		} else {
			c.annW.WriteString("\n")
		}
		c.annW.Write(b)
	}
	return nil
}

// close writes the annotations and categories and ends the file. The temporary file
// is removed whatever happens.
func (c *cocoWriter) close() (err error) {
	defer func() {
		c.ann.Close()
		os.Remove(c.ann.Name())
	}()
	if err := c.annW.Flush(); err != nil {
		return fmt.Errorf("write coco annotations: %w", err)
	}
	c.out.WriteString("\n],\n\"annotations\": [")
	if _, err := c.ann.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(c.out, c.ann); err != nil {
		return fmt.Errorf("write coco annotations: %w", err)
	}
	c.out.WriteString("\n],\n\"categories\": [")
	for i, cls := range sortedClasses(c.classes) {
		b, err := json.Marshal(cocoCategory{ID: int(cls) + 1, Name: labelName(c.classes[cls], cls), Supercategory: "object", Class: cls})
		if err != nil {
			return err
		}
		if i > 0 {
			c.out.WriteString(",")
		}
		c.out.WriteString("\n")
		c.out.Write(b)
	}
	c.out.WriteString("\n]}\n")
	return c.out.Flush()
}

func sortedClasses(m map[uint16]string) []uint16 {
	out := make([]uint16, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func labelName(label string, cls uint16) string {
	if label == "" {
		return "class" + strconv.Itoa(int(cls))
	}
	return label
}

// ---- YOLO ----

// yoloLines formats a frame's objects as YOLO lines: class x_center y_center width
// height, normalised to the image, six decimals.
func yoloLines(f *frameRef, minScore float32, classes map[uint16]string) []byte {
	var b []byte
	w, h := float64(f.frame.Width), float64(f.frame.Height)
	for i := range f.objects {
		o := &f.objects[i]
		if o.Score < minScore {
			continue
		}
		bx, _, ok := clipBox(o, int(f.frame.Width), int(f.frame.Height))
		if !ok {
			continue
		}
		classes[o.Class] = o.Label
		b = strconv.AppendUint(b, uint64(o.Class), 10)
		for _, v := range [4]float64{(bx.x1 + bx.x2) / 2 / w, (bx.y1 + bx.y2) / 2 / h, bx.w() / w, bx.h() / h} {
			b = append(b, ' ')
			b = strconv.AppendFloat(b, v, 'f', 6, 64)
		}
		b = append(b, '\n')
	}
	return b
}

// yoloDataYAML is the Ultralytics dataset file: class ids are the model's class
// indexes, so names run densely from 0 to the largest class seen (unseen ones named
// classN).
func yoloDataYAML(classes map[uint16]string) []byte {
	var sb strings.Builder
	sb.WriteString("# roadlog export: one clip as an Ultralytics YOLO dataset (labels/ beside images/)\n")
	sb.WriteString("path: .\ntrain: images\nval: images\nnames:\n")
	top := -1
	for k := range classes {
		top = max(top, int(k))
	}
	for i := 0; i <= top; i++ {
		name, ok := classes[uint16(i)]
		if !ok || name == "" {
			name = "class" + strconv.Itoa(i)
		}
		fmt.Fprintf(&sb, "  %d: %s\n", i, strconv.Quote(name))
	}
	return []byte(sb.String())
}

// ---- KITTI ----

// kittiType maps a class name to a KITTI object type.
func kittiType(label string) string {
	switch strings.ToLower(label) {
	case "car":
		return "Car"
	case "truck":
		return "Truck"
	case "van":
		return "Van"
	case "person", "pedestrian":
		return "Pedestrian"
	case "bicycle", "motorcycle", "cyclist":
		return "Cyclist"
	case "train", "tram":
		return "Tram"
	}
	return "Misc"
}

// rt is a rigid transform from the vehicle frame (x forward, y left, z up) to a camera
// frame (x right, y down, z forward): p_cam = R (p_vehicle - C).
type rt struct {
	r [3][3]float64
	c [3]float64
}

func cameraTransform(k *Calibration) rt {
	psi, th := k.YawDeg*math.Pi/180, k.PitchDeg*math.Pi/180
	fwd := [3]float64{math.Cos(th) * math.Cos(psi), math.Cos(th) * math.Sin(psi), -math.Sin(th)}
	right := [3]float64{math.Sin(psi), -math.Cos(psi), 0}
	down := [3]float64{-math.Sin(th) * math.Cos(psi), -math.Sin(th) * math.Sin(psi), -math.Cos(th)}
	return rt{r: [3][3]float64{right, down, fwd}, c: [3]float64{k.XM, k.YM, k.HeightM}}
}

func (t rt) apply(p [3]float64) [3]float64 {
	d := [3]float64{p[0] - t.c[0], p[1] - t.c[1], p[2] - t.c[2]}
	var out [3]float64
	for i := range 3 {
		out[i] = t.r[i][0]*d[0] + t.r[i][1]*d[1] + t.r[i][2]*d[2]
	}
	return out
}

// translation returns -R C, the 3×4 matrix's last column.
func (t rt) translation() [3]float64 {
	var out [3]float64
	for i := range 3 {
		out[i] = -(t.r[i][0]*t.c[0] + t.r[i][1]*t.c[1] + t.r[i][2]*t.c[2])
	}
	return out
}

func kf(b []byte, v float64) []byte {
	b = append(b, ' ')
	return strconv.AppendFloat(b, v, 'f', 2, 64)
}

// kittiLines formats a frame's objects as KITTI object labels (devkit readme):
// type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y score.
// truncated is the share of the box outside the image; occluded is 3 (unknown); alpha
// and rotation_y are -10 (unknown: the tables have no heading); the dimensions are
// height -1, the object's width, length -1; location is the bottom centre of the
// object's near face (distance ahead, lateral offset, on the road) in the camera's
// coordinates, or -1000 -1000 -1000 without ranging or calibration. score is the
// detection confidence.
func kittiLines(f *frameRef, minScore float32) []byte {
	var b []byte
	var tr *rt
	if f.cam.Calibration != nil {
		t := cameraTransform(f.cam.Calibration)
		tr = &t
	}
	for i := range f.objects {
		o := &f.objects[i]
		if o.Score < minScore {
			continue
		}
		bx, trunc, ok := clipBox(o, int(f.frame.Width), int(f.frame.Height))
		if !ok {
			continue
		}
		b = append(b, kittiType(o.Label)...)
		b = kf(b, min(trunc, 1))
		b = append(b, " 3"...)
		b = kf(b, -10)
		for _, v := range [4]float64{bx.x1, bx.y1, bx.x2, bx.y2} {
			b = kf(b, v)
		}
		width := -1.0
		if v := float64(o.Width); !math.IsNaN(v) && v > 0 {
			width = v
		}
		b = kf(b, -1)
		b = kf(b, width)
		b = kf(b, -1)
		loc := [3]float64{-1000, -1000, -1000}
		if d, l := float64(o.Distance), float64(o.Lateral); tr != nil && !math.IsNaN(d) && !math.IsNaN(l) {
			loc = tr.apply([3]float64{d, l, 0})
		}
		for _, v := range loc {
			b = kf(b, v)
		}
		b = kf(b, -10)
		b = append(b, ' ')
		b = strconv.AppendFloat(b, float64(o.Score), 'f', 4, 32)
		b = append(b, '\n')
	}
	return b
}

// kittiCalib writes a camera's calibration in the KITTI object devkit's calib file
// form: P0–P3 the 3×4 projection (the same camera in each), R0_rect identity,
// Tr_velo_to_cam the vehicle-to-camera transform (the vehicle frame has the Velodyne
// frame's axes), Tr_imu_to_velo identity.
func kittiCalib(k *Calibration) []byte {
	row := func(name string, v ...float64) string {
		s := make([]string, len(v))
		for i, x := range v {
			if x == 0 {
				x = 0 // no negative zero
			}
			s[i] = strconv.FormatFloat(x, 'e', 12, 64)
		}
		return name + ": " + strings.Join(s, " ") + "\n"
	}
	p := []float64{k.FX, 0, k.CX, 0, 0, k.FY, k.CY, 0, 0, 0, 1, 0}
	t := cameraTransform(k)
	tt := t.translation()
	tr := []float64{t.r[0][0], t.r[0][1], t.r[0][2], tt[0], t.r[1][0], t.r[1][1], t.r[1][2], tt[1], t.r[2][0], t.r[2][1], t.r[2][2], tt[2]}
	var sb strings.Builder
	for i := range 4 {
		sb.WriteString(row("P"+strconv.Itoa(i), p...))
	}
	sb.WriteString(row("R0_rect", 1, 0, 0, 0, 1, 0, 0, 0, 1))
	sb.WriteString(row("Tr_velo_to_cam", tr...))
	sb.WriteString(row("Tr_imu_to_velo", 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0))
	return []byte(sb.String())
}
