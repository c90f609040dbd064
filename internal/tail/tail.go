// Package tail keeps the end of what a process writes: the last bytes of a child's
// standard error, for the error that reports its failure.
package tail

import (
	"strings"
	"sync"
)

// Buffer keeps the last Max bytes written to it. It is safe for concurrent use
// (exec.Cmd writes a child's output from its own goroutine).
type Buffer struct {
	Max int

	mu sync.Mutex // guards b
	b  []byte
}

// Write keeps the last Max bytes of what was written so far.
func (t *Buffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.Max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.Max:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, spaces trimmed.
func (t *Buffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
