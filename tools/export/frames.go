package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"roadlog/record/drive"
	"roadlog/schema"
)

// frameCacheRows is how many frames rows an export keeps of segments it has read
// (about 128 bytes a row: 16 MiB, 18 minutes of 4 cameras at 30 fps).
const frameCacheRows = 1 << 17

// frameTable reads one segment's frames table: every row, in file order; a segment
// without the table has none (nil, nil). Drive.frames is the real one; tests count
// reads through their own.
type frameTable interface {
	segmentFrames(segDir string) ([]schema.Frame, error)
}

// arrowFrames reads frames.arrow.
type arrowFrames struct{}

func (arrowFrames) segmentFrames(seg string) ([]schema.Frame, error) {
	path := filepath.Join(seg, drive.TableFile(schema.TableFrames))
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var rows []schema.Frame
	if _, err := drive.ReadRows(path, schema.FramesTable, func(r *schema.Frame) error {
		rows = append(rows, *r)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read frames: %w", err)
	}
	return rows, nil
}

// frameCache holds the frames rows of the segments one export has read, so that a
// segment's table is read once however many clips, sub-windows, MP4 lead-ins and
// H.264 decoders of however many workers ask for it. It keeps at most max rows: when
// a read goes over, the least recently used segments go (a segment larger than max
// is kept alone). The rows it returns are shared: callers copy what they keep and
// never change them.
type frameCache struct {
	src frameTable
	max int

	mu   sync.Mutex // guards segs, rows and tick
	segs map[string]*frameSeg
	rows int    // rows of the segments in segs
	tick uint64 // counts gets, for least recently used
}

// frameSeg is one segment's rows; ready is closed once rows and err are set (by the
// first get, which reads while later gets of the segment wait).
type frameSeg struct {
	ready chan struct{}
	rows  []schema.Frame
	err   error
	used  uint64 // tick of the last get
}

func newFrameCache(src frameTable, maxRows int) *frameCache {
	return &frameCache{src: src, max: maxRows, segs: map[string]*frameSeg{}}
}

// get returns the frames rows of segment folder seg, in file order. A failed read is
// not kept: the next get tries again.
func (c *frameCache) get(ctx context.Context, seg string) ([]schema.Frame, error) {
	c.mu.Lock()
	c.tick++
	s, ok := c.segs[seg]
	if !ok {
		s = &frameSeg{ready: make(chan struct{})}
		c.segs[seg] = s
	}
	s.used = c.tick
	c.mu.Unlock()
	if !ok {
		c.load(seg, s)
	}
	select {
	case <-s.ready:
		return s.rows, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *frameCache) load(seg string, s *frameSeg) {
	rows, err := c.src.segmentFrames(seg)
	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(s.ready)
	if err != nil {
		s.err = err
		delete(c.segs, seg)
		return
	}
	s.rows = rows
	c.rows += len(rows)
	for c.rows > c.max {
		var old string
		var oldest *frameSeg
		for k, o := range c.segs {
			if o == s || !o.loaded() {
				continue
			}
			if oldest == nil || o.used < oldest.used {
				old, oldest = k, o
			}
		}
		if oldest == nil {
			return
		}
		delete(c.segs, old)
		c.rows -= len(oldest.rows)
	}
}

// loaded reports whether the segment's rows are in (its ready channel closed).
func (s *frameSeg) loaded() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}
