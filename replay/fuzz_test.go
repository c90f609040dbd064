package replay

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"roadlog/record/drive"
	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

// fuzzTables are the tables FuzzArrowFile reads files as (its table argument picks
// one): between them every column type of the drive format.
var fuzzTables = []schema.TableName{schema.TableCAN, schema.TableGNSS, schema.TableFrames, schema.TableEvents}

// fuzzSeeds returns real table files (each fuzzed table, each compression, one cut
// short as by a crash) from random drives.
func fuzzSeeds(tb testing.TB) (files [][]byte, tables []uint8) {
	dir := tb.TempDir()
	for i, codec := range []drive.Codec{drive.CodecZSTD, drive.CodecLZ4, drive.CodecNone} {
		td, err := testdrive.Write(dir, testdrive.Spec{Seed: uint64(100 + i), Segments: 1, SegLen: 300e6, Codec: codec, BatchRows: 8, CANRate: 60, IMURate: 10})
		if err != nil {
			tb.Fatal(err)
		}
		for k, name := range fuzzTables {
			b, err := os.ReadFile(filepath.Join(td.Dir, "seg-000000", drive.TableFile(name)))
			if err != nil {
				tb.Fatal(err)
			}
			files, tables = append(files, b), append(tables, uint8(k))
			if codec == drive.CodecZSTD {
				files, tables = append(files, b[:len(b)*2/3]), append(tables, uint8(k))
			}
		}
	}
	return files, tables
}

// FuzzArrowFile reads arbitrary bytes as a table file the way replay does (footer or
// stream scan, batch decoder, row reads): it must never panic, and every row of a
// batch it accepts must read.
func FuzzArrowFile(f *testing.F) {
	files, tables := fuzzSeeds(f)
	for i := range files {
		f.Add(files[i], tables[i])
	}
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, data []byte, table uint8) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("f%d.arrow", n))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		name := fuzzTables[int(table)%len(fuzzTables)]
		d := &Drive{Dir: dir}
		r := &Reader{d: d, video: newVideoFiles(), now: newVideoFiles()}
		bf := &batchFile{ref: fileRef{path: path, rel: "f.arrow", dir: dir}}
		c := r.newCursor(name, []*batchFile{bf})
		// rows decoded as they are taken, then ahead by the producer
		for _, ahead := range []bool{false, true} {
			r.ahead.Store(ahead)
			c.seek(0)
			for c.hasHead {
				c.take()
			}
		}
		c.close()
		r.video.close()
		r.now.close()
	})
}
