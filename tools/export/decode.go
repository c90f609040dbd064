package export

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"path/filepath"

	"roadlog/record/drive"
	"roadlog/record/videoread"
	"roadlog/schema"
	"roadlog/tools/internal/videofile"
)

// DefaultJPEGQuality is the quality of JPEG frames encoded from H.264/H.265 video.
const DefaultJPEGQuality = 90

// decoders turns a clip's H.264/H.265 frames into JPEG images: one videoread.Reader per
// source video file (a persistent ffmpeg fed from the keyframe before the first frame
// asked for, then frame by frame), opened with the segment's frames rows of that file.
type decoders struct {
	frames  *frameCache
	quality int
	readers map[string]*decoded
	buf     bytes.Buffer
}

type decoded struct {
	r      *videoread.Reader
	sample map[int64]int // sample number → reader index
}

func newDecoders(frames *frameCache, quality int) *decoders {
	if quality <= 0 {
		quality = DefaultJPEGQuality
	}
	return &decoders{frames: frames, quality: quality, readers: map[string]*decoded{}}
}

// jpeg decodes frame r (of the video file seg/r.File) and encodes it as JPEG. The
// returned bytes are valid until the next call.
func (d *decoders) jpeg(ctx context.Context, seg string, r *schema.Frame) ([]byte, error) {
	src := filepath.Join(seg, r.File)
	dec, ok := d.readers[src]
	if !ok {
		all, err := d.frames.get(ctx, seg)
		if err != nil {
			return nil, err
		}
		var rows []schema.Frame
		for i := range all {
			if all[i].File == r.File {
				rows = append(rows, all[i])
			}
		}
		vr, err := videoread.Open(src, rows, videoread.Options{})
		if err != nil {
			return nil, err
		}
		dec = &decoded{r: vr, sample: map[int64]int{}}
		for i := 0; i < vr.Len(); i++ {
			dec.sample[vr.Frame(i).Sample] = i
		}
		d.readers[src] = dec
	}
	i, ok := dec.sample[r.Sample]
	if !ok {
		return nil, &drive.CorruptionError{Path: src, Offset: r.Offset, Err: fmt.Errorf("%w: sample %d not indexed", videofile.ErrBadFrame, r.Sample)}
	}
	img, err := dec.r.Decode(ctx, i)
	if err != nil {
		return nil, fmt.Errorf("decode %s sample %d: %w", src, r.Sample, err)
	}
	d.buf.Reset()
	if err := jpeg.Encode(&d.buf, img, &jpeg.Options{Quality: d.quality}); err != nil {
		return nil, fmt.Errorf("encode JPEG: %w", err)
	}
	return d.buf.Bytes(), nil
}

func (d *decoders) close() {
	for _, dec := range d.readers {
		dec.r.Close()
	}
}
