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
