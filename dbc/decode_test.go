package dbc

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refRaw extracts a signal bit by bit with the textbook definition: Intel bit k of
// the value is payload bit start+k; Motorola starts at the MSB and walks down
// through a byte, then on to bit 7 of the next byte.
func refRaw(data []byte, start, size int, bigEndian bool) uint64 {
	bit := func(i int) uint64 { return uint64(data[i/8]>>(i%8)) & 1 }
	var v uint64
	if !bigEndian {
		for k := size - 1; k >= 0; k-- {
			v = v<<1 | bit(start+k)
		}
		return v
	}
	pos := start
	for range size {
		v = v<<1 | bit(pos)
		if pos%8 == 0 {
			pos += 15
		} else {
			pos--
		}
	}
	return v
}

// TestRawAgainstReference checks Raw on random signals anywhere in 64-byte CAN FD
// payloads, every width 1–64, both byte orders.
func TestRawAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 64)
	for n := range 20000 {
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		size := 1 + n%64
		be := n%2 == 1
		s := &Signal{Name: "x", Size: size, BigEndian: be, Factor: 1}
		m := &Message{Size: 64, Signals: []*Signal{s}}
		for {
			s.Start = rng.IntN(512)
			if _, last := s.byteSpan(); last < 64 {
				break
			}
		}
		m.compile()
		got, ok := s.Raw(data)
		want := refRaw(data, s.Start, size, be)
		if !ok || got != want {
			t.Fatalf("start %d size %d be %v: raw %#x, want %#x", s.Start, size, be, got, want)
		}
		if _, last := s.byteSpan(); last > 0 {
			if _, ok := s.Raw(data[:last]); ok {
				t.Fatalf("start %d size %d be %v: decoded from a payload one byte short", s.Start, size, be)
			}
		}
	}
}

const decodeDBC = `VERSION ""
BU_: A
BO_ 100 M1: 8 A
 SG_ le12 : 4|12@1+ (1,0) [0|0] "" A
 SG_ be12 : 7|12@0+ (1,0) [0|0] "" A
 SG_ s8 : 16|8@1- (0.5,-1) [0|0] "" A
 SG_ f32 : 32|32@1- (1,0) [0|0] "" A
BO_ 101 M2: 8 A
 SG_ be64 : 7|64@0+ (1,0) [0|0] "" A
 SG_ d64 : 0|64@1- (1,0) [0|0] "" A
BO_ 200 MX: 8 A
 SG_ A M : 0|8@1+ (1,0) [0|0] "" A
 SG_ B m1M : 8|8@1+ (1,0) [0|0] "" A
 SG_ C m2 : 16|8@1+ (1,0) [0|0] "" A
 SG_ D m1 : 24|8@1+ (1,0) [0|0] "" A
 SG_ E m5 : 24|8@1+ (2,0) [0|0] "" A
BO_ 2147484672 FD: 64 A
 SG_ tail : 503|16@0- (0.25,0) [0|0] "" A
 SG_ gear : 8|3@1+ (1,0) [0|7] "" A
SIG_VALTYPE_ 100 f32 : 1;
SIG_VALTYPE_ 101 d64 : 2;
VAL_ 2147484672 gear 0 "P" 1 "R" 2 "N" 3 "D" ;
SG_MUL_VAL_ 200 B A 1-1, 3-4;
SG_MUL_VAL_ 200 C B 2-2;
`

type decodeCase struct {
	name string
	msg  string
	data []byte
	want map[string]float64 // every signal present, and its value; absent ones must not decode
}

var decodeCases = []decodeCase{
	{name: "intel-motorola-signed-float", msg: "M1", data: []byte{0x12, 0x34, 0xfe, 0x00, 0x00, 0x00, 0xc0, 0x3f},
		want: map[string]float64{"le12": 0x341, "be12": 0x123, "s8": -2, "f32": 1.5}},
	{name: "64-bit", msg: "M2", data: []byte{0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18},
		want: map[string]float64{"be64": 0x400921fb54442d18, "d64": math.Float64frombits(0x182d4454fb210940)}},
	{name: "mux-a1-b2", msg: "MX", data: []byte{1, 2, 9, 7, 0, 0, 0, 0},
		want: map[string]float64{"A": 1, "B": 2, "C": 9, "D": 7}},
	{name: "mux-a3-b2", msg: "MX", data: []byte{3, 2, 9, 7, 0, 0, 0, 0},
		want: map[string]float64{"A": 3, "B": 2, "C": 9}},
	{name: "mux-a5", msg: "MX", data: []byte{5, 2, 9, 7, 0, 0, 0, 0},
		want: map[string]float64{"A": 5, "E": 14}},
	{name: "mux-a1-b1", msg: "MX", data: []byte{1, 1, 9, 7, 0, 0, 0, 0},
		want: map[string]float64{"A": 1, "B": 1, "D": 7}},
	{name: "fd-64", msg: "FD", data: append(append([]byte{0, 3}, make([]byte, 60)...), 0xff, 0xfe),
		want: map[string]float64{"tail": -0.5, "gear": 3}},
	{name: "fd-short", msg: "FD", data: []byte{0, 2, 0, 0, 0, 0, 0, 0},
		want: map[string]float64{"gear": 2}},
}

func compileText(t testing.TB, src string) *Database {
	t.Helper()
	f, err := Parse("decode.dbc", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return Compile(f)
}

func TestDecodeCases(t *testing.T) {
	db := compileText(t, decodeDBC)
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			m := db.MessageByName(c.msg)
			got := map[string]float64{}
			m.Decode(c.data, func(s *Signal, raw uint64, v float64) { got[s.Name] = v })
			if len(got) != len(c.want) {
				t.Errorf("decoded %v, want %v", got, c.want)
			}
			for k, w := range c.want {
				if g, ok := got[k]; !ok || g != w {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
				}
			}
		})
	}
	fd := db.Message(1024, true)
	if fd == nil || !fd.FD || db.Message(1024, false) != nil {
		t.Fatalf("extended FD message lookup: %+v", fd)
	}
	raw, _ := fd.Signal("gear").Raw([]byte{0, 3})
	if l, ok := fd.Signal("gear").Label(raw); !ok || l != "D" {
		t.Errorf("label %q %v", l, ok)
	}
}
