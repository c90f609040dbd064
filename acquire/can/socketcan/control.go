package socketcan

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Meta is what the kernel says about a received frame besides the frame.
type Meta struct {
	// Software is the kernel's receive timestamp (CLOCK_REALTIME ns; 0: none).
	Software int64
	// Hardware is the controller's raw hardware timestamp (ns; 0: none).
	Hardware int64
	// Drops is the socket's cumulative count of frames the kernel dropped for want
	// of receive buffer (SO_RXQ_OVFL); HasDrops says whether it was reported.
	Drops    uint32
	HasDrops bool
}

// ErrControl reports a malformed control message.
var ErrControl = errors.New("socketcan: malformed control message")

// sizeofTimespec is sizeof(struct timespec) on 64-bit Linux.
const sizeofTimespec = 16

// ParseControl reads the control messages recvmsg returned: SO_TIMESTAMPING
// (struct scm_timestamping: ts[0] software, ts[2] raw hardware), SO_TIMESTAMPNS
// (one timespec) and SO_RXQ_OVFL (a __u32 drop counter).
func ParseControl(oob []byte, m *Meta) error {
	*m = Meta{}
	if len(oob) == 0 {
		return nil
	}
	if len(oob) < unix.SizeofCmsghdr {
		return fmt.Errorf("%w: %d bytes", ErrControl, len(oob))
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrControl, err)
	}
	for _, c := range msgs {
		if c.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch c.Header.Type {
		case unix.SO_TIMESTAMPING:
			if len(c.Data) < 3*sizeofTimespec {
				return fmt.Errorf("%w: SO_TIMESTAMPING with %d bytes", ErrControl, len(c.Data))
			}
			m.Software = timespecNs(c.Data[0:16])
			m.Hardware = timespecNs(c.Data[32:48])
		case unix.SO_TIMESTAMPNS:
			if len(c.Data) < sizeofTimespec {
				return fmt.Errorf("%w: SO_TIMESTAMPNS with %d bytes", ErrControl, len(c.Data))
			}
			m.Software = timespecNs(c.Data[0:16])
		case unix.SO_RXQ_OVFL:
			if len(c.Data) < 4 {
				return fmt.Errorf("%w: SO_RXQ_OVFL with %d bytes", ErrControl, len(c.Data))
			}
			m.Drops, m.HasDrops = byteOrder.Uint32(c.Data[0:4]), true
		}
	}
	return nil
}

func timespecNs(b []byte) int64 {
	sec := int64(byteOrder.Uint64(b[0:8]))
	nsec := int64(byteOrder.Uint64(b[8:16]))
	return sec*1e9 + nsec
}

// timestampingFlags asks for software and raw hardware receive timestamps.
const timestampingFlags = unix.SOF_TIMESTAMPING_RX_SOFTWARE | unix.SOF_TIMESTAMPING_SOFTWARE |
	unix.SOF_TIMESTAMPING_RX_HARDWARE | unix.SOF_TIMESTAMPING_RAW_HARDWARE
