// Package mp4file reads the sample index of an MP4 file — progressive (moov sample
// tables) or fragmented (moof/trun, as roadlog records) — so that a source or a reader
// can fetch any video sample by offset and size without loading the file. Codec
// configuration (avcC/hvcC/esds) is read with mediacommon's fmp4.Init; the box walk
// uses abema/go-mp4. Neither library exposes where each sample's bytes lie (pmp4 hides
// offsets and rejects some real stsc tables; fmp4.Parts needs the whole file in
// memory), which is why the index itself is computed here.
package mp4file

import (
	"errors"
	"fmt"
	"io"

	amp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"roadlog/schema"
)

// MaxSamples caps the samples of one track (a 24 h drive at 120 fps stays below it);
// a sample table claiming more is treated as corrupt.
const MaxSamples = 16 << 20

// Sample is where one sample lies and when it plays.
type Sample struct {
	Offset    int64  // byte offset in the file
	Size      int32  // bytes
	DTS       int64  // decode time, track timescale units, from the track's start
	PTSOffset int32  // presentation minus decode time, timescale units
	Duration  uint32 // timescale units
	Sync      bool   // decoding can start here
}

// Track is a video track and its samples in decode order.
type Track struct {
	ID        uint32
	TimeScale uint32
	Codec     schema.Codec
	Width     int
	Height    int
	Params    [][]byte // [VPS,] SPS, PPS of the sample entry (none for MJPEG)
	Samples   []Sample
}

// ErrNoVideo: the file has no H.264, H.265 or MJPEG track.
var ErrNoVideo = errors.New("no H.264, H.265 or MJPEG video track")

// CorruptionError says where the structure of the file is damaged. Read returns it
// together with every sample it could index before the damage (a file torn by a
// crash keeps its complete fragments).
type CorruptionError struct {
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("mp4 damaged at offset %d: %v", e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// Read returns the video tracks of an MP4 file. size is the file's length: samples
// whose bytes run past it are left out. On damage it returns the tracks indexed so
// far and a *CorruptionError.
func Read(r io.ReadSeeker, size int64) ([]*Track, error) {
	var init fmp4.Init
	if err := init.Unmarshal(r); err != nil {
		return nil, &CorruptionError{Offset: 0, Err: fmt.Errorf("read moov: %w", err)}
	}
	byID := map[uint32]*Track{}
	var tracks []*Track
	for _, it := range init.Tracks {
		t := &Track{ID: uint32(it.ID), TimeScale: it.TimeScale}
		switch c := it.Codec.(type) {
		case *codecs.H264:
			t.Codec, t.Params = schema.CodecH264, [][]byte{c.SPS, c.PPS}
		case *codecs.H265:
			t.Codec, t.Params = schema.CodecH265, [][]byte{c.VPS, c.SPS, c.PPS}
		case *codecs.MJPEG:
			t.Codec = schema.CodecMJPEG
		default:
			continue
		}
		byID[t.ID] = t
		tracks = append(tracks, t)
	}
	if len(tracks) == 0 {
		return nil, ErrNoVideo
	}
	w := walker{byID: byID, size: size, trex: map[uint32]*amp4.Trex{}}
	_, err := amp4.ReadBoxStructure(r, w.handle)
	if err == nil {
		err = w.err
	}
	for _, t := range tracks {
		w.finishTables(t)
	}
	if err != nil {
		var ce *CorruptionError
		if !errors.As(err, &ce) {
			err = &CorruptionError{Offset: w.at, Err: err}
		}
		return tracks, err
	}
	return tracks, nil
}

// stbl is a progressive track's sample tables until they are combined.
type stbl struct {
	sizes     []uint32
	fixedSize uint32
	count     uint32
	chunks    []uint64
	stsc      []amp4.StscEntry
	stts      []amp4.SttsEntry
	ctts      []amp4.CttsEntry
	cttsV1    bool
	stss      []uint32
	hasStss   bool
}

type walker struct {
	byID   map[uint32]*Track
	size   int64
	at     int64 // offset of the box being read
	trex   map[uint32]*amp4.Trex
	cur    *Track // track of the trak being read
	tables map[*Track]*stbl
	// fragment state
	moof    int64
	tfhd    *amp4.Tfhd
	tfdt    map[uint32]uint64 // next decode time per track
	err     error
	curTraf *Track
}

func (w *walker) handle(h *amp4.ReadHandle) (any, error) {
	w.at = int64(h.BoxInfo.Offset)
	switch h.BoxInfo.Type.String() {
	case "moov", "mdia", "minf", "stbl", "stsd", "mvex", "traf":
		if h.BoxInfo.Type.String() == "traf" {
			w.tfhd, w.curTraf = nil, nil
		}
		return h.Expand()
	case "trak":
		w.cur = nil
		return h.Expand()
	case "moof":
		w.moof = int64(h.BoxInfo.Offset)
		return h.Expand()
	case "avc1", "avc3", "hvc1", "hev1", "mp4v", "tkhd", "trex", "stsz", "stco", "co64", "stsc", "stts", "ctts", "stss", "tfhd", "tfdt", "trun":
	default:
		return nil, nil
	}
	box, _, err := h.ReadPayload()
	if err != nil {
		return nil, err
	}
	if w.tables == nil {
		w.tables = map[*Track]*stbl{}
		w.tfdt = map[uint32]uint64{}
	}
	tab := func() *stbl {
		if w.cur == nil {
			return nil
		}
		if w.tables[w.cur] == nil {
			w.tables[w.cur] = &stbl{}
		}
		return w.tables[w.cur]
	}
	switch b := box.(type) {
	case *amp4.VisualSampleEntry:
		if w.cur != nil && w.cur.Width == 0 {
			w.cur.Width, w.cur.Height = int(b.Width), int(b.Height)
		}
	case *amp4.Tkhd:
		w.cur = w.byID[b.TrackID]
	case *amp4.Trex:
		w.trex[b.TrackID] = b
	case *amp4.Stsz:
		if s := tab(); s != nil {
			s.fixedSize, s.count, s.sizes = b.SampleSize, b.SampleCount, b.EntrySize
		}
	case *amp4.Stco:
		if s := tab(); s != nil {
			for _, o := range b.ChunkOffset {
				s.chunks = append(s.chunks, uint64(o))
			}
		}
	case *amp4.Co64:
		if s := tab(); s != nil {
			s.chunks = b.ChunkOffset
		}
	case *amp4.Stsc:
		if s := tab(); s != nil {
			s.stsc = b.Entries
		}
	case *amp4.Stts:
		if s := tab(); s != nil {
			s.stts = b.Entries
		}
	case *amp4.Ctts:
		if s := tab(); s != nil {
			s.ctts, s.cttsV1 = b.Entries, b.GetVersion() == 1
		}
	case *amp4.Stss:
		if s := tab(); s != nil {
			s.stss, s.hasStss = b.SampleNumber, true
		}
	case *amp4.Tfhd:
		w.tfhd, w.curTraf = b, w.byID[b.TrackID]
	case *amp4.Tfdt:
		if w.tfhd != nil {
			w.tfdt[w.tfhd.TrackID] = b.GetBaseMediaDecodeTime()
		}
	case *amp4.Trun:
		if err := w.trun(b); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// trun adds the samples of one track run of a fragment.
func (w *walker) trun(b *amp4.Trun) error {
	if w.tfhd == nil || w.curTraf == nil {
		return nil
	}
	t, fh := w.curTraf, w.tfhd
	ex := w.trex[t.ID]
	defDur, defSize, defFlags := uint32(0), uint32(0), uint32(0)
	if ex != nil {
		defDur, defSize, defFlags = ex.DefaultSampleDuration, ex.DefaultSampleSize, ex.DefaultSampleFlags
	}
	ff := fh.GetFlags()
	if ff&amp4.TfhdDefaultSampleDurationPresent != 0 {
		defDur = fh.DefaultSampleDuration
	}
	if ff&amp4.TfhdDefaultSampleSizePresent != 0 {
		defSize = fh.DefaultSampleSize
	}
	if ff&amp4.TfhdDefaultSampleFlagsPresent != 0 {
		defFlags = fh.DefaultSampleFlags
	}
	base := w.moof
	if ff&amp4.TfhdBaseDataOffsetPresent != 0 {
		base = int64(fh.BaseDataOffset)
	}
	rf := b.GetFlags()
	off := base
	if rf&0x1 != 0 {
		off += int64(b.DataOffset)
	}
	dts := int64(w.tfdt[t.ID])
	if len(t.Samples)+len(b.Entries) > MaxSamples {
		return &CorruptionError{Offset: w.at, Err: fmt.Errorf("more than %d samples", MaxSamples)}
	}
	for i, e := range b.Entries {
		s := Sample{Offset: off, Size: int32(defSize), Duration: defDur, DTS: dts}
		flags := defFlags
		if rf&0x100 != 0 {
			s.Duration = e.SampleDuration
		}
		if rf&0x200 != 0 {
			s.Size = int32(e.SampleSize)
		}
		if rf&0x400 != 0 {
			flags = e.SampleFlags
		}
		if i == 0 && rf&0x4 != 0 {
			flags = b.FirstSampleFlags
		}
		if rf&0x800 != 0 {
			if b.GetVersion() == 0 {
				s.PTSOffset = int32(e.SampleCompositionTimeOffsetV0)
			} else {
				s.PTSOffset = e.SampleCompositionTimeOffsetV1
			}
		}
		s.Sync = flags&0x10000 == 0 // sample_is_non_sync_sample
		if s.Size < 0 || s.Offset+int64(s.Size) > w.size {
			return &CorruptionError{Offset: w.at, Err: fmt.Errorf("sample %d of track %d runs past the end of the file: %w",
				len(t.Samples), t.ID, io.ErrUnexpectedEOF)}
		}
		t.Samples = append(t.Samples, s)
		off += int64(s.Size)
		dts += int64(s.Duration)
	}
	w.tfdt[t.ID] = uint64(dts)
	return nil
}

// finishTables turns a progressive track's sample tables into samples.
func (w *walker) finishTables(t *Track) {
	s := w.tables[t]
	if s == nil || len(t.Samples) > 0 {
		return
	}
	n := int(s.count)
	if n > MaxSamples || (s.fixedSize == 0 && len(s.sizes) < n) {
		w.setErr(fmt.Errorf("track %d: sample sizes: %w", t.ID, errTables))
		return
	}
	t.Samples = make([]Sample, 0, n)
	// chunks → offsets
	si := 0
	for ci, ch := range s.chunks {
		per := uint32(0)
		for _, e := range s.stsc {
			if uint64(e.FirstChunk) <= uint64(ci+1) {
				per = e.SamplesPerChunk
			}
		}
		off := int64(ch)
		for k := uint32(0); k < per && si < n; k++ {
			size := s.fixedSize
			if size == 0 {
				size = s.sizes[si]
			}
			if off+int64(size) > w.size {
				w.setErr(fmt.Errorf("track %d sample %d runs past the end of the file: %w", t.ID, si, io.ErrUnexpectedEOF))
				n = si
				break
			}
			t.Samples = append(t.Samples, Sample{Offset: off, Size: int32(size), Sync: !s.hasStss})
			off += int64(size)
			si++
		}
	}
	// decode times
	i := 0
	dts := int64(0)
	for _, e := range s.stts {
		for k := uint32(0); k < e.SampleCount && i < len(t.Samples); k++ {
			t.Samples[i].DTS, t.Samples[i].Duration = dts, e.SampleDelta
			dts += int64(e.SampleDelta)
			i++
		}
	}
	i = 0
	for _, e := range s.ctts {
		for k := uint32(0); k < e.SampleCount && i < len(t.Samples); k++ {
			if s.cttsV1 {
				t.Samples[i].PTSOffset = e.SampleOffsetV1
			} else {
				t.Samples[i].PTSOffset = int32(e.SampleOffsetV0)
			}
			i++
		}
	}
	for _, k := range s.stss {
		if k >= 1 && int(k) <= len(t.Samples) {
			t.Samples[k-1].Sync = true
		}
	}
}

var errTables = errors.New("inconsistent sample tables")

func (w *walker) setErr(err error) {
	if w.err == nil {
		w.err = &CorruptionError{Offset: w.at, Err: err}
	}
}
