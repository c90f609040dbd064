package rangeeval

import (
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/detect"
	"roadlog/detect/centernet"
	"roadlog/detect/cpu"
	"roadlog/detect/labels"
	"roadlog/detect/obs"
	"roadlog/detect/ranging"
	"roadlog/internal/shared"
)

func corpus(t *testing.T) []labels.Image {
	t.Helper()
	dir := shared.Path(t, "testdata/images")
	k, err := labels.LoadKITTI(filepath.Join(dir, "kitti"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := labels.LoadNuScenes(filepath.Join(dir, "nuscenes"))
	if err != nil {
		t.Fatal(err)
	}
	return append(k, n...)
}

// TestRangingOnLabelledBoxes ranges the labelled boxes of the KITTI and nuScenes
// images (a perfect detector), so the numbers judge ranging alone. Goal: median
// relative distance error of cars under 40 m ≤ 10 %.
func TestRangingOnLabelledBoxes(t *testing.T) {
	rep, err := Evaluate(corpus(t), GroundTruth, ranging.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.WriteTable(&sb)
	t.Log("ranging on labelled boxes:\n" + sb.String())
	if rep.CarsUnder40 < 5 {
		t.Fatalf("only %d cars under 40 m ranged; the corpus has more", rep.CarsUnder40)
	}
	if rep.CarMedianAbsRelErr > 0.10 {
		t.Errorf("median relative distance error of cars < 40 m = %.1f %%, goal ≤ 10 %%", 100*rep.CarMedianAbsRelErr)
	}
	for _, b := range rep.Bands {
		if b.Detected != b.Labelled {
			t.Errorf("band %s: %d of %d labelled boxes matched to themselves", bandName(b), b.Detected, b.Labelled)
		}
	}
}

// cnn returns the default detector — CenterNet on the CPU engine, road classes at
// their default thresholds, letterboxed input — as an evaluation Detector.
func cnn(t *testing.T) Detector {
	t.Helper()
	d, err := centernet.NewCPU(centernet.Config{Thresholds: detect.RoadThresholds()}, cpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return func(im *labels.Image) ([]obs.Detection, error) {
		f, err := os.Open(im.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		m, _, err := image.Decode(f)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", im.Path, err)
		}
		res, err := d.Detect(context.Background(), []image.Image{m})
		if err != nil {
			return nil, err
		}
		var out []obs.Detection
		for _, x := range res[0] {
			out = append(out, obs.Detection{X1: x.Box.X1, Y1: x.Box.Y1, X2: x.Box.X2, Y2: x.Box.Y2, Class: x.Class, Label: x.Label, Score: x.Score})
		}
		return out, nil
	}
}

// TestRangingWithCNN ranges what the real detector finds on the labelled images:
// detection recall per distance band (a label counts as found when a detection of
// its group overlaps it at IoU ≥ 0.5) and the median relative distance error of the
// cars under 40 m that it finds. Goal: ≤ 10 %, asserted; recall is reported.
func TestRangingWithCNN(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CNN on the CPU")
	}
	imgs := corpus(t)
	truth, err := Evaluate(imgs, GroundTruth, ranging.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(imgs, cnn(t), ranging.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.WriteTable(&sb)
	t.Log("ranging with the CNN (CenterNet, CPU engine):\n" + sb.String())
	found := 0
	for i, b := range rep.Bands {
		found += b.Detected
		if b.Labelled != truth.Bands[i].Labelled {
			t.Fatalf("band %s: %d labelled objects with the CNN, %d with the labelled boxes", bandName(b), b.Labelled, truth.Bands[i].Labelled)
		}
	}
	if found == 0 {
		t.Fatal("the CNN found none of the labelled objects")
	}
	if rep.CarsUnder40 < 5 {
		t.Fatalf("the CNN found and ranged %d cars under 40 m of %d; too few to judge", rep.CarsUnder40, rep.CarsUnder40Labelled)
	}
	if rep.CarMedianAbsRelErr > 0.10 {
		t.Errorf("median relative distance error of the cars < 40 m the CNN found = %.1f %%, goal ≤ 10 %%", 100*rep.CarMedianAbsRelErr)
	}
}
