package drive

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"roadlog/schema"
)

// noSyncFS is the real file system without fdatasync: the benchmarks measure CPU,
// not the disk.
type noSyncFS struct{ OSFS }

type noSyncFile struct{ File }

func (fs noSyncFS) Create(path string) (File, error) {
	f, err := fs.OSFS.Create(path)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

func (noSyncFile) Sync() error { return nil }

// BenchmarkRewriteTableFile rewrites the CAN table file of one 60-s segment of the
// 8-camera rig's load (4 buses × 2000 frames/s: 480,000 rows, written as on the road
// in a batch per 375-ms flush) into large batches, as the recorder does when the
// segment closes: path=copy is a file in t order (batches copied column by column),
// path=sort the same file with one held row, which makes the rewrite read every row
// and sort them. It reports the rewrite's CPU time per second recorded and the bytes
// it allocates (fdatasync left out).
func BenchmarkRewriteTableFile(b *testing.B) {
	const seconds, perMs = 60, 8
	dir := b.TempDir()
	src := filepath.Join(dir, "src.arrow")
	f, err := OSFS{}.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	w, err := NewTableWriter(f, schema.CANTable, CodecZSTD)
	if err != nil {
		b.Fatal(err)
	}
	t0 := int64(1_800_000_000e9)
	for ms := int64(0); ms < seconds*1000; ms++ {
		for k := int64(0); k < perMs; k++ {
			r := schema.CAN{T: t0 + ms*1e6 + k*125_000, Bus: "can" + strconv.Itoa(int(k%4)), ID: uint32(0x100 + (ms*perMs+k)%64), DLC: 8,
				Data: []byte{byte(ms), byte(ms >> 8), byte(k), 2, 3, 4, 5, 6}}
			w.Append(&r, r.T)
		}
		if ms%375 == 374 {
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"copy", "sort"} {
		b.Run("path="+path, func(b *testing.B) {
			var extra []schema.CAN
			if path == "sort" {
				extra = []schema.CAN{{T: t0 + 1, Bus: "can0", DLC: 0}}
			}
			dst := filepath.Join(dir, "can.arrow")
			var ms0, ms1 runtime.MemStats
			var cpu time.Duration
			i := 0
			for b.Loop() {
				b.StopTimer()
				if err := os.WriteFile(dst, data, 0o644); err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&ms0)
				c0 := cpuTime()
				b.StartTimer()
				st, err := RewriteTableFile(noSyncFS{}, dst, schema.CANTable, CodecZSTD, extra)
				b.StopTimer()
				cpu += cpuTime() - c0
				runtime.ReadMemStats(&ms1)
				if err != nil || st.Rows != int64(seconds*1000*perMs+len(extra)) {
					b.Fatalf("rewrite: %v, %d rows", err, st.Rows)
				}
				if i == 0 {
					b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/1e6, "MB-alloc")
				}
				i++
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(i)/seconds, "cpu-ms/s-recorded")
		})
	}
}

// cpuTime returns the CPU time the process has used (user and system, every thread).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
