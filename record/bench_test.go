package record

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"roadlog/internal/shared"
	"roadlog/record/drive"
	"roadlog/schema"
)

// loadCandump reads the comma2k19 RAV4 candump log (99k frames) for the benchmarks.
// Benchmark-only parsing of the `(sec.usec) iface ID#DATA` form; acquire/can has the
// full reader.
func loadCandump(b *testing.B) []schema.CAN {
	p := shared.Path(b, "testdata/candump/comma2k19/rav4_2018-08-02_seg40_can.log")
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out []schema.CAN
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) < 3 {
			continue
		}
		ts, err := strconv.ParseFloat(strings.Trim(parts[0], "()"), 64)
		if err != nil {
			continue
		}
		id, data, ok := strings.Cut(parts[2], "#")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(id, 16, 32)
		if err != nil {
			continue
		}
		d, err := hex.DecodeString(data)
		if err != nil {
			continue
		}
		out = append(out, schema.CAN{T: 1_800_000_000e9 + int64(ts*1e9), Bus: parts[1], ID: uint32(n), Ext: len(id) == 8, DLC: uint8(len(d)), Data: d})
	}
	return out
}

// canPayload is the MCAP message body for one frame: the same fields as can.arrow
// (t_device, t_host, id, flags, dlc, data) in a compact little-endian layout.
func canPayload(buf []byte, f *schema.CAN) []byte {
	buf = buf[:0]
	buf = binary.LittleEndian.AppendUint64(buf, uint64(f.TDevice))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(f.THost))
	buf = binary.LittleEndian.AppendUint32(buf, f.ID)
	var flags byte
	for i, b := range []bool{f.Ext, f.FD, f.RTR, f.Err, f.BRS, f.ESI} {
		if b {
			flags |= 1 << i
		}
	}
	buf = append(buf, flags, f.DLC)
	return append(buf, f.Data...)
}

// noSync leaves out fdatasync: the benchmarks compare the writers' own cost (the
// recorder syncs once per second in the background; a sync is the same for both).
type noSync struct{ drive.File }

func (noSync) Sync() error { return nil }

// BenchmarkSmallRecords writes the same real CAN frames with roadlog's table writer
// (Arrow IPC file, ZSTD; and zstd-small, every buffer compressed) and with the MCAP Go
// writer (ZSTD, chunked, indexed): rate and bytes on disk side by side.
func BenchmarkSmallRecords(b *testing.B) {
	frames := loadCandump(b)
	raw := 0
	for i := range frames {
		raw += 8 + len(frames[i].Data)
	}
	for _, wc := range []struct {
		name  string
		codec drive.Codec
	}{{"roadlog", drive.CodecZSTD}, {"roadlog-zstd-small", drive.CodecZSTDSmall}} {
		codec := wc.codec
		b.Run("writer="+wc.name, func(b *testing.B) {
			b.SetBytes(int64(raw))
			cpu0 := cpuNow()
			var size int64
			for i := 0; i < b.N; i++ {
				p := filepath.Join(b.TempDir(), "can.arrow")
				f, _ := drive.OSFS{}.Create(p)
				w, err := drive.NewTableWriter(noSync{f}, schema.CANTable, codec)
				if err != nil {
					b.Fatal(err)
				}
				for j := range frames {
					w.Append(&frames[j], frames[j].T)
					if w.Pending() >= 16384 {
						if err := w.Flush(); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				size = w.Bytes()
			}
			reportRates(b, cpu0, len(frames), size)
		})
	}
	b.Run("writer=mcap", func(b *testing.B) {
		b.SetBytes(int64(raw))
		cpu0 := cpuNow()
		var size int64
		buf := make([]byte, 0, 128)
		for i := 0; i < b.N; i++ {
			p := filepath.Join(b.TempDir(), "can.mcap")
			f, _ := os.Create(p)
			w, err := mcap.NewWriter(f, &mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 20, Compression: mcap.CompressionZSTD, IncludeCRC: true})
			if err != nil {
				b.Fatal(err)
			}
			w.WriteHeader(&mcap.Header{Profile: "roadlog"})
			w.WriteSchema(&mcap.Schema{ID: 1, Name: "roadlog.CANFrame", Encoding: "roadlog-can-v1"})
			chans := map[string]uint16{}
			for j := range frames {
				fr := &frames[j]
				ch, ok := chans[fr.Bus]
				if !ok {
					ch = uint16(len(chans) + 1)
					chans[fr.Bus] = ch
					w.WriteChannel(&mcap.Channel{ID: ch, SchemaID: 1, Topic: "/can/" + fr.Bus, MessageEncoding: "roadlog-can-v1"})
				}
				buf = canPayload(buf, fr)
				if err := w.WriteMessage(&mcap.Message{ChannelID: ch, Sequence: uint32(j), LogTime: uint64(fr.T), PublishTime: uint64(fr.T), Data: buf}); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			st, _ := f.Stat()
			size = st.Size()
			f.Close()
		}
		reportRates(b, cpu0, len(frames), size)
	})
}

// cpuNow returns the process's CPU time (user+system), s.
func cpuNow() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return tv(ru.Utime) + tv(ru.Stime)
}

// reportRates reports messages per second of wall time and of CPU time (the latter
// does not depend on what else the machine runs), and bytes on disk per message.
func reportRates(b *testing.B, cpu0 float64, msgs int, size int64) {
	n := float64(msgs) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(n/(cpuNow()-cpu0), "msgs/cpu-s")
	b.ReportMetric(float64(size)/float64(msgs), "disk-bytes/msg")
}

// BenchmarkLargeRecords writes 200 KB frames through the video path (fMP4 writer, one
// fragment per 30 frames, with the frames index) and as a plain sequential write of the
// same bytes to the same disk.
func BenchmarkLargeRecords(b *testing.B) {
	const n, size = 300, 200 << 10
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	frames := make([]*schema.VideoFrame, n)
	for i := range frames {
		frames[i] = &schema.VideoFrame{Frame: schema.Frame{T: int64(i) * 33_333_333, Seq: int64(i), Codec: schema.CodecMJPEG,
			Width: 1920, Height: 1080, Keyframe: true}, Data: payload}
	}
	b.Run("path=video", func(b *testing.B) {
		b.SetBytes(n * size)
		for i := 0; i < b.N; i++ {
			f, _ := drive.OSFS{}.Create(filepath.Join(b.TempDir(), "cam0.mp4"))
			w, err := drive.NewVideoWriter(f, "cam0.mp4", frames[0])
			if err != nil {
				b.Fatal(err)
			}
			for j, fr := range frames {
				w.Add(fr)
				if j%30 == 29 {
					if _, err := w.Flush(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("path=plain", func(b *testing.B) {
		b.SetBytes(n * size)
		for i := 0; i < b.N; i++ {
			f, _ := drive.OSFS{}.Create(filepath.Join(b.TempDir(), "plain.bin"))
			for range frames {
				if _, err := f.Write(payload); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
}

// BenchmarkRig8 records the 8-camera rig through the engine as fast as possible:
// pre-encoded frames (a real 1280x720 dash-cam JPEG, so encoding cost is excluded),
// 4 CAN buses × 2000 frames/s, IMU 1 kHz, GNSS 10 Hz. It reports CPU seconds per
// second of drive, peak RSS and drops.
func BenchmarkRig8(b *testing.B) {
	jpeg, err := os.ReadFile(shared.Path(b, "testdata/images/dashcam/udacity_vehdet_test1.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	const span = 10 * time.Second
	// pre-build every sample of one span
	var samples []schema.Sample
	t0 := int64(1_800_000_000e9)
	for ms := int64(0); ms < int64(span/time.Millisecond); ms++ {
		t := t0 + ms*1e6
		samples = append(samples, &schema.IMU{T: t, Sensor: "imu", AZ: 9.81, Temp: schema.NaN32(), MX: schema.NaN32(), MY: schema.NaN32(), MZ: schema.NaN32()})
		for bus := 0; bus < 4; bus++ {
			for k := 0; k < 2; k++ {
				samples = append(samples, &schema.CAN{T: t + int64(k)*500_000, Bus: "can" + strconv.Itoa(bus), ID: uint32(0x100 + ms%64), DLC: 8,
					Data: []byte{byte(ms), byte(ms >> 8), 1, 2, 3, 4, 5, 6}})
			}
		}
		if ms%100 == 0 {
			g := schema.NewGNSS()
			g.T, g.Lat, g.Lon = t, 48.1, 11.5
			samples = append(samples, g)
		}
		if ms%33 == 0 {
			for c := uint8(0); c < 8; c++ {
				samples = append(samples, &schema.VideoFrame{Frame: schema.Frame{T: t, Camera: c, Seq: ms / 33, TriggerID: ms / 33,
					Codec: schema.CodecMJPEG, Width: 1280, Height: 720, Keyframe: true, ExposureUS: schema.NaN32()}, Data: jpeg})
			}
		}
	}
	b.ResetTimer()
	var cpu, driveS float64
	var drops int64
	for i := 0; i < b.N; i++ {
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		e, err := New(Options{Root: b.TempDir(), Timebase: fixedStart{t0: t0, h0: hostNow()}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Start("bench"); err != nil {
			b.Fatal(err)
		}
		for j, s := range samples {
			e.Publish(s)
			if j%500 == 0 {
				for e.Congested() { // as fast as the recorder takes it
					time.Sleep(200 * time.Microsecond)
				}
			}
		}
		sum, err := e.Stop("bench", "bench")
		if err != nil {
			b.Fatal(err)
		}
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu += tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
		driveS += span.Seconds()
		drops += sum.Drops
		if sum.Drops > 0 {
			m, _ := drive.ReadManifest(sum.Dir)
			b.Logf("drops by queue: %v", m.Drops)
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(cpu/driveS, "cpu-s/drive-s")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB")
	b.ReportMetric(float64(drops), "drops")
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
