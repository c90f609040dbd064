// Package slcan speaks the Lawicel serial-line CAN protocol of USB adapters such
// as CANable and USBtin: commands (S0–S8 bitrate, Y data bitrate, Z1 timestamps,
// O open, C close) and received frames t/T/r/R (classic) and d/D/b/B (CAN FD,
// b/B with bit-rate switch), each ended by '\r', optionally followed by a
// 4-hex-digit millisecond timestamp (0–59999) when timestamps are on.
package slcan

import (
	"errors"
	"fmt"

	"roadlog/acquire/can/canframe"
)

// ErrSyntax is matched by every *SyntaxError.
var ErrSyntax = errors.New("slcan syntax error")

// SyntaxError locates a bad line: Col is the 1-based byte column.
type SyntaxError struct {
	Col int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("slcan: column %d: %s", e.Col, e.Msg) }

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

func errAt(i int, format string, a ...any) error {
	return &SyntaxError{Col: i + 1, Msg: fmt.Sprintf(format, a...)}
}

var bitrates = map[int]byte{10000: '0', 20000: '1', 50000: '2', 100000: '3', 125000: '4',
	250000: '5', 500000: '6', 800000: '7', 1000000: '8'}

// BitrateCommand returns the "Sn\r" command of a nominal bitrate.
func BitrateCommand(bitrate int) (string, error) {
	c, ok := bitrates[bitrate]
	if !ok {
		return "", fmt.Errorf("slcan: bitrate %d has no S command (10k, 20k, 50k, 100k, 125k, 250k, 500k, 800k, 1M)", bitrate)
	}
	return "S" + string(c) + "\r", nil
}

var dataBitrates = map[int]byte{2000000: '2', 5000000: '5'}

// DataBitrateCommand returns the "Yn\r" command (CANable 2 firmware) of a CAN FD
// data-phase bitrate.
func DataBitrateCommand(bitrate int) (string, error) {
	c, ok := dataBitrates[bitrate]
	if !ok {
		return "", fmt.Errorf("slcan: data bitrate %d has no Y command (2M, 5M)", bitrate)
	}
	return "Y" + string(c) + "\r", nil
}

// IsFrame reports whether a received line is a frame (its first byte t, T, r, R,
// d, D, b or B); adapters also answer commands with other lines.
func IsFrame(line []byte) bool {
	if len(line) == 0 {
		return false
	}
	switch line[0] {
	case 't', 'T', 'r', 'R', 'd', 'D', 'b', 'B':
		return true
	}
	return false
}

func hexVal(c byte) (uint32, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint32(c - '0'), true
	case c >= 'A' && c <= 'F':
		return uint32(c-'A') + 10, true
	case c >= 'a' && c <= 'f':
		return uint32(c-'a') + 10, true
	}
	return 0, false
}

// Parse reads one frame line (without its '\r'). ts is the adapter's millisecond
// timestamp when the line carries one (hasTS).
func Parse(line []byte, f *canframe.Frame) (ts uint16, hasTS bool, err error) {
	*f = canframe.Frame{}
	if len(line) == 0 {
		return 0, false, errAt(0, "empty line")
	}
	idLen := 3
	switch line[0] {
	case 't':
	case 'T':
		idLen = 8
		f.Flags |= canframe.Extended
	case 'r':
		f.Flags |= canframe.Remote
	case 'R':
		idLen = 8
		f.Flags |= canframe.Extended | canframe.Remote
	case 'd':
		f.Flags |= canframe.FD
	case 'D':
		idLen = 8
		f.Flags |= canframe.FD | canframe.Extended
	case 'b':
		f.Flags |= canframe.FD | canframe.BRS
	case 'B':
		idLen = 8
		f.Flags |= canframe.FD | canframe.BRS | canframe.Extended
	default:
		return 0, false, errAt(0, "unknown frame type %q", line[0])
	}
	if len(line) < 1+idLen+1 {
		return 0, false, errAt(len(line), "line too short for an identifier and a length")
	}
	var id uint32
	for i := 1; i <= idLen; i++ {
		v, ok := hexVal(line[i])
		if !ok {
			return 0, false, errAt(i, "identifier digit %q is not hex", line[i])
		}
		id = id<<4 | v
	}
	if (idLen == 3 && id > canframe.MaxStdID) || id > canframe.MaxExtID {
		return 0, false, errAt(1, "identifier %X out of range", id)
	}
	f.ID = id
	i := 1 + idLen
	dlc, ok := hexVal(line[i])
	if !ok {
		return 0, false, errAt(i, "length digit %q is not hex", line[i])
	}
	if f.Flags&canframe.FD == 0 && dlc > 8 {
		return 0, false, errAt(i, "classic length %d above 8", dlc)
	}
	f.Len = canframe.DLCToLen(uint8(dlc))
	i++
	if f.Flags&canframe.Remote == 0 {
		n := int(f.Len)
		if len(line) < i+2*n {
			return 0, false, errAt(len(line), "%d data bytes announced, line ends after %d", n, (len(line)-i)/2)
		}
		for k := range n {
			hi, ok1 := hexVal(line[i])
			lo, ok2 := hexVal(line[i+1])
			if !ok1 || !ok2 {
				return 0, false, errAt(i, "data byte %d is not hex", k)
			}
			f.Data[k] = byte(hi<<4 | lo)
			i += 2
		}
	}
	switch rest := len(line) - i; rest {
	case 0:
		return 0, false, nil
	case 4:
		var v uint32
		for k := range 4 {
			d, ok := hexVal(line[i+k])
			if !ok {
				return 0, false, errAt(i+k, "timestamp digit %q is not hex", line[i+k])
			}
			v = v<<4 | d
		}
		if v >= 60000 {
			return 0, false, errAt(i, "timestamp %d ms is not below 60000", v)
		}
		return uint16(v), true, nil
	default:
		return 0, false, errAt(i, "%d unexpected bytes after the frame", rest)
	}
}

const hexDigits = "0123456789ABCDEF"

// Append appends a frame line (with '\r') as an adapter sends it; withTS adds
// the millisecond timestamp ts.
func Append(dst []byte, f *canframe.Frame, ts uint16, withTS bool) []byte {
	ext := f.Flags&canframe.Extended != 0
	var c byte
	switch {
	case f.Flags&canframe.FD != 0 && f.Flags&canframe.BRS != 0:
		c = 'b'
	case f.Flags&canframe.FD != 0:
		c = 'd'
	case f.Flags&canframe.Remote != 0:
		c = 'r'
	default:
		c = 't'
	}
	n := 3
	if ext {
		c -= 'a' - 'A'
		n = 8
	}
	dst = append(dst, c)
	for s := (n - 1) * 4; s >= 0; s -= 4 {
		dst = append(dst, hexDigits[f.ID>>uint(s)&0xf])
	}
	dst = append(dst, hexDigits[canframe.LenToDLC(int(f.Len))])
	for _, b := range f.Payload() {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	if withTS {
		dst = append(dst, hexDigits[ts>>12&0xf], hexDigits[ts>>8&0xf], hexDigits[ts>>4&0xf], hexDigits[ts&0xf])
	}
	return append(dst, '\r')
}
