package drive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxMoofSize caps the size of one moof box a scan will read into memory.
const MaxMoofSize = 16 << 20

// MP4Sample is one sample of a fragmented MP4 file as its moof/trun boxes describe it.
type MP4Sample struct {
	Offset     int64  // file offset of the sample's data
	Size       int32  // bytes
	Sync       bool   // sync sample (keyframe)
	DecodeTime uint64 // in the track's timescale
	Duration   uint32
	Fragment   int // index of the fragment (moof) holding it
}

// MP4Scan is what a walk over a fragmented MP4 file found.
type MP4Scan struct {
	Path      string
	Size      int64
	Init      bool   // ftyp and moov present and complete
	Timescale uint32 // of the (first) track
	Fragments int    // complete moof+mdat pairs
	Samples   []MP4Sample
	ValidEnd  int64            // end of the init segment or of the last complete fragment
	Damage    *CorruptionError // what stopped the walk before the end of the file, if anything
}

// ScanMP4 walks the top-level boxes of a fragmented MP4 file written by the recorder
// (ftyp, moov, then moof+mdat pairs) and lists every sample. It never trusts a length:
// a box running past the end of the file, a moof without its mdat, or samples outside
// their mdat stop the walk and are reported in Damage with their offset; everything
// before that is kept. It returns an error only when the file cannot be read.
//
// Hand-written because mediacommon's fmp4 reader loads the whole file into memory and
// stops at the first error without saying where; recovery needs both the offset and a
// streaming walk over files of hundreds of megabytes.
func ScanMP4(path string) (*MP4Scan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scan mp4: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("scan mp4: %w", err)
	}
	s := &MP4Scan{Path: path, Size: st.Size()}
	damage := func(off int64, format string, a ...any) *MP4Scan {
		s.Damage = &CorruptionError{Path: path, Offset: off, Err: fmt.Errorf(format, a...)}
		return s
	}
	var (
		off     int64
		sawFtyp bool
		sawMoov bool
		pending []MP4Sample // samples of a moof waiting for its mdat
		moofAt  int64
	)
	for off < s.Size {
		typ, hdr, size, err := boxHeader(f, off, s.Size)
		if err != nil {
			return damage(off, "%w", err), nil
		}
		switch typ {
		case "ftyp":
			sawFtyp = true
		case "moov":
			if !sawFtyp {
				return damage(off, "moov before ftyp"), nil
			}
			buf := make([]byte, size-hdr)
			if _, err := f.ReadAt(buf, off+hdr); err != nil {
				return damage(off, "read moov: %w", err), nil
			}
			s.Timescale = findTimescale(buf)
			sawMoov = true
			s.Init = true
			s.ValidEnd = off + size
		case "moof":
			if !sawMoov {
				return damage(off, "moof before moov"), nil
			}
			if pending != nil {
				return damage(moofAt, "moof without mdat"), nil
			}
			if size > MaxMoofSize {
				return damage(off, "moof of %d bytes exceeds the %d-byte cap", size, MaxMoofSize), nil
			}
			buf := make([]byte, size-hdr)
			if _, err := f.ReadAt(buf, off+hdr); err != nil {
				return damage(off, "read moof: %w", err), nil
			}
			pending, err = parseMoof(buf, off, s.Fragments)
			if err != nil {
				return damage(off, "parse moof: %w", err), nil
			}
			if pending == nil {
				pending = []MP4Sample{}
			}
			moofAt = off
		case "mdat":
			if pending == nil {
				return damage(off, "mdat without moof"), nil
			}
			lo, hi := off+hdr, off+size
			for _, sm := range pending {
				if sm.Offset < lo || sm.Offset+int64(sm.Size) > hi {
					return damage(moofAt, "sample at %d (+%d) lies outside its mdat [%d,%d)", sm.Offset, sm.Size, lo, hi), nil
				}
			}
			s.Samples = append(s.Samples, pending...)
			pending = nil
			s.Fragments++
			s.ValidEnd = hi
		default:
			// free, skip, mfra, styp, sidx…: allowed between fragments
			if pending != nil {
				return damage(off, "%q box between moof and mdat", typ), nil
			}
			if s.Init {
				s.ValidEnd = off + size
			}
		}
		off += size
	}
	if pending != nil {
		return damage(moofAt, "moof without mdat at end of file"), nil
	}
	if !s.Init {
		return damage(0, "no complete ftyp+moov"), nil
	}
	return s, nil
}

// boxHeader reads the header of the box at off and returns its type, header length and
// total size, checked against the file size.
func boxHeader(r io.ReaderAt, off, fileSize int64) (typ string, hdr, size int64, err error) {
	var b [16]byte
	if fileSize-off < 8 {
		return "", 0, 0, fmt.Errorf("truncated box header (%d bytes left)", fileSize-off)
	}
	if _, err := r.ReadAt(b[:8], off); err != nil {
		return "", 0, 0, fmt.Errorf("read box header: %w", err)
	}
	size = int64(binary.BigEndian.Uint32(b[:4]))
	typ = string(b[4:8])
	hdr = 8
	switch size {
	case 0:
		size = fileSize - off
	case 1:
		if fileSize-off < 16 {
			return "", 0, 0, errors.New("truncated large box header")
		}
		if _, err := r.ReadAt(b[8:16], off+8); err != nil {
			return "", 0, 0, fmt.Errorf("read box header: %w", err)
		}
		size = int64(binary.BigEndian.Uint64(b[8:16]))
		hdr = 16
	}
	for _, c := range b[4:8] {
		if c < 0x20 || c > 0x7e {
			return "", 0, 0, fmt.Errorf("box type %q is not printable", typ)
		}
	}
	if size < hdr {
		return "", 0, 0, fmt.Errorf("box %q size %d smaller than its header", typ, size)
	}
	if off+size > fileSize {
		return "", 0, 0, fmt.Errorf("box %q of %d bytes runs past the end of the file (%d bytes left)", typ, size, fileSize-off)
	}
	return typ, hdr, size, nil
}

// children iterates over the boxes inside buf.
func children(buf []byte, fn func(typ string, body []byte) error) error {
	for len(buf) > 0 {
		if len(buf) < 8 {
			return errors.New("truncated child box")
		}
		size := int(binary.BigEndian.Uint32(buf))
		if size < 8 || size > len(buf) {
			return fmt.Errorf("child box %q size %d out of range", buf[4:8], size)
		}
		if err := fn(string(buf[4:8]), buf[8:size]); err != nil {
			return err
		}
		buf = buf[size:]
	}
	return nil
}

// findTimescale returns the timescale of the first track's mdhd inside a moov body.
func findTimescale(moov []byte) uint32 {
	var ts uint32
	var walk func(b []byte) error
	walk = func(b []byte) error {
		return children(b, func(typ string, body []byte) error {
			switch typ {
			case "trak", "mdia":
				return walk(body)
			case "mdhd":
				if ts != 0 || len(body) < 4 {
					return nil
				}
				if body[0] == 1 && len(body) >= 24 {
					ts = binary.BigEndian.Uint32(body[20:])
				} else if len(body) >= 16 {
					ts = binary.BigEndian.Uint32(body[12:])
				}
			}
			return nil
		})
	}
	_ = walk(moov)
	return ts
}

// parseMoof lists the samples a moof body describes; moofOff is the file offset of the
// moof box (the base for data offsets with default-base-is-moof).
func parseMoof(moof []byte, moofOff int64, frag int) ([]MP4Sample, error) {
	var out []MP4Sample
	err := children(moof, func(typ string, body []byte) error {
		if typ != "traf" {
			return nil
		}
		var (
			base       = moofOff
			defDur     uint32
			defSize    uint32
			defFlags   uint32
			haveFlags  bool
			decodeTime uint64
		)
		return children(body, func(typ string, b []byte) error {
			switch typ {
			case "tfhd":
				if len(b) < 8 {
					return errors.New("short tfhd")
				}
				fl := binary.BigEndian.Uint32(b) & 0xFFFFFF
				p := 8
				need := func(n int) error {
					if p+n > len(b) {
						return errors.New("short tfhd")
					}
					return nil
				}
				if fl&0x01 != 0 {
					if err := need(8); err != nil {
						return err
					}
					base = int64(binary.BigEndian.Uint64(b[p:]))
					p += 8
				}
				if fl&0x02 != 0 {
					p += 4
				}
				if fl&0x08 != 0 {
					if err := need(4); err != nil {
						return err
					}
					defDur = binary.BigEndian.Uint32(b[p:])
					p += 4
				}
				if fl&0x10 != 0 {
					if err := need(4); err != nil {
						return err
					}
					defSize = binary.BigEndian.Uint32(b[p:])
					p += 4
				}
				if fl&0x20 != 0 {
					if err := need(4); err != nil {
						return err
					}
					defFlags = binary.BigEndian.Uint32(b[p:])
					haveFlags = true
				}
			case "tfdt":
				if len(b) < 8 {
					return errors.New("short tfdt")
				}
				if b[0] == 1 {
					if len(b) < 12 {
						return errors.New("short tfdt")
					}
					decodeTime = binary.BigEndian.Uint64(b[4:])
				} else {
					decodeTime = uint64(binary.BigEndian.Uint32(b[4:]))
				}
			case "trun":
				if len(b) < 8 {
					return errors.New("short trun")
				}
				fl := binary.BigEndian.Uint32(b) & 0xFFFFFF
				n := int(binary.BigEndian.Uint32(b[4:]))
				p := 8
				var dataOff int64
				if fl&0x01 != 0 {
					if p+4 > len(b) {
						return errors.New("short trun")
					}
					dataOff = int64(int32(binary.BigEndian.Uint32(b[p:])))
					p += 4
				}
				var first uint32
				haveFirst := fl&0x04 != 0
				if haveFirst {
					if p+4 > len(b) {
						return errors.New("short trun")
					}
					first = binary.BigEndian.Uint32(b[p:])
					p += 4
				}
				per := 0
				for _, bit := range []uint32{0x100, 0x200, 0x400, 0x800} {
					if fl&bit != 0 {
						per += 4
					}
				}
				if n < 0 || p+n*per > len(b) {
					return fmt.Errorf("trun of %d samples does not fit its box", n)
				}
				pos := base + dataOff
				for i := 0; i < n; i++ {
					dur, size, flags := defDur, defSize, defFlags
					hf := haveFlags
					if fl&0x100 != 0 {
						dur = binary.BigEndian.Uint32(b[p:])
						p += 4
					}
					if fl&0x200 != 0 {
						size = binary.BigEndian.Uint32(b[p:])
						p += 4
					}
					if fl&0x400 != 0 {
						flags = binary.BigEndian.Uint32(b[p:])
						hf = true
						p += 4
					} else if i == 0 && haveFirst {
						flags, hf = first, true
					}
					if fl&0x800 != 0 {
						p += 4
					}
					if size > 1<<30 {
						return fmt.Errorf("sample size %d out of range", size)
					}
					out = append(out, MP4Sample{
						Offset: pos, Size: int32(size), Sync: !hf || flags&0x10000 == 0,
						DecodeTime: decodeTime, Duration: dur, Fragment: frag,
					})
					pos += int64(size)
					decodeTime += uint64(dur)
				}
			}
			return nil
		})
	})
	return out, err
}
