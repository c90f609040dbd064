package centernet

import (
	"encoding/binary"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"roadlog/internal/shared"
)

// TestStretchMatchesReference: the stretch pre-processing reproduces the reference's
// input tensors bit for bit from PNGs (identical decoders) and within the JPEG decoders'
// few levels of disagreement otherwise.
func TestStretchMatchesReference(t *testing.T) {
	ref := shared.Path(t, "testdata/reference/centernet")
	cases := []struct {
		stem, image string
		tol         float64
	}{
		{"000008", "testdata/images/kitti/image_2/000008.png", 0},
		{"udacity_vehdet_test1", "testdata/images/dashcam/udacity_vehdet_test1.jpg", 4},
		{"ultralytics_bus", "testdata/images/street/ultralytics_bus.jpg", 4},
	}
	p := preprocessor{size: 512}
	dst := make([]float32, 512*512*3)
	for _, c := range cases {
		f, err := os.Open(shared.Path(t, c.image))
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		g := p.fill(img, dst)
		if g.sx != float64(img.Bounds().Dx())/512 || g.dx != 0 {
			t.Errorf("%s: geometry %+v", c.stem, g)
		}
		b, err := os.ReadFile(filepath.Join(ref, c.stem, "input_512.bin"))
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i := range dst {
			want := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			worst = math.Max(worst, math.Abs(float64(dst[i]-want)))
		}
		if worst > c.tol {
			t.Errorf("%s: max abs diff %g > %g", c.stem, worst, c.tol)
		}
	}
}

func TestLetterboxGeometry(t *testing.T) {
	p := preprocessor{size: 512, letterbox: true}
	img := image.NewNRGBA(image.Rect(0, 0, 1024, 256))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	dst := make([]float32, 512*512*3)
	g := p.fill(img, dst)
	// 1024×256 → 512×128 centred: rows 192..319 hold the image, the rest is black
	if g.dy != 192 || g.dx != 0 || g.sx != 2 {
		t.Fatalf("geometry %+v", g)
	}
	if dst[(100*512+10)*3] != 0 || dst[(200*512+10)*3] != 200 || dst[(330*512+10)*3] != 0 {
		t.Errorf("letterbox rows wrong")
	}
	x, y := g.toImage(256, 256)
	if x != 512 || y != 128 {
		t.Errorf("centre maps to %v,%v", x, y)
	}
}
