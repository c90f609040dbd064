package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"roadlog/schema"
)

// MaxFrameSize caps the bytes replay reads for one frame: a frames row claiming more
// is treated as damage rather than trusted.
const MaxFrameSize = 64 << 20

// readAhead is how much of a video file is read at once: frames are asked for in time
// order, so a camera's frames follow each other in its file and one read serves many.
const readAhead = 256 << 10

// videoFile is one camera's video file of one segment, opened on first use.
type videoFile struct {
	rel    string
	f      *os.File
	size   int64
	win    []byte // bytes read ahead, from winOff (reused)
	winOff int64
	params [][]byte // codec parameter sets from the init segment (H.264/H.265)
	err    error    // the file cannot be read
	parsed bool     // params looked for

	// what the current pass has done
	reported   bool // err or a cut reported
	sentParams bool // params attached to a frame
}

// videoFiles reads frame payloads out of the segments' video files by the offset and
// size their frames rows give — no scanning of the video. Used by one goroutine at a
// time (the frames table's producer).
type videoFiles struct {
	files map[videoKey]*videoFile
	last  *videoFile // of lastKey: frames come in runs from one file
	lastK videoKey
}

type videoKey struct{ dir, name string }

func newVideoFiles() *videoFiles { return &videoFiles{files: map[videoKey]*videoFile{}} }

func (v *videoFiles) get(dir, name string) *videoFile {
	k := videoKey{dir, name}
	if v.last != nil && v.lastK == k {
		return v.last
	}
	if vf := v.files[k]; vf != nil {
		v.last, v.lastK = vf, k
		return vf
	}
	p := filepath.Join(dir, name)
	vf := &videoFile{rel: filepath.Join(filepath.Base(dir), name)}
	v.files[k] = vf
	v.last, v.lastK = vf, k
	if filepath.Base(name) != name || name == "" {
		vf.err = fmt.Errorf("frames row names video file %q, which is not a file of the segment", name)
		return vf
	}
	f, err := os.Open(p)
	if err != nil {
		vf.err = err
		return vf
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		vf.err = err
		return vf
	}
	vf.f, vf.size = f, st.Size()
	return vf
}

// frame reads the payload of a frames row. A damage error says why it cannot; it is
// reported once per file and pass (the caller checks vf.reported).
func (v *videoFiles) frame(dir string, r *schema.Frame) (*schema.VideoFrame, *videoFile, error) {
	vf := v.get(dir, r.File)
	if vf.err != nil {
		return nil, vf, &DamageError{Path: vf.rel, Batch: -1, Offset: -1, Err: vf.err}
	}
	if r.Size < 0 || r.Size > MaxFrameSize || r.Offset < 0 {
		return nil, vf, &DamageError{Path: vf.rel, Batch: -1, Offset: r.Offset,
			Err: fmt.Errorf("frames row of camera %d seq %d gives size %d at offset %d", r.Camera, r.Seq, r.Size, r.Offset)}
	}
	end := r.Offset + int64(r.Size)
	if end > vf.size { // the file may have grown since it was opened (being recorded)
		if st, err := vf.f.Stat(); err == nil {
			vf.size = st.Size()
		}
	}
	if end > vf.size {
		return nil, vf, &DamageError{Path: vf.rel, Batch: -1, Offset: r.Offset,
			Err: fmt.Errorf("frame of camera %d seq %d (%d bytes) lies past the end of the file (%d bytes): file cut short", r.Camera, r.Seq, r.Size, vf.size)}
	}
	data, err := vf.read(r.Offset, int(r.Size))
	if err != nil {
		return nil, vf, &DamageError{Path: vf.rel, Batch: -1, Offset: r.Offset, Err: fmt.Errorf("read frame: %w", err)}
	}
	out := &schema.VideoFrame{Frame: *r, Data: data}
	if !vf.sentParams && (r.Codec == schema.CodecH264 || r.Codec == schema.CodecH265) {
		if !vf.parsed {
			vf.parsed = true
			vf.params, _ = readParams(vf.f, vf.size)
		}
		out.Params = vf.params
		vf.sentParams = true
	}
	return out, vf, nil
}

// read returns n bytes at off in a new slice. Small frames are copied out of a
// read-ahead window (one read serves many frames of a camera, which follow each other
// in its file); large ones are read alone.
func (vf *videoFile) read(off int64, n int) ([]byte, error) {
	out := make([]byte, n)
	if n > readAhead/4 {
		_, err := vf.f.ReadAt(out, off)
		return out, err
	}
	if off < vf.winOff || off+int64(n) > vf.winOff+int64(len(vf.win)) {
		if vf.win == nil {
			vf.win = make([]byte, readAhead)
		}
		w := int64(readAhead)
		if rest := vf.size - off; rest < w {
			w = rest
		}
		k, err := vf.f.ReadAt(vf.win[:w], off)
		if k < n {
			vf.win, vf.winOff = vf.win[:0], 0
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		vf.win, vf.winOff = vf.win[:k], off
	}
	copy(out, vf.win[off-vf.winOff:])
	return out, nil
}

// rewind forgets what the pass reported, after a seek.
func (v *videoFiles) rewind() {
	for _, vf := range v.files {
		vf.reported, vf.sentParams = false, false
	}
}

func (v *videoFiles) close() error {
	var err error
	for k, vf := range v.files {
		if vf.f != nil {
			err = errors.Join(err, vf.f.Close())
		}
		delete(v.files, k)
	}
	v.last = nil
	return err
}

// maxInitSize caps the init segment (ftyp + moov) read to find parameter sets.
const maxInitSize = 1 << 20

// readParams returns the H.264 (SPS, PPS) or H.265 (VPS, SPS, PPS) parameter sets of
// a fragmented MP4's first track, from its init segment.
func readParams(r io.ReaderAt, size int64) ([][]byte, error) {
	var off int64
	for off+8 <= size && off < maxInitSize {
		var h [8]byte
		if _, err := r.ReadAt(h[:], off); err != nil {
			return nil, err
		}
		n := int64(binary.BigEndian.Uint32(h[:4]))
		if n < 8 || off+n > size {
			return nil, fmt.Errorf("box at %d has size %d", off, n)
		}
		off += n
		if string(h[4:8]) == "moov" {
			var init fmp4.Init
			if err := init.Unmarshal(io.NewSectionReader(r, 0, off)); err != nil {
				return nil, fmt.Errorf("read init segment: %w", err)
			}
			if len(init.Tracks) == 0 {
				return nil, errors.New("init segment has no track")
			}
			switch c := init.Tracks[0].Codec.(type) {
			case *fmp4.CodecH264:
				return [][]byte{c.SPS, c.PPS}, nil
			case *fmp4.CodecH265:
				return [][]byte{c.VPS, c.SPS, c.PPS}, nil
			}
			return nil, nil
		}
	}
	return nil, errors.New("no moov box in the init segment")
}
