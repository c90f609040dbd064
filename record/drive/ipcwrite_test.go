package drive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"roadlog/schema"
)

// TestStoredFrame: the frames that store buffers as they are decode with a zstd
// decoder that checks the content checksum, at every size up to storeBelow (content
// size in one byte, then two) and at sizes around the two- and four-byte content
// sizes and the 128 KiB raw blocks; a flipped byte of the content fails the checksum.
func TestStoredFrame(t *testing.T) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var sizes []int
	for n := 1; n < storeBelow; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 65791, 65792, maxRawBlock, maxRawBlock+1, 3*maxRawBlock, 1<<20+5)
	for _, n := range sizes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		frame := appendStoredFrame(nil, b)
		if blocks := (n + maxRawBlock - 1) / maxRawBlock; len(frame) > n+3*blocks+13 {
			t.Fatalf("%d bytes: a frame of %d bytes for %d blocks", n, len(frame), blocks)
		}
		got, err := dec.DecodeAll(frame, nil)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%d bytes: decoded %d bytes, %v", n, len(got), err)
		}
		for _, at := range []int{len(frame) - 5 - n/2, len(frame) - 5} {
			if n > maxRawBlock {
				at = len(frame) - 5 // past the last block's header
			}
			frame[at] ^= 0x10
			if _, err := dec.DecodeAll(frame, nil); !errors.Is(err, zstd.ErrCRCMismatch) {
				t.Fatalf("%d bytes, byte %d flipped: %v, want a checksum mismatch", n, at, err)
			}
			frame[at] ^= 0x10
		}
	}
}

// TestMinSaving: a buffer that zstd shrinks by less than minSaving is stored as it
// is, in a frame a reader copies; one that shrinks by more is compressed; with
// zstd-small both are compressed. Every file reads back through arrow-go.
func TestMinSaving(t *testing.T) {
	const n = 40000 // one batch: the int64 columns' 320 KB span three raw blocks
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]schema.IMU, n)
	tcol := make([]byte, 0, 8*n)
	for i := range rows {
		r := &rows[i]
		r.T = 1_700_000_000_000_000_000 + int64(i)*1_000_000 // a steady clock: zstd saves ~70 %
		r.TDevice, r.THost = r.T-5_000, r.T+rng.Int64N(100_000)
		r.Sensor = "imu0"                                                      // saves > 99 %
		r.AX, r.AY, r.AZ = rng.Float32(), rng.Float32(), 9.81+rng.Float32()/10 // noise: saves little
		r.GX, r.GY, r.GZ = rng.Float32()/100, rng.Float32()/100, rng.Float32()/100
		r.Temp = 25
		r.MX, r.MY, r.MZ = float32(math.NaN()), float32(math.NaN()), float32(math.NaN())
		tcol = binary.LittleEndian.AppendUint64(tcol, uint64(r.T))
	}
	// the timestamps compress, but by less than minSaving (90 %)
	enc := getZstd()
	saving := 1 - float64(len(enc.EncodeAll(tcol, nil)))/float64(len(tcol))
	putZstd(enc)
	if saving < 0.3 || saving >= 0.85 {
		t.Fatalf("zstd saves %.0f %% of the t column: want a column it shrinks by 30-85 %%", 100*saving)
	}
	var sizes []int
	for _, codec := range []Codec{CodecZSTD, CodecZSTDSmall} {
		path := filepath.Join(t.TempDir(), "imu.arrow")
		f, err := OSFS{}.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewTableWriter(f, schema.IMUTable, codec)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			w.Append(&rows[i], int64(i))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(file))
		// with zstd the timestamps are stored as they are (in 128 KiB blocks); with
		// zstd-small they are compressed
		stored := bytes.Contains(file, tcol[:maxRawBlock]) && bytes.Contains(file, tcol[2*maxRawBlock:])
		if stored != (codec == CodecZSTD) {
			t.Errorf("%s: the t column stored as it is: %v", codec, stored)
		}
		// the sensor names and temperatures are compressed either way
		if bytes.Contains(file, bytes.Repeat([]byte("imu0"), 1000)) {
			t.Errorf("%s: the sensor column is stored as it is", codec)
		}
		if raw := n * (3*8 + 4 + 4 + 10*4); len(file) > raw-4*n-4*n {
			t.Errorf("%s: a %d-byte file for %d bytes of columns: the sensor and temperature columns are not compressed", codec, len(file), raw)
		}
		i := 0
		if _, err := ReadRows(path, schema.IMUTable, func(r *schema.IMU) error {
			if i >= n || !equalNaN(r, &rows[i]) {
				return fmt.Errorf("row %d: read %+v", i, *r)
			}
			i++
			return nil
		}); err != nil || i != n {
			t.Fatalf("%s: read back %d of %d rows: %v", codec, i, n, err)
		}
	}
	if sizes[1] >= sizes[0] {
		t.Errorf("zstd-small wrote %d bytes, zstd %d", sizes[1], sizes[0])
	}
}
