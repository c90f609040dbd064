// Package cannelloni encodes and decodes the UDP datagrams of cannelloni, the
// SocketCAN-over-Ethernet tunnel (github.com/mguentner/cannelloni): a 5-byte
// header (version 2, op code 0 = DATA, sequence number, big-endian frame count)
// then each frame as a big-endian can_id with SocketCAN's flag bits, a length
// byte (0x80 set for CAN FD, followed by the FD flags byte) and the data (none
// for remote frames).
package cannelloni

import (
	"encoding/binary"
	"errors"
	"fmt"

	"roadlog/acquire/can/canframe"
	"roadlog/acquire/can/socketcan"
)

// Protocol constants.
const (
	Version    = 2
	OpData     = 0
	HeaderSize = 5
	fdFrame    = 0x80 // CANFD_FRAME bit of the length byte
)

// Errors, matched with errors.Is.
var (
	ErrHeader    = errors.New("cannelloni: bad header")
	ErrTruncated = errors.New("cannelloni: datagram ends inside a frame")
)

// DecodeError locates a decoding failure in a datagram.
type DecodeError struct {
	Offset int // byte offset in the datagram
	Frame  int // index of the frame being read
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("cannelloni: frame %d at offset %d: %v", e.Frame, e.Offset, e.Err)
}

// Unwrap returns the sentinel.
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reads a datagram and calls fn for each frame in it (fn must copy the
// frame if it keeps it). It returns the sequence number; frames decoded before
// an error have been delivered.
func Decode(b []byte, fn func(*canframe.Frame)) (seq uint8, err error) {
	if len(b) < HeaderSize {
		return 0, &DecodeError{Err: fmt.Errorf("%w: %d bytes", ErrHeader, len(b))}
	}
	if b[0] != Version || b[1] != OpData {
		return 0, &DecodeError{Err: fmt.Errorf("%w: version %d op %d", ErrHeader, b[0], b[1])}
	}
	seq = b[2]
	count := int(binary.BigEndian.Uint16(b[3:5]))
	i := HeaderSize
	var f canframe.Frame
	for n := range count {
		start := i
		if i+5 > len(b) {
			return seq, &DecodeError{Offset: start, Frame: n, Err: ErrTruncated}
		}
		id := binary.BigEndian.Uint32(b[i:])
		l := b[i+4]
		i += 5
		f = canframe.Frame{}
		switch {
		case id&socketcan.FlagERR != 0:
			f.Flags |= canframe.Error
			f.ID = id & socketcan.MaskERR
		case id&socketcan.FlagEFF != 0:
			f.Flags |= canframe.Extended
			f.ID = id & socketcan.MaskEFF
		default:
			f.ID = id & socketcan.MaskSFF
		}
		max := 8
		if l&fdFrame != 0 {
			if i >= len(b) {
				return seq, &DecodeError{Offset: start, Frame: n, Err: ErrTruncated}
			}
			f.Flags |= canframe.FD
			if b[i]&socketcan.FDBRS != 0 {
				f.Flags |= canframe.BRS
			}
			if b[i]&socketcan.FDESI != 0 {
				f.Flags |= canframe.ESI
			}
			i++
			l &^= fdFrame
			max = 64
		}
		if int(l) > max {
			return seq, &DecodeError{Offset: start, Frame: n, Err: fmt.Errorf("%w: length %d", canframe.ErrInvalid, l)}
		}
		f.Len = l
		if id&socketcan.FlagRTR != 0 && f.Flags&(canframe.FD|canframe.Error) == 0 {
			f.Flags |= canframe.Remote
		} else {
			if i+int(l) > len(b) {
				return seq, &DecodeError{Offset: start, Frame: n, Err: ErrTruncated}
			}
			copy(f.Data[:l], b[i:])
			i += int(l)
		}
		fn(&f)
	}
	return seq, nil
}

// Append appends a datagram with the frames to dst.
func Append(dst []byte, seq uint8, frames []canframe.Frame) []byte {
	dst = append(dst, Version, OpData, seq)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(frames)))
	for i := range frames {
		f := &frames[i]
		id := f.ID
		switch {
		case f.Flags&canframe.Error != 0:
			id |= socketcan.FlagERR
		case f.Flags&canframe.Extended != 0:
			id |= socketcan.FlagEFF
		}
		if f.Flags&canframe.Remote != 0 {
			id |= socketcan.FlagRTR
		}
		dst = binary.BigEndian.AppendUint32(dst, id)
		if f.Flags&canframe.FD != 0 {
			var fl byte
			if f.Flags&canframe.BRS != 0 {
				fl |= socketcan.FDBRS
			}
			if f.Flags&canframe.ESI != 0 {
				fl |= socketcan.FDESI
			}
			dst = append(dst, f.Len|fdFrame, fl)
		} else {
			dst = append(dst, f.Len)
		}
		dst = append(dst, f.Payload()...)
	}
	return dst
}
