package replay

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"roadlog/acquire/can/candump"
	"roadlog/internal/shared"

	"roadlog/record/drive"
	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// roadFlush is how often the recorder writes a batch per table on the road: every
// FlushInterval (500 ms) less Holdback (125 ms).
const roadFlush = 375 * time.Millisecond

// benchDrive holds the drives the merged-read benchmarks read, by data set (sim,
// road), each of five one-minute segments as the recorder cuts them, each twice —
// its tables batched as the recorder writes them on the road (flushed: a batch per
// table every 375 ms) and rewritten in large batches (compacted: as the recorder
// leaves them when a segment closes) — with the same data converted to MCAP (one
// file for the drive).
//
//   - sim: a simulated drive of five minutes (benchDuration) (4 cameras at 30 fps, IMU
//     at 1 kHz, the simulator's CAN: 430 frames/s).
//   - road: the same drive with the simulator's CAN traffic replaced by a real car's
//     (the minute of the comma2k19 RAV4 log in ../shared, played five times: 1,650
//     frames/s on two buses), the density of CAN a test car records; skipped when
//     ../shared is absent.
var benchDrive struct {
	mu   sync.Mutex
	dir  string // temp folder holding them
	sets map[string]*benchFiles
}

// benchFiles are the files of one data set.
type benchFiles struct {
	drives map[string]string // by layout: flushed, compacted
	mcap   map[string]string // by row encoding: json, binary
	rows   int64             // rows of the drive, messages of the MCAP files
	// rows of the drive's table files (frames rows once, not as video frames)
	tableRows int64
	err       error
}

// benchDuration is how long the merged-read benchmarks' drives are, benchSegment
// how long their segments (the recorder's default).
const (
	benchDuration = 5 * time.Minute
	benchSegment  = time.Minute
)

// benchLayouts are the table layouts the merged-read benchmarks read.
var benchLayouts = []string{"flushed", "compacted"}

// benchSets are the data sets the merged-read benchmarks read.
var benchSets = []string{"sim", "road"}

// roadCANPath is the real CAN log of the road data set.
const roadCANPath = "testdata/candump/comma2k19/rav4_2018-08-02_seg40_can.log"

// setupBench returns the files of data set name, written on first use.
func setupBench(b *testing.B, name string) *benchFiles {
	b.Helper()
	var canLog string
	if name == "road" {
		canLog = shared.Path(b, roadCANPath)
	}
	benchDrive.mu.Lock()
	defer benchDrive.mu.Unlock()
	if benchDrive.sets == nil {
		benchDrive.sets = map[string]*benchFiles{}
	}
	bf := benchDrive.sets[name]
	if bf == nil {
		bf = &benchFiles{}
		bf.err = bf.write(name, canLog)
		benchDrive.sets[name] = bf
		if bf.err == nil {
			b.Log(bf.describe(name))
		}
	}
	if bf.err != nil {
		b.Fatal(bf.err)
	}
	return bf
}

// describe says what the data set holds: rows, and the bytes of its files.
func (bf *benchFiles) describe(name string) string {
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
	size := func(path string) int64 {
		st, err := os.Stat(path)
		if err != nil {
			return 0
		}
		return st.Size()
	}
	out := fmt.Sprintf("%s: %d rows, %d of them table rows", name, bf.rows, bf.tableRows)
	for _, layout := range benchLayouts {
		m, err := drive.ReadManifest(bf.drives[layout])
		if err != nil {
			return out + ": " + err.Error()
		}
		var tables, video int64
		for _, seg := range m.Segments {
			for _, st := range seg.Tables {
				tables += st.Bytes
			}
			for _, st := range seg.Videos {
				video += st.Bytes
			}
		}
		out += fmt.Sprintf("; %s: %d segments, tables %s, video %s", layout, len(m.Segments), mb(tables), mb(video))
	}
	return out + fmt.Sprintf("; MCAP: JSON %s, binary %s", mb(size(bf.mcap["json"])), mb(size(bf.mcap["binary"])))
}

func (bf *benchFiles) write(name, canLog string) error {
	if benchDrive.dir == "" {
		dir, err := os.MkdirTemp("", "replay-bench-")
		if err != nil {
			return err
		}
		benchDrive.dir = dir
	}
	dir := filepath.Join(benchDrive.dir, name)
	// recorded as fast as possible: seconds of data per batch until rebatched
	rec, err := testdrive.SimDrive(filepath.Join(dir, "rec"), testdrive.SimSpec{Duration: benchDuration, Segment: benchSegment, Cameras: 4, Render: true})
	if err != nil {
		return err
	}
	if canLog != "" {
		if err := replaceCAN(rec, canLog); err != nil {
			return err
		}
	}
	bf.drives = map[string]string{}
	for _, layout := range benchLayouts {
		p := filepath.Join(dir, layout)
		if err := os.CopyFS(p, os.DirFS(rec)); err != nil {
			return err
		}
		every := roadFlush
		if layout == "compacted" {
			every = 0
		}
		if err := testdrive.Rebatch(p, every); err != nil {
			return err
		}
		bf.drives[layout] = p
	}
	m, err := drive.ReadManifest(bf.drives["flushed"])
	if err != nil {
		return err
	}
	for _, seg := range m.Segments {
		for _, st := range seg.Tables {
			bf.tableRows += st.Rows
		}
	}
	bf.mcap = map[string]string{}
	for _, enc := range []string{"json", "binary"} {
		p := filepath.Join(dir, enc+".mcap")
		n, err := convertMCAP(bf.drives["flushed"], p, enc == "binary")
		if err != nil {
			return err
		}
		bf.mcap[enc], bf.rows = p, n
	}
	return nil
}

// replaceCAN replaces the CAN table of a drive with the frames of a candump log over
// the drive's span, at the log's pace: the log's first frame at the drive's start,
// played again from its start where the drive outlasts it, its buses by their
// interface names.
func replaceCAN(dir, logPath string) error {
	m, err := drive.ReadManifest(dir)
	if err != nil {
		return err
	}
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	r := candump.NewReader(f)
	r.Path = logPath
	var log []schema.CAN // at the log's times, from 0
	var l candump.Line
	var t0 int64
	for {
		err := r.Read(&l)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if l.Kind != candump.KindFrame || !l.HasTime {
			continue
		}
		if len(log) == 0 {
			t0 = l.T()
		}
		row := schema.CAN{T: l.T() - t0, TDevice: l.T(), Bus: l.Iface}
		l.Frame.ToRow(&row)
		log = append(log, row)
	}
	if len(log) < 2 {
		return fmt.Errorf("%s: fewer than two frames", logPath)
	}
	// the log again from its start one mean frame gap after its last frame
	span := log[len(log)-1].T + log[len(log)-1].T/int64(len(log)-1)
	var rows []schema.CAN
	for off := m.StartT; ; off += span {
		for _, row := range log {
			row.T += off
			if row.T > m.EndT {
				return testdrive.ReplaceTable(dir, schema.CANTable, rows)
			}
			row.THost = row.T
			rows = append(rows, row)
		}
	}
}

// cpuTime returns the CPU time the process has used (user and system, every
// thread): on a shared machine it measures work where wall time measures the load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cleanupBench() {
	for _, dir := range []string{benchDrive.dir, seekDrive.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
}

// convertMCAP writes every sample of a drive into an MCAP file the way a converter
// for Foxglove would: one channel per table (per camera for video), rows as JSON
// messages (binary: packed as binaryRow packs them), frames as their JPEG bytes,
// zstd-compressed chunks with indexes, log time = the row's t. It returns the
// messages written.
func convertMCAP(drivePath, out string, packed bool) (int64, error) {
	d, err := Open(drivePath)
	if err != nil {
		return 0, err
	}
	r, err := d.NewReader(Options{})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w, err := mcap.NewWriter(f, &mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 20, Compression: mcap.CompressionZSTD, IncludeCRC: true})
	if err != nil {
		return 0, err
	}
	if err := w.WriteHeader(&mcap.Header{Profile: "", Library: "roadlog-bench"}); err != nil {
		return 0, err
	}
	rowEncoding := "json"
	sch := &mcap.Schema{ID: 1, Name: "roadlog.row", Encoding: "jsonschema", Data: []byte(`{"type":"object"}`)}
	if packed {
		rowEncoding = "roadlog.row"
		sch = &mcap.Schema{ID: 1, Name: "roadlog.row", Encoding: "roadlog.columns", Data: []byte("the table's columns in order, little-endian, strings and bytes uvarint-length-prefixed")}
	}
	if err := w.WriteSchema(sch); err != nil {
		return 0, err
	}
	enc, err := NewJSONEncoder(JSONOptions{})
	if err != nil {
		return 0, err
	}
	channels := map[string]uint16{}
	channel := func(topic, encoding string, schemaID uint16) (uint16, error) {
		if id, ok := channels[topic]; ok {
			return id, nil
		}
		id := uint16(len(channels) + 1)
		channels[topic] = id
		return id, w.WriteChannel(&mcap.Channel{ID: id, SchemaID: schemaID, Topic: topic, MessageEncoding: encoding})
	}
	var n int64
	var buf []byte
	for {
		s, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		t := sampleT(s)
		var id uint16
		if vf, ok := s.(*schema.VideoFrame); ok {
			if id, err = channel("/camera/"+string(rune('0'+vf.Camera)), "jpeg", 0); err != nil {
				return 0, err
			}
			buf = vf.Data
		} else {
			if id, err = channel("/"+string(s.Table()), rowEncoding, 1); err != nil {
				return 0, err
			}
			if packed {
				buf = binaryRow(buf[:0], s)
			} else if buf, err = enc.Append(buf[:0], s); err != nil {
				return 0, err
			}
		}
		if err := w.WriteMessage(&mcap.Message{ChannelID: id, Sequence: uint32(n), LogTime: uint64(t), PublishTime: uint64(t), Data: buf}); err != nil {
			return 0, err
		}
		buf = buf[:0:0]
		n++
	}
	return n, w.Close()
}

// binaryRow packs a row as a compact binary message encoding would (ROS 2's CDR,
// say): every column's value in order, little-endian, strings and bytes prefixed with
// their length — a fraction of the row's JSON.
func binaryRow(b []byte, s schema.Sample) []byte {
	switch r := s.(type) {
	case *schema.CAN:
		return packRow(b, schema.CANTable, r)
	case *schema.GNSS:
		return packRow(b, schema.GNSSTable, r)
	case *schema.IMU:
		return packRow(b, schema.IMUTable, r)
	case *schema.Ego:
		return packRow(b, schema.EgoTable, r)
	case *schema.Frame:
		return packRow(b, schema.FramesTable, r)
	case *schema.Object:
		return packRow(b, schema.ObjectsTable, r)
	case *schema.Target:
		return packRow(b, schema.TargetsTable, r)
	case *schema.Event:
		return packRow(b, schema.EventsTable, r)
	case *schema.Truth:
		return packRow(b, schema.TruthTable, r)
	case *schema.SyncRow:
		return packRow(b, schema.SyncTable, r)
	}
	panic(fmt.Sprintf("binaryRow: sample %T", s))
}

func packRow[R any](b []byte, tbl *schema.Table[R], r *R) []byte {
	le := binary.LittleEndian
	for _, c := range tbl.Columns {
		switch get := c.Get.(type) {
		case func(*R) int64:
			b = le.AppendUint64(b, uint64(get(r)))
		case func(*R) int32:
			b = le.AppendUint32(b, uint32(get(r)))
		case func(*R) uint32:
			b = le.AppendUint32(b, get(r))
		case func(*R) uint16:
			b = le.AppendUint16(b, get(r))
		case func(*R) uint8:
			b = append(b, get(r))
		case func(*R) int8:
			b = append(b, byte(get(r)))
		case func(*R) float32:
			b = le.AppendUint32(b, math.Float32bits(get(r)))
		case func(*R) float64:
			b = le.AppendUint64(b, math.Float64bits(get(r)))
		case func(*R) bool:
			v := byte(0)
			if get(r) {
				v = 1
			}
			b = append(b, v)
		case func(*R) string:
			v := get(r)
			b = append(binary.AppendUvarint(b, uint64(len(v))), v...)
		case func(*R) []byte:
			v := get(r)
			b = append(binary.AppendUvarint(b, uint64(len(v))), v...)
		default:
			panic(fmt.Sprintf("packRow: column %s reads as %T", c.Field.Name, c.Get))
		}
	}
	return b
}

// The merged-read benchmarks read a whole drive in time order, pass after pass, with
// roadlog's reader and with the MCAP Go reader over the same data converted to MCAP
// (one channel per table and camera, rows as JSON — mcap — or packed as a compact
// binary encoding would — mcap-bin —, frames as their JPEG bytes, zstd chunks of
// 1 MiB with indexes), in turn, so that all see the same load; each
// pass opens its file(s) anew, and only the page cache is shared between passes. They
// report rows (messages) per second of wall time and per CPU-second (getrusage: the
// whole process, every thread — prefetch goroutines and the collector included) of
// both, and roadlog's rates over MCAP's (x-wall, x-cpu).
//
// Per row, the consumer reads:
//
//   - roadlog (NextRow): the row's t and table; for a camera frame, its bytes
//     (FrameData: length and first byte). The batch holding the row is decoded
//     (every column decompressed and checked), so any column can be read without
//     further decoding.
//   - MCAP (the indexed iterator in log-time order, NextInto into one reused
//     message): the message's log time and channel, and its bytes (length and first
//     byte), which NextInto copies into the message's reused buffer.

// openBench opens a reader over the drive at path, each pass anew.
func openBench(b *testing.B, path string, prefetch int) *Reader {
	d, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	r, err := d.NewReader(Options{Prefetch: prefetch})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// endOfPass reports whether a reader's error ends the pass: io.EOF does, any other
// fails the benchmark.
func endOfPass(b *testing.B, err error) bool {
	if err != nil && !errors.Is(err, io.EOF) {
		b.Fatal(err)
	}
	return err != nil
}

// passRows reads the drive once with NextRow; it returns the rows read and what the
// consumer read of them (so that nothing is optimised away).
func passRows(b *testing.B, path string, prefetch int) (rows, sum int64) {
	r := openBench(b, path, prefetch)
	defer r.Close()
	for {
		row, err := r.NextRow()
		if endOfPass(b, err) {
			return rows, sum
		}
		rows++
		sum += row.T() + int64(len(row.Table()))
		if row.Table() == schema.TableFrames {
			data, err := row.FrameData()
			if err != nil {
				b.Fatal(err)
			}
			sum += int64(len(data)) + int64(data[0])
		}
	}
}

// passSamples reads the drive once with Next: every row decoded into a Go value (a
// sample the caller owns), frames with a copy of their bytes.
func passSamples(b *testing.B, path string, prefetch int) (rows, sum int64) {
	r := openBench(b, path, prefetch)
	defer r.Close()
	for {
		s, err := r.Next()
		if endOfPass(b, err) {
			return rows, sum
		}
		rows++
		sum += sampleT(s)
	}
}

// passMCAP reads the MCAP file once in log-time order through its index; with
// decode, every JSON message is decoded (into a map: the file has no Go types).
func passMCAP(b *testing.B, path string, decode bool) (rows, sum int64) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rd, err := mcap.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	it, err := rd.Messages(mcap.UsingIndex(true), mcap.InOrder(mcap.LogTimeOrder))
	if err != nil {
		b.Fatal(err)
	}
	var msg mcap.Message
	for {
		_, ch, _, err := it.NextInto(&msg)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			return rows, sum
		}
		rows++
		sum += int64(msg.LogTime) + int64(ch.ID) + int64(len(msg.Data))
		if len(msg.Data) > 0 {
			sum += int64(msg.Data[0])
		}
		if decode && ch.MessageEncoding == "json" {
			var row map[string]any
			if err := json.Unmarshal(msg.Data, &row); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// sideBySide times the passes of several readers taken in turn, wall and CPU.
type sideBySide struct {
	name []string
	wall []time.Duration
	cpu  []time.Duration
	rows int64
}

func newSideBySide(names ...string) *sideBySide {
	return &sideBySide{name: names, wall: make([]time.Duration, len(names)), cpu: make([]time.Duration, len(names))}
}

// pass runs reader i's pass and checks that it read every row.
func (s *sideBySide) pass(b *testing.B, i int, want int64, fn func() (int64, int64)) {
	// each pass starts on a collected heap: the garbage of another reader's pass is
	// not collected on this one's time
	b.StopTimer()
	runtime.GC()
	b.StartTimer()
	c0, t0 := cpuTime(), time.Now()
	n, _ := fn()
	s.wall[i] += time.Since(t0)
	s.cpu[i] += cpuTime() - c0
	if n != want {
		b.Fatalf("%s read %d rows, want %d", s.name[i], n, want)
	}
	if i == 0 {
		s.rows += n
	}
}

// report reports every reader's rates and the first's over each other's.
func (s *sideBySide) report(b *testing.B) {
	n := float64(s.rows)
	for i, name := range s.name {
		b.ReportMetric(n/s.wall[i].Seconds(), name+"-rows/s")
		b.ReportMetric(n/s.cpu[i].Seconds(), name+"-rows/cpu-s")
		if i > 0 {
			suffix := ""
			if len(s.name) > 2 {
				suffix = "-vs-" + name
			}
			b.ReportMetric(s.wall[i].Seconds()/s.wall[0].Seconds(), "x-wall"+suffix)
			b.ReportMetric(s.cpu[i].Seconds()/s.cpu[0].Seconds(), "x-cpu"+suffix)
		}
	}
}

// BenchmarkMergedRead: roadlog's NextRow against the MCAP reader (see above), on
// both data sets and table layouts, with the reader's default options (where there
// are two CPUs: the tables' first batches decoded in parallel, then a goroutine per
// table decoding two batches ahead), with Prefetch 2 set, and without prefetch
// (everything in the caller's goroutine, as the MCAP reader does). Goal (issue 8):
// x ≥ 2.
//
// With spares=none each roadlog pass starts with the spare lists emptied, as in a
// process that opens its first drive: arenas, zstd decoders and read-ahead windows
// are made anew for the drive's first segment and then passed from segment to
// segment. With spares=kept a pass finds the previous pass's, as a process that
// replays the drive again (a loop, a second analysis) does.
func BenchmarkMergedRead(b *testing.B) {
	for _, set := range benchSets {
		for _, layout := range benchLayouts {
			for _, pf := range []int{0, 2, -1} {
				for _, spares := range []string{"none", "kept"} {
					if spares == "kept" && pf != 0 {
						continue
					}
					name := fmt.Sprintf("data=%s/drive=%s/prefetch=%s/spares=%s", set, layout, prefetchName(pf), spares)
					b.Run(name, func(b *testing.B) {
						bf := setupBench(b, set)
						s := newSideBySide("roadlog", "mcap", "mcap-bin")
						// untimed, each reader once: the files in the page cache, the
						// heap grown to what a pass needs
						passRows(b, bf.drives[layout], pf)
						passMCAP(b, bf.mcap["json"], false)
						passMCAP(b, bf.mcap["binary"], false)
						for b.Loop() {
							if spares == "none" {
								b.StopTimer()
								clearSpares()
								b.StartTimer()
							}
							s.pass(b, 0, bf.rows, func() (int64, int64) { return passRows(b, bf.drives[layout], pf) })
							s.pass(b, 1, bf.rows, func() (int64, int64) { return passMCAP(b, bf.mcap["json"], false) })
							s.pass(b, 2, bf.rows, func() (int64, int64) { return passMCAP(b, bf.mcap["binary"], false) })
						}
						s.report(b)
					})
				}
			}
		}
	}
}

// prefetchName names an Options.Prefetch in benchmark names.
func prefetchName(pf int) string {
	switch pf {
	case 0:
		return "default"
	case -1:
		return "none"
	}
	return fmt.Sprint(pf)
}

// BenchmarkMergedReadSamples: roadlog's Next, every row decoded into a Go value,
// against the MCAP reader handing out raw bytes and the MCAP reader with every JSON
// row decoded (into maps), as a consumer of such a file would.
func BenchmarkMergedReadSamples(b *testing.B) {
	for _, set := range benchSets {
		for _, layout := range benchLayouts {
			b.Run("data="+set+"/drive="+layout, func(b *testing.B) {
				bf := setupBench(b, set)
				s := newSideBySide("roadlog", "mcap", "mcap+decode")
				passSamples(b, bf.drives[layout], 0) // untimed, as in BenchmarkMergedRead
				passMCAP(b, bf.mcap["json"], true)
				for b.Loop() {
					s.pass(b, 0, bf.rows, func() (int64, int64) { return passSamples(b, bf.drives[layout], 0) })
					s.pass(b, 1, bf.rows, func() (int64, int64) { return passMCAP(b, bf.mcap["json"], false) })
					s.pass(b, 2, bf.rows, func() (int64, int64) { return passMCAP(b, bf.mcap["json"], true) })
				}
				s.report(b)
			})
		}
	}
}

// BenchmarkCompaction rewrites every table file of the flushed drive in large
// batches, as the recorder does when a segment closes (drive.RewriteTableFile;
// fdatasync left out), and reports its cost per second of recording, wall and CPU.
func BenchmarkCompaction(b *testing.B) {
	bf := setupBench(b, "sim")
	src := bf.drives["flushed"]
	m, err := drive.ReadManifest(src)
	if err != nil {
		b.Fatal(err)
	}
	recorded := time.Duration(m.EndT - m.StartT)
	var cpu time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		dst := filepath.Join(b.TempDir(), fmt.Sprint(i))
		i++
		if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		b.StartTimer()
		n, err := testdrive.Compact(dst, testdrive.NoSyncFS{})
		b.StopTimer()
		cpu += cpuTime() - c0
		if err != nil || n != bf.tableRows {
			b.Fatalf("compact: %v (%d rows, the drive has %d)", err, n, bf.tableRows)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N)/recorded.Seconds(), "ms/s-recorded")
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N)/recorded.Seconds(), "cpu-ms/s-recorded")
}

// seekDrive is a 10-minute random drive of 10 segments (4 cameras at 30 fps), for
// the seek benchmarks.
var seekDrive struct {
	once sync.Once
	dir  string
	td   *testdrive.Drive
	err  error
}

func setupSeek(b *testing.B) *testdrive.Drive {
	b.Helper()
	seekDrive.once.Do(func() {
		if seekDrive.dir, seekDrive.err = os.MkdirTemp("", "replay-seek-"); seekDrive.err != nil {
			return
		}
		seekDrive.td, seekDrive.err = testdrive.Write(seekDrive.dir, testdrive.Spec{Seed: 99, Segments: 10, SegLen: time.Minute,
			Cameras: 4, FPS: 30, CANRate: 500, IMURate: 200, BatchRows: 100})
	})
	if seekDrive.err != nil {
		b.Fatal(seekDrive.err)
	}
	return seekDrive.td
}

// BenchmarkSeek jumps to a random camera frame (by camera and sequence number, found
// through the frames tables) or a random time of a 10-minute, 10-segment drive and
// reads the first sample there (for a frame: its bytes from the MP4). Goal: ≤ 100 ms.
func BenchmarkSeek(b *testing.B) {
	td := setupSeek(b)
	frames := td.Rows[schema.TableFrames]
	d, err := Open(td.Dir)
	if err != nil {
		b.Fatal(err)
	}
	r, err := d.NewReader(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.Run("to=frame", func(b *testing.B) {
		i := 0
		for b.Loop() {
			vf := frames[(i*7919)%len(frames)].(*schema.VideoFrame)
			i++
			if _, err := r.SeekFrame(vf.Camera, vf.Seq); err != nil {
				b.Fatal(err)
			}
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/seek")
	})
	b.Run("to=time", func(b *testing.B) {
		i := 0
		for b.Loop() {
			r.SeekTime(testdrive.T0 + int64(i*7919)%int64(10*time.Minute))
			i++
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/seek")
	})
}
