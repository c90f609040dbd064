package dbc

import (
	"strings"
)

const (
	idExtendedFlag = 0x80000000
	idIndependent  = 0xc0000000 // VECTOR__INDEPENDENT_SIG_MSG
	maxStdID       = 0x7ff
	maxExtID       = 0x1fffffff
)

// resolve classifies message ids, attaches the statements that name messages and
// signals, and checks what a decoder needs.
func (p *parser) resolve() {
	byRaw := map[uint32]*Message{}
	for _, m := range p.f.Messages {
		at := token{pos: m.Pos}
		switch {
		case m.RawID == idIndependent:
			m.Independent = true
			m.ID = 0
		case m.RawID&idExtendedFlag != 0:
			m.Extended = true
			m.ID = m.RawID &^ idExtendedFlag
			if m.ID > maxExtID {
				p.warnf(at, "message %s: extended id %#x has bits above 29; masked to %#x", m.Name, m.ID, m.ID&maxExtID)
				m.ID &= maxExtID
			}
		case m.RawID > maxStdID:
			m.Extended = true
			m.ID = m.RawID
			if m.ID > maxExtID {
				p.warnf(at, "message %s: id %#x has bits above 29; masked to %#x", m.Name, m.ID, m.ID&maxExtID)
				m.ID &= maxExtID
			} else {
				p.warnf(at, "message %s: 29-bit id %#x written without the extended flag", m.Name, m.ID)
			}
		default:
			m.ID = m.RawID
		}
		if prev, dup := byRaw[m.RawID]; dup {
			p.warnf(at, "message %s: id %d already used by %s; the first definition is used", m.Name, m.RawID, prev.Name)
			continue
		}
		byRaw[m.RawID] = m
	}
	signal := func(at token, id uint32, name, what string) (*Message, *Signal) {
		m := byRaw[id]
		if m == nil {
			p.warnf(at, "%s for unknown message id %d", what, id)
			return nil, nil
		}
		if name == "" {
			return m, nil
		}
		for _, s := range m.Signals {
			if s.Name == name {
				return m, s
			}
		}
		p.warnf(at, "%s for unknown signal %s of message %s", what, name, m.Name)
		return m, nil
	}
	for _, c := range p.comments {
		m, s := signal(c.at, c.id, c.signal, "CM_")
		switch {
		case s != nil:
			s.Comment = c.text
		case m != nil && c.signal == "":
			m.Comment = c.text
		}
	}
	for _, v := range p.vals {
		if _, s := signal(v.at, v.id, v.signal, "VAL_"); s != nil {
			s.Values = v.values
		}
	}
	for _, t := range p.types {
		if _, s := signal(t.at, t.id, t.signal, "SIG_VALTYPE_"); s != nil {
			s.Type = t.typ
		}
	}
	for _, t := range p.txbu {
		if m, _ := signal(t.at, t.id, "", "BO_TX_BU_"); m != nil {
			m.Transmitters = append(m.Transmitters, t.nodes...)
		}
	}
	for _, a := range p.attrs {
		m, s := signal(a.at, a.id, a.signal, "BA_ "+a.name)
		v := p.f.Attributes[a.name].EnumValue(a.value)
		switch {
		case s != nil:
			if s.Attrs == nil {
				s.Attrs = map[string]string{}
			}
			s.Attrs[a.name] = v
		case m != nil && a.signal == "":
			if m.Attrs == nil {
				m.Attrs = map[string]string{}
			}
			m.Attrs[a.name] = v
		}
	}
	for _, mv := range p.mulvals {
		m, s := signal(mv.at, mv.id, mv.signal, "SG_MUL_VAL_")
		if s == nil {
			continue
		}
		sw := m.Signal(mv.switch_)
		if sw == nil {
			p.warnf(mv.at, "SG_MUL_VAL_: message %s has no multiplexer %s", m.Name, mv.switch_)
			continue
		}
		if sw.Mux != MuxSwitch && sw.Mux != MuxBoth {
			if _, bare := p.bareMux[sw]; !bare {
				p.warnf(mv.at, "SG_MUL_VAL_: %s is not marked as a multiplexer; used as one", sw.Name)
			}
		}
		s.MuxSwitch = sw.Name
		s.MuxRanges = append(s.MuxRanges, mv.ranges...)
	}
	for s, t := range p.bareMux {
		p.warnf(t, "signal %s: bare multiplexer indicator 'm' read as 'M'", s.Name)
	}
	for _, m := range p.f.Messages {
		p.checkMessage(m)
		m.compile()
	}
}

// frameFormat applies the VFrameFormat attribute (StandardCAN, ExtendedCAN,
// StandardCAN_FD, ExtendedCAN_FD, J1939PG) and reports whether the message is FD.
func frameFormat(m *Message, def *AttrDef) (fd bool) {
	v, ok := m.Attrs["VFrameFormat"]
	if !ok && def != nil {
		v = def.Default
	}
	fd = strings.HasSuffix(v, "_FD")
	return fd
}

func (p *parser) checkMessage(m *Message) {
	switches := 0
	for _, s := range m.Signals {
		at := token{pos: s.Pos}
		if (s.Type == ValueFloat32 && s.Size != 32) || (s.Type == ValueFloat64 && s.Size != 64) {
			p.definitionf(at, "signal %s: float type needs %d bits, has %d", s.Name, map[ValueType]int{1: 32, 2: 64}[s.Type], s.Size)
			s.Type = ValueInt
		}
		if m.Independent {
			continue
		}
		if _, last := s.byteSpan(); last >= m.Size {
			p.warnf(at, "signal %s of message %s lies outside its %d bytes; decoded only from frames long enough", s.Name, m.Name, m.Size)
		}
		if s.Mux == MuxSwitch || s.Mux == MuxBoth {
			switches++
		}
	}
	if switches == 0 {
		for _, s := range m.Signals {
			if (s.Mux == MuxMultiplexed || s.Mux == MuxBoth) && s.MuxSwitch == "" {
				p.warnf(token{pos: s.Pos}, "signal %s is multiplexed but message %s has no multiplexer; never decoded", s.Name, m.Name)
			}
		}
	}
}

// Signal returns the message's signal of that name, or nil.
func (m *Message) Signal(name string) *Signal {
	for _, s := range m.Signals {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// byteSpan returns the first and last payload byte the signal occupies.
func (s *Signal) byteSpan() (first, last int) {
	if !s.BigEndian {
		return s.Start / 8, (s.Start + s.Size - 1) / 8
	}
	// Motorola: the start bit is the MSB; the signal runs on in big-endian
	// ("sawtooth") order: down through its byte, then from bit 7 of the next
	msb := s.Start/8*8 + 7 - s.Start%8 // linear big-endian index of the MSB
	return msb / 8, (msb + s.Size - 1) / 8
}
