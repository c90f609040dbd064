// Package box hands a value from the goroutine that updates it to readers on others.
package box

import "sync"

// Box holds a copy of a value (a source's counters) that one goroutine stores and
// others load. The zero Box holds T's zero value.
type Box[T any] struct {
	mu sync.Mutex // guards v
	v  T
}

// Store replaces the value with a copy of v.
func (b *Box[T]) Store(v T) {
	b.mu.Lock()
	b.v = v
	b.mu.Unlock()
}

// Load returns a copy of the value.
func (b *Box[T]) Load() T {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.v
}
