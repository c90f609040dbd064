package camera

import (
	"encoding/binary"
	"fmt"
)

// AppendAnnexB appends to dst the Annex-B form (4-byte start codes) of the parameter
// sets params followed by the AVCC access unit avcc (4-byte big-endian NAL lengths, as
// in schema.VideoFrame.Data and in MP4 samples). It is how recorded samples are fed
// to a decoder that reads an elementary stream.
func AppendAnnexB(dst []byte, params [][]byte, avcc []byte) ([]byte, error) {
	for _, p := range params {
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, p...)
	}
	for p := 0; p < len(avcc); {
		if p+4 > len(avcc) {
			return dst, fmt.Errorf("convert AVCC at byte %d: %w", p, errAVCCLength)
		}
		n := int(binary.BigEndian.Uint32(avcc[p:]))
		p += 4
		if n > len(avcc)-p {
			return dst, fmt.Errorf("convert AVCC at byte %d: NAL length %d: %w", p-4, n, errAVCCLength)
		}
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, avcc[p:p+n]...)
		p += n
	}
	return dst, nil
}

// SplitAVCC returns the NAL units of an AVCC access unit (sub-slices of avcc).
func SplitAVCC(avcc []byte) ([][]byte, error) {
	var out [][]byte
	for p := 0; p < len(avcc); {
		if p+4 > len(avcc) {
			return out, fmt.Errorf("split AVCC at byte %d: %w", p, errAVCCLength)
		}
		n := int(binary.BigEndian.Uint32(avcc[p:]))
		p += 4
		if n > len(avcc)-p {
			return out, fmt.Errorf("split AVCC at byte %d: NAL length %d: %w", p-4, n, errAVCCLength)
		}
		out = append(out, avcc[p:p+n])
		p += n
	}
	return out, nil
}

var errAVCCLength = fmt.Errorf("NAL length runs past the sample: %w", ErrTruncatedNALU)
