package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"roadlog/schema"
	"roadlog/tools/export/query"
	"roadlog/tools/internal/testdrive"
)

func TestScratch(t *testing.T) {
	info, err := testdrive.Write("/tmp/exp/td", testdrive.Options{Duration: 14 * time.Second, Live: true, RunID: "truth-1"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(info.Dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := d.Labels("live")
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.Parse("class = car and ttc < 3")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := Select(context.Background(), d, l, Selection{Events: []EventSpec{{Code: schema.EvMark}, {Code: schema.EvFCW}}, Queries: []*query.Query{q}, Before: 2 * time.Second, After: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		fmt.Println(ClipName(w), w.Reasons)
	}
	os.RemoveAll("/tmp/exp/out")
	start := time.Now()
	sum, err := Export(context.Background(), d, l, ws, Options{Out: "/tmp/exp/out", Images: true, Video: true, Labels: []LabelFormat{COCO, YOLO, KITTI}, Parquet: true, CSV: true, Software: "test"})
	fmt.Println(time.Since(start), err)
	if sum != nil {
		fmt.Printf("%+v\n", *sum)
	}
	_ = filepath.Join
}
