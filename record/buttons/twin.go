package buttons

import (
	"errors"
	"fmt"
	"io"
	gosync "sync"
	"time"
)

// Errors of the twin, as the kernel would answer.
var (
	ErrLineBusy      = errors.New("GPIO line already requested") // EBUSY
	ErrInvalidOffset = errors.New("invalid GPIO line offset")    // EINVAL
	ErrLineClosed    = errors.New("GPIO line closed")
)

// Twin is the software twin of a GPIO chip: something (a test, a bench setup with no
// GPIO) drives its inputs with Set, Press and Release, and reads its outputs. It
// reports every level change as an edge, bounce included, as a kernel without
// debounce support does (uAPI v1), with the timestamps it is given, in order.
type Twin struct {
	mu      gosync.Mutex // guards all
	watch   map[int]func(Edge)
	level   map[int]bool
	seq     map[int]uint32
	outputs map[int]*twinOutput
}

// NewTwin returns a chip with every input released.
func NewTwin() *Twin {
	return &Twin{watch: map[int]func(Edge){}, level: map[int]bool{}, seq: map[int]uint32{}, outputs: map[int]*twinOutput{}}
}

// WatchButton implements Lines.
func (t *Twin) WatchButton(offset int, debounce time.Duration, fn func(Edge)) (io.Closer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.free(offset); err != nil {
		return nil, err
	}
	t.watch[offset] = fn
	return closerFunc(func() error {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.watch, offset)
		return nil
	}), nil
}

// Output implements Lines.
func (t *Twin) Output(offset int, initial int) (Output, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.free(offset); err != nil {
		return nil, err
	}
	o := &twinOutput{t: t, offset: offset, values: []int{initial}}
	t.outputs[offset] = o
	return o, nil
}

func (t *Twin) free(offset int) error {
	if offset < 0 {
		return fmt.Errorf("line %d: %w", offset, ErrInvalidOffset)
	}
	if _, ok := t.watch[offset]; ok {
		return fmt.Errorf("line %d: %w", offset, ErrLineBusy)
	}
	if o, ok := t.outputs[offset]; ok && !o.closed {
		return fmt.Errorf("line %d: %w", offset, ErrLineBusy)
	}
	return nil
}

// Set drives input offset to pressed at time at; a change of level is reported to
// the line's watcher, if any.
func (t *Twin) Set(offset int, pressed bool, at time.Duration) {
	t.mu.Lock()
	if t.level[offset] == pressed {
		t.mu.Unlock()
		return
	}
	t.level[offset] = pressed
	t.seq[offset]++
	fn := t.watch[offset]
	e := Edge{Offset: offset, Pressed: pressed, At: at, Seq: t.seq[offset]}
	t.mu.Unlock()
	if fn != nil {
		fn(e)
	}
}

// Press presses the button on offset at time at.
func (t *Twin) Press(offset int, at time.Duration) { t.Set(offset, true, at) }

// Release releases it.
func (t *Twin) Release(offset int, at time.Duration) { t.Set(offset, false, at) }

// Values returns the values output offset was driven to, in order (the first is
// the initial value), and whether it is still requested.
func (t *Twin) Values(offset int) (values []int, open bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.outputs[offset]
	if !ok {
		return nil, false
	}
	return append([]int(nil), o.values...), !o.closed
}

type twinOutput struct {
	t      *Twin
	offset int
	values []int // guarded by t.mu
	closed bool
}

func (o *twinOutput) SetValue(v int) error {
	o.t.mu.Lock()
	defer o.t.mu.Unlock()
	if o.closed {
		return fmt.Errorf("set line %d: %w", o.offset, ErrLineClosed)
	}
	o.values = append(o.values, v)
	return nil
}

func (o *twinOutput) Close() error {
	o.t.mu.Lock()
	defer o.t.mu.Unlock()
	o.closed = true
	return nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
