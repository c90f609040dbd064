package candump

import "roadlog/acquire/can/canframe"

// lineCase is one line of the table that feeds TestParseLine, FuzzParseLine's seeds
// and BenchmarkParseLine.
type lineCase struct {
	name string
	in   string
	want canframe.Frame // checked when err is false and the line is a frame
	kind Kind
	err  bool
}

func fr(id uint32, fl canframe.Flag, data ...byte) canframe.Frame {
	f := canframe.Frame{ID: id, Flags: fl, Len: uint8(len(data))}
	copy(f.Data[:], data)
	return f
}

var lineCases = []lineCase{
	{name: "log/sff", in: "(1672772583.671248) can0 260#0000000000FFEC55\n", kind: KindFrame,
		want: fr(0x260, 0, 0, 0, 0, 0, 0, 0xff, 0xec, 0x55)},
	{name: "log/sff-short", in: "(1668539044.455744) can0 1EB#002C\n", kind: KindFrame, want: fr(0x1eb, 0, 0x00, 0x2c)},
	{name: "log/eff", in: "(1502984866.421964) slcan0 09F112CC#FF725AFF7FFF7FFD\n", kind: KindFrame,
		want: fr(0x09f112cc, canframe.Extended, 0xff, 0x72, 0x5a, 0xff, 0x7f, 0xff, 0x7f, 0xfd)},
	{name: "log/empty-data", in: "(0000000000.352000) vcan0 123#\n", kind: KindFrame, want: fr(0x123, 0)},
	{name: "log/rtr", in: "(1668539044.455744) can0 000#R\n", kind: KindFrame, want: fr(0, canframe.Remote)},
	{name: "log/rtr-len", in: "(1.000001) can0 7FF#R5\n", kind: KindFrame,
		want: canframe.Frame{ID: 0x7ff, Flags: canframe.Remote, Len: 5}},
	{name: "log/rtr-len8-dlc", in: "(1.000001) can0 7FF#R8_F\n", kind: KindFrame,
		want: canframe.Frame{ID: 0x7ff, Flags: canframe.Remote, Len: 8, DLC8: 15}},
	{name: "log/len8-dlc", in: "(1.000001) can0 123#1122334455667788_C\n", kind: KindFrame,
		want: func() canframe.Frame {
			f := fr(0x123, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88)
			f.DLC8 = 12
			return f
		}()},
	{name: "log/fd", in: "(1.000001) can0 123##1112233445566778899AABBCC\n", kind: KindFrame,
		want: fr(0x123, canframe.FD|canframe.BRS, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc)},
	{name: "log/fd-esi-fdf", in: "(1.000001) can1 12345678##6\n", kind: KindFrame,
		want: fr(0x12345678, canframe.Extended|canframe.FD|canframe.ESI)},
	{name: "log/error", in: "(1.000001) can0 20000004#0004000000000000\n", kind: KindFrame,
		want: fr(4, canframe.Error, 0, 4, 0, 0, 0, 0, 0, 0)},
	{name: "log/tx", in: "(1.000001) can0 123#AA T\n", kind: KindFrame, want: fr(0x123, 0, 0xaa)},
	{name: "log/rx", in: "(1.000001) can0 123#AA R\n", kind: KindFrame, want: fr(0x123, 0, 0xaa)},
	{name: "log/dots", in: "(1.000001) can0 123#11.22.33\n", kind: KindFrame, want: fr(0x123, 0, 0x11, 0x22, 0x33)},
	{name: "log/crlf", in: "(1.000001) can0 123#11\r\n", kind: KindFrame, want: fr(0x123, 0, 0x11)},
	{name: "log/no-eol", in: "(1502984866.469915) slcan0 09F119CC#FF765ACCF7F804FF", kind: KindFrame,
		want: fr(0x09f119cc, canframe.Extended, 0xff, 0x76, 0x5a, 0xcc, 0xf7, 0xf8, 0x04, 0xff)},
	{name: "log/lower-hex", in: "(1.000001) can0 1ab#ff\n", kind: KindFrame, want: fr(0x1ab, 0, 0xff)},
	{name: "console/eff", in: "  can0  09F8027F   [8]  00 FC FF FF 00 00 FF FF\n", kind: KindFrame,
		want: fr(0x09f8027f, canframe.Extended, 0, 0xfc, 0xff, 0xff, 0, 0, 0xff, 0xff)},
	{name: "console/sff", in: "  can0  123   [3]  11 22 33\n", kind: KindFrame, want: fr(0x123, 0, 0x11, 0x22, 0x33)},
	{name: "console/old-spacing", in: "  vcan0  123  [2] 11 22\n", kind: KindFrame, want: fr(0x123, 0, 0x11, 0x22)},
	{name: "console/zero", in: "  can0  123   [0]\n", kind: KindFrame, want: fr(0x123, 0)},
	{name: "console/rtr", in: "  can0  123   [4]  remote request\n", kind: KindFrame,
		want: canframe.Frame{ID: 0x123, Flags: canframe.Remote, Len: 4}},
	{name: "console/fd", in: "  can0  123  [12]  00 11 22 33 44 55 66 77 88 99 AA BB\n", kind: KindFrame,
		want: fr(0x123, canframe.FD, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb)},
	{name: "console/time", in: " (1502984866.421964)  can0  123   [1]  AA\n", kind: KindFrame, want: fr(0x123, 0, 0xaa)},
	{name: "console/indent", in: "  can0       123   [1]  AA\n", kind: KindFrame, want: fr(0x123, 0, 0xaa)},
	{name: "console/len8-dlc", in: "  can0  123   {D}  11 22 33 44 55 66 77 88\n", kind: KindFrame,
		want: func() canframe.Frame {
			f := fr(0x123, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88)
			f.DLC8 = 13
			return f
		}()},
	{name: "console/ascii", in: "  can0  123   [2]  41 42                     'AB'\n", kind: KindFrame, want: fr(0x123, 0, 0x41, 0x42)},
	{name: "console/errorframe", in: "  can0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME\n", kind: KindFrame,
		want: fr(4, canframe.Error, 0, 4, 0, 0, 0, 0, 0, 0)},
	{name: "comment", in: "# candump sample with -l option.\n", kind: KindComment},
	{name: "blank", in: "\n", kind: KindBlank},
	{name: "blank-spaces", in: "   \n", kind: KindBlank},

	{name: "bad/no-hash", in: "(1.000001) can0 123\n", err: true},
	{name: "bad/id-digits", in: "(1.000001) can0 1234#11\n", err: true},
	{name: "bad/odd-hex", in: "(1.000001) can0 123#112\n", err: true},
	{name: "bad/not-hex", in: "(1.000001) can0 123#1G\n", err: true},
	{name: "bad/too-long-classic", in: "(1.000001) can0 123#112233445566778899\n", err: true},
	{name: "bad/fd-len", in: "(1.000001) can0 123##0112233445566778899\n", err: true},
	{name: "bad/ts", in: "(1.) can0 123#11\n", err: true},
	{name: "bad/ts-open", in: "(12345 can0 123#11\n", err: true},
	{name: "bad/dots-mixed", in: "(1.000001) can0 123#1122.33\n", err: true},    // lib.h separates every byte or none (found by FuzzParseLine)
	{name: "bad/err-high-bits", in: "(1.000001) can0 70000000#\n", err: true},   // bits above CAN_ERR_FLAG (found by FuzzParseLine)
	{name: "bad/fd-dots-mixed", in: "(1.000001) can0 123##011.22\n", err: true}, // a separated CAN FD frame has one after the flags too (found by FuzzParseLine)
	{name: "bad/no-iface", in: "(1.000001) \n", err: true},
	{name: "bad/trailer", in: "(1.000001) can0 123#11 X\n", err: true},
	{name: "bad/eff-29", in: "(1.000001) can0 DFFFFFFF#11\n", err: true},
	{name: "bad/err-rtr", in: "(1.000001) can0 20000001#R\n", err: true},
	{name: "bad/dlc-suffix", in: "(1.000001) can0 123#11_9\n", err: true},
	{name: "bad/console-count", in: "  can0  123   [3]  11 22\n", err: true},
	{name: "bad/console-len", in: "  can0  123   [9]  11\n", err: true},
	{name: "bad/garbage", in: "\x00\xff\xfe garbage\n", err: true},
	{name: "bad/xl", in: "(1.000001) can0 45123#81:00:12345678#11\n", err: true},
}
