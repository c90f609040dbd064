package centernet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/internal/shared"
)

// labelled is a ground-truth object of the labelled public images.
type labelled struct {
	group string // vehicle, person, twowheeler
	box   detect.Box
}

// groupOf maps a detection class to the label groups it may match.
func matches(class uint16, group string) bool {
	switch group {
	case "vehicle":
		return class == detect.ClassCar || class == detect.ClassTruck || class == detect.ClassBus
	case "person":
		return class == detect.ClassPerson
	case "twowheeler":
		return class == detect.ClassBicycle || class == detect.ClassMotorcycle || class == detect.ClassPerson
	}
	return false
}

func kittiLabels(t *testing.T, path string) []labelled {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	groups := map[string]string{"Car": "vehicle", "Van": "vehicle", "Truck": "vehicle", "Tram": "vehicle",
		"Pedestrian": "person", "Person_sitting": "person", "Cyclist": "twowheeler"}
	var out []labelled
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		g, ok := groups[fs[0]]
		if !ok || len(fs) < 8 {
			continue
		}
		var v [4]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(fs[4+i], 64)
		}
		out = append(out, labelled{g, detect.Box{X1: float32(v[0]), Y1: float32(v[1]), X2: float32(v[2]), Y2: float32(v[3])}})
	}
	return out
}

func nuScenesLabels(t *testing.T, path string) []labelled {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Objects []struct {
			Class string    `json:"class"`
			Box   []float32 `json:"bbox_xyxy"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	groups := map[string]string{"car": "vehicle", "truck": "vehicle", "bus": "vehicle", "trailer": "vehicle",
		"construction_vehicle": "vehicle", "pedestrian": "person", "bicycle": "twowheeler", "motorcycle": "twowheeler"}
	var out []labelled
	for _, o := range l.Objects {
		if g, ok := groups[o.Class]; ok {
			out = append(out, labelled{g, detect.Box{X1: o.Box[0], Y1: o.Box[1], X2: o.Box[2], Y2: o.Box[3]}})
		}
	}
	return out
}

// recall matches detections (best first) to labels at IoU ≥ 0.5 and counts matched
// labels and unmatched detections.
func recall(dets []detect.Detection, labels []labelled) (hit, falseAlarms int) {
	sort.Slice(dets, func(i, j int) bool { return dets[i].Score > dets[j].Score })
	used := make([]bool, len(labels))
	for _, d := range dets {
		best, bi := float32(0.5), -1
		for i, l := range labels {
			if used[i] || !matches(d.Class, l.group) {
				continue
			}
			if iou := d.Box.IoU(l.box); iou >= best {
				best, bi = iou, i
			}
		}
		if bi < 0 {
			falseAlarms++
			continue
		}
		used[bi] = true
		hit++
	}
	return hit, falseAlarms
}

// TestLetterboxVsStretch measures both input modes on the labelled public images (KITTI
// and nuScenes; road classes, IoU ≥ 0.5) and checks that the default (letterbox) finds at
// least as many labelled objects as the reference's stretch. Detections matching no label
// are logged too; many are real but unlabelled (parked bicycles, far cars).
func TestLetterboxVsStretch(t *testing.T) {
	root := shared.Path(t, "testdata/images")
	type img struct {
		file   string
		labels []labelled
	}
	var imgs []img
	for _, s := range []string{"000000", "000001", "000008"} {
		imgs = append(imgs, img{filepath.Join(root, "kitti/image_2", s+".png"), kittiLabels(t, filepath.Join(root, "kitti/label_2", s+".txt"))})
	}
	for _, cam := range []string{"CAM_FRONT__1532402927612460", "CAM_BACK__1532402927637525"} {
		stem := "n015-2018-07-24-11-22-45+0800__" + cam
		imgs = append(imgs, img{filepath.Join(root, "nuscenes/samples", stem+".jpg"), nuScenesLabels(t, filepath.Join(root, "nuscenes/labels", stem+".json"))})
	}
	score := map[centernet.Fit][3]int{}
	for _, fit := range []centernet.Fit{centernet.FitStretch, centernet.FitLetterbox} {
		letterbox := fit == centernet.FitLetterbox
		d, err := centernet.NewCPU(centernet.Config{Thresholds: detect.RoadThresholds(), Fit: fit}, cpu.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var total [3]int
		for _, im := range imgs {
			f, err := os.Open(im.file)
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := image.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			dets, err := d.Detect(context.Background(), []image.Image{m})
			if err != nil {
				t.Fatal(err)
			}
			hit, fa := recall(dets[0], im.labels)
			t.Logf("letterbox=%v %s: %d/%d labelled objects found, %d unmatched detections", letterbox, filepath.Base(im.file), hit, len(im.labels), fa)
			total[0] += hit
			total[1] += len(im.labels)
			total[2] += fa
		}
		d.Close()
		score[fit] = total
		t.Logf("letterbox=%v: recall %d/%d = %.2f, unmatched detections %d", letterbox, total[0], total[1], float64(total[0])/float64(total[1]), total[2])
	}
	if score[centernet.FitLetterbox][0] < score[centernet.FitStretch][0] {
		t.Errorf("the stretch finds more labelled objects (%d) than the default letterbox (%d): make it the default",
			score[centernet.FitStretch][0], score[centernet.FitLetterbox][0])
	}
}
