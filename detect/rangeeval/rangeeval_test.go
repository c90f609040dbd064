package rangeeval

import (
	"path/filepath"
	"strings"
	"testing"

	"roadlog/detect/labels"
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
