package camera

import (
	"bytes"
	"errors"
	"fmt"
)

// Errors of the JPEG splitter.
var (
	// ErrJPEGMarker: a byte that should begin a marker is not 0xFF.
	ErrJPEGMarker = errors.New("JPEG: expected a marker")
	// ErrJPEGSegment: a marker segment's length is below 2.
	ErrJPEGSegment = errors.New("JPEG: bad segment length")
)

// JPEGSplitter splits a stream of concatenated JPEG images (MJPEG as ffmpeg's
// `-f mjpeg`, GStreamer's `jpegenc ! fdsink` or a multipart body writes it) into whole
// images from SOI to EOI. It walks the marker segments by their lengths and the
// entropy-coded data by its byte stuffing, so a 0xFFD9 inside a segment (an EXIF
// thumbnail) does not end the image early. Bytes between images are skipped and
// counted; a damaged image is dropped and reported, and the splitter resynchronises
// at the next SOI.
type JPEGSplitter struct {
	Max      int // cap on one image's bytes (0: DefaultMaxAccessUnit)
	buf      []byte
	base     int64 // stream offset of buf[0]
	pos      int   // parse position inside buf (buf[0] is SOI when inImage)
	inImage  bool
	entropy  bool // inside entropy-coded data
	arr      int64
	arrivals []arrival
	skipped  int64
	emitted  []AccessUnit
	errs     []error
}

// Skipped returns how many bytes outside images were discarded.
func (s *JPEGSplitter) Skipped() int64 { return s.skipped }

func (s *JPEGSplitter) maxImage() int {
	if s.Max > 0 {
		return s.Max
	}
	return DefaultMaxAccessUnit
}

// Push adds stream bytes that arrived at time label t and returns the images they
// completed (AccessUnit.JPEG, a copy the caller owns) and any damage found (each a
// *StreamError). The returned slices are valid until the next call.
func (s *JPEGSplitter) Push(p []byte, t int64) ([]AccessUnit, []error) {
	s.emitted, s.errs = s.emitted[:0], s.errs[:0]
	s.arrivals = append(s.arrivals, arrival{s.base + int64(len(s.buf)), t})
	s.buf = append(s.buf, p...)
	s.split()
	return s.emitted, s.errs
}

// Flush ends the stream; an unfinished image is reported as truncated.
func (s *JPEGSplitter) Flush() ([]AccessUnit, []error) {
	s.emitted, s.errs = s.emitted[:0], s.errs[:0]
	if s.inImage {
		s.errs = append(s.errs, &StreamError{Offset: s.base, Err: fmt.Errorf("JPEG image without EOI: %w", errTruncated)})
	} else {
		s.skipped += int64(len(s.buf))
	}
	s.base += int64(len(s.buf))
	s.buf, s.pos, s.inImage, s.entropy, s.arrivals = s.buf[:0], 0, false, false, s.arrivals[:0]
	return s.emitted, s.errs
}

var errTruncated = errors.New("stream ended inside a unit")

func (s *JPEGSplitter) drop(n int) {
	s.buf = s.buf[n:]
	s.base += int64(n)
	s.pos = 0
	for len(s.arrivals) > 1 && s.arrivals[1].offset <= s.base {
		s.arrivals = s.arrivals[1:]
	}
}

// resync drops the damaged image and looks for the next SOI after its start.
func (s *JPEGSplitter) resync(err error) {
	s.errs = append(s.errs, &StreamError{Offset: s.base, Err: err})
	s.inImage, s.entropy = false, false
	s.drop(2)
}

func (s *JPEGSplitter) split() {
	for {
		if !s.inImage {
			i := bytes.Index(s.buf, soi)
			if i < 0 {
				n := max(0, len(s.buf)-1) // keep a trailing 0xFF
				s.skipped += int64(n)
				s.drop(n)
				return
			}
			s.skipped += int64(i)
			s.drop(i)
			s.inImage, s.entropy, s.pos = true, false, 2
			s.arr = s.arrivals[0].t
		}
		if !s.scanImage() {
			if s.inImage && s.pos > s.maxImage() {
				s.resync(fmt.Errorf("JPEG image of more than %d bytes: %w", s.maxImage(), ErrAccessUnitTooLarge))
				continue
			}
			return
		}
	}
}

var soi = []byte{0xFF, 0xD8}

// scanImage advances through the image at buf[0:]; it returns true when it emitted
// the image or dropped it as damaged, false when it needs more bytes.
func (s *JPEGSplitter) scanImage() bool {
	b := s.buf
	for {
		if s.pos > s.maxImage() || s.pos >= len(b) {
			return false
		}
		if s.entropy {
			// entropy-coded data: 0xFF00 is a stuffed 0xFF, 0xFFD0–D7 restart markers,
			// 0xFF fill bytes may precede a marker; any other 0xFFxx is a marker
			i := bytes.IndexByte(b[s.pos:], 0xFF)
			if i < 0 {
				s.pos = len(b)
				return false
			}
			s.pos += i
			if s.pos+1 >= len(b) {
				return false
			}
			m := b[s.pos+1]
			if m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0xFF {
				s.pos++
				if m != 0xFF {
					s.pos++
				}
				continue
			}
			s.entropy = false
			continue
		}
		if s.pos+1 >= len(b) {
			return false
		}
		if b[s.pos] != 0xFF {
			s.resync(fmt.Errorf("byte 0x%02X at image offset %d: %w", b[s.pos], s.pos, ErrJPEGMarker))
			return true
		}
		m := b[s.pos+1]
		switch {
		case m == 0xFF: // fill byte
			s.pos++
			continue
		case m == 0xD9: // EOI
			n := s.pos + 2
			s.emitted = append(s.emitted, AccessUnit{JPEG: bytes.Clone(b[:n]), Offset: s.base, Arrival: s.arr})
			s.inImage = false
			s.drop(n)
			return true
		case m == 0xD8: // SOI inside an image: the previous one was cut off
			s.errs = append(s.errs, &StreamError{Offset: s.base, Err: fmt.Errorf("JPEG image without EOI: %w", errTruncated)})
			s.drop(s.pos)
			s.pos = 2
			s.arr = s.arrivalAt(s.base)
			b = s.buf
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // standalone markers
			s.pos += 2
			continue
		}
		if s.pos+3 >= len(b) {
			return false
		}
		l := int(b[s.pos+2])<<8 | int(b[s.pos+3])
		if l < 2 {
			s.resync(fmt.Errorf("marker 0x%02X length %d at image offset %d: %w", m, l, s.pos, ErrJPEGSegment))
			return true
		}
		s.pos += 2 + l
		if m == 0xDA { // SOS: entropy-coded data follows its header
			s.entropy = true
		}
	}
}

func (s *JPEGSplitter) arrivalAt(off int64) int64 {
	t := s.arrivals[0].t
	for _, a := range s.arrivals {
		if a.offset > off {
			break
		}
		t = a.t
	}
	return t
}

// JPEGSize returns the width and height in the image's start-of-frame segment.
func JPEGSize(img []byte) (w, h int, err error) {
	p := 2
	for p+3 < len(img) {
		if img[p] != 0xFF {
			return 0, 0, fmt.Errorf("read JPEG size at offset %d: %w", p, ErrJPEGMarker)
		}
		m := img[p+1]
		if m == 0xFF {
			p++
			continue
		}
		if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			p += 2
			continue
		}
		l := int(img[p+2])<<8 | int(img[p+3])
		if l < 2 {
			return 0, 0, fmt.Errorf("read JPEG size at offset %d: %w", p, ErrJPEGSegment)
		}
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			if p+9 > len(img) || l < 7 {
				break
			}
			return int(img[p+7])<<8 | int(img[p+8]), int(img[p+5])<<8 | int(img[p+6]), nil
		}
		if m == 0xDA || m == 0xD9 {
			break
		}
		p += 2 + l
	}
	return 0, 0, fmt.Errorf("read JPEG size: %w", errNoSOF)
}

var errNoSOF = errors.New("no start-of-frame segment before the scan")
