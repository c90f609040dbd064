package imu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrFormat reports a scan-element type string the kernel would not write.
var ErrFormat = errors.New("bad iio scan element type")

// Format is the storage of one IIO scan element, as its _type file says:
// "[be|le]:[s|u]bits/storagebits[Xrepeat]>>shift", e.g. "le:s16/16>>0",
// "be:u12/16>>4", "le:s32/32X3>>0".
type Format struct {
	BigEndian bool
	Signed    bool
	Bits      int // meaningful bits
	Storage   int // bits the element occupies: 8, 16, 32 or 64
	Shift     int // right shift before masking
	Repeat    int // elements in the channel (1 unless "Xn")
}

// Bytes is the size of the whole channel in a scan record.
func (f Format) Bytes() int { return f.Storage / 8 * f.Repeat }

func (f Format) String() string {
	s := "le:"
	if f.BigEndian {
		s = "be:"
	}
	if f.Signed {
		s += "s"
	} else {
		s += "u"
	}
	s += strconv.Itoa(f.Bits) + "/" + strconv.Itoa(f.Storage)
	if f.Repeat > 1 {
		s += "X" + strconv.Itoa(f.Repeat)
	}
	return s + ">>" + strconv.Itoa(f.Shift)
}

// ParseFormat parses a scan element's _type.
func ParseFormat(s string) (Format, error) {
	in := s
	s = strings.TrimSpace(s)
	bad := func(why string) (Format, error) { return Format{}, fmt.Errorf("%w %q: %s", ErrFormat, in, why) }
	var f Format
	switch {
	case strings.HasPrefix(s, "le:"):
	case strings.HasPrefix(s, "be:"):
		f.BigEndian = true
	default:
		return bad("no le: or be: prefix")
	}
	s = s[3:]
	if s == "" {
		return bad("no sign")
	}
	switch s[0] {
	case 's', 'S':
		f.Signed = true
	case 'u', 'U':
	default:
		return bad("sign is not s or u")
	}
	s = s[1:]
	bits, rest, ok := strings.Cut(s, "/")
	if !ok {
		return bad("no /storagebits")
	}
	storage, shift, ok := strings.Cut(rest, ">>")
	if !ok {
		return bad("no >>shift")
	}
	f.Repeat = 1
	if st, rep, ok := strings.Cut(storage, "X"); ok {
		storage = st
		n, err := strconv.Atoi(rep)
		if err != nil || n < 1 || n > 64 {
			return bad("repeat is not 1..64")
		}
		f.Repeat = n
	}
	var err error
	if f.Bits, err = strconv.Atoi(bits); err != nil {
		return bad("bits is not a number")
	}
	if f.Storage, err = strconv.Atoi(storage); err != nil {
		return bad("storagebits is not a number")
	}
	if f.Shift, err = strconv.Atoi(shift); err != nil {
		return bad("shift is not a number")
	}
	switch f.Storage {
	case 8, 16, 32, 64:
	default:
		return bad("storagebits is not 8, 16, 32 or 64")
	}
	if f.Bits < 1 || f.Shift < 0 || f.Bits+f.Shift > f.Storage {
		return bad("bits and shift do not fit the storage")
	}
	return f, nil
}

// Value decodes element i of a channel whose bytes start at b[0]; b must hold the
// whole channel (Bytes()).
func (f Format) Value(b []byte, i int) int64 {
	n := f.Storage / 8
	b = b[i*n : (i+1)*n]
	var u uint64
	switch {
	case n == 1:
		u = uint64(b[0])
	case f.BigEndian && n == 2:
		u = uint64(binary.BigEndian.Uint16(b))
	case f.BigEndian && n == 4:
		u = uint64(binary.BigEndian.Uint32(b))
	case f.BigEndian:
		u = binary.BigEndian.Uint64(b)
	case n == 2:
		u = uint64(binary.LittleEndian.Uint16(b))
	case n == 4:
		u = uint64(binary.LittleEndian.Uint32(b))
	default:
		u = binary.LittleEndian.Uint64(b)
	}
	u >>= uint(f.Shift)
	if f.Bits < 64 {
		u &= 1<<uint(f.Bits) - 1
		if f.Signed && u&(1<<uint(f.Bits-1)) != 0 {
			u |= ^uint64(0) << uint(f.Bits) // sign-extend
		}
	}
	return int64(u)
}

// Put encodes v as element i of a channel (the inverse of Value for values that fit):
// the software side of a fake device.
func (f Format) Put(b []byte, i int, v int64) {
	n := f.Storage / 8
	b = b[i*n : (i+1)*n]
	u := uint64(v)
	if f.Bits < 64 {
		u &= 1<<uint(f.Bits) - 1
	}
	u <<= uint(f.Shift)
	switch {
	case n == 1:
		b[0] = byte(u)
	case f.BigEndian && n == 2:
		binary.BigEndian.PutUint16(b, uint16(u))
	case f.BigEndian && n == 4:
		binary.BigEndian.PutUint32(b, uint32(u))
	case f.BigEndian:
		binary.BigEndian.PutUint64(b, u)
	case n == 2:
		binary.LittleEndian.PutUint16(b, uint16(u))
	case n == 4:
		binary.LittleEndian.PutUint32(b, uint32(u))
	default:
		binary.LittleEndian.PutUint64(b, u)
	}
}
