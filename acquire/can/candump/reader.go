package candump

import (
	"bufio"
	"errors"
	"io"
)

// DefaultMaxLineLen caps the length of one line; a CAN FD frame in the log form
// with a long interface name and every option takes under 200 bytes.
const DefaultMaxLineLen = 4096

// Reader reads a candump file line by line.
type Reader struct {
	// Path names the file in errors.
	Path string
	// MaxLineLen caps a line's length (0: DefaultMaxLineLen). Longer lines are
	// skipped with an ErrLineTooLong *SyntaxError.
	MaxLineLen int

	br     *bufio.Reader
	line   int
	offset int64
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Line returns the number of the line last read (1-based).
func (r *Reader) Line() int { return r.line }

// Offset returns the byte offset of the start of the next line.
func (r *Reader) Offset() int64 { return r.offset }

// Read reads the next line into l. It returns io.EOF at the end, and a
// *SyntaxError (with path, line, column and offset) for a line that does not
// parse; the Reader can go on reading after a *SyntaxError. Reusing one Line for
// every call avoids allocating the interface name again.
func (r *Reader) Read(l *Line) error {
	maxLen := r.MaxLineLen
	if maxLen <= 0 {
		maxLen = DefaultMaxLineLen
	}
	start := r.offset
	b, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(b) > maxLen {
		// a line longer than the buffer or the cap: skip to its end
		n := int64(len(b))
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = r.br.ReadSlice('\n')
			n += int64(len(b))
		}
		r.line++
		r.offset += n
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return &SyntaxError{Path: r.Path, Line: r.line, Col: maxLen + 1, Offset: start + int64(maxLen),
			Msg: "line longer than the limit", Err: ErrLineTooLong}
	}
	if len(b) == 0 {
		if err == nil {
			err = io.EOF
		}
		return err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	r.line++
	r.offset += int64(len(b))
	if perr := ParseLine(b, l); perr != nil {
		var se *SyntaxError
		if errors.As(perr, &se) {
			se.Path, se.Line = r.Path, r.line
			se.Offset = start + int64(se.Col-1)
		}
		return perr
	}
	return nil
}
