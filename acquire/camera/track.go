package camera

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"roadlog/schema"
)

// Errors about a stream's content.
var (
	// ErrNoKeyframe: frames arrived before the first keyframe with its parameter
	// sets; they cannot be decoded and are skipped.
	ErrNoKeyframe = errors.New("no keyframe with parameter sets yet")
	// ErrBadParams: a parameter set could not be parsed.
	ErrBadParams = errors.New("bad parameter set")
	// ErrBFrames: the stream reorders pictures (B-frames). roadlog's frame index
	// keeps decode order = presentation order; configure the encoder without
	// B-frames (x264/ffmpeg: -bf 0; Jetson nvv4l2h26xenc has none by default).
	ErrBFrames = errors.New("stream has B-frames (picture reordering)")
	// ErrNoPicture: an access unit without a coded slice.
	ErrNoPicture = errors.New("access unit has no coded picture")
	// ErrCodec: a codec the source cannot carry.
	ErrCodec = errors.New("unsupported codec")
)

// track turns one camera's access units into VideoFrames: AVCC payload, parameter
// sets on the first frame and whenever they change, keyframe flag, size from the SPS
// or the JPEG header, and a sequence number that counts every picture seen (so a gap
// in seq shows a lost picture). It is owned by one goroutine.
type track struct {
	camera uint8
	codec  schema.Codec
	vps    []byte // current parameter sets
	sps    []byte
	pps    []byte
	dirty  bool // parameter sets changed since the last published frame
	ready  bool // a keyframe with parameter sets was published
	width  int
	height int
	seq    int64
	// format is set when the picture size changed at the last frame; the caller
	// writes it as an EvVideoFormat event
	format string
}

func newTrack(camera uint8, codec schema.Codec) *track {
	return &track{camera: camera, codec: codec, dirty: true}
}

// setParams installs parameter sets known out of band (RTSP SDP, MP4 sample entry).
func (t *track) setParams(vps, sps, pps []byte) error {
	for _, p := range [][]byte{vps, sps, pps} {
		if len(p) > 0 {
			if err := t.param(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// newFrame fills the fields every VideoFrame of this track shares.
func (t *track) newFrame() *schema.VideoFrame {
	vf := &schema.VideoFrame{}
	vf.Camera = t.camera
	vf.Codec = t.codec
	vf.Seq = t.seq
	vf.TriggerID = -1
	vf.ExposureUS = schema.NaN32()
	return vf
}

// lost counts a picture that never became a frame (damaged in the stream).
func (t *track) lost() { t.seq++ }

// h26x turns the NAL units of one access unit into a frame. A nil frame with a nil
// error means the unit was skipped on purpose (no keyframe yet); errors name damage.
func (t *track) h26x(nalus [][]byte) (*schema.VideoFrame, error) {
	t.format = ""
	defer func() { t.seq++ }()
	key, vcl := false, false
	size := 0
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch t.kind(n) {
		case nalParam:
			if err := t.param(n); err != nil {
				return nil, err
			}
		case nalKey:
			key, vcl = true, true
			size += 4 + len(n)
		case nalSlice:
			vcl = true
			size += 4 + len(n)
		case nalDrop:
		default:
			size += 4 + len(n)
		}
	}
	if !vcl {
		return nil, ErrNoPicture
	}
	if !t.ready {
		if !key || t.sps == nil || t.pps == nil || (t.codec == schema.CodecH265 && t.vps == nil) {
			return nil, nil
		}
	}
	vf := t.newFrame()
	vf.Keyframe = key
	vf.Width, vf.Height = uint16(t.width), uint16(t.height)
	data := make([]byte, 0, size)
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch t.kind(n) {
		case nalParam, nalDrop:
			continue
		}
		data = binary.BigEndian.AppendUint32(data, uint32(len(n)))
		data = append(data, n...)
	}
	vf.Data = data
	if t.dirty {
		vf.Params = t.params()
		t.dirty = false
	}
	t.ready = true
	return vf, nil
}

// jpeg turns one JPEG image into a frame.
func (t *track) jpeg(img []byte) (*schema.VideoFrame, error) {
	t.format = ""
	defer func() { t.seq++ }()
	w, h, err := JPEGSize(img)
	if err != nil {
		return nil, err
	}
	if t.width != 0 && (w != t.width || h != t.height) {
		t.format = fmt.Sprintf("%dx%d -> %dx%d", t.width, t.height, w, h)
	}
	t.width, t.height = w, h
	vf := t.newFrame()
	vf.Keyframe = true
	vf.Width, vf.Height = uint16(w), uint16(h)
	vf.Data = img
	t.ready = true
	return vf, nil
}

type nalKind int

const (
	nalOther nalKind = iota // carried in the sample (SEI, …)
	nalParam                // parameter set: goes to Params
	nalKey                  // slice of a random-access picture
	nalSlice                // other coded slice
	nalDrop                 // access unit delimiter, filler: not stored
)

func (t *track) kind(n []byte) nalKind {
	if t.codec == schema.CodecH265 {
		if len(n) < 2 {
			return nalDrop
		}
		switch typ := (n[0] >> 1) & 0x3f; {
		case typ >= 16 && typ <= 21:
			return nalKey
		case typ <= 31:
			return nalSlice
		case typ == 32 || typ == 33 || typ == 34:
			return nalParam
		case typ == 35 || typ == 38:
			return nalDrop
		}
		return nalOther
	}
	switch n[0] & 0x1f {
	case 5:
		return nalKey
	case 1, 2, 3, 4:
		return nalSlice
	case 7, 8:
		return nalParam
	case 9, 12:
		return nalDrop
	}
	return nalOther
}

// param stores a parameter set; a changed SPS is parsed for the picture size.
func (t *track) param(n []byte) error {
	var cur *[]byte
	if t.codec == schema.CodecH265 {
		switch (n[0] >> 1) & 0x3f {
		case 32:
			cur = &t.vps
		case 33:
			cur = &t.sps
		case 34:
			cur = &t.pps
		default:
			return fmt.Errorf("NAL type %d is not a parameter set: %w", (n[0]>>1)&0x3f, ErrBadParams)
		}
	} else {
		switch n[0] & 0x1f {
		case 7:
			cur = &t.sps
		case 8:
			cur = &t.pps
		default:
			return fmt.Errorf("NAL type %d is not a parameter set: %w", n[0]&0x1f, ErrBadParams)
		}
	}
	if bytes.Equal(*cur, n) {
		return nil
	}
	if cur == &t.sps {
		w, h, err := t.spsSize(n)
		if err != nil {
			return err
		}
		if t.width != 0 && (w != t.width || h != t.height) {
			t.format = fmt.Sprintf("%dx%d -> %dx%d", t.width, t.height, w, h)
		}
		t.width, t.height = w, h
	}
	*cur = bytes.Clone(n)
	t.dirty = true
	return nil
}

func (t *track) spsSize(n []byte) (w, h int, err error) {
	if t.codec == schema.CodecH265 {
		var s h265.SPS
		if err := s.Unmarshal(n); err != nil {
			return 0, 0, fmt.Errorf("parse H.265 SPS: %v: %w", err, ErrBadParams)
		}
		for _, r := range s.MaxNumReorderPics {
			if r > 0 {
				return 0, 0, fmt.Errorf("H.265 SPS allows %d reordered pictures: %w", r, ErrBFrames)
			}
		}
		return s.Width(), s.Height(), nil
	}
	var s h264.SPS
	if err := s.Unmarshal(n); err != nil {
		return 0, 0, fmt.Errorf("parse H.264 SPS: %v: %w", err, ErrBadParams)
	}
	if s.VUI != nil && s.VUI.BitstreamRestriction != nil && s.VUI.BitstreamRestriction.MaxNumReorderFrames > 0 {
		return 0, 0, fmt.Errorf("H.264 SPS allows %d reordered frames: %w", s.VUI.BitstreamRestriction.MaxNumReorderFrames, ErrBFrames)
	}
	return s.Width(), s.Height(), nil
}

func (t *track) params() [][]byte {
	if t.codec == schema.CodecH265 {
		return [][]byte{bytes.Clone(t.vps), bytes.Clone(t.sps), bytes.Clone(t.pps)}
	}
	return [][]byte{bytes.Clone(t.sps), bytes.Clone(t.pps)}
}
