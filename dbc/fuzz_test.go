package dbc

import (
	"os"
	"path/filepath"
	"testing"

	"roadlog/internal/shared"
)

// FuzzParse feeds DBC text: Parse must never panic, always return a File, locate
// every error, and the compiled database must decode any payload without panic.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c.src))
	}
	f.Add([]byte(decodeDBC))
	if d := shared.Dir(); d != "" {
		files, _ := filepath.Glob(filepath.Join(d, "testdata/dbc/*/*.dbc"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 4096 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.dbc", src)
		if file == nil {
			t.Fatal("no File")
		}
		if list, ok := err.(ErrorList); ok {
			for _, e := range list {
				if e.Pos.Line < 1 || e.Pos.Col < 1 || e.Pos.Offset < 0 || e.Pos.Offset > int64(len(src)) {
					t.Fatalf("error without a valid location: %v %+v", e, e.Pos)
				}
			}
		} else if err != nil {
			t.Fatalf("error of type %T", err)
		}
		db := Compile(file)
		payload := make([]byte, 64)
		copy(payload, src)
		for _, m := range db.Messages {
			for n := 0; n <= 64; n += 8 {
				m.Decode(payload[:n], func(*Signal, uint64, float64) {})
			}
		}
	})
}
