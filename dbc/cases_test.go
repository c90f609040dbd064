package dbc

// parseCase is one DBC text of the table that feeds TestParseCases, FuzzParse's
// seeds and BenchmarkParse.
type parseCase struct {
	name string
	src  string
	err  string // "line:col: message" of the first error; "" for none
	warn string // a substring of one of the warnings
	msgs int    // messages expected
}

const header = "VERSION \"\"\n\nNS_ :\n\tCM_\n\tBA_DEF_\n\nBS_:\n\nBU_: ECU GW\n\n"

var parseCases = []parseCase{
	{name: "plain", msgs: 1, src: header + "BO_ 100 M1: 8 ECU\n SG_ A : 0|8@1+ (1,0) [0|255] \"\" GW\n"},
	{name: "comment-slashes", msgs: 1, src: "// made by hand\n" + header + "BO_ 100 M1: 8 ECU // trailing\n SG_ A : 0|8@1+ (1,0) [0|255] \"\" GW\n"},
	{name: "bom-crlf", msgs: 1, src: "\ufeffVERSION \"\"\r\n\r\nBU_: A\r\nBO_ 1 M: 1 A\r\n SG_ S : 0|1@1+ (1,0) [0|1] \"\" A\r\n"},
	{name: "latin1", msgs: 1, warn: "Latin-1", src: header + "BO_ 100 M1: 8 ECU\n SG_ T : 0|8@1+ (1,-40) [-40|215] \"\xb0C\" GW\n"},
	{name: "digit-names", msgs: 1, warn: "starts with a digit", src: header + "BO_ 1275 2017_5: 8 ECU\n SG_ 0_COUNTER : 35|4@0+ (1,0) [0|15] \"\" GW\n"},
	{name: "ext-no-flag", msgs: 1, warn: "without the extended flag", src: header + "BO_ 274923520 Door: 1 ECU\n SG_ D : 0|1@1+ (1,0) [0|1] \"\" GW\n"},
	{name: "ext-flag", msgs: 1, src: header + "BO_ 2147484672 Ext: 8 ECU\n SG_ D : 0|1@1+ (1,0) [0|1] \"\" GW\n"},
	{name: "missing-semicolon", msgs: 1, warn: "missing ';'", src: header + "BO_ 501 M: 8 ECU\n SG_ Mode : 0|1@1+ (1,0) [0|1] \"\" GW\n\nVAL_ 501 Mode 1 \"On\" 0 \"Off\"\nCM_ BO_ 501 \"x\";\n"},
	{name: "plus-number", msgs: 1, warn: "leading '+'", src: header + "BO_ 1 M: 8 ECU\n SG_ S : 0|8@1- (+1,+0) [-128|+127] \"\" GW\n"},
	{name: "extended-mux", msgs: 1, src: header + "BO_ 200 MX: 8 ECU\n SG_ A M : 0|8@1+ (1,0) [0|0] \"\" GW\n SG_ B m1M : 8|8@1+ (1,0) [0|0] \"\" GW\n SG_ C m2 : 16|8@1+ (1,0) [0|0] \"\" GW\n" +
		"SG_MUL_VAL_ 200 B A 1-1, 3-4;\nSG_MUL_VAL_ 200 C B 2-2;\n"},
	{name: "cm-sg-no-name", msgs: 1, warn: "without a signal name", src: header + "BO_ 304 M: 8 ECU\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" GW\nCM_ SG_ 304 \"Seems to be platform-agnostic\";\n"},
	{name: "cm-id", msgs: 1, warn: "no BO_", src: header + "BO_ 145 M: 8 ECU\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" GW\nCM_ 145 \"accelerator pedal\";\n"},
	{name: "bare-m", msgs: 1, warn: "bare multiplexer", src: header + "BO_ 648 Motor_2: 8 ECU\n SG_ Code m : 6|2@1+ (1,0) [0|3] \"\" GW\n SG_ Gear m2 : 0|6@1+ (1,0) [0|63] \"\" GW\n"},
	{name: "attributes", msgs: 1, src: header + "BO_ 1 M: 8 ECU\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" GW\n" +
		"BA_DEF_ BO_ \"VFrameFormat\" ENUM \"StandardCAN\",\"ExtendedCAN\",\"reserved\",\"StandardCAN_FD\";\n" +
		"BA_DEF_ SG_  \"NWM-WakeupAllowed\" ENUM  \"No\",\"Yes\";\nBA_DEF_ BO_ \"GenMsgCycleTime\" INT 0 65535;\n" +
		"BA_DEF_DEF_ \"VFrameFormat\" \"StandardCAN\";\nBA_ \"VFrameFormat\" BO_ 1 3;\nBA_ \"GenMsgCycleTime\" BO_ 1 100;\n"},
	{name: "multiline-comment", msgs: 1, src: header + "BO_ 1 M: 8 ECU\n SG_ S : 0|8@1+ (1,0) [0|0] \"\" GW\nCM_ SG_ 1 S \"line one\nline \\\"two\\\"\";\n"},
	{name: "nodes-multiline", msgs: 0, src: "VERSION \"\"\nBU_:\n\tNEO\n\tMCU\nBO_TX_BU_ 1 : A,B;\n"},
	{name: "ev-and-skip", msgs: 0, src: header + "EV_ EMC_Modulation: 0 [0|0] \"\" 0 2 DUMMY_NODE_VECTOR8000 Vector__XXX;\nSIG_GROUP_ 1 G 1 : A B;\n"},

	{name: "bad-id", err: "11:5: expected an unsigned integer, found \"12x\"", msgs: 1,
		src: header + "BO_ 12x M: 8 ECU\n SG_ A : 0|8@1+ (1,0) [0|255] \"\" GW\nBO_ 13 N: 8 ECU\n"},
	{name: "bad-signal", err: "12:12: expected '|', found \"8\"", msgs: 1,
		src: header + "BO_ 12 M: 8 ECU\n SG_ A : 0 8@1+ (1,0) [0|255] \"\" GW\n SG_ B : 8|8@1+ (1,0) [0|255] \"\" GW\n"},
	{name: "signal-outside", err: "11:2: SG_ outside a message", src: header + " SG_ A : 0|8@1+ (1,0) [0|255] \"\" GW\n"},
	{name: "dot-word", err: "12:6: expected a name, found \".\"", msgs: 1, // a lexer that did not move on ".1M" hung here (found by FuzzParse)
		src: header + "BO_ 300 M: 8 GW\n SG_ .1M : 0|8@1+ (1,0) [0|255] \"\" GW\n"},
	{name: "unterminated", err: "12:5: expected a string or BU_, BO_, SG_, EV_ after CM_, found \"unterminated string\"", msgs: 1,
		src: header + "BO_ 1 M: 8 ECU\nCM_ \"never closed;\n"},
	{name: "too-wide", err: "12:12: signal W is 65 bits wide (1 to 64 can be decoded)", msgs: 1,
		src: header + "BO_ 1 M: 16 ECU\n SG_ W : 0|65@1+ (1,0) [0|0] \"\" GW\n"},
	{name: "float-width", err: "12:2: signal F: float type needs 32 bits, has 16", msgs: 1,
		src: header + "BO_ 1 M: 8 ECU\n SG_ F : 0|16@1+ (1,0) [0|0] \"\" GW\nSIG_VALTYPE_ 1 F : 1;\n"},
	{name: "garbage", err: "1:1: expected a keyword, found \"\\x01\"", src: "\x01\x02\x03 garbage\n"},
	{name: "bad-order", err: "12:14: byte order must be 0 (Motorola) or 1 (Intel), found 2", msgs: 1,
		src: header + "BO_ 1 M: 8 ECU\n SG_ A : 0|8@2+ (1,0) [0|255] \"\" GW\n"},
}
