package gnss

import (
	"bufio"
	"bytes"
	"testing"

	nmea "github.com/adrianmo/go-nmea"
)

// corpusBytes concatenates every gpsd log of the corpus as gpsfake would feed it.
func corpusBytes(b *testing.B) []byte {
	var all bytes.Buffer
	for _, f := range corpusLogs(b) {
		all.Write(gpsdLog(b, f))
	}
	return all.Bytes()
}

// BenchmarkDecode measures the GNSS layer over the whole corpus side by side with its
// peer, go-nmea alone behind a bufio.Scanner:
//
//	impl=go-nmea       lines split by bufio.Scanner, each given to nmea.Parse
//	impl=framer+decode our Framer and Decoder (classification, lenient fallbacks)
//	impl=pipeline      Framer, Decoder and Merger: rows as a source publishes them
func BenchmarkDecode(b *testing.B) {
	data := corpusBytes(b)
	b.Run("impl=go-nmea", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sc := bufio.NewScanner(bytes.NewReader(data))
			ok := 0
			for sc.Scan() {
				if _, err := nmea.Parse(sc.Text()); err == nil {
					ok++
				}
			}
			if ok == 0 {
				b.Fatal("nothing decoded")
			}
		}
	})
	b.Run("impl=framer+decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var d Decoder
		for b.Loop() {
			var f Framer
			ok := 0
			f.Feed(data, func(l []byte, c Cut) {
				if d.Decode(l, c).Class == ClassStandard {
					ok++
				}
			})
			if ok == 0 {
				b.Fatal("nothing decoded")
			}
		}
	})
	b.Run("impl=pipeline", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			c, _ := decodeAll(data, Config{})
			if len(c.rows) == 0 {
				b.Fatal("no rows")
			}
		}
	})
}
