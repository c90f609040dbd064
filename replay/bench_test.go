package replay

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// benchDrive is a simulated drive (4 cameras, 20 s) shared by the benchmarks, with
// the same data converted to MCAP.
var benchDrive struct {
	once sync.Once
	dir  string // temp folder holding both
	path string // the drive
	mcap string // the MCAP file
	rows int64
	err  error
}

func setupBench(b *testing.B) (drivePath, mcapPath string, rows int64) {
	b.Helper()
	benchDrive.once.Do(func() {
		dir, err := os.MkdirTemp("", "replay-bench-")
		if err != nil {
			benchDrive.err = err
			return
		}
		benchDrive.dir = dir
		benchDrive.path, benchDrive.err = testdrive.SimDrive(dir, testdrive.SimSpec{Duration: 20 * time.Second, Cameras: 4, Render: true})
		if benchDrive.err != nil {
			return
		}
		benchDrive.mcap = filepath.Join(dir, "drive.mcap")
		benchDrive.rows, benchDrive.err = convertMCAP(benchDrive.path, benchDrive.mcap)
	})
	if benchDrive.err != nil {
		b.Fatal(benchDrive.err)
	}
	return benchDrive.path, benchDrive.mcap, benchDrive.rows
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
// messages, frames as their JPEG bytes, zstd-compressed chunks with indexes, log time
// = the row's t. It returns the messages written.
func convertMCAP(drivePath, out string) (int64, error) {
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
	if err := w.WriteSchema(&mcap.Schema{ID: 1, Name: "roadlog.row", Encoding: "jsonschema", Data: []byte(`{"type":"object"}`)}); err != nil {
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
		t := sampleTime(s)
		var id uint16
		if vf, ok := s.(*schema.VideoFrame); ok {
			if id, err = channel("/camera/"+string(rune('0'+vf.Camera)), "jpeg", 0); err != nil {
				return 0, err
			}
			buf = vf.Data
		} else {
			if id, err = channel("/"+string(s.Table()), "json", 1); err != nil {
				return 0, err
			}
			if buf, err = enc.Append(buf[:0], s); err != nil {
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

// BenchmarkMergedRead reads a whole drive in time order: roadlog's merged reader
// (every table decoded into rows, frames with their bytes read from the MP4s) beside
// the MCAP Go reader over the same data converted to MCAP (indexed, log-time order,
// messages as raw bytes, nothing decoded). rows/s counts samples either way.
func BenchmarkMergedRead(b *testing.B) {
	drivePath, mcapPath, rows := setupBench(b)
	b.Run("reader=roadlog", func(b *testing.B) {
		cpu0 := cpuTime()
		d, err := Open(drivePath)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for b.Loop() {
			r, err := d.NewReader(Options{})
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := r.Next(); err != nil {
					if !errors.Is(err, io.EOF) {
						b.Fatal(err)
					}
					break
				}
				n++
			}
			r.Close()
		}
		if n != rows*int64(b.N) {
			b.Fatalf("read %d samples, want %d", n/int64(b.N), rows)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(n)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
	})
	b.Run("reader=mcap", func(b *testing.B) { benchMCAP(b, mcapPath, rows, false) })
	// the MCAP reader with every JSON row decoded (into maps: the MCAP file has no Go
	// types), as a consumer of such a file does
	b.Run("reader=mcap+decode", func(b *testing.B) { benchMCAP(b, mcapPath, rows, true) })
}

// readRoadlog reads the whole drive once and returns the samples read.
func readRoadlog(b *testing.B, d *Drive, prefetch int) int64 {
	r, err := d.NewReader(Options{Prefetch: prefetch})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var n int64
	for {
		if _, err := r.Next(); err != nil {
			if !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			return n
		}
		n++
	}
}

// readMCAP reads the MCAP file once in log-time order through its index.
func readMCAP(b *testing.B, path string) int64 {
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
	var n int64
	for {
		if _, _, _, err := it.NextInto(&msg); err != nil {
			if !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			return n
		}
		n++
	}
}

// BenchmarkMergedReadInterleaved reads the drive with roadlog's reader and the MCAP
// file with the MCAP reader alternately, pass after pass, and reports both rates and
// their ratio: on a shared machine the load drifts, and alternating exposes both
// readers to the same load.
func BenchmarkMergedReadInterleaved(b *testing.B) {
	drivePath, mcapPath, rows := setupBench(b)
	d, err := Open(drivePath)
	if err != nil {
		b.Fatal(err)
	}
	for _, pf := range []int{0, -1} {
		name := "prefetch=2"
		if pf < 0 {
			name = "prefetch=none"
		}
		b.Run(name, func(b *testing.B) {
			var tr, tm time.Duration
			for b.Loop() {
				t0 := time.Now()
				if n := readRoadlog(b, d, pf); n != rows {
					b.Fatalf("roadlog read %d samples, want %d", n, rows)
				}
				t1 := time.Now()
				if n := readMCAP(b, mcapPath); n != rows {
					b.Fatalf("mcap read %d messages, want %d", n, rows)
				}
				tr, tm = tr+t1.Sub(t0), tm+time.Since(t1)
			}
			nr := float64(rows) * float64(b.N)
			b.ReportMetric(nr/tr.Seconds(), "roadlog-rows/s")
			b.ReportMetric(nr/tm.Seconds(), "mcap-rows/s")
			b.ReportMetric(tm.Seconds()/tr.Seconds(), "ratio")
		})
	}
}

// benchMCAP reads the MCAP file in log-time order through its index, rows times.
func benchMCAP(b *testing.B, mcapPath string, rows int64, decode bool) {
	cpu0 := cpuTime()
	var n int64
	for b.Loop() {
		f, err := os.Open(mcapPath)
		if err != nil {
			b.Fatal(err)
		}
		rd, err := mcap.NewReader(f)
		if err != nil {
			b.Fatal(err)
		}
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
				break
			}
			if decode && ch.MessageEncoding == "json" {
				var row map[string]any
				if err := json.Unmarshal(msg.Data, &row); err != nil {
					b.Fatal(err)
				}
			}
			n++
		}
		rd.Close()
		f.Close()
	}
	if n != rows*int64(b.N) {
		b.Fatalf("read %d messages, want %d", n/int64(b.N), rows)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(n)/(cpuTime()-cpu0).Seconds(), "rows/cpu-s")
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
