package export

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"roadlog/record/drive"
)

// MaxFrameSize caps the bytes of one frame read from a video file; a frames row that
// claims more is treated as damage.
const MaxFrameSize = 64 << 20

// maxInitSize caps the init segment (ftyp+moov) read from a video file.
const maxInitSize = 16 << 20

// ErrBadFrame reports a frames row that does not point inside its video file.
var ErrBadFrame = errors.New("frame not inside its video file")

// videoFiles keeps a clip's source video files open and their init segments parsed.
type videoFiles struct {
	files map[string]*os.File
	inits map[string]*fmp4.Init
}

func newVideoFiles() *videoFiles {
	return &videoFiles{files: map[string]*os.File{}, inits: map[string]*fmp4.Init{}}
}

func (v *videoFiles) open(path string) (*os.File, error) {
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

// read returns the bytes of a frame at off/size in path, checked against the file's size.
func (v *videoFiles) read(path string, off int64, size int32, buf []byte) ([]byte, error) {
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

// init returns the parsed init segment (ftyp+moov) of a video file.
func (v *videoFiles) init(path string) (*fmp4.Init, error) {
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
		if size < 8 || off+size > maxInitSize {
			return 0, fmt.Errorf("box %q at byte %d has size %d", typ, off, size)
		}
		off += size
		if typ == "moov" {
			return off, nil
		}
	}
}

func (v *videoFiles) close() {
	for _, f := range v.files {
		f.Close()
	}
}

// sameCodec reports whether two init segments describe the same codec configuration.
func sameCodec(a, b *fmp4.Init) bool {
	switch x := a.Tracks[0].Codec.(type) {
	case *fmp4.CodecMJPEG:
		y, ok := b.Tracks[0].Codec.(*fmp4.CodecMJPEG)
		return ok && *x == *y
	case *fmp4.CodecH264:
		y, ok := b.Tracks[0].Codec.(*fmp4.CodecH264)
		return ok && bytes.Equal(x.SPS, y.SPS) && bytes.Equal(x.PPS, y.PPS)
	case *fmp4.CodecH265:
		y, ok := b.Tracks[0].Codec.(*fmp4.CodecH265)
		return ok && bytes.Equal(x.VPS, y.VPS) && bytes.Equal(x.SPS, y.SPS) && bytes.Equal(x.PPS, y.PPS)
	}
	return false
}

// mp4Clip remuxes one camera's frames into a fragmented MP4 without re-encoding: the
// source's codec configuration in a new init segment, then one fragment per second
// (cut at a keyframe when one comes), sample times from the frames' t. When the
// codec configuration changes (a new video file part in the drive), a new file
// camN_1.mp4 … starts at the next keyframe.
type mp4Clip struct {
	c    *clipWriter
	base string // e.g. video/cam0
	part int

	w       io.WriteCloser
	name    string // clip-relative path of the current file
	init    *fmp4.Init
	t0      int64
	seq     uint32
	samples int
	lastDur uint32

	pending  []*fmp4.Sample
	pendingT []int64

	// lead are the frames from the last keyframe before the clip's start; they go in
	// first when the clip's first frame is not a keyframe.
	lead     []frameRow
	leadDone bool
}

const fragmentSpan = int64(1e9)

func (m *mp4Clip) tick(t int64) uint64 { return uint64((t - m.t0) * drive.VideoTimescale / 1e9) }

// add appends one frame. It returns the file and sample index the frame went to, or
// ok false when it was dropped (a non-keyframe before the first keyframe of a file).
func (m *mp4Clip) add(t int64, key bool, payload []byte, in *fmp4.Init) (file string, index int, ok bool, err error) {
	if m.init != nil && !sameCodec(m.init, in) {
		if err := m.finish(); err != nil {
			return "", 0, false, err
		}
		m.part++
	}
	if m.w == nil {
		if !key {
			return "", 0, false, nil
		}
		if err := m.start(t, in); err != nil {
			return "", 0, false, err
		}
	}
	if n := len(m.pendingT); n > 0 && (t-m.pendingT[0] >= fragmentSpan && key || t-m.pendingT[0] >= 2*fragmentSpan) {
		if err := m.flush(t); err != nil {
			return "", 0, false, err
		}
	}
	m.pending = append(m.pending, &fmp4.Sample{IsNonSyncSample: !key, Payload: append([]byte(nil), payload...)})
	m.pendingT = append(m.pendingT, t)
	m.samples++
	return m.name, m.samples - 1, true, nil
}

func (m *mp4Clip) start(t int64, in *fmp4.Init) error {
	m.name = m.base + ".mp4"
	if m.part > 0 {
		m.name = fmt.Sprintf("%s_%d.mp4", m.base, m.part)
	}
	w, err := m.c.create(m.name)
	if err != nil {
		return err
	}
	out := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: drive.VideoTimescale, Codec: in.Tracks[0].Codec}}}
	var buf seekablebuffer.Buffer
	if err := out.Marshal(&buf); err != nil {
		w.Close()
		return fmt.Errorf("write %s: init segment: %w", m.name, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", m.name, err)
	}
	m.w, m.init, m.t0, m.seq, m.samples, m.lastDur = w, in, t, 0, 0, 0
	return nil
}

// flush writes the pending samples as one fragment; next is the t of the sample after
// them (0: none, at the end).
func (m *mp4Clip) flush(next int64) error {
	n := len(m.pending)
	if n == 0 {
		return nil
	}
	for i := 0; i < n; i++ {
		var d uint32
		switch {
		case i+1 < n:
			d = uint32(m.tick(m.pendingT[i+1]) - m.tick(m.pendingT[i]))
		case next != 0:
			d = uint32(m.tick(next) - m.tick(m.pendingT[i]))
		default:
			d = m.lastDur
			if d == 0 {
				d = drive.VideoTimescale / 30
			}
		}
		m.pending[i].Duration = d
		m.lastDur = d
	}
	m.seq++
	part := fmp4.Part{SequenceNumber: m.seq, Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: m.tick(m.pendingT[0]), Samples: m.pending}}}
	var buf seekablebuffer.Buffer
	if err := part.Marshal(&buf); err != nil {
		return fmt.Errorf("write %s: fragment: %w", m.name, err)
	}
	if _, err := m.w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", m.name, err)
	}
	m.pending, m.pendingT = m.pending[:0], m.pendingT[:0]
	return nil
}

// finish flushes and closes the current file.
func (m *mp4Clip) finish() error {
	if m.w == nil {
		return nil
	}
	err := m.flush(0)
	err = errors.Join(err, m.w.Close())
	m.w, m.init = nil, nil
	return err
}
