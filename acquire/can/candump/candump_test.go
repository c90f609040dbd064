package candump

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"roadlog/internal/shared"
	"roadlog/schema"
)

func TestParseLine(t *testing.T) {
	for _, c := range lineCases {
		t.Run(c.name, func(t *testing.T) {
			var l Line
			err := ParseLine([]byte(c.in), &l)
			if c.err {
				var se *SyntaxError
				if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
					t.Fatalf("ParseLine(%q) = %v, want a *SyntaxError", c.in, err)
				}
				if se.Col < 1 || se.Col > len(c.in)+1 {
					t.Errorf("column %d outside the line", se.Col)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLine(%q): %v", c.in, err)
			}
			if l.Kind != c.kind {
				t.Fatalf("kind %d, want %d", l.Kind, c.kind)
			}
			if c.kind == KindFrame && l.Frame != c.want {
				t.Errorf("frame\n got %+v\nwant %+v", l.Frame, c.want)
			}
			if c.kind == KindFrame {
				if err := l.Frame.Validate(); err != nil {
					t.Errorf("parsed frame invalid: %v", err)
				}
			}
			if got := string(AppendLine(nil, &l)); got != c.in && !strings.Contains(c.name, "lower-hex") {
				t.Errorf("AppendLine\n got %q\nwant %q", got, c.in)
			}
		})
	}
}

func TestLineTime(t *testing.T) {
	var l Line
	if err := ParseLine([]byte("(0000046408.584930) can0 260#08\n"), &l); err != nil {
		t.Fatal(err)
	}
	if got, want := l.T(), int64(46408_584930000); got != want {
		t.Errorf("T() = %d, want %d", got, want)
	}
	if l.Iface != "can0" || l.Dir != DirNone {
		t.Errorf("iface %q dir %d", l.Iface, l.Dir)
	}
	var m Line
	m.SetT(l.T())
	if m.T() != l.T() || m.SecDigits != 10 || m.FracDigits != 6 {
		t.Errorf("SetT round trip: %+v", m)
	}
}

func TestReaderLocatesErrors(t *testing.T) {
	in := "(1.000001) can0 123#11\n(1.000002) can0 123#1Z\n" + strings.Repeat("x", 100) + "\n(1.000003) can0 124#22"
	r := NewReader(strings.NewReader(in))
	r.Path, r.MaxLineLen = "x.log", 50
	var l Line
	if err := r.Read(&l); err != nil {
		t.Fatal(err)
	}
	err := r.Read(&l)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 2 || se.Col != 21 || se.Offset != 23+20 || se.Path != "x.log" {
		t.Fatalf("line 2: %#v", err)
	}
	if want := "x.log:2:21 (offset 43): data must be pairs of hex digits"; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
	err = r.Read(&l)
	if !errors.As(err, &se) || !errors.Is(err, ErrLineTooLong) || se.Line != 3 {
		t.Fatalf("line 3: %v", err)
	}
	if err := r.Read(&l); err != nil || l.Frame.ID != 0x124 || r.Line() != 4 {
		t.Fatalf("line 4: %v %+v", err, l.Frame)
	}
	if err := r.Read(&l); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// TestCorpusRoundTrip reads every candump log of the shared corpus and writes it
// back: the bytes must be the same, and no line may fail to parse.
func TestCorpusRoundTrip(t *testing.T) {
	dir := shared.Path(t, "testdata/candump")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files in %s: %v", dir, err)
	}
	for _, p := range files {
		name, _ := filepath.Rel(dir, p)
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			r := NewReader(bytes.NewReader(in))
			r.Path = name
			var out bytes.Buffer
			w := NewWriter(&out)
			var l Line
			counts := map[Kind]int{}
			for {
				err := r.Read(&l)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				counts[l.Kind]++
				if l.Kind == KindFrame {
					if err := l.Frame.Validate(); err != nil {
						t.Errorf("line %d: %v", r.Line(), err)
					}
				}
				if err := w.WriteLine(&l); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), in) {
				i := 0
				for i < len(in) && i < out.Len() && in[i] == out.Bytes()[i] {
					i++
				}
				t.Fatalf("round trip differs at byte %d of %d", i, len(in))
			}
			if len(in) > 0 && counts[KindFrame] == 0 {
				t.Errorf("no frames read")
			}
			t.Logf("%d frames, %d comments, %d blank lines", counts[KindFrame], counts[KindComment], counts[KindBlank])
		})
	}
}

// TestWriteRow writes can.arrow rows in the -L form and reads them back.
func TestWriteRow(t *testing.T) {
	rows := []schema.CAN{
		{Bus: "can0", ID: 0x123, DLC: 2, Data: []byte{1, 2}},
		{Bus: "can1", ID: 0x1abcdef0, Ext: true, DLC: 8, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{Bus: "can0", ID: 0x7ff, RTR: true, DLC: 3},
		{Bus: "can0", ID: 0x100, FD: true, BRS: true, DLC: 9, Data: bytes.Repeat([]byte{0xab}, 12)},
		{Bus: "can0", ID: 0x004, Err: true, DLC: 8, Data: []byte{0, 4, 0, 0, 0, 0, 0, 0}},
		{Bus: "can0", ID: 0x321, DLC: 14, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
	}
	var out bytes.Buffer
	w := NewWriter(&out)
	for i := range rows {
		if err := w.WriteRow(int64(i+1)*1_500_000_000+123456789, &rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "(0000000001.623456) can0 123#0102\n" +
		"(0000000003.123456) can1 1ABCDEF0#0102030405060708\n" +
		"(0000000004.623456) can0 7FF#R3\n" +
		"(0000000006.123456) can0 100##1ABABABABABABABABABABABAB\n" +
		"(0000000007.623456) can0 20000004#0004000000000000\n" +
		"(0000000009.123456) can0 321#0102030405060708_E\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	r := NewReader(&out)
	var l Line
	for i := range rows {
		if err := r.Read(&l); err != nil {
			t.Fatal(err)
		}
		var got schema.CAN
		l.Frame.ToRow(&got)
		got.Bus = l.Iface
		if !equalRow(&got, &rows[i]) {
			t.Errorf("row %d: got %+v want %+v", i, got, rows[i])
		}
	}
}

func equalRow(a, b *schema.CAN) bool {
	return a.Bus == b.Bus && a.ID == b.ID && a.Ext == b.Ext && a.FD == b.FD && a.RTR == b.RTR &&
		a.Err == b.Err && a.BRS == b.BRS && a.ESI == b.ESI && a.DLC == b.DLC && bytes.Equal(a.Data, b.Data)
}
