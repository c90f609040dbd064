package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"roadlog/internal/duckdb"
	"roadlog/internal/testdrive"
	"roadlog/record/drive"
	"roadlog/schema"
	"roadlog/tools/candecode"
	"roadlog/tools/export/internal/formatcheck"
)

// exportFCW exports the live FCW of the test drive with every format and all cameras.
func exportFCW(t *testing.T) (*Drive, Window, string) {
	t.Helper()
	d := testDrive(t)
	l := labelsOf(t, d, LiveRun)
	ws := windowsOf(t, d, l, Selection{Events: []EventSpec{{Code: schema.EvFCW}}, Before: 500 * time.Millisecond, After: 200 * time.Millisecond})
	if len(ws) != 1 {
		t.Fatalf("%d FCW windows, want 1", len(ws))
	}
	opt := allFormats(t.TempDir())
	opt.Cameras = nil
	sum, err := Export(context.Background(), d, l, ws, opt)
	if err != nil {
		t.Fatal(err)
	}
	return d, ws[0], sum.Clips[0].Dir
}

// framesIn reads the frames rows of the window straight from the drive.
func framesIn(t *testing.T, d *Drive, w Window) []schema.Frame {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(d.Dir, "seg-*", "frames.arrow"))
	var out []schema.Frame
	for _, p := range paths {
		if _, err := drive.ReadRows(p, schema.FramesTable, func(f *schema.Frame) error {
			if f.T >= w.From && f.T < w.To {
				r := *f
				r.File = filepath.Join(filepath.Dir(p), f.File)
				out = append(out, r)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestLabelFilesFollowTheirSpecs(t *testing.T) {
	d, w, dir := exportFCW(t)
	frames := framesIn(t, d, w)
	st, err := formatcheck.COCO(filepath.Join(dir, "coco.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != len(frames) || st.Annotations == 0 || st.Categories == 0 {
		t.Fatalf("coco.json: %+v for %d frames", st, len(frames))
	}
	for _, f := range st.ImageFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("coco.json names %s: %v", f, err)
		}
	}
	nc, err := formatcheck.YOLONames(filepath.Join(dir, "data.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	yolo, _ := filepath.Glob(filepath.Join(dir, "labels", "cam*", "*.txt"))
	kitti, _ := filepath.Glob(filepath.Join(dir, "kitti", "cam*", "[0-9]*.txt"))
	if len(yolo) != len(frames) || len(kitti) != len(frames) {
		t.Fatalf("%d YOLO and %d KITTI files for %d frames", len(yolo), len(kitti), len(frames))
	}
	var yoloRows, kittiRows int
	for _, p := range yolo {
		n, err := formatcheck.YOLO(p, nc)
		if err != nil {
			t.Fatal(err)
		}
		yoloRows += n
		img := filepath.Join(dir, "images", filepath.Base(filepath.Dir(p)), strings.TrimSuffix(filepath.Base(p), ".txt")+".jpg")
		if _, err := os.Stat(img); err != nil {
			t.Fatalf("YOLO label %s has no image: %v", p, err)
		}
	}
	for _, p := range kitti {
		n, err := formatcheck.KITTI(p)
		if err != nil {
			t.Fatal(err)
		}
		kittiRows += n
	}
	if yoloRows != st.Annotations || kittiRows != st.Annotations {
		t.Errorf("%d COCO annotations, %d YOLO rows, %d KITTI rows", st.Annotations, yoloRows, kittiRows)
	}
	calibs, _ := filepath.Glob(filepath.Join(dir, "kitti", "cam*", "calib.txt"))
	if len(calibs) != 4 {
		t.Fatalf("%d KITTI calib files, want 4", len(calibs))
	}
	for _, p := range calibs {
		if err := formatcheck.KITTICalib(p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKITTILocationProjectsOntoTheBox checks the geometry: the location written for a
// front-camera object, projected with the calib file's P2, lands on the bottom edge
// of its box (the simulator's boxes come from the same cameras).
func TestKITTILocationProjectsOntoTheBox(t *testing.T) {
	_, _, dir := exportFCW(t)
	calib, err := os.ReadFile(filepath.Join(dir, "kitti", "cam0", "calib.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var p [12]float64
	for _, line := range strings.Split(string(calib), "\n") {
		if f := strings.Fields(line); len(f) == 13 && f[0] == "P2:" {
			for i := range p {
				p[i], _ = strconv.ParseFloat(f[i+1], 64)
			}
		}
	}
	labels, _ := filepath.Glob(filepath.Join(dir, "kitti", "cam0", "[0-9]*.txt"))
	checked := 0
	for _, path := range labels {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Fields(line)
			if len(f) < 15 {
				continue
			}
			v := make([]float64, len(f))
			for i := 1; i < len(f); i++ {
				v[i], _ = strconv.ParseFloat(f[i], 64)
			}
			x, y, z := v[11], v[12], v[13]
			if z < 5 || v[1] > 0 { // behind or truncated boxes: skip
				continue
			}
			u := (p[0]*x + p[1]*y + p[2]*z + p[3]) / z
			vv := (p[4]*x + p[5]*y + p[6]*z + p[7]) / z
			// the near face's bottom centre: inside the box horizontally, at its bottom
			if u < v[4]-1 || u > v[6]+1 || math.Abs(vv-v[7]) > 1.5 {
				t.Errorf("%s: location %v projects to (%.1f, %.1f), box %v %v %v %v", filepath.Base(path), f[11:14], u, vv, v[4], v[5], v[6], v[7])
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no front-camera object to check")
	}
}

func TestMP4ClipHoldsTheFrames(t *testing.T) {
	d, w, dir := exportFCW(t)
	frames := framesIn(t, d, w)
	for cam := uint8(0); cam < 4; cam++ {
		path := filepath.Join(dir, "video", fmt.Sprintf("cam%d.mp4", cam))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var in fmp4.Init
		if err := in.Unmarshal(bytes.NewReader(b)); err != nil {
			t.Fatalf("%s: init: %v", path, err)
		}
		if _, ok := in.Tracks[0].Codec.(*fmp4.CodecMJPEG); !ok {
			t.Fatalf("%s: codec %T", path, in.Tracks[0].Codec)
		}
		var parts fmp4.Parts
		if err := parts.Unmarshal(b); err != nil {
			t.Fatalf("%s: fragments: %v", path, err)
		}
		var samples []*fmp4.Sample
		var base uint64
		for i, p := range parts {
			if i == 0 {
				base = p.Tracks[0].BaseTime
			}
			samples = append(samples, p.Tracks[0].Samples...)
		}
		var want []schema.Frame
		for _, f := range frames {
			if f.Camera == cam {
				want = append(want, f)
			}
		}
		if len(samples) != len(want) || base != 0 {
			t.Fatalf("cam%d: %d samples from %d, want %d from 0", cam, len(samples), base, len(want))
		}
		for i, s := range samples {
			img, err := os.ReadFile(filepath.Join(dir, "images", fmt.Sprintf("cam%d", cam), fmt.Sprintf("%09d.jpg", (want[i].T-d.StartT)/1e6)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Payload, img) {
				t.Fatalf("cam%d sample %d differs from its JPEG", cam, i)
			}
			if i+1 < len(want) {
				if d := int64(s.Duration) * 1e9 / drive.VideoTimescale; math.Abs(float64(d-(want[i+1].T-want[i].T))) > 2e5 {
					t.Fatalf("cam%d sample %d lasts %d ns, frames are %d ns apart", cam, i, d, want[i+1].T-want[i].T)
				}
			}
		}
	}
	if ffprobe, err := exec.LookPath("ffprobe"); err == nil {
		out, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
			"stream=nb_read_frames,codec_name", "-of", "csv=p=0", filepath.Join(dir, "video", "cam0.mp4")).Output()
		if err != nil {
			t.Fatalf("ffprobe: %v", err)
		}
		want := 0
		for _, f := range frames {
			if f.Camera == 0 {
				want++
			}
		}
		if got := strings.TrimSpace(string(out)); got != fmt.Sprintf("mjpeg,%d", want) {
			t.Errorf("ffprobe: %q, want mjpeg,%d", got, want)
		}
	}
}

type countSink struct {
	from, to int64
	n        int
}

func (c *countSink) Write(r *candecode.Row) error {
	if r.T >= c.from && r.T < c.to {
		c.n++
	}
	return nil
}

func TestTablesHoldTheWindowsRows(t *testing.T) {
	d, w, dir := exportFCW(t)
	db, err := d.DBC()
	if err != nil {
		t.Fatal(err)
	}
	cs := &countSink{from: w.From, to: w.To}
	if _, err := candecode.Decode(d.Dir, db, candecode.Options{}, cs); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"parquet", "csv"} {
		n := countRows(t, filepath.Join(dir, "tables", "can_decoded."+format))
		if n != cs.n || n == 0 {
			t.Errorf("can_decoded.%s: %d rows, candecode decodes %d in the window", format, n, cs.n)
		}
	}
	for _, name := range []schema.TableName{schema.TableEgo, schema.TableGNSS, schema.TableIMU, schema.TableCAN, schema.TableObjects, schema.TableTargets, schema.TableEvents} {
		paths, _ := filepath.Glob(filepath.Join(d.Dir, "seg-*", drive.TableFile(name)))
		want := 0
		for _, p := range paths {
			if _, err := drive.ReadTable(p, func(rec arrowRecord) error {
				ts := tcol(rec)
				for _, v := range ts {
					if v >= w.From && v < w.To {
						want++
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		got := countRows(t, filepath.Join(dir, "tables", string(name)+".parquet"))
		csvRows := countRows(t, filepath.Join(dir, "tables", string(name)+".csv"))
		if got != want || csvRows != want {
			t.Errorf("%s: parquet %d rows, csv %d, the drive has %d in the window", name, got, csvRows, want)
		}
		if name != schema.TableEvents && want == 0 {
			t.Errorf("%s: no rows in the window; the test proves nothing", name)
		}
	}
}

// TestDuckDBReadsTheClip reads the clip's Parquet and COCO files with DuckDB.
func TestDuckDBReadsTheClip(t *testing.T) {
	_, w, dir := exportFCW(t)
	tables := filepath.ToSlash(filepath.Join(dir, "tables"))
	res := duckdb.Query(t,
		fmt.Sprintf(`select count(*) as n, min(epoch_ns(t)) as lo, max(epoch_ns(t)) as hi from read_parquet('%s/imu.parquet')`, tables),
		fmt.Sprintf(`select count(*) as n from read_csv('%s/imu.csv', header = true)`, tables),
		fmt.Sprintf(`select count(*) as n from (select unnest(annotations) from read_json('%s/coco.json', maximum_object_size = 268435456))`, filepath.ToSlash(dir)),
		fmt.Sprintf(`select count(*) as n from read_parquet('%s/objects.parquet') where camera = 0 and lane = 1`, tables),
	)
	n := func(v any) int64 {
		switch x := v.(type) {
		case string:
			i, _ := strconv.ParseInt(x, 10, 64)
			return i
		case float64:
			return int64(x)
		}
		return -1
	}
	pq, cs := n(res[0][0]["n"]), n(res[1][0]["n"])
	if pq == 0 || pq != cs {
		t.Errorf("DuckDB: imu.parquet %d rows, imu.csv %d", pq, cs)
	}
	if lo, hi := n(res[0][0]["lo"]), n(res[0][0]["hi"]); lo < w.From || hi >= w.To {
		t.Errorf("DuckDB: imu t in [%d, %d], window [%d, %d)", lo, hi, w.From, w.To)
	}
	st, err := formatcheck.COCO(filepath.Join(dir, "coco.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := n(res[2][0]["n"]); got != int64(st.Annotations) {
		t.Errorf("DuckDB: %d COCO annotations, the Go check %d", got, st.Annotations)
	}
	if n(res[3][0]["n"]) == 0 {
		t.Error("DuckDB: no front-camera ego-lane objects")
	}
}

func TestH264ClipsStartAtAKeyframe(t *testing.T) {
	info, err := testdrive.Write(t.TempDir(), testdrive.Options{Duration: 3 * time.Second, Segment: 2 * time.Second, H264: true, Live: true})
	if errors.Is(err, testdrive.ErrNoFFmpeg) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(info.Dir)
	if err != nil {
		t.Fatal(err)
	}
	l := labelsOf(t, d, LiveRun)
	// a window starting mid-GOP in the first segment and running into the second
	w := Window{From: d.StartT + 1_500_000_000, To: d.StartT + 2_600_000_000}
	opt := Options{Out: t.TempDir(), Cameras: []uint8{0}, Video: true, Labels: []LabelFormat{COCO}}
	sum, err := Export(context.Background(), d, l, []Window{w}, opt)
	if err != nil {
		t.Fatal(err)
	}
	frames := framesIn(t, d, Window{From: d.StartT, To: w.To})
	var cam0 []schema.Frame
	lastKey := -1
	for _, f := range frames {
		if f.Camera == 0 {
			if f.T < w.From && f.Keyframe {
				lastKey = len(cam0)
			}
			cam0 = append(cam0, f)
		}
	}
	if lastKey < 0 || cam0[lastKey+1].T >= w.From {
		t.Fatal("the test window does not start mid-GOP")
	}
	want := cam0[lastKey:]
	b, err := os.ReadFile(filepath.Join(sum.Clips[0].Dir, "video", "cam0.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	var samples []*fmp4.Sample
	for _, p := range parts {
		samples = append(samples, p.Tracks[0].Samples...)
	}
	if len(samples) != len(want) {
		t.Fatalf("%d samples, want %d (from the keyframe before the start)", len(samples), len(want))
	}
	for i, s := range samples {
		data, err := os.ReadFile(want[i].File)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.Payload, data[want[i].Offset:want[i].Offset+int64(want[i].Size)]) || s.IsNonSyncSample == want[i].Keyframe {
			t.Fatalf("sample %d differs from the recorded access unit", i)
		}
	}
	if ffprobe, err := exec.LookPath("ffprobe"); err == nil {
		out, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
			"stream=nb_read_frames,codec_name", "-of", "csv=p=0", filepath.Join(sum.Clips[0].Dir, "video", "cam0.mp4")).CombinedOutput()
		if err != nil {
			t.Fatalf("ffprobe: %v: %s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != fmt.Sprintf("h264,%d", len(want)) {
			t.Errorf("ffprobe decodes %q, want h264,%d", got, len(want))
		}
	}
	// JPEG frames decoded from H.264 look like the frames the simulator rendered
	opt = Options{Out: t.TempDir(), Cameras: []uint8{0}, Images: true}
	sum, err = Export(context.Background(), d, l, []Window{w}, opt)
	if err != nil {
		t.Fatal(err)
	}
	mj, err := testdrive.Write(t.TempDir(), testdrive.Options{Duration: 3 * time.Second, Segment: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dm, err := Open(mj.Dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Export(context.Background(), dm, labelsOf(t, dm, LiveRun), []Window{w}, opt2(t, opt))
	if err != nil {
		t.Fatal(err)
	}
	imgs, _ := filepath.Glob(filepath.Join(sum.Clips[0].Dir, "images", "cam0", "*.jpg"))
	inWindow := 0
	for _, f := range want {
		if f.T >= w.From {
			inWindow++
		}
	}
	if len(imgs) != inWindow {
		t.Fatalf("%d JPEG frames, want %d", len(imgs), inWindow)
	}
	for _, p := range imgs {
		a := decodeJPEG(t, p)
		b := decodeJPEG(t, filepath.Join(ref.Clips[0].Dir, "images", "cam0", filepath.Base(p)))
		if psnr := psnr(a, b); psnr < 25 {
			t.Errorf("%s: decoded H.264 frame is %.1f dB from the rendered one", filepath.Base(p), psnr)
		}
	}
}

func opt2(t *testing.T, o Options) Options {
	o.Out = t.TempDir()
	return o
}

func decodeJPEG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// psnr compares the luma of two images of one size.
func psnr(a, b image.Image) float64 {
	var se float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ya := color.GrayModel.Convert(a.At(x, y)).(color.Gray).Y
			yb := color.GrayModel.Convert(b.At(x, y)).(color.Gray).Y
			d := float64(ya) - float64(yb)
			se += d * d
		}
	}
	mse := se / float64(r.Dx()*r.Dy())
	if mse == 0 {
		return 99
	}
	return 10 * math.Log10(255*255/mse)
}

// countRows counts the rows of a Parquet (arrow-go's reader) or CSV file.
func countRows(t *testing.T, path string) int {
	t.Helper()
	if strings.HasSuffix(path, ".csv") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Count(b, []byte("\n")) - 1
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, parquet.NewReaderProperties(memory.DefaultAllocator),
		pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer tbl.Release()
	return int(tbl.NumRows())
}

type arrowRecord = arrow.RecordBatch

// tcol returns a batch's t column.
func tcol(rec arrow.RecordBatch) []int64 {
	ts := rec.Column(0).(*array.Timestamp)
	out := make([]int64, ts.Len())
	for i := range out {
		out[i] = int64(ts.Value(i))
	}
	return out
}
