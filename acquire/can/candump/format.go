package candump

import (
	"roadlog/acquire/can/canframe"
)

const hexDigits = "0123456789ABCDEF"

// AppendLine appends the text of l, line ending included, to dst. For a Line that
// ParseLine filled, the result is the parsed bytes.
func AppendLine(dst []byte, l *Line) []byte {
	switch l.Kind {
	case KindComment, KindBlank:
		dst = append(dst, l.Text...)
		return append(dst, l.EOL...)
	}
	if l.Console {
		dst = appendConsole(dst, l)
	} else {
		dst = appendTime(dst, l)
		dst = appendBlanks(dst, max(l.Layout.AfterTS, 1))
		dst = append(dst, l.Iface...)
		dst = appendBlanks(dst, max(l.Layout.Iface, 1))
		dst = AppendFrame(dst, l)
		if l.Dir != DirNone {
			dst = append(dst, ' ', byte(l.Dir))
		}
	}
	return append(dst, l.EOL...)
}

// AppendLog appends one -L form line "(sec.usec) iface frame\n" for a frame
// received at t nanoseconds.
func AppendLog(dst []byte, t int64, iface string, f *canframe.Frame) []byte {
	l := Line{Kind: KindFrame, Iface: iface, Frame: *f, EOL: "\n"}
	l.SetT(t)
	if f.Flags&canframe.FD != 0 {
		if f.Flags&canframe.BRS != 0 {
			l.FDFlags |= 1
		}
		if f.Flags&canframe.ESI != 0 {
			l.FDFlags |= 2
		}
	}
	return AppendLine(dst, &l)
}

func appendBlanks(dst []byte, n uint8) []byte {
	for ; n > 0; n-- {
		dst = append(dst, ' ')
	}
	return dst
}

func appendTime(dst []byte, l *Line) []byte {
	dst = append(dst, '(')
	dst = appendPadded(dst, l.Sec, int(max(l.SecDigits, 1)))
	dst = append(dst, '.')
	dst = appendPadded(dst, l.Frac, int(max(l.FracDigits, 1)))
	return append(dst, ')')
}

// appendPadded writes v in decimal with at least width digits.
func appendPadded(dst []byte, v uint64, width int) []byte {
	var buf [24]byte
	i := len(buf)
	for v > 0 || i == len(buf) {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	for len(buf)-i < width && i > 0 {
		i--
		buf[i] = '0'
	}
	return append(dst, buf[i:]...)
}

func appendID(dst []byte, f *canframe.Frame) []byte {
	id, n := f.ID, 3
	switch {
	case f.Flags&canframe.Error != 0:
		id, n = f.ID&canframe.ErrMask|canErrFlag, 8
	case f.Flags&canframe.Extended != 0:
		n = 8
	}
	for s := (n - 1) * 4; s >= 0; s -= 4 {
		dst = append(dst, hexDigits[id>>uint(s)&0xf])
	}
	return dst
}

func appendHex(dst []byte, c byte) []byte {
	return append(dst, hexDigits[c>>4], hexDigits[c&0xf])
}

// AppendFrame appends the frame part of a log line ("123#11223344", "123##1AA",
// "123#R", …) as can-utils' sprint_canframe writes it.
func AppendFrame(dst []byte, l *Line) []byte {
	f := &l.Frame
	dst = appendID(dst, f)
	dst = append(dst, '#')
	if f.Flags&canframe.Remote != 0 {
		dst = append(dst, 'R')
		if f.Len > 0 {
			dst = append(dst, '0'+f.Len)
			if f.Len == 8 && f.DLC8 > 8 {
				dst = append(dst, '_', hexDigits[f.DLC8&0xf])
			}
		}
		return dst
	}
	if f.Flags&canframe.FD != 0 {
		dst = append(dst, '#', hexDigits[l.FDFlags&0xf])
		if l.Dots && f.Len > 0 {
			dst = append(dst, '.')
		}
	}
	for i := range f.Len {
		if i > 0 && l.Dots {
			dst = append(dst, '.')
		}
		dst = appendHex(dst, f.Data[i])
	}
	if f.Flags&canframe.FD == 0 && f.Len == 8 && f.DLC8 > 8 {
		dst = append(dst, '_', hexDigits[f.DLC8&0xf])
	}
	return dst
}

func appendConsole(dst []byte, l *Line) []byte {
	f := &l.Frame
	dst = appendBlanks(dst, max(l.Layout.Lead, 1))
	if l.HasTime {
		dst = appendTime(dst, l)
		dst = appendBlanks(dst, max(l.Layout.AfterTS, 1))
	}
	dst = append(dst, l.Iface...)
	dst = appendBlanks(dst, max(l.Layout.Iface, 1))
	dst = appendID(dst, f)
	dst = appendBlanks(dst, max(l.Layout.ID, 1))
	switch {
	case l.Layout.Braces:
		d := f.Len
		if f.DLC8 > 8 {
			d = f.DLC8
		}
		dst = append(dst, '{', hexDigits[d&0xf], '}')
	case f.Flags&canframe.FD != 0:
		dst = append(dst, '[', '0'+f.Len/10, '0'+f.Len%10, ']')
	default:
		dst = append(dst, '[', '0'+f.Len, ']')
	}
	if f.Flags&canframe.Remote == 0 {
		for i := range f.Len {
			if i == 0 {
				dst = appendBlanks(dst, max(l.Layout.Data, 1))
			} else {
				dst = append(dst, ' ')
			}
			dst = appendHex(dst, f.Data[i])
		}
	}
	return append(dst, l.Layout.Rest...)
}
