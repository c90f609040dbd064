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
const readAhead = 64 << 10

// videoFile is one camera's video file of one segment, opened on first use.
type videoFile struct {
	name   string
	rel    string
	path   string // the file: the segment folder joined with name
	f      *os.File
	size   int64
	win    []byte // bytes read ahead, from winOff (reused)
	winOff int64
	big    []byte   // a frame too large for the window (reused by view)
	params [][]byte // codec parameter sets from the init segment (H.264/H.265)
	err    error    // the file cannot be read
	parsed bool     // params looked for

	sentParams bool // params attached to a frame this pass

	aheadOff, aheadEnd int64 // the window frameAhead read last (its goroutine's files)
}

// videoFiles reads frame payloads out of the segments' video files by the offset and
// size their frames rows give — no scanning of the video. Used by one goroutine at a
// time.
type videoFiles struct {
	dirs    map[string][]*videoFile // per segment folder, its files in the order first asked for
	last    *videoFile
	lastDir string
}

func newVideoFiles() *videoFiles { return &videoFiles{dirs: map[string][]*videoFile{}} }

// get returns the video file name of the segment folder dir (name as the frames row
// holds it: no string is made for a file already open).
func (v *videoFiles) get(dir string, name []byte) *videoFile {
	if v.last != nil && v.lastDir == dir && v.last.name == string(name) {
		return v.last
	}
	for _, vf := range v.dirs[dir] {
		if vf.name == string(name) {
			v.last, v.lastDir = vf, dir
			return vf
		}
	}
	n := string(name)
	vf := &videoFile{name: n, rel: filepath.Join(filepath.Base(dir), n), path: filepath.Join(dir, n)}
	v.dirs[dir] = append(v.dirs[dir], vf)
	v.last, v.lastDir = vf, dir
	if filepath.Base(n) != n || n == "" {
		vf.err = fmt.Errorf("frames row names video file %q, which is not a file of the segment", n)
		return vf
	}
	f, err := os.Open(vf.path)
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

// locate finds the bytes of a frame (camera cam, sequence number seq, size bytes at
// off of video file name in folder dir), checking that they lie within the file.
func (v *videoFiles) locate(dir string, name []byte, cam uint8, seq, off int64, size int32) (*videoFile, *DamageError) {
	vf := v.get(dir, name)
	if vf.err != nil {
		return vf, &DamageError{Path: vf.rel, Batch: -1, Offset: -1, Err: vf.err}
	}
	if size < 0 || size > MaxFrameSize || off < 0 {
		return vf, &DamageError{Path: vf.rel, Batch: -1, Offset: off,
			Err: fmt.Errorf("frames row of camera %d seq %d gives size %d at offset %d", cam, seq, size, off)}
	}
	end := off + int64(size)
	if end > vf.size { // the file may have grown since it was opened (being recorded)
		if st, err := vf.f.Stat(); err == nil {
			vf.size = st.Size()
		}
	}
	if end > vf.size {
		return vf, &DamageError{Path: vf.rel, Batch: -1, Offset: off,
			Err: fmt.Errorf("frame of camera %d seq %d (%d bytes) lies past the end of the file (%d bytes): file cut short", cam, seq, size, vf.size)}
	}
	return vf, nil
}

// frame reads the payload of a frames row into a new video frame (the caller's).
func (v *videoFiles) frame(dir string, r *schema.Frame) (*schema.VideoFrame, *DamageError) {
	vf, derr := v.locate(dir, []byte(r.File), r.Camera, r.Seq, r.Offset, r.Size)
	if derr != nil {
		return nil, derr
	}
	data, err := vf.view(r.Offset, int(r.Size))
	if err != nil {
		return nil, &DamageError{Path: vf.rel, Batch: -1, Offset: r.Offset, Err: fmt.Errorf("read frame: %w", err)}
	}
	out := &schema.VideoFrame{Frame: *r, Data: append([]byte(nil), data...)}
	if !vf.sentParams && (r.Codec == schema.CodecH264 || r.Codec == schema.CodecH265) {
		if !vf.parsed {
			vf.parsed = true
			vf.params, _ = readParams(vf.f, vf.size)
		}
		out.Params = vf.params
		vf.sentParams = true
	}
	return out, nil
}

// view returns the n bytes at off, valid until the next view of the file: small
// frames out of a read-ahead window (one read serves many frames of a camera, which
// follow each other in its file), large ones read alone into a reused buffer.
func (vf *videoFile) view(off int64, n int) ([]byte, error) {
	if n > readAhead/4 {
		if cap(vf.big) < n {
			vf.big = make([]byte, n)
		}
		b := vf.big[:n]
		if _, err := vf.f.ReadAt(b, off); err != nil {
			return nil, err
		}
		return b, nil
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
	return vf.win[off-vf.winOff : off-vf.winOff+int64(n) : off-vf.winOff+int64(n)], nil
}

// rewind forgets what the pass reported, after a seek.
func (v *videoFiles) rewind() {
	for _, fs := range v.dirs {
		for _, vf := range fs {
			vf.sentParams = false
		}
	}
}

func (v *videoFiles) close() error {
	var err error
	for dir, fs := range v.dirs {
		for _, vf := range fs {
			if vf.f != nil {
				err = errors.Join(err, vf.f.Close())
			}
		}
		delete(v.dirs, dir)
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
