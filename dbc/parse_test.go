package dbc

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCases(t *testing.T) {
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("x.dbc", []byte(c.src))
			if f == nil {
				t.Fatal("Parse returned no File")
			}
			if c.err == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if c.err != "" {
				var list ErrorList
				if !errors.As(err, &list) || len(list) == 0 {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				if got := list[0].Error(); got != "x.dbc:"+c.err {
					t.Errorf("error %q, want %q", got, "x.dbc:"+c.err)
				}
				if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrDefinition) {
					t.Errorf("error matches no sentinel: %v", err)
				}
			}
			if len(f.Messages) != c.msgs {
				t.Errorf("%d messages, want %d", len(f.Messages), c.msgs)
			}
			if c.warn != "" {
				found := false
				for _, w := range f.Warnings {
					found = found || strings.Contains(w.Msg, c.warn)
				}
				if !found {
					t.Errorf("no warning containing %q in %v", c.warn, f.Warnings)
				}
			}
		})
	}
}

func TestParseDetails(t *testing.T) {
	find := func(name string) *File {
		for _, c := range parseCases {
			if c.name == name {
				f, _ := Parse(c.name, []byte(c.src))
				return f
			}
		}
		t.Fatalf("no case %s", name)
		return nil
	}
	f := find("latin1")
	if s := f.Messages[0].Signals[0]; s.Unit != "°C" || s.Offset != -40 || s.Max != 215 {
		t.Errorf("latin1 signal: %+v", s)
	}
	f = find("ext-no-flag")
	if m := f.Messages[0]; !m.Extended || m.ID != 274923520 {
		t.Errorf("ext-no-flag: %+v", m)
	}
	f = find("ext-flag")
	if m := f.Messages[0]; !m.Extended || m.ID != 1024 {
		t.Errorf("ext-flag: %+v", m)
	}
	f = find("plus-number")
	if s := f.Messages[0].Signals[0]; s.Max != 127 || s.Min != -128 || s.Factor != 1 || !s.Signed {
		t.Errorf("plus-number: %+v", s)
	}
	f = find("missing-semicolon")
	if s := f.Messages[0].Signals[0]; len(s.Values) != 2 || s.Values[0].Name != "On" || f.Messages[0].Comment != "x" {
		t.Errorf("missing-semicolon: %+v / %q", s.Values, f.Messages[0].Comment)
	}
	f = find("extended-mux")
	b, c := f.Messages[0].Signal("B"), f.Messages[0].Signal("C")
	if b.Mux != MuxBoth || b.MuxValue != 1 || b.MuxSwitch != "A" || len(b.MuxRanges) != 2 || b.MuxRanges[1] != (Range{3, 4}) ||
		c.MuxSwitch != "B" || c.MuxRanges[0] != (Range{2, 2}) {
		t.Errorf("extended-mux: %+v %+v", b, c)
	}
	f = find("cm-sg-no-name")
	if f.Messages[0].Comment != "Seems to be platform-agnostic" {
		t.Errorf("cm-sg-no-name comment %q", f.Messages[0].Comment)
	}
	f = find("bare-m")
	if s := f.Messages[0].Signal("Code"); s.Mux != MuxSwitch {
		t.Errorf("bare-m: %+v", s)
	}
	f = find("attributes")
	db := Compile(f)
	if m := db.Message(1, false); m == nil || !m.FD || m.Attrs["GenMsgCycleTime"] != "100" || m.Attrs["VFrameFormat"] != "StandardCAN_FD" {
		t.Errorf("attributes: %+v", m)
	}
	f = find("multiline-comment")
	if s := f.Messages[0].Signals[0]; s.Comment != "line one\nline \"two\"" {
		t.Errorf("multiline comment %q", s.Comment)
	}
	f = find("nodes-multiline")
	if strings.Join(f.Nodes, ",") != "NEO,MCU" {
		t.Errorf("nodes %v", f.Nodes)
	}
	f = find("bad-id") // the statement after the bad one is still read
	if len(f.Messages) != 1 || f.Messages[0].ID != 13 {
		t.Errorf("recovery after error: %+v", f.Messages)
	}
}
