package dbc

import (
	"io"
	"os"
	"testing"

	"go.einride.tech/can"
	edbc "go.einride.tech/can/pkg/dbc"
	"go.einride.tech/can/pkg/descriptor"

	"roadlog/acquire/can/candump"
	"roadlog/internal/shared"
)

// BenchmarkParse parses the case table's texts, and toyota_new_mc_pt with this
// parser (peer=roadlog) and einride's (peer=einride).
func BenchmarkParse(b *testing.B) {
	for _, c := range parseCases {
		b.Run("case="+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.src)))
			for b.Loop() {
				Parse(c.name, []byte(c.src))
			}
		})
	}
	src, err := os.ReadFile(shared.Path(b, "testdata/dbc/opendbc/toyota_new_mc_pt_generated.dbc"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("file=toyota/peer=roadlog", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, err := Parse("toyota", src); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("file=toyota/peer=einride", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if err := edbc.NewParser("toyota", src).Parse(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type benchFrame struct {
	msg  *Message
	data []byte
	ed   can.Data
}

// BenchmarkDecode decodes every signal of every frame of the RAV4 log's can0
// that the DBC knows (one core): peer=roadlog with Message.Decode, peer=einride
// with descriptor.Signal.UnmarshalPhysical (8-byte payloads only, no
// multiplexing). b.SetBytes counts payload bytes; frames/s is reported.
func BenchmarkDecode(b *testing.B) {
	db := mustCompile(b, shared.Path(b, "testdata/dbc/opendbc/toyota_new_mc_pt_generated.dbc"))
	f, err := os.Open(shared.Path(b, "testdata/candump/comma2k19/rav4_2018-08-02_seg40_can.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var frames []benchFrame
	var nbytes int64
	r := candump.NewReader(f)
	var l candump.Line
	for {
		if err := r.Read(&l); err == io.EOF {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		m := db.Message(l.Frame.ID, false)
		if l.Iface != "can0" || m == nil {
			continue
		}
		bf := benchFrame{msg: m, data: append([]byte(nil), l.Frame.Payload()...)}
		copy(bf.ed[:], bf.data)
		frames = append(frames, bf)
		nbytes += int64(len(bf.data))
	}
	peers := map[*Message][]descriptor.Signal{}
	for _, m := range db.Messages {
		for _, s := range m.Signals {
			peers[m] = append(peers[m], descriptor.Signal{Start: uint8(s.Start), Length: uint8(s.Size),
				IsBigEndian: s.BigEndian, IsSigned: s.Signed, Scale: s.Factor, Offset: s.Offset})
		}
	}
	var sink float64
	b.Run("peer=roadlog", func(b *testing.B) {
		b.SetBytes(nbytes)
		for b.Loop() {
			for i := range frames {
				frames[i].msg.Decode(frames[i].data, func(_ *Signal, _ uint64, v float64) { sink += v })
			}
		}
		b.ReportMetric(float64(len(frames))*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	})
	b.Run("peer=einride", func(b *testing.B) {
		b.SetBytes(nbytes)
		for b.Loop() {
			for i := range frames {
				for j := range peers[frames[i].msg] {
					sink += peers[frames[i].msg][j].UnmarshalPhysical(frames[i].ed)
				}
			}
		}
		b.ReportMetric(float64(len(frames))*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	})
	_ = sink
}
