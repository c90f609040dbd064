package camera

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"roadlog/acquire/camera/mp4file"
	"roadlog/schema"
	"roadlog/sync/clock"
)

// File plays a video file as a camera: an MP4 (progressive or fragmented, the first
// H.264, H.265 or MJPEG track), or a raw elementary stream (.h264/.264, .h265/.hevc,
// .mjpeg/.mjpg, or Codec set). Frames keep the file's own timing: frame i's t is the
// reference time at which playback started plus its presentation time (raw streams: i
// frames at FPS), so a drive made from a file has the file's frame rate even when it
// plays as fast as possible (Fast). In real time, each frame is published when its
// presentation time comes. Loop starts over at the end, time and seq continuing.
//
// Run returns nil at the end of the file (Loop unset) or when ctx ends.
type File struct {
	Camera   uint8          // camera index in the rig
	Name     string         // source name in events (default cam<Camera>)
	Path     string         // the video file
	Codec    schema.Codec   // raw streams whose extension does not say (0: by extension)
	FPS      float64        // frame rate of raw streams (0: 30)
	Fast     bool           // publish as fast as possible, not in real time
	Speed    float64        // playback speed when not Fast: 0 or 1 real time, 10 ten times faster
	Loop     bool           // start over at the end
	Timebase clock.Timebase // nil: a free-running clock.System
	MaxFrame int            // cap on one frame's bytes (0: DefaultMaxAccessUnit)
	// Congested, when set, is asked before each frame in Fast mode (the recorder's
	// Engine.Congested): playback waits while it reports true, so a file replayed as
	// fast as possible goes at the speed the recorder takes it, without drops.
	Congested func() bool
}

// ErrFileFormat: the file is neither an MP4 nor a raw stream of a known codec.
var ErrFileFormat = errors.New("unknown video file format")

// Run plays the file.
func (s *File) Run(ctx context.Context, sink schema.Sink) error {
	name := nameOr(s.Name, s.Camera)
	tb := s.Timebase
	if tb == nil {
		tb = clock.NewSystem()
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return fmt.Errorf("open camera file %s: %w", name, err)
	}
	defer f.Close()
	isMP4, err := sniffMP4(f)
	if err != nil {
		return fmt.Errorf("open camera file %s: %w", s.Path, err)
	}
	var p player
	if isMP4 {
		p, err = newMP4Player(f, s.Path, s.MaxFrame)
	} else {
		p, err = s.newRawPlayer(f)
	}
	if err != nil {
		return err
	}
	em := newEmitter(sink, tb, name, newTrack(s.Camera, p.codec()))
	defer em.close()
	if err := p.init(em.tr); err != nil {
		return fmt.Errorf("camera file %s: %w", s.Path, err)
	}
	startHost := clock.HostNow()
	startRef := tb.Ref(startHost)
	base := int64(0) // presentation time of the current loop's start
	for {
		end, err := p.play(em.tr, func(pts int64, vf *schema.VideoFrame, err error) error {
			at := base + pts
			if !s.Fast {
				wait := at
				if s.Speed > 0 {
					wait = int64(float64(at) / s.Speed)
				}
				if err := sleepUntil(ctx, startHost+wait); err != nil {
					return err
				}
			} else if err := s.waitUncongested(ctx); err != nil {
				return err
			}
			return em.frame(vf, err, clock.HostNow(), startRef+at, 0)
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("camera file %s: %w", s.Path, err)
		}
		if !s.Loop {
			return nil
		}
		base += end
		if err := p.rewind(); err != nil {
			return fmt.Errorf("camera file %s: %w", s.Path, err)
		}
	}
}

// waitUncongested waits while Congested reports true, or until ctx ends.
func (s *File) waitUncongested(ctx context.Context) error {
	for s.Congested != nil && s.Congested() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return ctx.Err()
}

// sleepUntil waits until the host monotonic clock reaches t, or ctx ends.
func sleepUntil(ctx context.Context, t int64) error {
	d := time.Duration(t - clock.HostNow())
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// player is one file format's way of yielding frames.
type player interface {
	codec() schema.Codec
	init(*track) error
	// play calls fn for each picture with its presentation time (ns from the file's
	// start) and the frame the track made of it (or why none); it returns the file's
	// duration.
	play(tr *track, fn func(pts int64, vf *schema.VideoFrame, err error) error) (int64, error)
	rewind() error
}

// sniffMP4 says whether the file starts with an MP4 box (ftyp, moov, styp, free…).
func sniffMP4(f *os.File) (bool, error) {
	var h [8]byte
	n, err := f.ReadAt(h[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if n < 8 {
		return false, nil
	}
	switch string(h[4:8]) {
	case "ftyp", "moov", "styp", "free", "mdat", "wide", "skip":
		return true, nil
	}
	return false, nil
}

type mp4Player struct {
	f   *os.File
	t   *mp4file.Track
	max int
}

func newMP4Player(f *os.File, path string, max int) (*mp4Player, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open camera file %s: %w", path, err)
	}
	tracks, err := mp4file.Read(f, st.Size())
	if len(tracks) == 0 {
		return nil, fmt.Errorf("index camera file %s: %w", path, err)
	}
	// a damaged file still plays the samples it has; the damage ends the index
	if max <= 0 {
		max = DefaultMaxAccessUnit
	}
	return &mp4Player{f: f, t: tracks[0], max: max}, nil
}

func (p *mp4Player) codec() schema.Codec { return p.t.Codec }

func (p *mp4Player) init(tr *track) error {
	for _, s := range p.t.Samples {
		if s.PTSOffset != 0 {
			return fmt.Errorf("samples with composition offsets: %w", ErrBFrames)
		}
	}
	switch p.t.Codec {
	case schema.CodecH264:
		return tr.setParams(nil, p.t.Params[0], p.t.Params[1])
	case schema.CodecH265:
		return tr.setParams(p.t.Params[0], p.t.Params[1], p.t.Params[2])
	}
	return nil
}

func (p *mp4Player) play(tr *track, fn func(int64, *schema.VideoFrame, error) error) (int64, error) {
	ts := int64(p.t.TimeScale)
	if ts <= 0 {
		return 0, fmt.Errorf("track timescale 0: %w", ErrFileFormat)
	}
	end := int64(0)
	for i, s := range p.t.Samples {
		pts := (s.DTS + int64(s.PTSOffset)) * 1e9 / ts
		end = (s.DTS + int64(s.Duration)) * 1e9 / ts
		vf, err := p.frame(tr, i, s)
		if err := fn(pts, vf, err); err != nil {
			return end, err
		}
	}
	return end, nil
}

func (p *mp4Player) frame(tr *track, i int, s mp4file.Sample) (*schema.VideoFrame, error) {
	if s.Size < 0 || int(s.Size) > p.max {
		tr.lost()
		return nil, fmt.Errorf("sample %d of %d bytes: %w", i, s.Size, ErrAccessUnitTooLarge)
	}
	b := make([]byte, s.Size)
	if _, err := p.f.ReadAt(b, s.Offset); err != nil {
		tr.lost()
		return nil, fmt.Errorf("read sample %d at offset %d: %w", i, s.Offset, err)
	}
	if p.t.Codec == schema.CodecMJPEG {
		return tr.jpeg(b)
	}
	nalus, err := SplitAVCC(b)
	if err != nil {
		tr.lost()
		return nil, fmt.Errorf("sample %d at offset %d: %w", i, s.Offset, err)
	}
	return tr.h26x(nalus)
}

func (p *mp4Player) rewind() error { return nil }

type rawPlayer struct {
	f     *os.File
	sp    splitter
	c     schema.Codec
	frame time.Duration
}

func (s *File) newRawPlayer(f *os.File) (*rawPlayer, error) {
	c := s.Codec
	if c == schema.CodecUnknown {
		switch strings.ToLower(filepath.Ext(s.Path)) {
		case ".h264", ".264", ".avc":
			c = schema.CodecH264
		case ".h265", ".265", ".hevc":
			c = schema.CodecH265
		case ".mjpeg", ".mjpg", ".jpg", ".jpeg":
			c = schema.CodecMJPEG
		default:
			return nil, fmt.Errorf("camera file %s: %w (set Codec for raw streams)", s.Path, ErrFileFormat)
		}
	}
	sp, err := newSplitter(c, s.MaxFrame)
	if err != nil {
		return nil, err
	}
	fps := s.FPS
	if fps <= 0 {
		fps = 30
	}
	return &rawPlayer{f: f, sp: sp, c: c, frame: time.Duration(float64(time.Second) / fps)}, nil
}

func (p *rawPlayer) codec() schema.Codec { return p.c }
func (p *rawPlayer) init(*track) error   { return nil }

func (p *rawPlayer) rewind() error {
	_, err := p.f.Seek(0, io.SeekStart)
	return err
}

func (p *rawPlayer) play(tr *track, fn func(int64, *schema.VideoFrame, error) error) (int64, error) {
	buf := make([]byte, 256<<10)
	n := int64(0) // pictures so far
	handle := func(aus []AccessUnit, errs []error) error {
		for _, e := range errs {
			tr.lost()
			if err := fn(n*int64(p.frame), nil, e); err != nil {
				return err
			}
			n++
		}
		for _, au := range aus {
			var vf *schema.VideoFrame
			var err error
			if au.JPEG != nil {
				vf, err = tr.jpeg(au.JPEG)
			} else {
				vf, err = tr.h26x(au.NALUs)
			}
			if err := fn(n*int64(p.frame), vf, err); err != nil {
				return err
			}
			n++
		}
		return nil
	}
	for {
		k, rerr := p.f.Read(buf)
		if k > 0 {
			if err := handle(p.sp.Push(buf[:k], 0)); err != nil {
				return n * int64(p.frame), err
			}
		}
		if errors.Is(rerr, io.EOF) {
			err := handle(p.sp.Flush())
			return n * int64(p.frame), err
		}
		if rerr != nil {
			return n * int64(p.frame), fmt.Errorf("read: %w", rerr)
		}
	}
}
