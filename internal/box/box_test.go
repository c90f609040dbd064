package box

import (
	"sync"
	"testing"
)

// Stores and loads from many goroutines: every load is a value some store made
// (run under -race, the test also shows the box needs no other lock).
func TestBoxConcurrent(t *testing.T) {
	type pair struct{ a, b int }
	var bx Box[pair]
	if got := bx.Load(); got != (pair{}) {
		t.Fatalf("zero box holds %v", got)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				bx.Store(pair{g*1000 + i, -(g*1000 + i)})
				if p := bx.Load(); p.a != -p.b {
					t.Errorf("torn value %v", p)
					return
				}
			}
		})
	}
	wg.Wait()
}
