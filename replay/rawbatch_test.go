package replay

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
)

// storedZstd builds a zstd frame that holds b in raw blocks of at most block bytes
// (RFC 8878), as the recorder writes buffers that do not compress well.
func storedZstd(b []byte, fcsFlag byte, block int) []byte {
	f := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	switch fcsFlag {
	case 0:
		f = append(f, 0x24, byte(len(b)))
	case 1:
		f = append(f, 0x64)
		f = binary.LittleEndian.AppendUint16(f, uint16(len(b)-256))
	case 2:
		f = append(f, 0xA4)
		f = binary.LittleEndian.AppendUint32(f, uint32(len(b)))
	}
	for rest := b; ; {
		n := min(len(rest), block)
		bh := uint32(n) << 3
		if n == len(rest) {
			bh |= 1
		}
		f = append(f, byte(bh), byte(bh>>8), byte(bh>>16))
		f = append(f, rest[:n]...)
		if rest = rest[n:]; len(rest) == 0 {
			break
		}
	}
	return binary.LittleEndian.AppendUint32(f, uint32(xxhash.Sum64(b)))
}

// TestStoredFrame: a frame storing its content in raw blocks is read straight (the
// content DecodeAll gives); any other frame — compressed, cut short, with bytes after
// it — goes to the decoder.
func TestStoredFrame(t *testing.T) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	for _, n := range []int{1, 7, 255, 256, 300, 511, 4000, 128 << 10, 128<<10 + 1, 300000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 31)
		}
		for flag := byte(0); flag < 3; flag++ {
			if (flag == 0 && n >= 256) || (flag == 1 && (n < 256 || n >= 65536+256)) {
				continue
			}
			for _, block := range []int{128 << 10, 1000} {
				frame := storedZstd(b, flag, block)
				want, err := dec.DecodeAll(frame, nil)
				if err != nil || !bytes.Equal(want, b) {
					t.Fatalf("%d bytes, size flag %d, blocks of %d: the frame does not decode (%v)", n, flag, block, err)
				}
				got, ok := appendStored(nil, frame)
				if !ok || !bytes.Equal(got, b) {
					t.Fatalf("%d bytes, size flag %d, blocks of %d: stored frame not read straight (%v)", n, flag, block, ok)
				}
				bads := [][]byte{frame[:len(frame)-1], append(append([]byte(nil), frame...), 0), frame[:5]}
				if n > block { // the first block not marked as the last: a frame shorter than it says
					early := append([]byte(nil), frame...)
					early[5+[]int{1, 2, 4}[flag]] |= 1
					bads = append(bads, early)
				}
				for _, bad := range bads {
					if _, ok := appendStored(nil, bad); ok {
						t.Fatalf("%d bytes: a frame of %d bytes (of %d) read as stored", n, len(bad), len(frame))
					}
				}
			}
		}
		if _, ok := appendStored(nil, enc.EncodeAll(bytes.Repeat([]byte{1, 2, 3}, n), nil)); ok && n >= 255 {
			t.Fatalf("%d bytes: a compressed frame read as stored", n)
		}
	}
}

// A buffer whose frame was decoded before (a constant column, batch after batch) is
// handed out from the decoder's copy, not decoded again: the same bytes, for frames
// equal byte for byte only; buffers that compress little are not remembered, and the
// decoder keeps at most sameLen buffers and sameBytes bytes.
func TestSameBuffers(t *testing.T) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := func(seed byte, n int) []byte { // compresses far more than sameRatio times
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i%8)
		}
		return b
	}
	noisy := make([]byte, 64<<10) // does not
	for i := range noisy {
		noisy[i] = byte(i*7919>>3) ^ byte(i>>11)
	}
	var d batchDecoder
	arena := make([]byte, 0, 64<<20)
	// place decodes raw's frame; decoded says whether it went into the arena (a
	// remembered buffer takes no room there)
	place := func(raw []byte) (out []byte, decoded bool) {
		t.Helper()
		n := len(arena)
		out, err := d.place(&arena, enc.EncodeAll(raw, nil), int64(len(raw)), 1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, raw) {
			t.Fatalf("%d bytes decoded wrong", len(raw))
		}
		return out, len(arena) > n
	}
	a1, dec1 := place(buf(1, 100<<10))
	a2, dec2 := place(buf(1, 100<<10))
	if !dec1 || dec2 || &a1[0] == &a2[0] {
		t.Fatal("the second copy of a buffer was decoded again (or the first not into the arena)")
	}
	if _, dec := place(buf(1, 100<<10-8)); !dec { // same pattern, another size: another frame
		t.Fatal("a buffer of another size was taken for a remembered one")
	}
	if _, dec := place(buf(2, 100<<10)); !dec {
		t.Fatal("a buffer of other bytes was taken for a remembered one")
	}
	place(noisy)
	if _, dec := place(noisy); !dec {
		t.Fatal("a buffer that compresses little was remembered")
	}
	for i := range 40 { // many constant buffers: the oldest are let go
		place(buf(byte(10+i), 300<<10))
	}
	held := 0
	for _, e := range d.same {
		held += len(e.out)
	}
	if len(d.same) > sameLen || held > sameBytes {
		t.Fatalf("the decoder remembers %d buffers, %d bytes", len(d.same), held)
	}
	if _, dec := place(buf(49, 300<<10)); dec {
		t.Fatal("the last buffer remembered was decoded again")
	}
	// the next decoder of the table (a reader opened after this one closed) takes
	// over what this one remembers; another table's does not
	d.table = "imu"
	d.close()
	d = batchDecoder{table: "can"}
	if _, dec := place(buf(49, 300<<10)); !dec {
		t.Fatal("another table's decoder found a buffer remembered for imu")
	}
	d = batchDecoder{table: "imu"}
	if _, dec := place(buf(49, 300<<10)); dec {
		t.Fatal("the table's next decoder decoded a buffer the closed one remembered")
	}
	spareSame.Clear()
}
