// Package socketcan is roadlog's reader of Linux SocketCAN raw sockets
// (AF_CAN/CAN_RAW), written on golang.org/x/sys/unix because einride's socketcan
// package reads classic frames only and has no receive timestamps or drop
// counter: this one reads CAN FD frames (CAN_RAW_FD_FRAMES), error frames
// (CAN_RAW_ERR_FILTER), kernel and hardware receive timestamps (SO_TIMESTAMPING),
// the kernel's dropped-frame counter (SO_RXQ_OVFL), and installs identifier
// filters (CAN_RAW_FILTER).
//
// The encodings of struct can_frame, struct canfd_frame, struct can_filter and
// the control messages are plain functions tested byte for byte against the
// kernel's layouts; the socket calls live in conn_linux.go.
package socketcan

import (
	"encoding/binary"
	"errors"
	"fmt"

	"roadlog/acquire/can/canframe"
)

// Sizes of the kernel's frame structures (linux/can.h).
const (
	MTU   = 16 // sizeof(struct can_frame)
	FDMTU = 72 // sizeof(struct canfd_frame)
)

// Bits of can_id and canfd_frame.flags (linux/can.h).
const (
	FlagEFF  = 0x80000000 // CAN_EFF_FLAG: 29-bit id
	FlagRTR  = 0x40000000 // CAN_RTR_FLAG: remote frame
	FlagERR  = 0x20000000 // CAN_ERR_FLAG: error frame
	MaskSFF  = 0x000007ff // CAN_SFF_MASK
	MaskEFF  = 0x1fffffff // CAN_EFF_MASK
	MaskERR  = 0x1fffffff // CAN_ERR_MASK
	FDBRS    = 0x01       // CANFD_BRS
	FDESI    = 0x02       // CANFD_ESI
	FDFDF    = 0x04       // CANFD_FDF (set by newer kernels on every FD frame)
	ErrAllCl = 0x1fffffff // CAN_ERR_MASK as an error filter: every error class
)

// ErrFrameSize reports a read whose length is neither MTU nor FDMTU.
var ErrFrameSize = errors.New("socketcan: frame size is neither 16 nor 72 bytes")

// byteOrder is the host's: can_id is a host-endian __u32.
var byteOrder = binary.NativeEndian

// Decode reads a struct can_frame (16 bytes) or struct canfd_frame (72 bytes).
func Decode(b []byte, f *canframe.Frame) error {
	if len(b) != MTU && len(b) != FDMTU {
		return fmt.Errorf("%w: %d", ErrFrameSize, len(b))
	}
	*f = canframe.Frame{}
	id := byteOrder.Uint32(b[0:4])
	n := b[4]
	switch {
	case id&FlagERR != 0:
		f.Flags |= canframe.Error
		f.ID = id & MaskERR
	case id&FlagEFF != 0:
		f.Flags |= canframe.Extended
		f.ID = id & MaskEFF
	default:
		f.ID = id & MaskSFF
	}
	if len(b) == FDMTU {
		f.Flags |= canframe.FD
		if b[5]&FDBRS != 0 {
			f.Flags |= canframe.BRS
		}
		if b[5]&FDESI != 0 {
			f.Flags |= canframe.ESI
		}
		n = min(n, 64)
		// the kernel only sends FD lengths; round up anything else as a DLC would
		n = canframe.DLCToLen(canframe.LenToDLC(int(n)))
		f.Len = n
		copy(f.Data[:n], b[8:8+int(n)])
		return nil
	}
	if id&FlagRTR != 0 && f.Flags&canframe.Error == 0 {
		f.Flags |= canframe.Remote
	}
	f.Len = min(n, 8)
	if f.Len == 8 && b[7] > 8 && b[7] <= 15 {
		f.DLC8 = b[7] // len8_dlc
	}
	if f.Flags&canframe.Remote == 0 {
		copy(f.Data[:f.Len], b[8:8+int(f.Len)])
	}
	return nil
}

// Encode writes f as a struct can_frame (classic) or struct canfd_frame (FD) into
// b and returns the number of bytes written. b must hold FDMTU bytes.
func Encode(b []byte, f *canframe.Frame) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, fmt.Errorf("encode frame: %w", err)
	}
	id := f.ID
	switch {
	case f.Flags&canframe.Error != 0:
		id |= FlagERR
	case f.Flags&canframe.Extended != 0:
		id |= FlagEFF
	}
	if f.Flags&canframe.Remote != 0 {
		id |= FlagRTR
	}
	n := MTU
	if f.Flags&canframe.FD != 0 {
		n = FDMTU
	}
	clear(b[:n])
	byteOrder.PutUint32(b[0:4], id)
	b[4] = f.Len
	if f.Flags&canframe.FD != 0 {
		if f.Flags&canframe.BRS != 0 {
			b[5] |= FDBRS
		}
		if f.Flags&canframe.ESI != 0 {
			b[5] |= FDESI
		}
		copy(b[8:], f.Data[:f.Len])
		return n, nil
	}
	b[7] = f.DLC8
	copy(b[8:], f.Payload())
	return n, nil
}

// Filter is one struct can_filter: a frame passes when
// received_id & Mask == ID & Mask (Invert: when it does not).
type Filter struct {
	ID       uint32 // identifier (without flags)
	Mask     uint32 // bits of the identifier that must match
	Extended bool   // match 29-bit frames (CAN_EFF_FLAG in id and mask)
	Invert   bool   // CAN_INV_FILTER
}

const canInvFilter = 0x20000000 // CAN_INV_FILTER, in can_id of a filter

// EncodeFilters returns the CAN_RAW_FILTER option value: an array of struct
// can_filter { canid_t can_id; canid_t can_mask; }.
func EncodeFilters(fs []Filter) []byte {
	b := make([]byte, 8*len(fs))
	for i, f := range fs {
		id, mask := f.ID, f.Mask
		// the EFF flag is part of the match: standard and extended never mix
		mask |= FlagEFF
		if f.Extended {
			id |= FlagEFF
		}
		if f.Invert {
			id |= canInvFilter
		}
		byteOrder.PutUint32(b[8*i:], id)
		byteOrder.PutUint32(b[8*i+4:], mask)
	}
	return b
}

// Match reports whether f passes the filter, as the kernel decides (for software
// filtering of sources without kernel filters).
func (flt Filter) Match(f *canframe.Frame) bool {
	ext := f.Flags&canframe.Extended != 0
	ok := ext == flt.Extended && f.ID&flt.Mask == flt.ID&flt.Mask
	return ok != flt.Invert
}
