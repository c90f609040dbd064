// Package canframe is the small vocabulary every CAN codec of roadlog shares: one
// frame (classic CAN or CAN FD, data, remote or error), its flags, and the DLC ↔
// length tables of ISO 11898-1. It imports only schema, so candump, slcan,
// socketcan, cannelloni and the DBC decoder can all meet here.
package canframe

import (
	"fmt"

	"roadlog/schema"
)

// Frame is one CAN or CAN FD frame as a codec sees it. It is a plain value of fixed
// size (no pointers), so parsers fill it without allocating.
type Frame struct {
	ID    uint32 // 11- or 29-bit identifier without flag bits; error class bits for error frames
	Flags Flag
	Len   uint8    // payload length in bytes: 0–8 classic, 0–64 FD (one of the FD lengths)
	DLC8  uint8    // classic frames with Len 8 only: the raw DLC 9–15 when the sender used one (len8_dlc), else 0
	Data  [64]byte // payload; bytes past Len are zero
}

// Flag is a set of frame properties.
type Flag uint8

// Frame flags. Their values are internal to a process (never written to disk: the
// can table has one boolean column per flag).
const (
	Extended Flag = 1 << 0 // 29-bit identifier
	Remote   Flag = 1 << 1 // remote transmission request (classic only)
	Error    Flag = 1 << 2 // error frame (SocketCAN CAN_ERR_FLAG)
	FD       Flag = 1 << 3 // CAN FD frame
	BRS      Flag = 1 << 4 // CAN FD bit-rate switch
	ESI      Flag = 1 << 5 // CAN FD error state indicator
)

// Has reports whether every flag of g is set in f.
func (f Flag) Has(g Flag) bool { return f&g == g }

// Limits of identifiers and payloads.
const (
	MaxStdID   = 0x7ff
	MaxExtID   = 0x1fffffff
	MaxLen     = 8
	MaxFDLen   = 64
	MaxDLC     = 15
	ErrMask    = 0x1fffffff // bits of an error frame's id that carry the error class
	MaxClassic = 8
)

var dlcToLen = [16]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64}

// DLCToLen returns the CAN FD payload length of a data length code (its low 4 bits).
func DLCToLen(dlc uint8) uint8 { return dlcToLen[dlc&0x0f] }

// LenToDLC returns the smallest data length code whose FD length holds n bytes
// (15 for anything above 48).
func LenToDLC(n int) uint8 {
	switch {
	case n <= 8:
		if n < 0 {
			return 0
		}
		return uint8(n)
	case n <= 12:
		return 9
	case n <= 16:
		return 10
	case n <= 20:
		return 11
	case n <= 24:
		return 12
	case n <= 32:
		return 13
	case n <= 48:
		return 14
	default:
		return 15
	}
}

// ValidFDLen reports whether n is one of the lengths a CAN FD frame can carry.
func ValidFDLen(n int) bool {
	return n >= 0 && n <= 64 && int(dlcToLen[LenToDLC(n)]) == n
}

// WireDLC returns the data length code the frame had on the wire.
func (f *Frame) WireDLC() uint8 {
	if f.Flags&FD != 0 {
		return LenToDLC(int(f.Len))
	}
	if f.Len == 8 && f.DLC8 > 8 {
		return f.DLC8
	}
	return f.Len
}

// Payload returns the frame's data bytes (a slice of f.Data); a remote frame has
// none (its Len is the length it requests).
func (f *Frame) Payload() []byte {
	if f.Flags&Remote != 0 {
		return f.Data[:0]
	}
	return f.Data[:f.Len]
}

// Validate reports a frame no CAN controller could have sent: an identifier too
// wide for its format, a payload too long, an FD length that is not an FD length,
// a remote FD frame.
func (f *Frame) Validate() error {
	switch {
	case f.Flags&Error != 0:
		if f.ID > ErrMask {
			return fmt.Errorf("%w: error class %#x wider than 29 bits", ErrInvalid, f.ID)
		}
	case f.Flags&Extended != 0 && f.ID > MaxExtID:
		return fmt.Errorf("%w: extended id %#x wider than 29 bits", ErrInvalid, f.ID)
	case f.Flags&Extended == 0 && f.ID > MaxStdID:
		return fmt.Errorf("%w: standard id %#x wider than 11 bits", ErrInvalid, f.ID)
	}
	if f.Flags&FD != 0 {
		if f.Flags&Remote != 0 {
			return fmt.Errorf("%w: CAN FD frames have no remote form", ErrInvalid)
		}
		if !ValidFDLen(int(f.Len)) {
			return fmt.Errorf("%w: %d is not a CAN FD length", ErrInvalid, f.Len)
		}
		return nil
	}
	if f.Flags&(BRS|ESI) != 0 {
		return fmt.Errorf("%w: BRS/ESI set on a classic frame", ErrInvalid)
	}
	if f.Len > MaxClassic {
		return fmt.Errorf("%w: classic payload of %d bytes", ErrInvalid, f.Len)
	}
	if f.DLC8 != 0 && (f.Len != 8 || f.DLC8 < 9 || f.DLC8 > 15) {
		return fmt.Errorf("%w: raw DLC %d with %d bytes", ErrInvalid, f.DLC8, f.Len)
	}
	return nil
}

// ErrInvalid marks a frame that breaks the rules of CAN.
var ErrInvalid = fmt.Errorf("invalid CAN frame")

// ToRow fills the frame part of a can.arrow row (ID, flags, DLC and a fresh copy of
// the payload); the caller sets T, TDevice, THost and Bus.
func (f *Frame) ToRow(r *schema.CAN) {
	r.ID = f.ID
	r.Ext = f.Flags&Extended != 0
	r.FD = f.Flags&FD != 0
	r.RTR = f.Flags&Remote != 0
	r.Err = f.Flags&Error != 0
	r.BRS = f.Flags&BRS != 0
	r.ESI = f.Flags&ESI != 0
	r.DLC = f.WireDLC()
	p := f.Payload()
	r.Data = append(make([]byte, 0, len(p)), p...)
}

// FromRow sets f from a can.arrow row. Payloads longer than 64 bytes are cut.
func (f *Frame) FromRow(r *schema.CAN) {
	*f = Frame{ID: r.ID}
	if r.Ext {
		f.Flags |= Extended
	}
	if r.FD {
		f.Flags |= FD
	}
	if r.RTR {
		f.Flags |= Remote
	}
	if r.Err {
		f.Flags |= Error
	}
	if r.BRS {
		f.Flags |= BRS
	}
	if r.ESI {
		f.Flags |= ESI
	}
	n := copy(f.Data[:], r.Data)
	f.Len = uint8(n)
	if r.RTR && !r.FD && n == 0 {
		// a remote frame carries no data; its requested length is the DLC
		f.Len = min(r.DLC, 8)
	}
	if !r.FD && f.Len == 8 && r.DLC > 8 {
		f.DLC8 = r.DLC
	}
}
