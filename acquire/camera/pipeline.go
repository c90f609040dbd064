package camera

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"roadlog/internal/tail"
	"roadlog/schema"
	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// ErrEnded: a stream or process ended by itself (the supervisor restarts the source).
var ErrEnded = errors.New("stream ended")

// Pipeline is a camera reached through an external process — a GStreamer or ffmpeg
// command that writes H.264/H.265 Annex-B or concatenated JPEG images (MJPEG) to its
// standard output. This is how a Jetson's camera and hardware encoder are recorded
// (docs/cameras.md has such a rig). Access units are split out of the byte stream;
// each frame's t_host is the arrival of its first byte, t is that minus Latency on the
// timebase.
//
// The process runs in its own process group; when ctx ends the group gets SIGINT (so
// gst-launch -e and ffmpeg finish their stream) and SIGKILL after StopTimeout. Run
// returns nil when ctx ended, and an error wrapping ErrEnded when the process ended by
// itself (with its exit status and the tail of its standard error).
type Pipeline struct {
	Camera   uint8          // camera index in the rig
	Name     string         // source name in events (default cam<Camera>)
	Command  []string       // argv; Command[0] is looked up in PATH
	Codec    schema.Codec   // of the process's standard output
	Latency  time.Duration  // exposure-to-stdout delay of the pipeline, subtracted from arrival
	Timebase clock.Timebase // nil: a free-running clock.System
	MaxFrame int            // cap on one access unit's bytes (0: DefaultMaxAccessUnit)
	// StopTimeout is how long the process may take to exit after SIGINT (0: 3 s).
	StopTimeout time.Duration

	st *devclock.Stamps // the clock model, made by the first run (runs never overlap)
}

// splitter is what the Annex-B and JPEG splitters share.
type splitter interface {
	Push(p []byte, t int64) ([]AccessUnit, []error)
	Flush() ([]AccessUnit, []error)
	Skipped() int64
}

func newSplitter(codec schema.Codec, maxAU int) (splitter, error) {
	switch codec {
	case schema.CodecH264, schema.CodecH265:
		return &AnnexBSplitter{Codec: codec, MaxAU: maxAU}, nil
	case schema.CodecMJPEG:
		return &JPEGSplitter{Max: maxAU}, nil
	}
	return nil, fmt.Errorf("split %v stream: %w", codec, ErrCodec)
}

// Run starts the process and publishes its frames until ctx ends or the process exits.
func (p *Pipeline) Run(ctx context.Context, sink schema.Sink) error {
	if len(p.Command) == 0 {
		return fmt.Errorf("start camera pipeline %s: %w", nameOr(p.Name, p.Camera), errNoCommand)
	}
	sp, err := newSplitter(p.Codec, p.MaxFrame)
	if err != nil {
		return err
	}
	name := nameOr(p.Name, p.Camera)
	cmd := exec.CommandContext(ctx, p.Command[0], p.Command[1:]...)
	stderr := &tail.Buffer{Max: 4 << 10}
	cmd.Stderr = stderr
	pg := newProcGroup(cmd, p.StopTimeout)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("start camera pipeline %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start camera pipeline %s: %w", name, err)
	}
	em := newEmitter(sink, p.Timebase, name, newTrack(p.Camera, p.Codec))
	if p.st == nil {
		// arrival less Latency: an encoder's time per picture varies with its size
		p.st = devclock.NewStamps(devclock.StampsConfig{Name: name, Jitter: 10 * time.Millisecond}, em.tb)
	}
	em.st = p.st
	sr := &streamReader{sp: sp, em: em, latency: int64(p.Latency)}
	rerr := sr.read(out)
	if rerr != nil {
		// a fatal stream error: stop the process before waiting for it
		pg.stop()
	}
	werr := cmd.Wait()
	pg.done()
	if rerr == nil {
		// a process that failed may have been cut off inside its last picture
		var cause error
		if werr != nil && ctx.Err() == nil {
			cause = werr
		}
		rerr = sr.end(cause)
	}
	em.close()
	switch {
	case rerr != nil:
		return rerr
	case ctx.Err() != nil:
		return nil
	case werr != nil:
		return fmt.Errorf("camera pipeline %s: %w: %w (stderr: %s)", name, ErrEnded, werr, stderr.String())
	}
	return fmt.Errorf("camera pipeline %s exited: %w (stderr: %s)", name, ErrEnded, stderr.String())
}

var errNoCommand = errors.New("no command")

// streamReader feeds a byte stream into a splitter and publishes what comes out.
type streamReader struct {
	sp      splitter
	em      *emitter
	latency int64
	skipped int64
}

// read consumes r until EOF or a read error, without ending the last access unit
// (the caller decides with end whether the stream ended cleanly). It returns only
// fatal stream errors (B-frames).
func (s *streamReader) read(r io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if herr := s.handle(s.sp.Push(buf[:n], clock.HostNow())); herr != nil {
				return herr
			}
		}
		if err != nil {
			return nil
		}
	}
}

// end flushes the splitter. When the stream broke (cause non-nil) the last access
// unit may be cut short: it is dropped and counted instead of published.
func (s *streamReader) end(cause error) error {
	aus, errs := s.sp.Flush()
	if cause != nil && len(aus) > 0 {
		if err := s.handle(aus[:len(aus)-1], errs); err != nil {
			return err
		}
		s.em.tr.lost()
		s.em.damage(fmt.Errorf("last picture of a broken stream dropped (%v): %w", cause, errTruncated), clock.HostNow())
		return nil
	}
	return s.handle(aus, errs)
}

func (s *streamReader) handle(aus []AccessUnit, errs []error) error {
	for _, e := range errs {
		s.em.tr.lost()
		s.em.damage(e, clock.HostNow())
	}
	for _, au := range aus {
		if err := s.em.au(au, au.Arrival, s.latency, 0); err != nil {
			return err
		}
	}
	if k := s.sp.Skipped(); k > s.skipped {
		s.em.damage(fmt.Errorf("%d bytes outside any picture skipped: %w", k-s.skipped, errGarbage), clock.HostNow())
		s.skipped = k
	}
	return nil
}

var errGarbage = errors.New("bytes outside any picture")

// procGroup runs a command in its own process group. Cancelling the command's context
// sends SIGINT to the whole group (gst-launch -e and ffmpeg then finish their stream),
// and SIGKILL after the timeout; done kills what is left of the group once the
// command has been waited for.
type procGroup struct {
	cmd     *exec.Cmd
	timeout time.Duration
	mu      sync.Mutex  // guards kill
	kill    *time.Timer // the pending SIGKILL after a cancel
}

func newProcGroup(cmd *exec.Cmd, timeout time.Duration) *procGroup {
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	g := &procGroup{cmd: cmd, timeout: timeout}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = g.cancel
	return g
}

func (g *procGroup) cancel() error {
	pid := g.cmd.Process.Pid
	err := syscall.Kill(-pid, syscall.SIGINT)
	g.mu.Lock()
	g.kill = time.AfterFunc(g.timeout, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	g.mu.Unlock()
	return err
}

// stop kills the group now (a fatal error: no graceful end wanted).
func (g *procGroup) stop() { _ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL) }

// done is called after Wait: it stops the pending SIGKILL timer and kills children
// the leader left behind.
func (g *procGroup) done() {
	g.mu.Lock()
	if g.kill != nil {
		g.kill.Stop()
	}
	g.mu.Unlock()
	_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
}
