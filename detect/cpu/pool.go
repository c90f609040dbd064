package cpu

import (
	"sync"
	"sync/atomic"
)

// task is work split into n independent chunks; do runs chunk i on worker w (0 is the
// caller's goroutine). Tasks are preallocated step structs, so dispatch allocates nothing.
type task interface {
	do(w, i int)
}

// pool runs tasks on a fixed set of goroutines plus the caller. One owner (the engine's
// Run) uses it at a time.
type pool struct {
	workers int
	start   []chan *job
	done    sync.WaitGroup // worker goroutines, for Close
	job     job
}

type job struct {
	t    task
	n    int64
	next atomic.Int64
	wg   sync.WaitGroup
}

func newPool(workers int) *pool {
	p := &pool{workers: max(workers, 1)}
	for w := 1; w < p.workers; w++ {
		ch := make(chan *job)
		p.start = append(p.start, ch)
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			for j := range ch {
				j.work(w)
				j.wg.Done()
			}
		}()
	}
	return p
}

func (j *job) work(w int) {
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		j.t.do(w, int(i))
	}
}

// run executes chunks 0..n-1 of t across the pool and returns when all are done.
func (p *pool) run(t task, n int) {
	if n <= 0 {
		return
	}
	if n == 1 || p.workers == 1 {
		for i := 0; i < n; i++ {
			t.do(0, i)
		}
		return
	}
	j := &p.job
	j.t, j.n = t, int64(n)
	j.next.Store(0)
	helpers := min(p.workers-1, n-1)
	j.wg.Add(helpers)
	for w := 0; w < helpers; w++ {
		p.start[w] <- j
	}
	j.work(0)
	j.wg.Wait()
	j.t = nil
}

// close stops the worker goroutines and waits for them.
func (p *pool) close() {
	for _, ch := range p.start {
		close(ch)
	}
	p.start = nil
	p.done.Wait()
}
