package candump

import (
	"bufio"
	"io"

	"roadlog/acquire/can/canframe"
	"roadlog/schema"
)

// Writer writes candump lines.
type Writer struct {
	bw  *bufio.Writer
	buf []byte
}

// NewWriter returns a Writer to w. Call Flush at the end.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
}

// WriteLine writes l as AppendLine formats it.
func (w *Writer) WriteLine(l *Line) error {
	w.buf = AppendLine(w.buf[:0], l)
	_, err := w.bw.Write(w.buf)
	return err
}

// WriteRow writes a can.arrow row as a -L form line, timestamped with t (the
// reference time, or t_device where the caller prefers it) and named by its bus.
func (w *Writer) WriteRow(t int64, r *schema.CAN) error {
	var f canframe.Frame
	f.FromRow(r)
	w.buf = AppendLog(w.buf[:0], t, r.Bus, &f)
	_, err := w.bw.Write(w.buf)
	return err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error { return w.bw.Flush() }
