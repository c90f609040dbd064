package convert

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"roadlog/record/drive"
)

// benchDrive is the 10-minute 4-camera simulated drive recorded by
// roadlog record --sim --duration 10m --speed 0 --camera-size 320x192 into
// <repo>/.cache/bench/drives (ROADLOG_BENCH_DRIVE overrides); the benchmarks skip
// without it.
func benchDrive(b *testing.B) string {
	if p := os.Getenv("ROADLOG_BENCH_DRIVE"); p != "" {
		return p
	}
	ds, _ := filepath.Glob(filepath.Join("..", "..", ".cache", "bench", "drives", "*_sim"))
	if len(ds) == 0 {
		b.Skip("no benchmark drive: roadlog record --sim --duration 10m --speed 0 --camera-size 320x192 --out .cache/bench/drives")
	}
	return ds[0]
}

// tableBytes sums the drive's Arrow table files.
func tableBytes(b *testing.B, dir string) int64 {
	paths, _ := filepath.Glob(filepath.Join(dir, "seg-*", "*.arrow"))
	var n int64
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// BenchmarkParquet converts the drive's tables to Parquet, beside the peer of reading
// the same tables with record/drive and doing nothing with them (MB/s of Arrow input).
func BenchmarkParquet(b *testing.B) {
	dir := benchDrive(b)
	n := tableBytes(b, dir)
	b.Run("peer=read-only", func(b *testing.B) {
		b.SetBytes(n)
		paths, _ := filepath.Glob(filepath.Join(dir, "seg-*", "*.arrow"))
		for i := 0; i < b.N; i++ {
			for _, p := range paths {
				if _, err := drive.ReadTable(p, func(arrow.RecordBatch) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("format=parquet", func(b *testing.B) {
		b.SetBytes(n)
		for i := 0; i < b.N; i++ {
			out := b.TempDir()
			if _, err := Convert(context.Background(), dir, Options{Out: out, Format: Parquet}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
