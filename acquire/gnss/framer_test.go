package gnss

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/internal/shared"
)

// framed renders framer output as "sentence|cut" strings.
func framed(f *Framer, in []byte, chunk int) []string {
	var out []string
	emit := func(l []byte, c Cut) { out = append(out, fmt.Sprintf("%s|%d", l, c)) }
	if chunk <= 0 {
		chunk = len(in) + 1
	}
	for len(in) > 0 {
		n := min(chunk, len(in))
		f.Feed(in[:n], emit)
		in = in[n:]
	}
	f.Flush(emit, false)
	return out
}

const gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"

// framerCases is the framer's case table; it also seeds FuzzFramer.
var framerCases = []struct {
	name    string
	in      string
	max     int
	want    []string
	noise   int64
	skipped int64
}{
	{"crlf", gga + "\r\n", 0, []string{gga + "|0"}, 0, 0},
	{"lf only", gga + "\n" + gga + "\n", 0, []string{gga + "|0", gga + "|0"}, 0, 0},
	{"cr only", gga + "\r" + gga + "\r", 0, []string{gga + "|0", gga + "|0"}, 0, 0},
	{"lfcr and blank lines", gga + "\n\r\r\n\n" + gga + "\r\r\n", 0, []string{gga + "|0", gga + "|0"}, 0, 0},
	{"doubled start", "$" + gga + "\r\n", 0, []string{gga + "|0"}, 1, 0},
	{"partial first line", "9,M,,*47\r\n" + gga + "\r\n", 0, []string{gga + "|0"}, 8, 0},
	{"binary noise between", "\x00\xb5\x62\x01\x07\xff\r\n" + gga + "\r\n\xff\xfe", 0, []string{gga + "|0"}, 8, 0},
	{"binary inside", "$GPGGA,1235\x00" + gga + "\r\n", 0, []string{"$GPGGA,1235|2", gga + "|0"}, 1, 0},
	{"new sentence inside", "$GPGSV,4,1,15,02,11,115,36,0" + gga + "\r\n", 0, []string{"$GPGSV,4,1,15,02,11,115,36,0|1", gga + "|0"}, 0, 0},
	{"unterminated at end", gga, 0, []string{gga + "|4"}, 0, 0},
	{"overlong", "$GPTXT," + strings.Repeat("A", 100) + "\r\n" + gga + "\r\n", 90,
		[]string{"$GPTXT," + strings.Repeat("A", 83) + "|3", gga + "|0"}, 0, 17},
	{"overlong then new start", "$GPTXT," + strings.Repeat("B", 95) + gga + "\r\n", 90,
		[]string{"$GPTXT," + strings.Repeat("B", 83) + "|3", gga + "|0"}, 0, 12},
	{"lone starts", "$\r\n!\r\n$$\r\n", 0, nil, 4, 0},
	{"encapsulated", "!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26\r\n", 0,
		[]string{"!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26|0"}, 0, 0},
	{"text and json between", "# comment\r\n{\"class\":\"TPV\"}\n" + gga + "\n", 0, []string{gga + "|0"}, 24, 0},
	{"trailing space kept", gga + " \r\n", 0, []string{gga + " |0"}, 0, 0},
}

func TestFramer(t *testing.T) {
	for _, tc := range framerCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 3, 7} {
				f := Framer{MaxLine: tc.max}
				got := framed(&f, []byte(tc.in), chunk)
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("chunk %d:\ngot  %q\nwant %q", chunk, got, tc.want)
				}
				st := f.Stats()
				if st.Noise != tc.noise || st.Skipped != tc.skipped {
					t.Errorf("chunk %d: noise %d skipped %d, want %d %d", chunk, st.Noise, st.Skipped, tc.noise, tc.skipped)
				}
				if sum := st.SentenceBytes + st.Terminators + st.Noise + st.Skipped; sum != st.Bytes || st.Bytes != int64(len(tc.in)) {
					t.Errorf("chunk %d: accounts for %d of %d bytes (fed %d)", chunk, sum, st.Bytes, len(tc.in))
				}
			}
		})
	}
}

func TestFramerDatagramEnd(t *testing.T) {
	var f Framer
	var got []string
	emit := func(l []byte, c Cut) { got = append(got, fmt.Sprintf("%s|%d", l, c)) }
	f.Feed([]byte(gga), emit)
	f.Flush(emit, true)
	f.Feed([]byte(gga+"\r\n"), emit)
	f.Flush(emit, true)
	if want := []string{gga + "|0", gga + "|0"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q", got)
	}
}

// fuzzSeeds returns the framer cases and slices of the corpus logs.
func fuzzSeeds(f *testing.F) {
	for _, tc := range framerCases {
		f.Add([]byte(tc.in), uint16(tc.max), uint8(3))
	}
	for _, tc := range sentenceCases {
		f.Add([]byte(tc.raw+"\r\n"), uint16(0), uint8(1))
	}
	d := shared.Dir()
	if d == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(d, "testdata", "nmea", "gpsd", "*.log"))
	for i, p := range files {
		if i%8 != 0 {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:min(len(b), 2048)], uint16(0), uint8(i))
		}
	}
}

// FuzzFramer feeds arbitrary bytes through framer, decoder and merger: nothing may
// panic, every byte is accounted for, chunking must not change the outcome, and every
// emitted sentence is printable and within the line cap.
func FuzzFramer(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, max uint16, chunk uint8) {
		whole := Framer{MaxLine: int(max % 1024)}
		a := framed(&whole, data, 0)
		split := Framer{MaxLine: int(max % 1024)}
		b := framed(&split, data, int(chunk%16)+1)
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Fatalf("chunking changed the output:\n%q\n%q", a, b)
		}
		st := whole.Stats()
		if st.SentenceBytes+st.Terminators+st.Noise+st.Skipped != st.Bytes {
			t.Fatalf("accounting %+v", st)
		}
		limit := whole.maxLine()
		var d Decoder
		m := Merger{Raw: true, MaxSentences: 8}
		check := func(l []byte, c Cut) {
			if len(l) < 2 || len(l) > limit || (l[0] != '$' && l[0] != '!') {
				t.Fatalf("bad sentence %q", l)
			}
			for _, ch := range l {
				if ch < 0x20 && ch != '\t' || ch > 0x7e {
					t.Fatalf("unprintable byte in %q", l)
				}
			}
			s := d.Decode(l, c)
			if s.Class < ClassStandard || s.Class >= numClasses {
				t.Fatalf("class %d for %q", s.Class, l)
			}
			if (s.Class == ClassStandard || s.Class == ClassOther) != (s.Err == nil) {
				t.Fatalf("class %v with error %v", s.Class, s.Err)
			}
			if r := m.Add(&s, 1); r != nil && r.Receiver != "" {
				t.Fatalf("row with receiver %q", r.Receiver)
			}
		}
		g := Framer{MaxLine: int(max % 1024)}
		g.Feed(data, check)
		g.Flush(check, false)
		m.Flush()
	})
}

func TestFramerNeverGrows(t *testing.T) {
	f := Framer{MaxLine: 100}
	junk := bytes.Repeat([]byte("$GPTXT,"+strings.Repeat("x", 50)), 1000)
	f.Feed(junk, func([]byte, Cut) {})
	if cap(f.buf) > 256 {
		t.Errorf("buffer grew to %d bytes with MaxLine 100", cap(f.buf))
	}
}
