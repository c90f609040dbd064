package candump

import (
	"bytes"
	"io"
	"os"
	"testing"

	"roadlog/internal/shared"
)

// FuzzParseLine checks that no input crashes the parser, that every line it
// accepts is written back byte for byte, and that what it writes parses to the
// same Line.
func FuzzParseLine(f *testing.F) {
	for _, c := range lineCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var l Line
		if err := ParseLine(in, &l); err != nil {
			return
		}
		out := AppendLine(nil, &l)
		if !bytes.Equal(out, in) && !hasLowerHex(in) {
			t.Fatalf("round trip\n in %q\nout %q", in, out)
		}
		var m Line
		if err := ParseLine(out, &m); err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if m.Frame != l.Frame || m.Kind != l.Kind {
			t.Fatalf("re-parse differs: %+v vs %+v", m, l)
		}
	})
}

// hasLowerHex reports lower-case hex digits, which are read but written upper-case.
func hasLowerHex(b []byte) bool { return bytes.ContainsAny(b, "abcdef") }

// FuzzReader feeds whole files: the reader must never fail other than with
// *SyntaxError or io.EOF, and must make progress.
func FuzzReader(f *testing.F) {
	f.Add([]byte("(1.000001) can0 123#11\n(1.000002) can0 123#1Z\nxx"))
	if d := shared.Dir(); d != "" {
		if b, err := os.ReadFile(d + "/testdata/candump/canboat/candumpSample2.txt"); err == nil {
			f.Add(b[:min(len(b), 2000)])
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		r.MaxLineLen = 80
		var l Line
		for i := 0; ; i++ {
			err := r.Read(&l)
			if err == io.EOF {
				return
			}
			if err != nil {
				if _, ok := err.(*SyntaxError); !ok {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
			}
			if i > len(in)+1 {
				t.Fatal("reader makes no progress")
			}
		}
	})
}
