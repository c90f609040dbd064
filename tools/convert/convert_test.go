package convert

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/foxglove/mcap/go/mcap"
	"go.uber.org/goleak"

	"roadlog/acquire/can/candump"
	"roadlog/internal/duckdb"
	"roadlog/internal/testdrive"
	"roadlog/record/drive"
	"roadlog/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	once   sync.Once
	drives []string // two drives with different ids
	dErr   error
)

// testDrives are two 6 s simulated drives with live labels.
func testDrives(t testing.TB) []string {
	t.Helper()
	once.Do(func() {
		root, err := os.MkdirTemp("", "roadlog-convert-test-")
		if err != nil {
			dErr = err
			return
		}
		for _, id := range []string{"20261130T081500Z_testsim", "20261130T091500Z_testsim"} {
			info, err := testdrive.Write(root, testdrive.Options{Duration: 6 * time.Second, Segment: 4 * time.Second, Live: true, ID: id})
			if err != nil {
				dErr = err
				return
			}
			drives = append(drives, info.Dir)
		}
	})
	if dErr != nil {
		t.Fatal(dErr)
	}
	return drives
}

// rowsOf counts a table's rows in each segment of a drive, read by record/drive.
func rowsOf(t testing.TB, dir string, table schema.TableName) map[int]int64 {
	t.Helper()
	out := map[int]int64{}
	segs, err := drive.Segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		sc, err := drive.ReadTable(filepath.Join(dir, drive.SegmentDir(s), drive.TableFile(table)), func(arrow.RecordBatch) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		out[s] = sc.Rows()
	}
	return out
}

func convert(t testing.TB, dir, out string, f Format) *Summary {
	t.Helper()
	s, err := Convert(context.Background(), dir, Options{Out: out, Format: f})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParquetHiveLayout(t *testing.T) {
	ds := testDrives(t)
	out := t.TempDir()
	for _, d := range ds {
		convert(t, d, out, Parquet)
	}
	for _, d := range ds {
		m, err := drive.ReadManifest(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range schema.Tables() {
			for seg, n := range rowsOf(t, d, tb.TableName()) {
				p := HivePath(out, tb.TableName(), m.DriveID, seg)
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				tbl, err := pqarrow.ReadTable(context.Background(), f, parquet.NewReaderProperties(memory.DefaultAllocator),
					pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
				f.Close()
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if tbl.NumRows() != n || tbl.Schema().NumFields() != tb.Schema().NumFields() {
					t.Errorf("%s: %d rows × %d columns, want %d × %d", p, tbl.NumRows(), tbl.Schema().NumFields(), n, tb.Schema().NumFields())
				}
				tbl.Release()
			}
		}
	}
	// no temporary files left
	filepath.WalkDir(out, func(p string, e os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".tmp") {
			t.Errorf("temporary file %s left", p)
		}
		return nil
	})
	// DuckDB reads the two drives as one dataset per table, drive and seg from the paths
	var want [2]int64
	for i, d := range ds {
		for _, n := range rowsOf(t, d, schema.TableCAN) {
			want[i] += n
		}
	}
	glob := filepath.ToSlash(filepath.Join(out, "can", "*", "*", "*.parquet"))
	res := duckdb.Query(t, fmt.Sprintf(`select drive, count(*) as n, count(distinct seg) as segs, min(epoch_ns(t)) as first
		from read_parquet('%s', hive_partitioning = true) group by drive order by drive`, glob),
		fmt.Sprintf(`select count(*) as n from read_parquet('%s', hive_partitioning = true)
		where label = 'car' and lane = 1 and distance < 50`, filepath.ToSlash(filepath.Join(out, "objects", "*", "*", "*.parquet"))))
	if len(res[0]) != 2 {
		t.Fatalf("DuckDB sees %d drives: %v", len(res[0]), res[0])
	}
	for i, r := range res[0] {
		n, _ := strconv.ParseInt(fmt.Sprint(r["n"]), 10, 64)
		if r["drive"] != filepath.Base(ds[i]) || n != want[i] || fmt.Sprint(r["segs"]) != "2" {
			t.Errorf("DuckDB: %v, want drive %s with %d rows in 2 segments", r, filepath.Base(ds[i]), want[i])
		}
	}
	if n, _ := strconv.Atoi(fmt.Sprint(res[1][0]["n"])); n == 0 {
		t.Error("DuckDB: no car ahead in the ego lane in the objects dataset")
	}
}

func TestCSVOneFilePerTable(t *testing.T) {
	d := testDrives(t)[0]
	out := t.TempDir()
	s := convert(t, d, out, CSV)
	for _, tb := range schema.Tables() {
		var want int64
		for _, n := range rowsOf(t, d, tb.TableName()) {
			want += n
		}
		b, err := os.ReadFile(filepath.Join(out, filepath.Base(d), string(tb.TableName())+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if got := int64(bytes.Count(b, []byte("\n")) - 1); got != want {
			t.Errorf("%s.csv: %d rows, the drive has %d", tb.TableName(), got, want)
		}
	}
	if len(s.Files) != len(schema.Tables()) {
		t.Errorf("%d files written", len(s.Files))
	}
}

func TestCandumpLog(t *testing.T) {
	d := testDrives(t)[0]
	out := t.TempDir()
	convert(t, d, out, Candump)
	var rows []schema.CAN
	segs, _ := drive.Segments(d)
	for _, s := range segs {
		if _, err := drive.ReadRows(filepath.Join(d, drive.SegmentDir(s), "can.arrow"), schema.CANTable, func(r *schema.CAN) error {
			c := *r
			c.Data = append([]byte(nil), r.Data...)
			rows = append(rows, c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join(out, filepath.Base(d)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	i := 0
	for sc.Scan() {
		var l candump.Line
		if err := candump.ParseLine(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d %q: %v", i+1, sc.Text(), err)
		}
		if i >= len(rows) {
			t.Fatalf("more lines than frames")
		}
		r := rows[i]
		if l.T()/1000 != r.T/1000 || l.Iface != r.Bus || l.Frame.ID != r.ID || !bytes.Equal(l.Frame.Data[:l.Frame.Len], r.Data) {
			t.Fatalf("line %d %q does not match the frame %+v", i+1, sc.Text(), r)
		}
		i++
	}
	if i != len(rows) || i == 0 {
		t.Fatalf("%d lines for %d frames", i, len(rows))
	}
}

// mcapCheck reads an MCAP file the way `mcap doctor` does with the Go library: a
// linear pass with chunk CRC validation, the summary against what the pass found,
// and the indexed reader's messages against the linear ones.
type mcapCounts struct {
	messages map[string]int // per topic
	schemas  map[string]string
	total    int
}

func mcapCheck(t *testing.T, path string) mcapCounts {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// 1. linear pass, chunk CRCs validated
	lx, err := mcap.NewLexer(f, &mcap.LexerOptions{ValidateChunkCRCs: true, AttachmentCallback: func(a *mcap.AttachmentReader) error {
		_, err := io.Copy(io.Discard, a.Data())
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer lx.Close()
	channels := map[uint16]*mcap.Channel{}
	schemas := map[uint16]*mcap.Schema{}
	c := mcapCounts{messages: map[string]int{}, schemas: map[string]string{}}
	var lastLog = map[uint16]uint64{}
	buf := make([]byte, 1<<20)
	for {
		tok, rec, err := lx.Next(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("lexer: %v", err)
		}
		if len(rec) > len(buf) {
			buf = rec
		}
		switch tok {
		case mcap.TokenSchema:
			s, err := mcap.ParseSchema(rec)
			if err != nil {
				t.Fatal(err)
			}
			schemas[s.ID] = s
			if !json.Valid(s.Data) || s.Encoding != "jsonschema" {
				t.Fatalf("schema %s is not a JSON schema", s.Name)
			}
		case mcap.TokenChannel:
			ch, err := mcap.ParseChannel(rec)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := schemas[ch.SchemaID]; !ok {
				t.Fatalf("channel %s names schema %d before it is written", ch.Topic, ch.SchemaID)
			}
			channels[ch.ID] = ch
			c.schemas[ch.Topic] = schemas[ch.SchemaID].Name
		case mcap.TokenMessage:
			m, err := mcap.ParseMessage(rec)
			if err != nil {
				t.Fatal(err)
			}
			ch, ok := channels[m.ChannelID]
			if !ok {
				t.Fatalf("message on unknown channel %d", m.ChannelID)
			}
			if !json.Valid(m.Data) {
				t.Fatalf("%s: message is not JSON", ch.Topic)
			}
			if m.LogTime < lastLog[m.ChannelID] {
				t.Fatalf("%s: log time goes back", ch.Topic)
			}
			lastLog[m.ChannelID] = m.LogTime
			c.messages[ch.Topic]++
			c.total++
		}
	}
	// 2. summary: statistics and chunk indexes agree with the pass
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	r, err := mcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Statistics == nil || int(info.Statistics.MessageCount) != c.total || len(info.ChunkIndexes) == 0 {
		t.Fatalf("statistics %+v, chunk indexes %d; the file holds %d messages", info.Statistics, len(info.ChunkIndexes), c.total)
	}
	for id, n := range info.Statistics.ChannelMessageCounts {
		if int(n) != c.messages[channels[id].Topic] {
			t.Errorf("%s: statistics say %d messages, the file holds %d", channels[id].Topic, n, c.messages[channels[id].Topic])
		}
	}
	for _, ci := range info.ChunkIndexes {
		if ci.Compression != "zstd" || ci.MessageStartTime > ci.MessageEndTime {
			t.Errorf("chunk index %+v", ci)
		}
	}
	// 3. the indexed reader gives the same messages, in log-time order
	it, err := r.Messages(mcap.UsingIndex(true), mcap.InOrder(mcap.LogTimeOrder))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var last uint64
	for {
		_, _, m, err := it.NextInto(nil)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.LogTime < last {
			t.Fatal("indexed messages out of log-time order")
		}
		last = m.LogTime
		n++
	}
	if n != c.total {
		t.Fatalf("indexed reader: %d messages, linear pass %d", n, c.total)
	}
	return c
}

func TestMCAP(t *testing.T) {
	d := testDrives(t)[0]
	out := t.TempDir()
	s := convert(t, d, out, MCAP)
	c := mcapCheck(t, filepath.Join(out, filepath.Base(d)+".mcap"))
	if int64(c.total) != s.Messages {
		t.Errorf("summary says %d messages, the file holds %d", s.Messages, c.total)
	}
	m, _ := drive.ReadManifest(d)
	frames := map[uint8]int{}
	segs, _ := drive.Segments(d)
	for _, seg := range segs {
		drive.ReadRows(filepath.Join(d, drive.SegmentDir(seg), "frames.arrow"), schema.FramesTable, func(f *schema.Frame) error {
			frames[f.Camera]++
			return nil
		})
	}
	for _, cam := range m.Cameras {
		img, det := CameraTopic(cam.Name, "image"), CameraTopic(cam.Name, "detections")
		if c.messages[img] != frames[cam.Index] || c.messages[det] != frames[cam.Index] || frames[cam.Index] == 0 {
			t.Errorf("camera %s: %d images, %d annotations for %d frames", cam.Name, c.messages[img], c.messages[det], frames[cam.Index])
		}
		if c.schemas[img] != "foxglove.CompressedImage" || c.schemas[det] != "foxglove.ImageAnnotations" {
			t.Errorf("camera %s: schemas %s, %s", cam.Name, c.schemas[img], c.schemas[det])
		}
	}
	for _, tb := range []schema.TableName{schema.TableCAN, schema.TableEgo, schema.TableTargets, schema.TableEvents, schema.TableIMU, schema.TableObjects} {
		var want int64
		for _, n := range rowsOf(t, d, tb) {
			want += n
		}
		if int64(c.messages[TableTopic(tb)]) != want || want == 0 {
			t.Errorf("%s: %d messages, %d rows", TableTopic(tb), c.messages[TableTopic(tb)], want)
		}
	}
	if c.messages[TopicGNSSFix] == 0 || c.schemas[TopicGNSSFix] != "foxglove.LocationFix" {
		t.Errorf("no LocationFix messages")
	}
	checkMessages(t, filepath.Join(out, filepath.Base(d)+".mcap"), d)
}

// checkMessages decodes a sample of messages: images are the recorded JPEG bytes,
// annotations draw the objects of their frame, location fixes match the GNSS rows.
func checkMessages(t *testing.T, path, d string) {
	t.Helper()
	f, _ := os.Open(path)
	defer f.Close()
	r, err := mcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	it, err := r.Messages(mcap.WithTopics([]string{"/camera/front/image", "/camera/front/detections", TopicGNSSFix}))
	if err != nil {
		t.Fatal(err)
	}
	var boxes, jpegs, fixes int
	for {
		_, ch, m, err := it.NextInto(nil)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ch.Topic {
		case "/camera/front/image":
			var img fxCompressed
			if err := json.Unmarshal(m.Data, &img); err != nil {
				t.Fatal(err)
			}
			if img.Format != "jpeg" || !bytes.HasPrefix(img.Data, []byte{0xFF, 0xD8}) || uint64(img.Timestamp.Sec*1e9+img.Timestamp.Nsec) != m.LogTime {
				t.Fatalf("image message: format %q, %d bytes", img.Format, len(img.Data))
			}
			jpegs++
		case "/camera/front/detections":
			var a fxAnnotations
			if err := json.Unmarshal(m.Data, &a); err != nil {
				t.Fatal(err)
			}
			for _, p := range a.Points {
				if p.Type != 2 || len(p.Points) != 4 {
					t.Fatalf("box %+v", p)
				}
			}
			boxes += len(a.Points)
		case TopicGNSSFix:
			var fx fxLocationFix
			if err := json.Unmarshal(m.Data, &fx); err != nil {
				t.Fatal(err)
			}
			if math.Abs(fx.Latitude) > 90 || math.Abs(fx.Longitude) > 180 || fx.Latitude == 0 {
				t.Fatalf("fix %+v", fx)
			}
			fixes++
		}
	}
	if boxes == 0 || jpegs == 0 || fixes == 0 {
		t.Errorf("%d boxes, %d images, %d fixes", boxes, jpegs, fixes)
	}
}

func TestMCAPH264(t *testing.T) {
	info, err := testdrive.Write(t.TempDir(), testdrive.Options{Duration: 2 * time.Second, Segment: 2 * time.Second, H264: true})
	if errors.Is(err, testdrive.ErrNoFFmpeg) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	convert(t, info.Dir, out, MCAP)
	path := filepath.Join(out, filepath.Base(info.Dir)+".mcap")
	c := mcapCheck(t, path)
	if c.schemas["/camera/front/video"] != "foxglove.CompressedVideo" || c.messages["/camera/front/video"] != 60 {
		t.Fatalf("front video: %d messages, schema %q", c.messages["/camera/front/video"], c.schemas["/camera/front/video"])
	}
	f, _ := os.Open(path)
	defer f.Close()
	r, _ := mcap.NewReader(f)
	it, err := r.Messages(mcap.WithTopics([]string{"/camera/front/video"}))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for {
		_, _, m, err := it.NextInto(nil)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var v fxCompressed
		if err := json.Unmarshal(m.Data, &v); err != nil {
			t.Fatal(err)
		}
		// Annex B; keyframes (every GOP frames) carry the SPS and PPS first
		if v.Format != "h264" || !bytes.HasPrefix(v.Data, []byte{0, 0, 0, 1}) {
			t.Fatalf("frame %d: format %q, starts % x", i, v.Format, v.Data[:4])
		}
		key := i%testdrive.GOP == 0
		if hasSPS := v.Data[4]&0x1f == 7; hasSPS != key {
			t.Fatalf("frame %d: SPS first %v, keyframe %v", i, hasSPS, key)
		}
		i++
	}
}

func TestConvertErrors(t *testing.T) {
	if _, err := ParseFormat("rosbag"); !errors.Is(err, ErrBadFormat) {
		t.Errorf("ParseFormat(rosbag): %v", err)
	}
	if _, err := Convert(context.Background(), t.TempDir(), Options{Out: t.TempDir(), Format: Parquet}); !errors.Is(err, drive.ErrNotDrive) {
		t.Errorf("convert of an empty folder: %v, want ErrNotDrive", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	if _, err := Convert(ctx, testDrives(t)[0], Options{Out: out, Format: MCAP}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled convert: %v", err)
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 0 {
		t.Errorf("a cancelled convert left %d files", len(ents))
	}
}

var update = flag.Bool("update", false, "rewrite testdata/golden")

// TestDeterministicAndGolden converts the same drive twice into every format: the
// bytes are the same, and the MCAP file's channels and message counts, the candump
// log's first lines and the Parquet layout match testdata/golden (-update rewrites).
func TestDeterministicAndGolden(t *testing.T) {
	d := testDrives(t)[0]
	var summary strings.Builder
	for _, f := range []Format{Parquet, CSV, Candump, MCAP} {
		a, b := t.TempDir(), t.TempDir()
		convert(t, d, a, f)
		convert(t, d, b, f)
		var files []string
		filepath.WalkDir(a, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(a, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		sort.Strings(files)
		for _, rel := range files {
			x, _ := os.ReadFile(filepath.Join(a, rel))
			y, err := os.ReadFile(filepath.Join(b, rel))
			if err != nil || !bytes.Equal(x, y) {
				t.Errorf("%s: %s differs between two conversions", f, rel)
			}
			if f == Parquet {
				fmt.Fprintf(&summary, "parquet %s\n", rel)
			}
		}
		switch f {
		case Candump:
			b, _ := os.ReadFile(filepath.Join(a, files[0]))
			lines := strings.SplitN(string(b), "\n", 6)
			fmt.Fprintf(&summary, "candump %s\n%s\n", files[0], strings.Join(lines[:5], "\n"))
		case MCAP:
			c := mcapCheck(t, filepath.Join(a, files[0]))
			var topics []string
			for tp := range c.messages {
				topics = append(topics, tp)
			}
			sort.Strings(topics)
			for _, tp := range topics {
				fmt.Fprintf(&summary, "mcap %s %s %d\n", tp, c.schemas[tp], c.messages[tp])
			}
		}
	}
	golden := filepath.Join("testdata", "golden.txt")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(summary.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run Golden -update)", err)
	}
	if string(want) != summary.String() {
		t.Errorf("conversion summary differs from %s (go test -run Golden -update, then review the diff):\n%s", golden, summary.String())
	}
}
