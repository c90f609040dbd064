package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"roadlog/record/drive"
)

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
