package drive

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestStoredFrame: the frames that store small buffers as they are decode with a zstd
// decoder that checks the content checksum, at every size up to storeBelow (content
// size in one byte, then two); a flipped byte of the content fails the checksum.
func TestStoredFrame(t *testing.T) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for n := 1; n < storeBelow; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		frame := appendStoredFrame(nil, b)
		got, err := dec.DecodeAll(frame, nil)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%d bytes: decoded %d bytes, %v", n, len(got), err)
		}
		frame[len(frame)-5-n/2] ^= 0x10
		if _, err := dec.DecodeAll(frame, nil); !errors.Is(err, zstd.ErrCRCMismatch) {
			t.Fatalf("%d bytes, one flipped: %v, want a checksum mismatch", n, err)
		}
	}
}
