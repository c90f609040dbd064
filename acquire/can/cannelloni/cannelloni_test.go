package cannelloni

import (
	"bytes"
	"errors"
	"testing"

	"roadlog/acquire/can/canframe"
)

var frames = []canframe.Frame{
	{ID: 0x123, Len: 2, Data: [64]byte{0xde, 0xad}},
	{ID: 0x1abcdef0, Flags: canframe.Extended, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}},
	{ID: 0x7ff, Flags: canframe.Remote, Len: 3},
	{ID: 0x100, Flags: canframe.FD | canframe.BRS, Len: 12, Data: [64]byte{9}},
	{ID: 0x004, Flags: canframe.Error, Len: 8, Data: [64]byte{0, 4}},
}

// wire is the datagram of frames, written out field by field from the protocol.
var wire = []byte{
	2, 0, 7, 0, 5, // version, DATA, seq 7, count 5
	0x00, 0x00, 0x01, 0x23, 2, 0xde, 0xad,
	0x9a, 0xbc, 0xde, 0xf0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
	0x40, 0x00, 0x07, 0xff, 3, // RTR: no data
	0x00, 0x00, 0x01, 0x00, 0x80 | 12, 0x01, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0x20, 0x00, 0x00, 0x04, 8, 0, 4, 0, 0, 0, 0, 0, 0,
}

func TestEncoding(t *testing.T) {
	if got := Append(nil, 7, frames); !bytes.Equal(got, wire) {
		t.Fatalf("Append\n got % x\nwant % x", got, wire)
	}
	var got []canframe.Frame
	seq, err := Decode(wire, func(f *canframe.Frame) { got = append(got, *f) })
	if err != nil || seq != 7 || len(got) != len(frames) {
		t.Fatalf("Decode: seq %d, %d frames, %v", seq, len(got), err)
	}
	for i := range frames {
		if got[i] != frames[i] {
			t.Errorf("frame %d: %+v", i, got[i])
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want error
		n    int // frames delivered before the error
		off  int
	}{
		{"short-header", wire[:3], ErrHeader, 0, 0},
		{"version", append([]byte{1}, wire[1:]...), ErrHeader, 0, 0},
		{"truncated", wire[:len(wire)-2], ErrTruncated, 4, 48},
		{"bad-length", []byte{2, 0, 0, 0, 1, 0, 0, 1, 0, 9}, canframe.ErrInvalid, 0, 5},
	} {
		n := 0
		_, err := Decode(c.in, func(*canframe.Frame) { n++ })
		var de *DecodeError
		if !errors.Is(err, c.want) || !errors.As(err, &de) || n != c.n || de.Offset != c.off {
			t.Errorf("%s: %v (%d frames, %+v)", c.name, err, n, de)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(wire)
	f.Add(Append(nil, 0, frames[:1]))
	f.Fuzz(func(t *testing.T, in []byte) {
		var got []canframe.Frame
		seq, err := Decode(in, func(fr *canframe.Frame) { got = append(got, *fr) })
		if err != nil {
			return
		}
		out := Append(nil, seq, got)
		var again []canframe.Frame
		if _, err := Decode(out, func(fr *canframe.Frame) { again = append(again, *fr) }); err != nil || len(again) != len(got) {
			t.Fatalf("re-decode: %v", err)
		}
		for i := range got {
			if again[i] != got[i] {
				t.Fatalf("frame %d differs after re-encoding", i)
			}
		}
	})
}
