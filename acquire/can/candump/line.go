package candump

import (
	"errors"
	"fmt"

	"roadlog/acquire/can/canframe"
)

// Kind says what a line of a candump file is.
type Kind uint8

// Line kinds.
const (
	KindFrame   Kind = 1 // a frame, in log or console form
	KindComment Kind = 2 // a line starting with '#' (after optional blanks)
	KindBlank   Kind = 3 // an empty or all-blank line
)

// Dir is candump -x's direction mark.
type Dir uint8

// Directions.
const (
	DirNone Dir = 0
	DirRX   Dir = 'R' // received
	DirTX   Dir = 'T' // sent by this host
)

// Line is one line of a candump file.
type Line struct {
	Kind Kind
	Text string // KindComment, KindBlank: the line without its ending

	// Timestamp as written: Sec and Frac (Frac has FracDigits decimal digits).
	// HasTime is false for console lines printed without -t.
	HasTime    bool
	Sec        uint64
	Frac       uint64
	SecDigits  uint8 // width of the seconds field, leading zeros included
	FracDigits uint8 // 1–9

	Iface string
	Frame canframe.Frame
	Dir   Dir

	// FDFlags is the flags nibble written after "##" (CANFD_BRS 1, CANFD_ESI 2,
	// CANFD_FDF 4); newer candump versions also print FDF.
	FDFlags uint8
	// Dots is true when the data bytes were separated by '.' (lib.h's sep form).
	Dots bool

	Console bool    // console form (not -l/-L)
	Layout  Spacing // spacing of the line, for writing it back as read

	EOL string // "\n", "\r\n", or "" for a last line without ending
}

// Spacing records the blanks between the fields of a line. The zero value is
// candump's own layout for the line's form.
type Spacing struct {
	Lead    uint8  // console: blanks before the timestamp or interface (candump: 1 or 2)
	AfterTS uint8  // blanks after the timestamp's ')'
	Iface   uint8  // blanks between interface and identifier (console: includes the -e indent)
	ID      uint8  // console: blanks between identifier and [len]
	Data    uint8  // console: blanks between [len] and the first byte
	Braces  bool   // console: length written as {dlc} (candump -8)
	Rest    string // console: anything after the data, kept verbatim (" remote request", ERRORFRAME, ASCII view)
}

// T returns the timestamp in nanoseconds (0 without one). Digits past 9 are cut.
func (l *Line) T() int64 {
	if !l.HasTime {
		return 0
	}
	ns := l.Frac
	for d := l.FracDigits; d < 9; d++ {
		ns *= 10
	}
	for d := l.FracDigits; d > 9; d-- {
		ns /= 10
	}
	return int64(l.Sec)*1e9 + int64(ns)
}

// SetT sets a -l form timestamp (10 second digits, microseconds) from nanoseconds.
func (l *Line) SetT(ns int64) {
	if ns < 0 {
		ns = 0
	}
	l.HasTime = true
	l.Sec = uint64(ns / 1e9)
	l.Frac = uint64(ns%1e9) / 1e3
	l.SecDigits, l.FracDigits = 10, 6
}

// ErrSyntax is the sentinel every *SyntaxError matches with errors.Is.
var ErrSyntax = errors.New("candump syntax error")

// ErrLineTooLong reports a line longer than the reader's MaxLineLen.
var ErrLineTooLong = errors.New("line too long")

// SyntaxError locates a line that does not parse.
type SyntaxError struct {
	Path   string // file name, when known
	Line   int    // 1-based line number (0: not known)
	Col    int    // 1-based byte column
	Offset int64  // byte offset of the offending byte in the file (-1: not known)
	Msg    string
	Err    error // ErrSyntax or ErrLineTooLong
}

func (e *SyntaxError) Error() string {
	loc := e.Path
	if loc == "" {
		loc = "candump"
	}
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", loc, e.Line, e.Col)
	} else {
		loc = fmt.Sprintf("%s: column %d", loc, e.Col)
	}
	if e.Offset >= 0 {
		loc = fmt.Sprintf("%s (offset %d)", loc, e.Offset)
	}
	return loc + ": " + e.Msg
}

// Unwrap returns ErrSyntax or ErrLineTooLong.
func (e *SyntaxError) Unwrap() error { return e.Err }
