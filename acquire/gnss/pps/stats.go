package pps

import "sync"

// statsBox hands a Run's counters to readers on other goroutines.
type statsBox struct {
	mu sync.Mutex // guards s
	s  Stats
}

func (b *statsBox) store(s Stats) {
	b.mu.Lock()
	b.s = s
	b.mu.Unlock()
}

func (b *statsBox) load() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}
