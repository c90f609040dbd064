package camera

import (
	"bytes"
	"errors"
	"fmt"

	"roadlog/schema"
)

// Limits of the stream splitters. Every length the splitters accept from a stream is
// capped by one of these (or by the Max fields of the splitters, which default to them).
const (
	// DefaultMaxAccessUnit caps one access unit or JPEG image: 8 MiB, the size
	// mediacommon allows for a 50 Mbit/s 2160p60 H.264 stream.
	DefaultMaxAccessUnit = 8 << 20
	// DefaultMaxNALUs caps the NAL units of one access unit (x264 with sliced threads
	// at 4K stays below 25; some drones send 48).
	DefaultMaxNALUs = 64
)

// Errors the splitters report. They are counted and skipped by the sources; the
// splitter itself carries on at the next access unit.
var (
	// ErrAccessUnitTooLarge: an access unit or image exceeded the size cap.
	ErrAccessUnitTooLarge = errors.New("access unit too large")
	// ErrTooManyNALUs: an access unit had more NAL units than the cap.
	ErrTooManyNALUs = errors.New("too many NAL units in one access unit")
	// ErrForbiddenBit: a NAL unit had forbidden_zero_bit set (corrupt data).
	ErrForbiddenBit = errors.New("NAL unit forbidden_zero_bit set")
	// ErrTruncatedNALU: a NAL unit is too short for its header.
	ErrTruncatedNALU = errors.New("NAL unit truncated")
)

// StreamError is a damaged piece of an elementary stream: what was wrong, and the byte
// offset in the stream where the damaged unit began.
type StreamError struct {
	Offset int64 // byte offset in the stream of the damaged unit's start code / marker
	Err    error
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("stream offset %d: %v", e.Offset, e.Err)
}

func (e *StreamError) Unwrap() error { return e.Err }

// AccessUnit is one coded picture split out of an elementary stream.
type AccessUnit struct {
	// NALUs are the NAL units without start codes (H.264/H.265), parameter sets,
	// SEI and all, in stream order. Empty for JPEG.
	NALUs [][]byte
	// JPEG is one whole image from SOI to EOI (JPEG streams only).
	JPEG []byte
	// Offset is the stream byte offset of the unit's first start code or SOI.
	Offset int64
	// Arrival is the time label passed to Push with the bytes that began the unit.
	Arrival int64
}

// AnnexBSplitter splits an H.264 or H.265 Annex-B byte stream (ITU-T H.264 Annex B) into
// access units, following the rules of H.264 7.4.1.2.3 and H.265 7.4.2.4.4: a new access
// unit begins at an access unit delimiter, at a parameter set or prefix SEI that follows
// a coded slice, or at a coded slice that starts a new picture (first_mb_in_slice = 0,
// or first_slice_segment_in_pic_flag = 1). Bytes before the first start code, empty NAL
// units and NAL units with forbidden_zero_bit set are skipped and reported.
//
// Push is fed whatever the stream delivers (any split of the bytes gives the same
// access units); the last access unit comes out at Flush, when the stream ends.
// The zero value is not usable: set Codec. NAL units of emitted access units are
// copies the caller owns.
type AnnexBSplitter struct {
	Codec    schema.Codec // CodecH264 or CodecH265
	MaxAU    int          // cap on one access unit's bytes (0: DefaultMaxAccessUnit)
	MaxNALUs int          // cap on one access unit's NAL units (0: DefaultMaxNALUs)
	buf      []byte       // pending bytes; buf[0:] starts right after a start code when inNAL
	base     int64        // stream offset of buf[0]
	scan     int          // next index of buf to look for a start code at
	inNAL    bool         // a start code has been seen; buf holds the current NAL unit
	nalStart int64        // stream offset of the current NAL unit's start code
	nalArr   int64        // arrival of the current NAL unit's start code
	pushArr  int64        // arrival of the current Push
	au       AccessUnit   // access unit being assembled
	auBytes  int          // its payload bytes
	auVCL    bool         // it already holds a coded slice
	auBad    error        // it is damaged: dropped when it ends
	skipped  int64        // bytes skipped before the first start code
	emitted  []AccessUnit // output of the current Push/Flush
	errs     []error      // errors of the current Push/Flush
	arrivals []arrival    // arrival labels of data still in buf, by offset
}

type arrival struct {
	offset int64
	t      int64
}

// Skipped returns how many bytes before the first start code were discarded.
func (s *AnnexBSplitter) Skipped() int64 { return s.skipped }

// Push adds stream bytes that arrived at time label t and returns the access units they
// completed, and any damage found (each a *StreamError; the damaged unit was dropped).
// The returned slices are valid until the next call.
func (s *AnnexBSplitter) Push(p []byte, t int64) ([]AccessUnit, []error) {
	s.emitted, s.errs = s.emitted[:0], s.errs[:0]
	s.pushArr = t
	s.arrivals = append(s.arrivals, arrival{s.base + int64(len(s.buf)), t})
	s.buf = append(s.buf, p...)
	s.split(false)
	return s.emitted, s.errs
}

// Flush ends the stream: the pending NAL unit and access unit are emitted.
func (s *AnnexBSplitter) Flush() ([]AccessUnit, []error) {
	s.emitted, s.errs = s.emitted[:0], s.errs[:0]
	s.split(true)
	if s.inNAL {
		s.nal(trimZeros(s.buf))
		s.inNAL = false
	}
	s.endAU()
	s.base += int64(len(s.buf))
	s.buf, s.scan, s.arrivals = s.buf[:0], 0, s.arrivals[:0]
	return s.emitted, s.errs
}

func (s *AnnexBSplitter) maxAU() int {
	if s.MaxAU > 0 {
		return s.MaxAU
	}
	return DefaultMaxAccessUnit
}

func (s *AnnexBSplitter) maxNALUs() int {
	if s.MaxNALUs > 0 {
		return s.MaxNALUs
	}
	return DefaultMaxNALUs
}

// split consumes every complete NAL unit in buf.
func (s *AnnexBSplitter) split(eof bool) {
	for {
		i := bytes.Index(s.buf[s.scan:], startCode)
		if i < 0 {
			// keep the last 2 bytes: they may begin a start code
			s.scan = max(0, len(s.buf)-2)
			if !s.inNAL && s.scan > 0 {
				s.skipped += int64(s.scan)
				s.drop(s.scan)
			}
			if s.inNAL && len(s.buf) > s.maxAU()+4 {
				// a NAL unit longer than the cap: drop its access unit and resync at
				// the next start code
				s.damage(fmt.Errorf("NAL unit of more than %d bytes: %w", s.maxAU(), ErrAccessUnitTooLarge))
				s.inNAL = false
				s.drop(s.scan)
			}
			return
		}
		i += s.scan
		if s.inNAL {
			s.nal(trimZeros(s.buf[:i]))
		} else if i > 0 {
			// garbage before the first start code (a leading zero byte of a 4-byte
			// start code is not garbage)
			if g := len(trimZeros(s.buf[:i])); g > 0 {
				s.skipped += int64(g)
			}
		}
		s.inNAL = true
		s.nalStart = s.base + int64(i)
		s.nalArr = s.arrivalAt(s.nalStart)
		s.drop(i + 3)
		s.scan = 0
	}
}

var startCode = []byte{0, 0, 1}

// drop removes the first n bytes of buf. The array is not copied here: append
// reallocates to the live part once the consumed front fills it, so the buffer stays
// about one access unit long whatever the length of the stream.
func (s *AnnexBSplitter) drop(n int) {
	s.buf = s.buf[n:]
	s.base += int64(n)
	if s.scan >= n {
		s.scan -= n
	} else {
		s.scan = 0
	}
	for len(s.arrivals) > 1 && s.arrivals[1].offset <= s.base {
		s.arrivals = s.arrivals[1:]
	}
}

func (s *AnnexBSplitter) arrivalAt(off int64) int64 {
	t := s.pushArr
	for _, a := range s.arrivals {
		if a.offset > off {
			break
		}
		t = a.t
	}
	return t
}

// trimZeros removes trailing_zero_8bits (and the leading zero of a 4-byte start code).
func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// nal handles one complete NAL unit (no start code, trailing zeros removed).
func (s *AnnexBSplitter) nal(n []byte) {
	if len(n) == 0 {
		return
	}
	if n[0]&0x80 != 0 {
		// the damaged unit may be a slice of the picture being assembled: drop that
		// picture rather than emit it with a slice missing
		s.damage(ErrForbiddenBit)
		return
	}
	if s.Codec == schema.CodecH265 && len(n) < 2 {
		s.damage(ErrTruncatedNALU)
		return
	}
	begins, vcl := s.classify(n)
	if begins && s.auVCL {
		s.endAU()
	}
	if len(s.au.NALUs) == 0 && s.auBad == nil && s.auBytes == 0 {
		s.au.Offset = s.nalStart
		s.au.Arrival = s.nalArr
	}
	if vcl {
		s.auVCL = true
	}
	if s.auBad != nil {
		return
	}
	if len(s.au.NALUs) >= s.maxNALUs() {
		s.damage(fmt.Errorf("more than %d: %w", s.maxNALUs(), ErrTooManyNALUs))
		return
	}
	if s.auBytes+len(n) > s.maxAU() {
		s.damage(fmt.Errorf("more than %d bytes: %w", s.maxAU(), ErrAccessUnitTooLarge))
		return
	}
	s.au.NALUs = append(s.au.NALUs, bytes.Clone(n))
	s.auBytes += len(n)
}

// damage marks the access unit being assembled as damaged; it is dropped at its end.
func (s *AnnexBSplitter) damage(err error) {
	if s.auBad == nil {
		s.auBad = &StreamError{Offset: s.nalStart, Err: err}
		if len(s.au.NALUs) == 0 {
			s.au.Offset = s.nalStart
		}
	}
}

// endAU emits the access unit being assembled (or reports it damaged).
func (s *AnnexBSplitter) endAU() {
	switch {
	case s.auBad != nil:
		s.errs = append(s.errs, s.auBad)
	case len(s.au.NALUs) > 0:
		s.emitted = append(s.emitted, s.au)
	}
	s.au = AccessUnit{}
	s.auBytes, s.auVCL, s.auBad = 0, false, nil
}

// classify says whether NAL unit n begins a new access unit when the current one
// already holds a coded slice, and whether n is a coded slice.
func (s *AnnexBSplitter) classify(n []byte) (begins, vcl bool) {
	if s.Codec == schema.CodecH265 {
		typ := (n[0] >> 1) & 0x3f
		switch {
		case typ <= 31: // VCL
			// first_slice_segment_in_pic_flag is the first bit after the 2-byte header
			return len(n) > 2 && n[2]&0x80 != 0, true
		case typ >= 32 && typ <= 35, typ == 39, typ >= 41 && typ <= 44, typ >= 48 && typ <= 55:
			// VPS, SPS, PPS, AUD, prefix SEI, reserved and unspecified
			return true, false
		}
		return false, false // EOS, EOB, FD, suffix SEI, reserved
	}
	typ := n[0] & 0x1f
	switch {
	case typ == 1 || typ == 5: // coded slice (non-IDR, IDR)
		// first_mb_in_slice is ue(v); it is 0 exactly when its first bit is 1
		return len(n) > 1 && n[1]&0x80 != 0, true
	case typ == 2: // slice data partition A
		return len(n) > 1 && n[1]&0x80 != 0, true
	case typ == 3 || typ == 4: // partitions B, C
		return false, true
	case typ == 6 || typ == 7 || typ == 8 || typ == 9 || (typ >= 14 && typ <= 18):
		return true, false
	}
	return false, false // end of sequence/stream, filler, SPS extension, auxiliary slice…
}
