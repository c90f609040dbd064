package reference

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentRef: readers map their own monotone host times while edges and
// sentences discipline the clock; run with -race. Every reader's stream stays monotone.
func TestConcurrentRef(t *testing.T) {
	var now atomic.Int64
	now.Store(1e12)
	c := New(Config{EdgeJitter: 100, Start: fixed(t0*1e9 - 1e12 + 3e6), Now: now.Load})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			last := int64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := c.Ref(now.Load())
				if r < last {
					t.Error("a reader's reference time went backwards")
					return
				}
				last = r
			}
		})
	}
	for s := int64(0); s < 200; s++ {
		h := 1e12 + s*1e9 + s*20 // host 20 ppb slow... plus drift
		now.Store(h)
		c.Edge(Edge{Host: h, Seq: uint64(s + 1)})
		now.Store(h + 2e8)
		c.UTC(UTCTime{Host: h + 2e8, UTC: (t0 + s) * 1e9})
		c.Tick(h+2e8, nil)
	}
	close(stop)
	wg.Wait()
	if st := c.Status(now.Load()).State.String(); st != "locked" {
		t.Errorf("state %s", st)
	}
}

// BenchmarkRef reports the cost of mapping one host time (every sample of every
// source pays it), from one goroutine and from all.
func BenchmarkRef(b *testing.B) {
	now := int64(1e12)
	c := New(Config{EdgeJitter: 100, Start: fixed(t0*1e9 - now), Now: func() int64 { return now }})
	for s := int64(0); s < 100; s++ {
		now = 1e12 + s*1e9
		c.Edge(Edge{Host: now, Seq: uint64(s + 1)})
		now += 2e8
		c.UTC(UTCTime{Host: now, UTC: (t0 + s) * 1e9})
	}
	b.Run("goroutines=1", func(b *testing.B) {
		h := now - 5e8
		for b.Loop() {
			h++
			c.Ref(h)
		}
	})
	b.Run("goroutines=all", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			h := now - 5e8
			for pb.Next() {
				h++
				c.Ref(h)
			}
		})
	})
}
