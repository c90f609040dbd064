// Package videoread gives back the frames of a recorded camera video: any frame of a
// segment's camN.mp4, decoded, found through the segment's frames.arrow rows (which say
// where each frame's bytes are, so no scan of the video is needed) or through the MP4's
// own sample index.
//
// MJPEG frames decode in process with image/jpeg. H.264 and H.265 frames decode in an
// ffmpeg subprocess fed, as an elementary stream, from the nearest preceding keyframe
// up to the wanted frame; ffmpeg returns only that frame, as planar YUV 4:2:0, which
// becomes an *image.YCbCr without conversion. Replay and export use Sequence to decode
// runs of frames with one subprocess.
package videoread

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"roadlog/acquire/camera"
	"roadlog/acquire/camera/mp4file"
	"roadlog/schema"
)

// Errors of the reader.
var (
	// ErrNoFFmpeg: H.264/H.265 decoding needs the ffmpeg program.
	ErrNoFFmpeg = errors.New("ffmpeg not found (apt-get install ffmpeg)")
	// ErrRange: a frame index outside the file.
	ErrRange = errors.New("frame index out of range")
	// ErrNoKeyframe: no keyframe at or before the frame: it cannot be decoded.
	ErrNoKeyframe = errors.New("no keyframe before the frame")
	// ErrDecode: the decoder gave no picture for the frame.
	ErrDecode = errors.New("decoder returned no picture")
)

// Options tunes a Reader. The zero value is ready to use.
type Options struct {
	FFmpeg  string // ffmpeg program (default "ffmpeg" from PATH)
	Threads int    // ffmpeg decoder threads of Sequence (0: ffmpeg's choice)
	// SeekThreads are the frame threads of Decode's persistent decoder (0: 1). More
	// threads decode faster on idle cores but hold back one more picture each, which
	// Decode pushes out by feeding the frames that follow.
	SeekThreads int
	MaxSample   int // cap on one sample's bytes (0: camera.DefaultMaxAccessUnit)
}

// Reader decodes the frames of one video file. Its methods are safe for concurrent
// use (the file is read with ReadAt).
type Reader struct {
	path   string
	f      *os.File
	codec  schema.Codec
	params [][]byte
	frames []schema.Frame // in sample order
	opts   Options
	once   sync.Once
	cerr   error
	mu     sync.Mutex // guards dec
	dec    *decoder   // the persistent decoder of Decode (nil: not started)
}

// Open opens the video file path of a segment with the frames.arrow rows that index
// it: the rows whose File is the file's base name are used, in Sample order; other
// rows are ignored. The codec parameter sets come from the file's moov.
func Open(path string, rows []schema.Frame, opts Options) (*Reader, error) {
	base := filepath.Base(path)
	var fr []schema.Frame
	for _, r := range rows {
		if r.File == base {
			fr = append(fr, r)
		}
	}
	sort.SliceStable(fr, func(i, j int) bool { return fr[i].Sample < fr[j].Sample })
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open video: %w", err)
	}
	r := &Reader{path: path, f: f, frames: fr, opts: opts}
	if len(fr) > 0 {
		r.codec = fr[0].Codec
	}
	if err := r.readParams(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// OpenFile opens a video file by its own sample index (no frames.arrow needed): the
// rows it returns through Frame hold what the MP4 says (sample, offset, size, keyframe,
// pts, size and codec); t, seq and camera are unknown (0). A file torn by a crash
// opens with its complete fragments; the damage is returned with the reader as a
// *mp4file.CorruptionError.
func OpenFile(path string, opts Options) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open video: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open video: %w", err)
	}
	tracks, ierr := mp4file.Read(f, st.Size())
	if len(tracks) == 0 {
		f.Close()
		return nil, fmt.Errorf("index video %s: %w", path, ierr)
	}
	t := tracks[0]
	r := &Reader{path: path, f: f, codec: t.Codec, params: t.Params, opts: opts}
	name := filepath.Base(path)
	for i, s := range t.Samples {
		fr := schema.Frame{Codec: t.Codec, Width: uint16(t.Width), Height: uint16(t.Height), Keyframe: s.Sync,
			File: name, Offset: s.Offset, Size: s.Size, Sample: int64(i), TriggerID: -1}
		if t.TimeScale > 0 {
			fr.PTS = (s.DTS + int64(s.PTSOffset)) * 1e9 / int64(t.TimeScale)
		}
		r.frames = append(r.frames, fr)
	}
	if ierr != nil {
		return r, fmt.Errorf("index video %s: %w", path, ierr)
	}
	return r, nil
}

// readParams takes the parameter sets of the file's sample entry.
func (r *Reader) readParams() error {
	if r.codec == schema.CodecMJPEG {
		return nil
	}
	var init fmp4.Init
	if err := init.Unmarshal(r.f); err != nil {
		return fmt.Errorf("read video header %s: %w", r.path, err)
	}
	for _, t := range init.Tracks {
		switch c := t.Codec.(type) {
		case *codecs.H264:
			r.codec, r.params = schema.CodecH264, [][]byte{c.SPS, c.PPS}
			return nil
		case *codecs.H265:
			r.codec, r.params = schema.CodecH265, [][]byte{c.VPS, c.SPS, c.PPS}
			return nil
		case *codecs.MJPEG:
			r.codec = schema.CodecMJPEG
			return nil
		}
	}
	return fmt.Errorf("read video header %s: %w", r.path, mp4file.ErrNoVideo)
}

// Close closes the file. It is idempotent.
func (r *Reader) Close() error {
	r.once.Do(func() {
		r.mu.Lock()
		if r.dec != nil {
			r.dec.close()
			r.dec = nil
		}
		r.mu.Unlock()
		r.cerr = r.f.Close()
	})
	return r.cerr
}

// Len returns the number of frames.
func (r *Reader) Len() int { return len(r.frames) }

// Codec returns the video codec.
func (r *Reader) Codec() schema.Codec { return r.codec }

// Frame returns the index row of frame i.
func (r *Reader) Frame(i int) schema.Frame { return r.frames[i] }

// Sample returns the stored bytes of frame i (a JPEG image, or an AVCC access unit).
func (r *Reader) Sample(i int) ([]byte, error) {
	if i < 0 || i >= len(r.frames) {
		return nil, fmt.Errorf("read frame %d of %s: %w", i, r.path, ErrRange)
	}
	fr := r.frames[i]
	max := r.opts.MaxSample
	if max <= 0 {
		max = camera.DefaultMaxAccessUnit
	}
	if fr.Size < 0 || int(fr.Size) > max {
		return nil, fmt.Errorf("read frame %d of %s: size %d: %w", i, r.path, fr.Size, camera.ErrAccessUnitTooLarge)
	}
	b := make([]byte, fr.Size)
	if _, err := r.f.ReadAt(b, fr.Offset); err != nil {
		return nil, fmt.Errorf("read frame %d of %s at offset %d: %w", i, r.path, fr.Offset, err)
	}
	return b, nil
}

// KeyframeBefore returns the index of the last keyframe at or before frame i.
func (r *Reader) KeyframeBefore(i int) (int, error) {
	if i < 0 || i >= len(r.frames) {
		return 0, fmt.Errorf("seek frame %d of %s: %w", i, r.path, ErrRange)
	}
	for k := i; k >= 0; k-- {
		if r.frames[k].Keyframe {
			return k, nil
		}
	}
	return 0, fmt.Errorf("seek frame %d of %s: %w", i, r.path, ErrNoKeyframe)
}

// Decode returns frame i decoded: an *image.YCbCr the caller owns. H.264/H.265 frames
// are decoded by a persistent ffmpeg process (started at the first Decode, ended by
// Close) fed from the preceding keyframe — or, when the previous Decode was an earlier
// frame of the same group of pictures, from where it stopped.
func (r *Reader) Decode(ctx context.Context, i int) (image.Image, error) {
	if r.codec == schema.CodecMJPEG {
		b, err := r.Sample(i)
		if err != nil {
			return nil, err
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("decode frame %d of %s: %w", i, r.path, err)
		}
		return img, nil
	}
	return r.seek(ctx, i)
}

// Sequence decodes frames from..to (inclusive) in order and calls fn with each. For
// H.264/H.265 the image is reused: it is valid only until fn returns. An error from fn
// stops the sequence and is returned.
func (r *Reader) Sequence(ctx context.Context, from, to int, fn func(i int, img image.Image) error) error {
	if from < 0 || to >= len(r.frames) || from > to {
		return fmt.Errorf("decode frames %d..%d of %s: %w", from, to, r.path, ErrRange)
	}
	if r.codec == schema.CodecMJPEG {
		for i := from; i <= to; i++ {
			img, err := r.Decode(ctx, i)
			if err != nil {
				return err
			}
			if err := fn(i, img); err != nil {
				return err
			}
		}
		return nil
	}
	return r.run(ctx, from, to, func(i int, img *image.YCbCr) error { return fn(i, img) })
}

// run decodes frames from..to with one ffmpeg process fed from the keyframe before from.
func (r *Reader) run(ctx context.Context, from, to int, fn func(int, *image.YCbCr) error) error {
	k, err := r.KeyframeBefore(from)
	if err != nil {
		return err
	}
	ff, err := r.ffmpeg()
	if err != nil {
		return err
	}
	skip := from - k // decoded frames to throw away
	cmd := exec.CommandContext(ctx, ff, r.decoderArgs(r.opts.Threads, false)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("decode %s: %w", r.path, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("decode %s: %w", r.path, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("decode %s: %w", r.path, err)
	}
	growPipe(stdout)
	feedErr := make(chan error, 1)
	go func() { feedErr <- r.feedAll(stdin, k, to) }()

	w, h := int(r.frames[from].Width), int(r.frames[from].Height)
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	var rerr error
	i := k
	for ; i <= to; i++ {
		if err := readFrame(stdout, img); err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
		if i-k < skip {
			continue
		}
		if err := fn(i, img); err != nil {
			rerr = err
			break
		}
	}
	if rerr != nil {
		_ = cmd.Process.Kill()
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	ferr := <-feedErr
	switch {
	case rerr != nil:
		return rerr
	case ctx.Err() != nil:
		return ctx.Err()
	case werr != nil:
		return fmt.Errorf("decode %s frames %d..%d: ffmpeg: %w: %s", r.path, from, to, werr, strings.TrimSpace(stderr.String()))
	case ferr != nil:
		return ferr
	case i <= to:
		return fmt.Errorf("decode %s frame %d: %w: %s", r.path, i, ErrDecode, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// feedAll writes frames k..to to w as an elementary stream, parameter sets before each
// keyframe, and closes w.
func (r *Reader) feedAll(w io.WriteCloser, k, to int) error {
	defer w.Close()
	var buf []byte
	for i := k; i <= to; i++ {
		s, err := r.Sample(i)
		if err != nil {
			return err
		}
		if buf, err = r.annexB(buf[:0], i, s); err != nil {
			return err
		}
		if _, err := w.Write(buf); err != nil {
			return nil // the decoder stopped reading: its exit status tells why
		}
	}
	return nil
}

func (r *Reader) ffmpeg() (string, error) {
	ff := r.opts.FFmpeg
	if ff == "" {
		ff = "ffmpeg"
	}
	p, err := exec.LookPath(ff)
	if err != nil {
		return "", fmt.Errorf("decode %s: %w: %w", r.path, ErrNoFFmpeg, err)
	}
	return p, nil
}

// decoderArgs returns ffmpeg's arguments: an elementary stream on stdin, planar YUV
// 4:2:0 pictures on stdout, one per access unit, none dropped or repeated.
// lowDelay (the seek decoder) makes ffmpeg return each picture as soon as it is
// decoded; it also turns frame threading off, which sequences want.
func (r *Reader) decoderArgs(threads int, lowDelay bool) []string {
	format := "h264"
	if r.codec == schema.CodecH265 {
		format = "hevc"
	}
	args := []string{"-hide_banner", "-nostdin", "-v", "error", "-probesize", "32", "-analyzeduration", "0"}
	if lowDelay {
		args = append(args, "-flags", "low_delay")
	}
	args = append(args, "-f", format)
	if threads > 0 {
		args = append(args, "-threads", strconv.Itoa(threads))
	}
	return append(args, "-i", "pipe:0", "-an", "-fps_mode", "passthrough", "-flush_packets", "1",
		"-pix_fmt", "yuv420p", "-f", "rawvideo", "pipe:1")
}

// annexB appends the elementary-stream form of frame i (sample s) to dst: parameter
// sets before a keyframe.
func (r *Reader) annexB(dst []byte, i int, s []byte) ([]byte, error) {
	var p [][]byte
	if r.frames[i].Keyframe {
		p = r.params
	}
	dst, err := camera.AppendAnnexB(dst, p, s)
	if err != nil {
		return dst, fmt.Errorf("decode %s frame %d: %w", r.path, i, err)
	}
	return dst, nil
}

// readFrame reads one planar YUV 4:2:0 picture into img.
func readFrame(r io.Reader, img *image.YCbCr) error {
	for _, p := range [][]byte{img.Y, img.Cb, img.Cr} {
		if _, err := io.ReadFull(r, p); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("read decoded picture: %w", err)
			}
			return err
		}
	}
	return nil
}
