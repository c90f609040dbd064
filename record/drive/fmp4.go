package drive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"roadlog/schema"
)

// VideoTimescale is the timescale of every recorded video track (90 kHz, as RTP).
const VideoTimescale = 90000

// ErrNoParams reports an H.264/H.265 first frame without its parameter sets.
var ErrNoParams = errors.New("video frame lacks codec parameter sets")

// VideoWriter writes one camera's frames into one fragmented MP4 file: the init
// segment (ftyp+moov with the codec configuration, from mediacommon) at creation, then
// one moof+mdat fragment per Flush. It reports, for every frame, the file offset and
// size of its bytes so that the frames table can index them.
type VideoWriter struct {
	f            File
	name         string
	cw           countingWriter
	codec        schema.Codec
	width        int
	height       int
	params       [][]byte
	seq          uint32
	t0           int64 // t of the first frame: PTS zero
	haveT0       bool
	pending      []*schema.VideoFrame
	pendingBytes int // payload bytes of pending
	lastDur      uint32
	failed       error

	Frames, Keyframes int64
	FirstT, LastT     int64
}

// NewVideoWriter creates the MP4 file for a camera from its first frame (which must
// carry the parameter sets for H.264/H.265) and writes the init segment. name is the
// file's name as the frames table records it.
func NewVideoWriter(f File, name string, first *schema.VideoFrame) (*VideoWriter, error) {
	w := &VideoWriter{f: f, name: name, cw: countingWriter{w: f}, codec: first.Codec,
		width: int(first.Width), height: int(first.Height), params: first.Params}
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: VideoTimescale}}}
	switch first.Codec {
	case schema.CodecMJPEG:
		init.Tracks[0].Codec = &fmp4.CodecMJPEG{Width: w.width, Height: w.height}
	case schema.CodecH264:
		if len(first.Params) < 2 {
			return nil, fmt.Errorf("start %s: %w (want SPS, PPS)", name, ErrNoParams)
		}
		init.Tracks[0].Codec = &fmp4.CodecH264{SPS: first.Params[0], PPS: first.Params[1]}
	case schema.CodecH265:
		if len(first.Params) < 3 {
			return nil, fmt.Errorf("start %s: %w (want VPS, SPS, PPS)", name, ErrNoParams)
		}
		init.Tracks[0].Codec = &fmp4.CodecH265{VPS: first.Params[0], SPS: first.Params[1], PPS: first.Params[2]}
	default:
		return nil, fmt.Errorf("start %s: unsupported codec %v", name, first.Codec)
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("start %s: encode init segment: %w", name, err)
	}
	if _, err := w.cw.Write(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return w, nil
}

// SameFormat reports whether vf can go into this file (same codec, size and
// parameter sets); a change needs a new file.
func (w *VideoWriter) SameFormat(vf *schema.VideoFrame) bool {
	if vf.Codec != w.codec || int(vf.Width) != w.width || int(vf.Height) != w.height {
		return false
	}
	if len(vf.Params) == 0 {
		return true
	}
	if len(vf.Params) != len(w.params) {
		return false
	}
	for i := range vf.Params {
		if !bytes.Equal(vf.Params[i], w.params[i]) {
			return false
		}
	}
	return true
}

// Add queues a frame for the next fragment.
func (w *VideoWriter) Add(vf *schema.VideoFrame) {
	w.pending = append(w.pending, vf)
	w.pendingBytes += len(vf.Data)
}

// Pending returns the queued frames and the t span they cover.
func (w *VideoWriter) Pending() (n int, span int64) {
	if len(w.pending) == 0 {
		return 0, 0
	}
	return len(w.pending), w.pending[len(w.pending)-1].T - w.pending[0].T
}

// PendingBytes returns the payload bytes queued.
func (w *VideoWriter) PendingBytes() int { return w.pendingBytes }

// Bytes returns the bytes written to the file.
func (w *VideoWriter) Bytes() int64 { return w.cw.n }

// Name returns the file's name as recorded in the frames table.
func (w *VideoWriter) Name() string { return w.name }

func (w *VideoWriter) tick(t int64) uint64 {
	return uint64((t - w.t0) * VideoTimescale / 1e9)
}

// Flush writes the queued frames as one fragment and returns their frames rows with
// file, offset, size, sample number and PTS filled in. Payloads are written straight
// from the frames' buffers after a hand-built moof (mediacommon's Part.Marshal copies
// every payload into a new buffer, which the large-frame path cannot afford).
func (w *VideoWriter) Flush() ([]schema.Frame, error) {
	if w.failed != nil {
		return nil, w.failed
	}
	if len(w.pending) == 0 {
		return nil, nil
	}
	if !w.haveT0 {
		w.t0, w.haveT0 = w.pending[0].T, true
		w.FirstT = w.t0
	}
	n := len(w.pending)
	durs := make([]uint32, n)
	for i := 0; i < n-1; i++ {
		a, b := w.tick(w.pending[i].T), w.tick(w.pending[i+1].T)
		if b > a {
			durs[i] = uint32(b - a)
		}
	}
	last := w.lastDur
	if n > 1 {
		last = durs[n-2]
	}
	if last == 0 {
		last = VideoTimescale / 30
	}
	durs[n-1] = last
	w.lastDur = last

	moof := w.moof(durs)
	fragStart := w.cw.n
	var mdatHdr [8]byte
	binary.BigEndian.PutUint32(mdatHdr[:], uint32(8+w.pendingBytes))
	copy(mdatHdr[4:], "mdat")
	head := append(moof, mdatHdr[:]...)
	if _, err := w.cw.Write(head); err != nil {
		w.failed = fmt.Errorf("write %s: %w", w.name, err)
		return nil, w.failed
	}
	rows := make([]schema.Frame, n)
	pos := fragStart + int64(len(head))
	for i, p := range w.pending {
		if _, err := w.cw.Write(p.Data); err != nil {
			w.failed = fmt.Errorf("write %s: %w", w.name, err)
			return nil, w.failed
		}
		r := p.Frame
		r.File, r.Offset, r.Size, r.Sample, r.PTS = w.name, pos, int32(len(p.Data)), w.Frames, p.T-w.t0
		rows[i] = r
		pos += int64(len(p.Data))
		w.Frames++
		if p.Keyframe {
			w.Keyframes++
		}
		w.LastT = p.T
	}
	w.seq++
	for i := range w.pending {
		w.pending[i] = nil
	}
	w.pending, w.pendingBytes = w.pending[:0], 0
	return rows, nil
}

// moof builds the moof box for the pending frames (ISO/IEC 14496-12: mfhd, traf with
// tfhd default-base-is-moof, tfdt v1, trun with data offset, duration, size, flags).
func (w *VideoWriter) moof(durs []uint32) []byte {
	n := len(w.pending)
	trunSize := 8 + 4 + 4 + 4 + n*12
	trafSize := 8 + 16 + 20 + trunSize
	moofSize := 8 + 16 + trafSize
	b := make([]byte, 0, moofSize)
	be := binary.BigEndian
	box := func(size int, typ string) {
		b = be.AppendUint32(b, uint32(size))
		b = append(b, typ...)
	}
	box(moofSize, "moof")
	box(16, "mfhd")
	b = be.AppendUint32(b, 0)
	b = be.AppendUint32(b, w.seq+1)
	box(trafSize, "traf")
	box(16, "tfhd")
	b = be.AppendUint32(b, 0x020000) // version 0, default-base-is-moof
	b = be.AppendUint32(b, 1)        // track id
	box(20, "tfdt")
	b = be.AppendUint32(b, 1<<24) // version 1
	b = be.AppendUint64(b, w.tick(w.pending[0].T))
	box(trunSize, "trun")
	b = be.AppendUint32(b, 0x000701) // data offset, duration, size, flags present
	b = be.AppendUint32(b, uint32(n))
	b = be.AppendUint32(b, uint32(moofSize+8)) // data starts after moof and the mdat header
	for i, p := range w.pending {
		b = be.AppendUint32(b, durs[i])
		b = be.AppendUint32(b, uint32(len(p.Data)))
		if p.Keyframe {
			b = be.AppendUint32(b, 0x02000000) // sample_depends_on = 2 (I-frame)
		} else {
			b = be.AppendUint32(b, 0x01010000) // depends on others, non-sync
		}
	}
	return b
}

// Sync flushes the file's data to the disk.
func (w *VideoWriter) Sync() error {
	if w.failed != nil {
		return w.failed
	}
	return w.f.Sync()
}

// Close syncs and closes the file; queued frames must be flushed first.
func (w *VideoWriter) Close() error {
	if w.failed != nil {
		return errjoin(w.failed, w.f.Close())
	}
	if err := w.f.Sync(); err != nil {
		return errjoin(fmt.Errorf("sync %s: %w", w.name, err), w.f.Close())
	}
	return w.f.Close()
}

// Stats returns the writer's figures in manifest form.
func (w *VideoWriter) Stats() VideoStats {
	return VideoStats{Frames: w.Frames, Keyframes: w.Keyframes, Bytes: w.cw.n, FirstT: w.FirstT, LastT: w.LastT}
}
