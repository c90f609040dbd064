package candump

import (
	"fmt"

	"roadlog/acquire/can/canframe"
)

// canErrFlag is SocketCAN's CAN_ERR_FLAG: an 8-digit identifier with it set is an
// error frame.
const canErrFlag = 0x20000000

// ParseLine parses one line (with or without its line ending) into l. The Kind,
// fields and layout of l are all set, so AppendLine(nil, l) gives back b. On error
// l is undefined and the *SyntaxError has Col set (Line and Offset are the
// caller's to fill; Reader does).
func ParseLine(b []byte, l *Line) error {
	body, eol := splitEOL(b)
	iface := l.Iface // kept when the new line names the same interface: no allocation
	*l = Line{EOL: eol}
	p := parser{b: body}
	lead := p.spaces()
	switch {
	case p.i == len(body):
		l.Kind, l.Text = KindBlank, string(body)
		return nil
	case body[p.i] == '#':
		l.Kind, l.Text = KindComment, string(body)
		return nil
	}
	l.Kind = KindFrame
	if body[p.i] == '(' {
		if err := p.timestamp(l); err != nil {
			return err
		}
		l.Layout.AfterTS = p.spaces()
		if l.Layout.AfterTS == 0 {
			return p.errf(p.i, "expected a blank after the timestamp")
		}
		if lead > 0 {
			l.Console = true
		}
	} else {
		l.Console = true
	}
	l.Layout.Lead = lead
	if l.Console && lead == 0 {
		return p.errf(0, "console line must start with a blank")
	}
	start := p.i
	for p.i < len(body) && body[p.i] != ' ' && body[p.i] != '\t' {
		p.i++
	}
	if p.i == start {
		return p.errf(p.i, "missing interface name")
	}
	if string(body[start:p.i]) == iface {
		l.Iface = iface
	} else {
		l.Iface = string(body[start:p.i])
	}
	l.Layout.Iface = p.spaces()
	if l.Layout.Iface == 0 {
		return p.errf(p.i, "missing frame after the interface name")
	}
	if l.Console {
		return p.console(l)
	}
	return p.logFrame(l)
}

func splitEOL(b []byte) ([]byte, string) {
	n := len(b)
	if n > 0 && b[n-1] == '\n' {
		if n > 1 && b[n-2] == '\r' {
			return b[:n-2], "\r\n"
		}
		return b[:n-1], "\n"
	}
	return b, ""
}

type parser struct {
	b []byte
	i int
}

func (p *parser) errf(at int, format string, a ...any) error {
	return &SyntaxError{Col: at + 1, Offset: -1, Msg: fmt.Sprintf(format, a...), Err: ErrSyntax}
}

// spaces skips blanks (spaces only: candump writes no tabs) and returns how many,
// saturated at 255.
func (p *parser) spaces() uint8 {
	n := 0
	for p.i < len(p.b) && p.b[p.i] == ' ' {
		p.i++
		n++
	}
	return uint8(min(n, 255))
}

func (p *parser) timestamp(l *Line) error {
	p.i++ // '('
	sec, nd, ok := p.decimal(20)
	if !ok || nd == 0 {
		return p.errf(p.i, "timestamp: expected seconds")
	}
	if p.i >= len(p.b) || p.b[p.i] != '.' {
		return p.errf(p.i, "timestamp: expected '.'")
	}
	p.i++
	frac, fd, ok := p.decimal(9)
	if !ok || fd == 0 {
		return p.errf(p.i, "timestamp: expected 1 to 9 fraction digits")
	}
	if p.i >= len(p.b) || p.b[p.i] != ')' {
		return p.errf(p.i, "timestamp: expected ')'")
	}
	p.i++
	l.HasTime, l.Sec, l.Frac, l.SecDigits, l.FracDigits = true, sec, frac, uint8(nd), uint8(fd)
	return nil
}

// decimal reads up to max decimal digits; ok is false when more follow or the
// value overflows.
func (p *parser) decimal(max int) (v uint64, n int, ok bool) {
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		if n == max {
			return 0, n, false
		}
		d := uint64(p.b[p.i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, n, false
		}
		v = v*10 + d
		n++
		p.i++
	}
	return v, n, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// hexID reads hex digits up to a non-hex byte; it returns the value and the count.
func (p *parser) hexID() (uint32, int) {
	var v uint32
	n := 0
	for p.i < len(p.b) && n < 9 {
		d, ok := unhex(p.b[p.i])
		if !ok {
			break
		}
		v = v<<4 | uint32(d)
		n++
		p.i++
	}
	return v, n
}

// setID classifies an identifier by its digit count the way can-utils does.
func (p *parser) setID(l *Line, id uint32, n, at int) error {
	f := &l.Frame
	switch n {
	case 3:
		f.ID = id
	case 8:
		if id&canErrFlag != 0 {
			if id > canErrFlag|canframe.ErrMask { // found by FuzzParseLine: written back without them
				return p.errf(at, "error-frame identifier %08X has bits above CAN_ERR_FLAG", id)
			}
			f.Flags |= canframe.Error
			f.ID = id & canframe.ErrMask
		} else {
			f.Flags |= canframe.Extended
			f.ID = id & canframe.MaxExtID
			if id > canframe.MaxExtID {
				return p.errf(at, "identifier %08X has bits above the 29-bit range", id)
			}
		}
	default:
		return p.errf(at, "identifier must have 3 or 8 hex digits, has %d", n)
	}
	return nil
}

func (p *parser) hexByte() (byte, bool) {
	if p.i+1 >= len(p.b) {
		return 0, false
	}
	h, ok1 := unhex(p.b[p.i])
	lo, ok2 := unhex(p.b[p.i+1])
	if !ok1 || !ok2 {
		return 0, false
	}
	p.i += 2
	return h<<4 | lo, true
}

// logFrame parses "<id>#<data>" with everything after it.
func (p *parser) logFrame(l *Line) error {
	at := p.i
	id, n := p.hexID()
	if p.i >= len(p.b) || p.b[p.i] != '#' {
		if n == 5 {
			return p.errf(at, "CAN XL frames are not supported")
		}
		return p.errf(p.i, "expected '#' after the identifier")
	}
	if err := p.setID(l, id, n, at); err != nil {
		return err
	}
	p.i++
	f := &l.Frame
	max := canframe.MaxClassic
	switch {
	case p.i < len(p.b) && (p.b[p.i] == 'R' || p.b[p.i] == 'r'):
		if f.Flags&canframe.Error != 0 {
			return p.errf(p.i, "an error frame cannot be a remote frame")
		}
		if p.b[p.i] == 'r' {
			return p.errf(p.i, "lower-case 'r' remote mark is not written back as read")
		}
		f.Flags |= canframe.Remote
		p.i++
		if p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '8' {
			f.Len = p.b[p.i] - '0'
			p.i++
			if f.Len == 0 {
				return p.errf(p.i-1, "remote length 0 is written as plain 'R'")
			}
			if f.Len == 8 && p.i < len(p.b) && p.b[p.i] == '_' {
				if err := p.rawDLC(l); err != nil {
					return err
				}
			}
		}
		return p.suffix(l)
	case p.i < len(p.b) && p.b[p.i] == '#':
		if f.Flags&canframe.Error != 0 {
			return p.errf(p.i, "an error frame cannot be a CAN FD frame")
		}
		p.i++
		if p.i >= len(p.b) {
			return p.errf(p.i, "CAN FD frame: expected a flags digit after '##'")
		}
		fl, ok := unhex(p.b[p.i])
		if !ok {
			return p.errf(p.i, "CAN FD frame: flags must be one hex digit")
		}
		p.i++
		f.Flags |= canframe.FD
		l.FDFlags = fl
		if fl&1 != 0 {
			f.Flags |= canframe.BRS
		}
		if fl&2 != 0 {
			f.Flags |= canframe.ESI
		}
		max = canframe.MaxFDLen
		if p.i < len(p.b) && p.b[p.i] == '.' {
			l.Dots = true
			p.i++
		}
	}
	for p.i < len(p.b) && p.b[p.i] != ' ' && p.b[p.i] != '_' {
		if int(f.Len) == max {
			return p.errf(p.i, "more than %d data bytes", max)
		}
		if f.Len > 0 {
			if p.b[p.i] == '.' {
				// lib.h's separated form puts '.' between every byte and after CAN FD flags
				if !l.Dots && f.Flags&canframe.FD != 0 {
					return p.errf(p.i, "'.' between data bytes %d and %d, but not after the CAN FD flags", f.Len, f.Len+1)
				}
				if !l.Dots && f.Len > 1 {
					return p.errf(p.i, "'.' between data bytes %d and %d, but not between the ones before", f.Len, f.Len+1)
				}
				l.Dots = true
				p.i++
			} else if l.Dots {
				return p.errf(p.i, "expected '.' between data bytes")
			}
		}
		c, ok := p.hexByte()
		if !ok {
			if p.i+1 >= len(p.b) {
				return p.errf(p.i, "odd number of hex digits in the data")
			}
			return p.errf(p.i, "data must be pairs of hex digits")
		}
		f.Data[f.Len] = c
		f.Len++
	}
	if l.Dots && f.Len == 0 {
		return p.errf(p.i, "'.' separator without data bytes")
	}
	if l.Dots && f.Len < 2 && f.Flags&canframe.FD == 0 {
		return p.errf(p.i, "'.' separators need two data bytes")
	}
	if p.i < len(p.b) && p.b[p.i] == '_' {
		if f.Flags&canframe.FD != 0 || f.Len != 8 {
			return p.errf(p.i, "a raw DLC suffix '_' needs a classic frame with 8 data bytes")
		}
		if err := p.rawDLC(l); err != nil {
			return err
		}
	}
	if f.Flags&canframe.FD != 0 && !canframe.ValidFDLen(int(f.Len)) {
		return p.errf(p.i, "CAN FD frame with %d data bytes (not a CAN FD length)", f.Len)
	}
	return p.suffix(l)
}

func (p *parser) rawDLC(l *Line) error {
	p.i++ // '_'
	if p.i >= len(p.b) {
		return p.errf(p.i, "expected a DLC digit after '_'")
	}
	d, ok := unhex(p.b[p.i])
	if !ok || d < 9 {
		return p.errf(p.i, "raw DLC after '_' must be 9 to F")
	}
	if p.b[p.i] >= 'a' {
		return p.errf(p.i, "raw DLC must be an upper-case hex digit")
	}
	p.i++
	l.Frame.DLC8 = d
	return nil
}

// suffix parses candump -x's " T" / " R" and the end of the line.
func (p *parser) suffix(l *Line) error {
	if p.i == len(p.b) {
		return nil
	}
	if p.i+2 == len(p.b) && p.b[p.i] == ' ' && (p.b[p.i+1] == 'T' || p.b[p.i+1] == 'R') {
		l.Dir = Dir(p.b[p.i+1])
		return nil
	}
	return p.errf(p.i, "unexpected %q after the frame", clip(p.b[p.i:]))
}

func clip(b []byte) string {
	if len(b) > 16 {
		return string(b[:16]) + "…"
	}
	return string(b)
}

// console parses "<id>   [len]  XX XX …" of candump's screen output.
func (p *parser) console(l *Line) error {
	at := p.i
	id, n := p.hexID()
	if err := p.setID(l, id, n, at); err != nil {
		return err
	}
	l.Layout.ID = p.spaces()
	if l.Layout.ID == 0 || p.i >= len(p.b) {
		return p.errf(p.i, "expected blanks and [len] after the identifier")
	}
	f := &l.Frame
	want := -1
	switch p.b[p.i] {
	case '[':
		p.i++
		v, nd, ok := p.decimal(2)
		if !ok || nd == 0 || p.i >= len(p.b) || p.b[p.i] != ']' {
			return p.errf(p.i, "expected [len]")
		}
		p.i++
		if nd == 2 {
			f.Flags |= canframe.FD
			if !canframe.ValidFDLen(int(v)) {
				return p.errf(at, "CAN FD length %d is not a CAN FD length", v)
			}
		} else if v > 8 {
			return p.errf(p.i-2, "classic length %d above 8", v)
		}
		want = int(v)
	case '{':
		p.i++
		if p.i+1 >= len(p.b) || p.b[p.i+1] != '}' {
			return p.errf(p.i, "expected {dlc}")
		}
		d, ok := unhex(p.b[p.i])
		if !ok || (p.b[p.i] >= 'a') {
			return p.errf(p.i, "expected an upper-case hex DLC in {dlc}")
		}
		p.i += 2
		want = int(min(d, 8))
		if d > 8 {
			f.DLC8 = d
		}
		l.Layout.Braces = true
	default:
		return p.errf(p.i, "expected [len] after the identifier")
	}
	start := p.i
	gap := p.spaces()
	if rest := p.b[p.i:]; string(rest) == "remote request" {
		if f.Flags&(canframe.FD|canframe.Error) != 0 {
			return p.errf(p.i, "remote request on a CAN FD or error frame")
		}
		f.Flags |= canframe.Remote
		f.Len = uint8(want)
		l.Layout.Rest = string(p.b[start:])
		return nil
	}
	for f.Len < uint8(want) {
		if f.Len == 0 {
			l.Layout.Data = gap
			if gap == 0 {
				return p.errf(p.i, "expected a blank before the data")
			}
		} else if p.i >= len(p.b) || p.b[p.i] != ' ' {
			return p.errf(p.i, "expected a blank between data bytes")
		} else {
			p.i++
		}
		c, ok := p.hexByte()
		if !ok {
			return p.errf(p.i, "expected %d data bytes as pairs of hex digits, found %d", want, f.Len)
		}
		f.Data[f.Len] = c
		f.Len++
	}
	if want == 0 {
		p.i = start
	}
	if f.DLC8 != 0 && f.Len != 8 {
		return p.errf(p.i, "raw DLC without 8 data bytes")
	}
	if rest := p.b[p.i:]; len(rest) > 0 {
		if rest[0] != ' ' {
			return p.errf(p.i, "unexpected %q after the data", clip(rest))
		}
		l.Layout.Rest = string(rest)
	}
	return nil
}
