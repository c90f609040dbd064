package candump

import (
	"bytes"
	"io"
	"os"
	"testing"

	"go.einride.tech/can"

	"roadlog/internal/shared"
)

// BenchmarkParseLine parses each line of the case table (b.SetBytes: its length).
func BenchmarkParseLine(b *testing.B) {
	for _, c := range lineCases {
		if c.err {
			continue
		}
		b.Run("case="+c.name, func(b *testing.B) {
			in := []byte(c.in)
			b.SetBytes(int64(len(in)))
			var l Line
			for b.Loop() {
				if err := ParseLine(in, &l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCorpus reads the 98 800-frame RAV4 log with Reader (peer=roadlog) and,
// side by side, with einride's can.Frame.UnmarshalString on the frame field
// (peer=einride; it splits lines with bytes.Fields and knows no FD, timestamps or
// console form). Frames/s = frames/op ÷ s/op.
func BenchmarkCorpus(b *testing.B) {
	in, err := os.ReadFile(shared.Path(b, "testdata/candump/comma2k19/rav4_2018-08-02_seg40_can.log"))
	if err != nil {
		b.Fatal(err)
	}
	nframes := bytes.Count(in, []byte{'\n'})
	b.Run("peer=roadlog", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		var l Line
		for b.Loop() {
			r := NewReader(bytes.NewReader(in))
			n := 0
			for {
				err := r.Read(&l)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != nframes {
				b.Fatalf("%d frames, want %d", n, nframes)
			}
		}
		b.ReportMetric(float64(nframes)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	})
	b.Run("peer=einride", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		var f can.Frame
		for b.Loop() {
			n := 0
			for line := range bytes.Lines(in) {
				fields := bytes.Fields(line)
				if err := f.UnmarshalString(string(fields[2])); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != nframes {
				b.Fatalf("%d frames", n)
			}
		}
		b.ReportMetric(float64(nframes)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	})
}
