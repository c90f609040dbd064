package slcan

import (
	"bytes"
	"errors"
	"testing"

	"roadlog/acquire/can/canframe"
)

var lineCases = []struct {
	name string
	in   string
	want canframe.Frame
	ts   int // -1: none
	err  bool
}{
	{name: "std", in: "t1232DEAD", want: canframe.Frame{ID: 0x123, Len: 2, Data: [64]byte{0xde, 0xad}}, ts: -1},
	{name: "std-ts", in: "t1232DEADEA5F", want: canframe.Frame{ID: 0x123, Len: 2, Data: [64]byte{0xde, 0xad}}, ts: 0xea5f},
	{name: "ext", in: "T1ABCDEF080102030405060708", want: canframe.Frame{ID: 0x1abcdef0, Flags: canframe.Extended, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}}, ts: -1},
	{name: "rtr", in: "r7FF3", want: canframe.Frame{ID: 0x7ff, Flags: canframe.Remote, Len: 3}, ts: -1},
	{name: "ext-rtr-ts", in: "R000000010000A", want: canframe.Frame{ID: 1, Flags: canframe.Extended | canframe.Remote}, ts: 10},
	{name: "fd", in: "d1009000102030405060708090A0B", want: canframe.Frame{ID: 0x100, Flags: canframe.FD, Len: 12, Data: [64]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}, ts: -1},
	{name: "fd-brs-ext", in: "B1FFFFFFF0", want: canframe.Frame{ID: 0x1fffffff, Flags: canframe.FD | canframe.BRS | canframe.Extended}, ts: -1},
	{name: "lower", in: "t12a1ff", want: canframe.Frame{ID: 0x12a, Len: 1, Data: [64]byte{0xff}}, ts: -1},
	{name: "bad-type", in: "x1231AA", err: true},
	{name: "bad-id", in: "t12G1AA", err: true},
	{name: "id-range", in: "t8001AA", err: true},
	{name: "classic-9", in: "t1239AABBCCDDEEFF0011", err: true},
	{name: "short-data", in: "t1233AABB", err: true},
	{name: "ts-range", in: "t1231AAFFFF", err: true},
	{name: "trailing", in: "t1231AA12", err: true},
	{name: "empty", in: "", err: true},
	{name: "short", in: "T123", err: true},
}

func TestParse(t *testing.T) {
	for _, c := range lineCases {
		t.Run(c.name, func(t *testing.T) {
			var f canframe.Frame
			ts, hasTS, err := Parse([]byte(c.in), &f)
			if c.err {
				var se *SyntaxError
				if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) || se.Col < 1 {
					t.Fatalf("err %v, want a located *SyntaxError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f != c.want || hasTS != (c.ts >= 0) || (hasTS && int(ts) != c.ts) {
				t.Fatalf("got %+v ts %d/%v", f, ts, hasTS)
			}
			out := Append(nil, &f, ts, hasTS)
			if !bytes.EqualFold(out, []byte(c.in+"\r")) {
				t.Errorf("Append %q, want %q", out, c.in+"\r")
			}
		})
	}
}

func TestCommands(t *testing.T) {
	if c, err := BitrateCommand(500000); err != nil || c != "S6\r" {
		t.Errorf("500k: %q %v", c, err)
	}
	if _, err := BitrateCommand(333333); err == nil {
		t.Error("333333 accepted")
	}
	if c, err := DataBitrateCommand(2000000); err != nil || c != "Y2\r" {
		t.Errorf("2M: %q %v", c, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range lineCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var fr canframe.Frame
		ts, hasTS, err := Parse(in, &fr)
		if err != nil {
			return
		}
		if err := fr.Validate(); err != nil {
			t.Fatalf("%q parsed into an invalid frame: %v", in, err)
		}
		out := Append(nil, &fr, ts, hasTS)
		if !bytes.EqualFold(out[:len(out)-1], in) {
			t.Fatalf("round trip %q → %q", in, out)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, c := range lineCases {
		if c.err {
			continue
		}
		b.Run("case="+c.name, func(b *testing.B) {
			in := []byte(c.in)
			b.SetBytes(int64(len(in)))
			var f canframe.Frame
			for b.Loop() {
				Parse(in, &f)
			}
		})
	}
}
