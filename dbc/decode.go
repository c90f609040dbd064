package dbc

import (
	"math"
)

// Database is the runtime decoder built from one or more DBC files.
type Database struct {
	Files    []*File
	Messages []*Message
	std      [maxStdID + 1]*Message // 11-bit ids, direct index
	ext      map[uint32]*Message    // 29-bit ids
	byName   map[string]*Message
}

// decoding state compiled into Message and Signal
type sigCode struct {
	parent    *Signal // the multiplexer this signal depends on (nil: always present)
	ranges    []Range // raw values of parent for which it is present
	firstByte int     // first payload byte read
	need      int     // payload bytes needed
	shift     uint    // Intel: start%8; Motorola: 7-(lsb%8) where lsb is the linear index of the LSB
	mask      uint64
	labels    map[int64]string
	cyclic    bool // multiplexer chain loops: never present
}

// Compile builds a Database from parsed files. When two files (or two messages of
// one file) define the same id, the first one is used.
func Compile(files ...*File) *Database {
	db := &Database{Files: files, ext: map[uint32]*Message{}, byName: map[string]*Message{}}
	for _, f := range files {
		fmtDef := f.Attributes["VFrameFormat"]
		for _, m := range f.Messages {
			if m.Independent {
				continue
			}
			m.FD = frameFormat(m, fmtDef) || m.Size > 8
			if m.Extended {
				if db.ext[m.ID] != nil {
					continue
				}
				db.ext[m.ID] = m
			} else {
				if db.std[m.ID] != nil {
					continue
				}
				db.std[m.ID] = m
			}
			if db.byName[m.Name] == nil {
				db.byName[m.Name] = m
			}
			db.Messages = append(db.Messages, m)
		}
	}
	return db
}

// Message returns the message of a frame id, or nil.
func (db *Database) Message(id uint32, extended bool) *Message {
	if !extended {
		if id > maxStdID {
			return nil
		}
		return db.std[id]
	}
	return db.ext[id]
}

// MessageByName returns the message of that name, or nil.
func (db *Database) MessageByName(name string) *Message { return db.byName[name] }

func (m *Message) compile() {
	var simple *Signal // the "M" multiplexer for signals without SG_MUL_VAL_
	for _, s := range m.Signals {
		if s.Mux == MuxSwitch && simple == nil {
			simple = s
		}
	}
	if simple == nil {
		for _, s := range m.Signals {
			if s.Mux == MuxBoth {
				simple = s
				break
			}
		}
	}
	for _, s := range m.Signals {
		c := &s.code
		first, last := s.byteSpan()
		c.firstByte, c.need = first, last+1
		if s.BigEndian {
			msb := s.Start/8*8 + 7 - s.Start%8
			lsb := msb + s.Size - 1
			c.shift = uint(7 - lsb%8)
		} else {
			c.shift = uint(s.Start % 8)
		}
		c.mask = math.MaxUint64
		if s.Size < 64 {
			c.mask = 1<<uint(s.Size) - 1
		}
		if len(s.Values) > 0 {
			c.labels = make(map[int64]string, len(s.Values))
			for _, v := range s.Values {
				c.labels[v.Value] = v.Name
			}
		}
		switch {
		case s.MuxSwitch != "":
			c.parent = m.Signal(s.MuxSwitch)
			c.ranges = s.MuxRanges
		case s.Mux == MuxMultiplexed || s.Mux == MuxBoth:
			if simple != nil && simple != s {
				c.parent = simple
				c.ranges = []Range{{s.MuxValue, s.MuxValue}}
			} else {
				c.cyclic = true // multiplexed with nothing to multiplex it
			}
		}
	}
	// a chain of multiplexers longer than the message's signals loops
	for _, s := range m.Signals {
		n := 0
		for p := s.code.parent; p != nil && n <= len(m.Signals); p = p.code.parent {
			n++
		}
		if n > len(m.Signals) {
			s.code.cyclic = true
		}
	}
}

// Raw returns the signal's raw bits from a payload; ok is false when the payload
// is too short to hold them.
func (s *Signal) Raw(data []byte) (raw uint64, ok bool) {
	c := &s.code
	if len(data) < c.need || c.need == 0 {
		return 0, false
	}
	var v uint64
	if s.BigEndian {
		// from the LSB's byte back towards the MSB's byte
		i := c.need - 1
		v = uint64(data[i]) >> c.shift
		got := 8 - c.shift
		for i--; i >= c.firstByte && got < 64; i-- {
			v |= uint64(data[i]) << got
			got += 8
		}
	} else {
		i := c.firstByte
		v = uint64(data[i]) >> c.shift
		got := 8 - c.shift
		for i++; i < c.need && got < 64; i++ {
			v |= uint64(data[i]) << got
			got += 8
		}
	}
	return v & c.mask, true
}

// SignedRaw returns raw sign-extended from the signal's width.
func (s *Signal) SignedRaw(raw uint64) int64 {
	if s.Size >= 64 {
		return int64(raw)
	}
	sh := uint(64 - s.Size)
	return int64(raw<<sh) >> sh
}

// Physical converts a raw value to the physical value: the integer (signed or
// not) or IEEE float the raw bits hold, times Factor, plus Offset.
func (s *Signal) Physical(raw uint64) float64 {
	var v float64
	switch {
	case s.Type == ValueFloat32:
		v = float64(math.Float32frombits(uint32(raw)))
	case s.Type == ValueFloat64:
		v = math.Float64frombits(raw)
	case s.Signed:
		v = float64(s.SignedRaw(raw))
	default:
		v = float64(raw)
	}
	return v*s.Factor + s.Offset
}

// Active reports whether the signal is present in this payload: not
// multiplexed, or each multiplexer up its chain holds one of its values.
func (s *Signal) Active(data []byte) bool {
	for t := s; t.code.parent != nil || t.code.cyclic; t = t.code.parent {
		if t.code.cyclic {
			return false
		}
		raw, ok := t.code.parent.Raw(data)
		if !ok || !inRanges(raw, t.code.ranges) {
			return false
		}
	}
	return true
}

func inRanges(v uint64, rs []Range) bool {
	for _, r := range rs {
		if v >= r.Lo && v <= r.Hi {
			return true
		}
	}
	return false
}

// Decode returns the signal's physical value in a payload; ok is false when the
// payload is too short or the signal is multiplexed out.
func (s *Signal) Decode(data []byte) (v float64, ok bool) {
	if !s.Active(data) {
		return 0, false
	}
	raw, ok := s.Raw(data)
	if !ok {
		return 0, false
	}
	return s.Physical(raw), true
}

// Label returns the VAL_ description of a raw value.
func (s *Signal) Label(raw uint64) (string, bool) {
	if s.code.labels == nil {
		return "", false
	}
	k := int64(raw)
	if s.Signed && s.Type == ValueInt {
		k = s.SignedRaw(raw)
	}
	l, ok := s.code.labels[k]
	return l, ok
}

// Decode calls fn with every signal present in the payload and its physical
// value; it returns how many signals it decoded.
func (m *Message) Decode(data []byte, fn func(s *Signal, raw uint64, v float64)) int {
	n := 0
	for _, s := range m.Signals {
		if (s.code.parent != nil || s.code.cyclic) && !s.Active(data) {
			continue
		}
		raw, ok := s.Raw(data)
		if !ok {
			continue
		}
		fn(s, raw, s.Physical(raw))
		n++
	}
	return n
}
