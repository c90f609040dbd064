package detect_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"strings"
	"testing"

	"roadlog/detect"
	"roadlog/detect/cpu"
)

// The pure-Go engine is a detect.Engine.
var _ detect.Engine = (*cpu.Engine)(nil)

func TestBoxIoU(t *testing.T) {
	a := detect.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}
	cases := []struct {
		b    detect.Box
		want float32
	}{
		{a, 1},
		{detect.Box{X1: 5, Y1: 0, X2: 15, Y2: 10}, 50.0 / 150},
		{detect.Box{X1: 10, Y1: 0, X2: 20, Y2: 10}, 0},
		{detect.Box{X1: 2, Y1: 2, X2: 4, Y2: 4}, 4.0 / 100},
		{detect.Box{X1: 3, Y1: 3, X2: 3, Y2: 8}, 0},
	}
	for _, c := range cases {
		if got := a.IoU(c.b); got != c.want || c.b.IoU(a) != c.want {
			t.Errorf("IoU(%v, %v) = %v, want %v", a, c.b, got, c.want)
		}
	}
}

func TestIgnoreMask(t *testing.T) {
	dets := []detect.Detection{
		{Label: "car", Box: detect.Box{X1: 100, Y1: 100, X2: 300, Y2: 400}},  // bottom at 400/480 = 0.83
		{Label: "bonnet", Box: detect.Box{X1: 0, Y1: 420, X2: 640, Y2: 479}}, // bottom at 0.998
		{Label: "truck", Box: detect.Box{X1: 400, Y1: 200, X2: 600, Y2: 390}},
	}
	got := detect.BonnetMask(0.85).Filter(dets, 640, 480)
	var labels []string
	for _, d := range got {
		labels = append(labels, d.Label)
	}
	if strings.Join(labels, ",") != "car,truck" {
		t.Errorf("kept %v, want car,truck", labels)
	}
	if got := (detect.IgnoreMask{}).Filter(dets[:1], 640, 480); len(got) != 1 {
		t.Errorf("empty mask dropped detections")
	}
}

func TestAnnotate(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	out := detect.Annotate(img, []detect.Detection{{Class: detect.ClassCar, Box: detect.Box{X1: 5, Y1: 5, X2: 20, Y2: 25}}}, 2)
	if c := out.RGBAAt(5, 10); c != (color.RGBA{255, 0, 0, 255}) {
		t.Errorf("box edge %v, want red", c)
	}
	if c := out.RGBAAt(12, 15); c != (color.RGBA{0, 0, 0, 255}) {
		t.Errorf("box inside %v, want the image", c)
	}
	// boxes partly outside the image are clipped, not a panic
	detect.Annotate(img, []detect.Detection{{Box: detect.Box{X1: -10, Y1: -10, X2: 100, Y2: 100}}}, 3)
}

func TestImageResult(t *testing.T) {
	r := detect.ImageResult{Image: "a.jpg", Width: 10, Height: 20, Engine: "cpu", Millis: 1.5,
		Detections: []detect.Detection{{Class: 2, Label: "car", Score: 0.5, Box: detect.Box{X1: 1, Y1: 2, X2: 3, Y2: 4}}}}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "car") || !strings.Contains(b.String(), "x1=1.0") {
		t.Errorf("text %q", b.String())
	}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back detect.ImageResult
	if err := json.Unmarshal(j, &back); err != nil || back.Detections[0].Box != r.Detections[0].Box {
		t.Errorf("JSON round trip: %s, %v", j, err)
	}
}
