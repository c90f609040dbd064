// Package videofile reads recorded frames straight from a segment's fragmented MP4
// files by the offset and size the frames table gives, and the codec configuration
// from the files' init segments, keeping the files open for a run of reads.
package videofile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"roadlog/record/drive"
)

// MaxFrameSize caps the bytes of one frame read from a video file; a frames row that
// claims more is treated as damage.
const MaxFrameSize = 64 << 20

// MaxInitSize caps the init segment (ftyp+moov) read from a video file.
const MaxInitSize = 16 << 20

// ErrBadFrame reports a frames row that does not point inside its video file.
var ErrBadFrame = errors.New("frame not inside its video file")

// Files keeps video files open and their init segments parsed. It is used by one
// goroutine.
type Files struct {
	files map[string]*os.File
	inits map[string]*fmp4.Init
}

// New returns an empty set of open files.
func New() *Files {
	return &Files{files: map[string]*os.File{}, inits: map[string]*fmp4.Init{}}
}

func (v *Files) open(path string) (*os.File, error) {
	if f, ok := v.files[path]; ok {
		return f, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open video: %w", err)
	}
	v.files[path] = f
	return f, nil
}

// Read returns the size bytes at off in path, reusing buf. A range outside the file
// (or above MaxFrameSize) is a *drive.CorruptionError wrapping ErrBadFrame.
func (v *Files) Read(path string, off int64, size int32, buf []byte) ([]byte, error) {
	f, err := v.open(path)
	if err != nil {
		return nil, err
	}
	if size <= 0 || size > MaxFrameSize || off < 0 {
		return nil, &drive.CorruptionError{Path: path, Offset: off, Err: fmt.Errorf("%w: %d bytes", ErrBadFrame, size)}
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := f.ReadAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &drive.CorruptionError{Path: path, Offset: off, Err: fmt.Errorf("%w: %d bytes past the end", ErrBadFrame, size)}
		}
		return nil, fmt.Errorf("read frame: %w", err)
	}
	return buf, nil
}

// Init returns the parsed init segment (ftyp+moov) of a video file; it has one track.
func (v *Files) Init(path string) (*fmp4.Init, error) {
	if in, ok := v.inits[path]; ok {
		return in, nil
	}
	f, err := v.open(path)
	if err != nil {
		return nil, err
	}
	end, err := initEnd(f)
	if err != nil {
		return nil, &drive.CorruptionError{Path: path, Err: err}
	}
	buf := make([]byte, end)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, &drive.CorruptionError{Path: path, Err: err}
	}
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(buf)); err != nil {
		return nil, &drive.CorruptionError{Path: path, Err: fmt.Errorf("init segment: %w", err)}
	}
	if len(in.Tracks) != 1 {
		return nil, &drive.CorruptionError{Path: path, Err: fmt.Errorf("init segment has %d tracks, want 1", len(in.Tracks))}
	}
	v.inits[path] = &in
	return &in, nil
}

// initEnd returns the end of the moov box: the top-level boxes before the first
// fragment.
func initEnd(r io.ReaderAt) (int64, error) {
	var off int64
	var hdr [16]byte
	for {
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return 0, fmt.Errorf("no moov box before byte %d", off)
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		if size == 1 {
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return 0, err
			}
			size = int64(binary.BigEndian.Uint64(hdr[8:16]))
		}
		if size < 8 || off+size > MaxInitSize {
			return 0, fmt.Errorf("box %q at byte %d has size %d", typ, off, size)
		}
		off += size
		if typ == "moov" {
			return off, nil
		}
	}
}

// Close closes the files.
func (v *Files) Close() {
	for _, f := range v.files {
		f.Close()
	}
	v.files = map[string]*os.File{}
}

// Params returns the codec parameter sets of an init segment, in order VPS (H.265
// only), SPS, PPS; none for MJPEG.
func Params(in *fmp4.Init) [][]byte {
	switch c := in.Tracks[0].Codec.(type) {
	case *fmp4.CodecH264:
		return [][]byte{c.SPS, c.PPS}
	case *fmp4.CodecH265:
		return [][]byte{c.VPS, c.SPS, c.PPS}
	}
	return nil
}
