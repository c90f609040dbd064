package formatcheck

import (
	"os"
	"path/filepath"
	"testing"
)

// The checks must reject what the specs forbid: one case per rule.
func TestChecksReject(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `{"info":{},"images":[{"id":1,"width":10,"height":10,"file_name":"a.jpg"}],"annotations":[{"id":1,"image_id":1,"category_id":3,"bbox":[1,1,2,2],"area":4,"iscrowd":0,"segmentation":[]}],"categories":[{"id":3,"name":"car","supercategory":"x"}]}`
	if _, err := COCO(write("good.json", good)); err != nil {
		t.Fatalf("valid COCO rejected: %v", err)
	}
	for name, s := range map[string]string{
		"no-info":     `{"images":[],"annotations":[],"categories":[]}`,
		"bad-image":   `{"info":{},"images":[{"id":1.5,"width":10,"height":10,"file_name":"a"}],"annotations":[],"categories":[]}`,
		"orphan":      `{"info":{},"images":[],"annotations":[{"id":1,"image_id":9,"category_id":3,"bbox":[1,1,2,2],"area":4,"iscrowd":0,"segmentation":[]}],"categories":[{"id":3,"name":"car","supercategory":""}]}`,
		"outside":     `{"info":{},"images":[{"id":1,"width":10,"height":10,"file_name":"a"}],"annotations":[{"id":1,"image_id":1,"category_id":3,"bbox":[9,1,2,2],"area":4,"iscrowd":0,"segmentation":[]}],"categories":[{"id":3,"name":"car","supercategory":""}]}`,
		"bad-area":    `{"info":{},"images":[{"id":1,"width":10,"height":10,"file_name":"a"}],"annotations":[{"id":1,"image_id":1,"category_id":3,"bbox":[1,1,2,2],"area":9,"iscrowd":0,"segmentation":[]}],"categories":[{"id":3,"name":"car","supercategory":""}]}`,
		"no-category": `{"info":{},"images":[{"id":1,"width":10,"height":10,"file_name":"a"}],"annotations":[{"id":1,"image_id":1,"category_id":4,"bbox":[1,1,2,2],"area":4,"iscrowd":0,"segmentation":[]}],"categories":[{"id":3,"name":"car","supercategory":""}]}`,
	} {
		if _, err := COCO(write(name+".json", s)); err == nil {
			t.Errorf("COCO %s accepted", name)
		}
	}
	if _, err := YOLO(write("ok.txt", "2 0.5 0.5 0.2 0.2\n"), 3); err != nil {
		t.Fatalf("valid YOLO rejected: %v", err)
	}
	for _, s := range []string{"3 0.5 0.5 0.2 0.2\n", "2 0.5 0.5 0.2\n", "2 1.5 0.5 0.2 0.2\n", "2 0.95 0.5 0.2 0.2\n", "x 0.5 0.5 0.2 0.2\n", "2 0.5 0.5 0 0.2\n", "2 0.5 0.5 0.2 0.2"} {
		if _, err := YOLO(write("bad.txt", s), 3); err == nil {
			t.Errorf("YOLO %q accepted", s)
		}
	}
	if n, err := YOLONames(write("data.yaml", "path: .\nnames:\n  0: a\n  1: b\n")); err != nil || n != 2 {
		t.Fatalf("names: %d %v", n, err)
	}
	if _, err := YOLONames(write("gap.yaml", "names:\n  0: a\n  2: b\n")); err == nil {
		t.Error("names with a gap accepted")
	}
	line := "Car 0.00 3 -10.00 1.00 2.00 30.00 40.00 -1.00 1.80 -1.00 0.00 1.30 19.06 -10.00 0.5500\n"
	if _, err := KITTI(write("k.txt", line)); err != nil {
		t.Fatalf("valid KITTI rejected: %v", err)
	}
	for _, s := range []string{
		"Bus 0.00 3 -10.00 1.00 2.00 30.00 40.00 -1.00 1.80 -1.00 0.00 1.30 19.06 -10.00\n",
		"Car 1.50 3 -10.00 1.00 2.00 30.00 40.00 -1.00 1.80 -1.00 0.00 1.30 19.06 -10.00\n",
		"Car 0.00 4 -10.00 1.00 2.00 30.00 40.00 -1.00 1.80 -1.00 0.00 1.30 19.06 -10.00\n",
		"Car 0.00 3 -10.00 31.00 2.00 30.00 40.00 -1.00 1.80 -1.00 0.00 1.30 19.06 -10.00\n",
		"Car 0.00 3 5.00 1.00 2.00 30.00 40.00 -1.00 1.80 -1.00 0.00 1.30 19.06 -10.00\n",
		"Car 0.00 3 -10.00 1.00 2.00 30.00 40.00 -1.00 1.80 -1.00 0.00 1.30 19.06\n",
	} {
		if _, err := KITTI(write("kb.txt", s)); err == nil {
			t.Errorf("KITTI %q accepted", s)
		}
	}
	if err := KITTICalib(write("calib.txt", "P0: 1 0 0 0 0 1 0 0 0 0 1 0\n")); err == nil {
		t.Error("calib without R0_rect accepted")
	}
}
