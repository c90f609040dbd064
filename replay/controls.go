package replay

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"roadlog/schema"
)

// Key is one decoded key press.
type Key int

// Keys the controls know; printable keys are their rune value.
const (
	KeyNone  Key = 0
	KeyUp    Key = -1
	KeyDown  Key = -2
	KeyRight Key = -3
	KeyLeft  Key = -4
	KeyPgUp  Key = -5
	KeyPgDn  Key = -6
	KeyHome  Key = -7
)

// KeyDecoder turns the bytes a terminal in raw mode sends into key presses: plain
// bytes, and the escape sequences of the arrow and paging keys (CSI "ESC [ x",
// SS3 "ESC O x", and "ESC [ n ~"). A sequence split across reads is completed by the
// next read; an unknown sequence is dropped whole.
type KeyDecoder struct {
	buf []byte // an incomplete escape sequence
}

// maxEscape caps an escape sequence; a longer one is dropped as garbage.
const maxEscape = 16

// Decode returns the keys in b (with what an earlier call left incomplete).
func (d *KeyDecoder) Decode(b []byte) []Key {
	var out []Key
	d.buf = append(d.buf, b...)
	for len(d.buf) > 0 {
		c := d.buf[0]
		if c != 0x1b {
			out = append(out, Key(c))
			d.buf = d.buf[1:]
			continue
		}
		k, n := escape(d.buf)
		if n == 0 { // incomplete
			if len(d.buf) > maxEscape {
				d.buf = d.buf[:0]
			}
			break
		}
		if k != KeyNone {
			out = append(out, k)
		}
		d.buf = d.buf[n:]
	}
	if len(d.buf) == 0 {
		d.buf = nil
	}
	return out
}

// escape decodes the escape sequence at the start of b: the key and its length, or
// n = 0 when b holds only its beginning.
func escape(b []byte) (Key, int) {
	if len(b) < 2 {
		return KeyNone, 0
	}
	switch b[1] {
	case '[', 'O':
	case 0x1b: // ESC ESC: the first one alone
		return KeyNone, 1
	default: // ESC + key (alt-key): drop the ESC
		return KeyNone, 1
	}
	for i := 2; i < len(b); i++ {
		c := b[i]
		if c >= 0x40 && c <= 0x7e { // final byte
			switch {
			case c == 'A':
				return KeyUp, i + 1
			case c == 'B':
				return KeyDown, i + 1
			case c == 'C':
				return KeyRight, i + 1
			case c == 'D':
				return KeyLeft, i + 1
			case c == 'H':
				return KeyHome, i + 1
			case c == '~' && i == 3 && b[2] == '5':
				return KeyPgUp, i + 1
			case c == '~' && i == 3 && b[2] == '6':
				return KeyPgDn, i + 1
			case c == '~' && i == 3 && (b[2] == '1' || b[2] == '7'):
				return KeyHome, i + 1
			}
			return KeyNone, i + 1
		}
		if i >= maxEscape {
			return KeyNone, i + 1
		}
	}
	return KeyNone, 0
}

// ControlHelp lists the keys Controls understands.
const ControlHelp = `space pause/resume   . step   ←/→ −/+10s   ↓/↑ −/+60s (PgDn/PgUp too)   g start
n next event   f FCW   a AEB   c cut-in   m driver mark   d drop
+/- rate ×2/÷2   1 real time   0 as fast as possible   q quit`

// jump returns the events a jump key goes to.
func jump(k Key) (label string, codes []schema.EventCode, ok bool) {
	switch k {
	case 'f':
		return "FCW", []schema.EventCode{schema.EvFCW}, true
	case 'a':
		return "AEB", []schema.EventCode{schema.EvAEB}, true
	case 'c':
		return "cut-in", []schema.EventCode{schema.EvCutIn}, true
	case 'm':
		return "driver mark", []schema.EventCode{schema.EvMark}, true
	case 'd':
		return "drop", []schema.EventCode{schema.EvDrop, schema.EvKernelDrop, schema.EvFrameMissing}, true
	case 'n':
		return "event", []schema.EventCode{schema.EvFCW, schema.EvAEB, schema.EvCutIn, schema.EvMark,
			schema.EvDrop, schema.EvKernelDrop, schema.EvFrameMissing}, true
	}
	return "", nil, false
}

// Press applies one key to the player; it returns false for the quit keys (q,
// Ctrl-C, Ctrl-D) after telling the player to quit.
func Press(p *Player, k Key) bool {
	switch k {
	case 'q', 'Q', 0x03, 0x04:
		p.Quit()
		return false
	case ' ', 'p':
		p.TogglePause()
	case '.', 's':
		p.Step()
	case KeyRight, 'l':
		p.SeekBy(10 * time.Second)
	case KeyLeft, 'h':
		p.SeekBy(-10 * time.Second)
	case KeyUp, KeyPgUp, 'L':
		p.SeekBy(60 * time.Second)
	case KeyDown, KeyPgDn, 'H':
		p.SeekBy(-60 * time.Second)
	case KeyHome, 'g':
		p.SeekTime(0)
	case '+', '=':
		if r := p.Status().Rate; r > 0 {
			p.SetRate(min(r*2, MaxRate))
		}
	case '-', '_':
		if r := p.Status().Rate; r > 0 {
			p.SetRate(max(r/2, MinRate))
		} else {
			p.SetRate(MaxRate)
		}
	case '1':
		p.SetRate(1)
	case '0':
		p.SetRate(0)
	default:
		if label, codes, ok := jump(k); ok {
			p.NextEvent(label, codes...)
		}
	}
	return true
}

// Controls reads key presses from in (a terminal in raw mode, or any reader) and
// applies them to p until a quit key, the end of in, or ctx ends.
func Controls(ctx context.Context, in io.Reader, p *Player) error {
	var dec KeyDecoder
	buf := make([]byte, 64)
	for ctx.Err() == nil {
		n, err := in.Read(buf)
		for _, k := range dec.Decode(buf[:n]) {
			if !Press(p, k) {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read controls: %w", err)
		}
	}
	return ctx.Err()
}

// StatusLine renders a player's status on one line.
func StatusLine(st Status) string {
	var sb strings.Builder
	state := "play "
	switch {
	case st.Done:
		state = "end  "
	case st.Paused:
		state = "pause"
	}
	sb.WriteString(state)
	if st.Start != 0 && st.T != 0 {
		fmt.Fprintf(&sb, " %9.3fs", float64(st.T-st.Start)/1e9)
		if st.End != 0 {
			fmt.Fprintf(&sb, " / %.3fs", float64(st.End-st.Start)/1e9)
		}
	} else if st.T != 0 {
		sb.WriteString(" " + time.Unix(0, st.T).UTC().Format("15:04:05.000"))
	}
	if st.Rate == 0 {
		sb.WriteString("  max")
	} else {
		fmt.Fprintf(&sb, "  ×%g", st.Rate)
	}
	if st.Achieved > 0 {
		fmt.Fprintf(&sb, " (achieved ×%.2f)", st.Achieved)
	}
	fmt.Fprintf(&sb, "  %d samples  %d frames  %d events", st.Samples, st.Frames, st.Events)
	if st.Damage > 0 {
		fmt.Fprintf(&sb, "  %d damaged", st.Damage)
	}
	if st.Behind > 0 {
		fmt.Fprintf(&sb, "  slowed %.1fs", st.Behind.Seconds())
	}
	if st.Loops > 0 {
		fmt.Fprintf(&sb, "  loop %d", st.Loops)
	}
	if st.Message != "" {
		sb.WriteString("  | " + st.Message)
	}
	return sb.String()
}
