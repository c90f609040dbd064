package videoread

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"roadlog/internal/tail"
	"roadlog/schema"
)

// DecodeTimeout bounds one Decode of the persistent decoder: a decoder that has not
// returned the picture by then (it dropped a damaged frame, or hangs) is restarted.
const DecodeTimeout = 20 * time.Second

// decoder is a long-running ffmpeg that decodes an elementary stream written to its
// stdin into raw pictures on its stdout, exactly one per access unit, in order: one
// decoder thread (no frame-threading delay), low_delay (no reordering wait), and an
// access unit delimiter after each access unit so that ffmpeg's parser sees the unit
// end. ffmpeg still holds back a picture or two (its parser and stream probing keep
// one access unit), so when the wanted picture has not come out after a short wait
// the decoder is fed the frames that follow it (they are the likeliest next request),
// and at the end of the file stdin is closed to flush it (the next seek then starts a
// new process). Pictures are counted, so a picture is never mistaken for another.
// Starting ffmpeg costs a few hundred milliseconds on a small machine (it loads ~150
// shared libraries), which is why seeks reuse one process.
type decoder struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  io.ReadCloser
	stderr  *tail.Buffer
	size    int         // bytes of one picture
	pics    chan []byte // decoded pictures, in order (closed at the process's end)
	free    chan []byte // pictures not handed out, for reuse
	jobs    chan feedJob
	fed     chan error // one result per job
	lastFed int        // last frame written (-1: none)
	pending []int      // frames written whose pictures have not been read, in order
	closed  bool       // stdin is closed: the process ends after its last picture
	aud     []byte
	eos     []byte
	wg      sync.WaitGroup
}

type feedJob struct {
	frames []int
	jump   bool // end the sequence before (a jump to a keyframe)
	flush  bool // close stdin after
}

// nudge is how long a seek waits for the wanted picture before it feeds the next
// frame to push it out of ffmpeg.
const nudge = 20 * time.Millisecond

// nudges counts the nudges of all readers (BenchmarkSeek reports them per seek).
var nudges atomic.Int64

// maxNudge caps the frames fed beyond the wanted one to push it out.
const maxNudge = 8

func (r *Reader) seekThreads() int { return max(1, r.opts.SeekThreads) }

func (r *Reader) startDecoder(w, h int) (*decoder, error) {
	ff, err := r.ffmpeg()
	if err != nil {
		return nil, err
	}
	d := &decoder{lastFed: -1, stderr: &tail.Buffer{Max: 2048}, size: w*h + 2*((w+1)/2)*((h+1)/2),
		pics: make(chan []byte, 2), free: make(chan []byte, 4), jobs: make(chan feedJob), fed: make(chan error, 1)}
	d.cmd = exec.Command(ff, r.decoderArgs(r.seekThreads(), r.seekThreads() == 1)...)
	d.cmd.Stderr = d.stderr
	if d.stdin, err = d.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start decoder: %w", err)
	}
	if d.stdout, err = d.cmd.StdoutPipe(); err != nil {
		return nil, fmt.Errorf("start decoder: %w", err)
	}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start decoder: %w", err)
	}
	growPipe(d.stdout)
	if r.codec == schema.CodecH265 {
		d.aud = []byte{0, 0, 0, 1, 35 << 1, 1, 0x50} // AUD, pic_type 2
		// end the sequence before a jump so the keyframe starts a new one; with frame
		// threads ffmpeg's HEVC decoder returns a wrong picture after an EOS, and an
		// IRAP picture without leading pictures (no B-frames) needs none
		if r.seekThreads() == 1 {
			d.eos = []byte{0, 0, 0, 1, 36 << 1, 1}
		}
	} else {
		d.aud = []byte{0, 0, 0, 1, 9, 0xF0} // AUD, primary_pic_type 7
		// no end-of-sequence for H.264: an IDR picture resets the decoder, and
		// ffmpeg's H.264 decoder drops the picture held back across an EOS
	}
	d.wg.Add(2)
	go d.read()
	go r.feed(d)
	return d, nil
}

// read is the decoder's stdout goroutine: it cuts the output into pictures.
func (d *decoder) read() {
	defer d.wg.Done()
	defer close(d.pics)
	for {
		var b []byte
		select {
		case b = <-d.free: // a picture decoded on the way to a wanted one
		default:
			b = make([]byte, d.size)
		}
		if _, err := io.ReadFull(d.stdout, b); err != nil {
			return
		}
		d.pics <- b
	}
}

// feed is the decoder's stdin goroutine: it writes the frames of each job, each
// followed by an access unit delimiter.
func (r *Reader) feed(d *decoder) {
	defer d.wg.Done()
	var buf []byte
	for job := range d.jobs {
		d.fed <- r.write(d, job, &buf)
	}
}

func (r *Reader) write(d *decoder, job feedJob, buf *[]byte) error {
	b := (*buf)[:0]
	defer func() { *buf = b }()
	if job.jump {
		b = append(b, d.eos...)
	}
	for _, j := range job.frames {
		s, err := r.Sample(j)
		if err != nil {
			return err
		}
		if b, err = r.annexB(b, j, s); err != nil {
			return err
		}
		b = append(b, d.aud...)
		if _, err := d.stdin.Write(b); err != nil {
			return fmt.Errorf("feed decoder: %w", err)
		}
		b = b[:0]
	}
	if job.flush {
		return d.stdin.Close()
	}
	return nil
}

// close ends the process and its goroutines and waits for them.
func (d *decoder) close() {
	close(d.jobs)
	_ = d.stdin.Close()
	_ = d.cmd.Process.Kill()
	for range d.pics {
	}
	d.wg.Wait()
	_ = d.cmd.Wait()
}

// seek decodes frame i with the persistent decoder.
func (r *Reader) seek(ctx context.Context, i int) (image.Image, error) {
	k, err := r.KeyframeBefore(i)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fr := r.frames[i]
	w, h := int(fr.Width), int(fr.Height)
	if d := r.dec; d != nil && ((d.closed && !slices.Contains(d.pending, i)) || d.size != w*h+2*((w+1)/2)*((h+1)/2)) {
		d.close()
		r.dec = nil
	}
	if r.dec == nil {
		if r.dec, err = r.startDecoder(w, h); err != nil {
			return nil, err
		}
	}
	d := r.dec
	img, err := r.seekIn(ctx, d, i, k)
	if err != nil {
		msg := d.stderr.String()
		d.close()
		r.dec = nil
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("decode %s frame %d: %w: %w (ffmpeg: %s)", r.path, i, ErrDecode, err, msg)
	}
	return img, nil
}

func (r *Reader) seekIn(ctx context.Context, d *decoder, i, k int) (image.Image, error) {
	// what to feed: nothing when i is already on its way; the frames after the last
	// one fed when that continues i's group of pictures; else a jump to keyframe k
	var job feedJob
	switch {
	case slices.Contains(d.pending, i):
	case d.lastFed >= k && d.lastFed < i:
		for j := d.lastFed + 1; j <= i; j++ {
			job.frames = append(job.frames, j)
		}
	default:
		job.jump = d.lastFed >= 0
		for j := k; j <= i; j++ {
			job.frames = append(job.frames, j)
		}
	}
	// ffmpeg gives a picture out only after two more access units (and one more per
	// extra frame thread): keep that many frames after i fed — also when i was fed
	// before, as when frames are read one after the other. With one frame fewer every
	// seek waited for a nudge; decoding the extra frame costs less than that wait
	// (BenchmarkSeek, 1080p, one thread: 141–158 ms a seek before, 120–131 ms after).
	last := d.lastFed
	if n := len(job.frames); n > 0 {
		last = job.frames[n-1]
	}
	if last >= i && !d.closed {
		for j := last + 1; j <= i+r.seekThreads()+1 && j < len(r.frames); j++ {
			job.frames = append(job.frames, j)
		}
	}
	busy := false // a job is being written
	submit := func(job feedJob) error {
		d.pending = append(d.pending, job.frames...)
		if len(job.frames) > 0 {
			d.lastFed = job.frames[len(job.frames)-1]
		}
		d.closed = d.closed || job.flush
		d.jobs <- job
		busy = true
		return nil
	}
	fed := func() chan error {
		if busy {
			return d.fed
		}
		return nil
	}
	if len(job.frames) > 0 {
		if err := submit(job); err != nil {
			return nil, err
		}
	}
	timer := time.NewTimer(DecodeTimeout)
	defer timer.Stop()
	tick := time.NewTicker(nudge)
	defer tick.Stop()
	progress := time.Now() // of the last picture or job
	var out []byte
	for out == nil {
		if len(d.pending) == 0 {
			return nil, errLostPicture
		}
		select {
		case err := <-fed():
			busy = false
			progress = time.Now()
			if err != nil {
				return nil, err
			}
		case b, ok := <-d.pics:
			if !ok {
				return nil, errLostPicture
			}
			progress = time.Now()
			j := d.pending[0]
			d.pending = d.pending[1:]
			if j == i {
				out = b
			} else {
				select {
				case d.free <- b:
				default:
				}
			}
		case <-tick.C:
			// the picture is held back: push it out with the next frame, or flush at
			// the end of the file
			if busy || d.closed || d.lastFed > i+maxNudge || time.Since(progress) < nudge {
				continue
			}
			nudges.Add(1)
			progress = time.Now()
			next := feedJob{flush: d.lastFed+1 >= len(r.frames)}
			if !next.flush {
				next.frames = []int{d.lastFed + 1}
			}
			if err := submit(next); err != nil {
				return nil, err
			}
		case <-timer.C:
			return nil, errTimeout
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if busy {
		if err := <-d.fed; err != nil {
			return nil, err
		}
	}
	fr := r.frames[i]
	w, h := int(fr.Width), int(fr.Height)
	cw, ch := (w+1)/2, (h+1)/2
	return &image.YCbCr{Y: out[:w*h], Cb: out[w*h : w*h+cw*ch], Cr: out[w*h+cw*ch:],
		YStride: w, CStride: cw, SubsampleRatio: image.YCbCrSubsampleRatio420, Rect: image.Rect(0, 0, w, h)}, nil
}

var (
	errLostPicture = errors.New("the decoder returned fewer pictures than frames")
	errTimeout     = fmt.Errorf("no picture within %v", DecodeTimeout)
)
