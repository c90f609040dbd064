package record

import (
	"context"
	"errors"
	gosync "sync"
	"testing"
	"time"

	"roadlog/schema"
)

type flakySource struct {
	mu    gosync.Mutex
	runs  int
	fails int
}

func (f *flakySource) Run(ctx context.Context, sink schema.Sink) error {
	f.mu.Lock()
	f.runs++
	n := f.runs
	f.mu.Unlock()
	if n <= f.fails {
		return errors.New("port vanished")
	}
	<-ctx.Done()
	return nil
}

func TestSupervisorRestartsAndRecordsOutages(t *testing.T) {
	var mu gosync.Mutex
	var evs []*schema.Event
	sink := schema.SinkFunc(func(s schema.Sample) {
		if ev, ok := s.(*schema.Event); ok {
			mu.Lock()
			evs = append(evs, ev)
			mu.Unlock()
		}
	})
	src := &flakySource{fails: 2}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&Supervisor{Sink: sink, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}).Run(ctx, "gnss0", src)
		close(done)
	}()
	for {
		src.mu.Lock()
		n := src.runs
		src.mu.Unlock()
		if n >= 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	var codes []schema.EventCode
	for _, e := range evs {
		codes = append(codes, e.Code)
		if e.Source != "gnss0" {
			t.Fatalf("event source %q", e.Source)
		}
	}
	want := []schema.EventCode{schema.EvSourceError, schema.EvSourceDown, schema.EvSourceUp, schema.EvSourceError, schema.EvSourceDown, schema.EvSourceUp}
	if len(codes) != len(want) {
		t.Fatalf("events %v, want %v", codes, want)
	}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("events %v, want %v", codes, want)
		}
	}
	if up := evs[2]; up.TFirst == 0 || up.TLast < up.TFirst {
		t.Fatalf("source_up outage span %d..%d", up.TFirst, up.TLast)
	}
}

func TestSupervisorStopsFinishedSource(t *testing.T) {
	src := SourceFunc(func(ctx context.Context, sink schema.Sink) error { return ErrFinished })
	done := make(chan struct{})
	go func() {
		(&Supervisor{Sink: schema.SinkFunc(func(schema.Sample) {})}).Run(context.Background(), "file", src)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a finished source was restarted")
	}
}
