package pps

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/schema"
	"roadlog/sync/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sink struct {
	mu     sync.Mutex // guards events
	events []*schema.Event
}

func (s *sink) Publish(x schema.Sample) {
	if e, ok := x.(*schema.Event); ok {
		s.mu.Lock()
		s.events = append(s.events, e)
		s.mu.Unlock()
	}
}

// script is a device that replays fetch results, then fails.
type script struct {
	steps []step
	i     int
}

type step struct {
	seq    uint32
	assert int64
	err    error
}

var errGone = errors.New("device gone")

func (s *script) fetch(time.Duration) (uint32, int64, error) {
	if s.i == len(s.steps) {
		return 0, 0, errGone
	}
	st := s.steps[s.i]
	s.i++
	if st.err == nil {
		st.assert = time.Now().UnixNano() // an edge that just happened
	}
	return st.seq, st.assert, st.err
}

func (s *script) close() error { return nil }

// TestLoop runs the edge loop over a scripted device: a clean run, a gap of two pulses,
// a repeated edge, an outage and a failure.
func TestLoop(t *testing.T) {
	sec := int64(time.Second)
	d := &script{steps: []step{
		{err: ErrTimeout}, // before the first edge
		{seq: 10, assert: 100 * sec}, {seq: 11, assert: 101 * sec},
		{seq: 11, assert: 101 * sec},         // the same edge again
		{seq: 14, assert: 104 * sec},         // 12 and 13 missed
		{err: ErrTimeout}, {err: ErrTimeout}, // outage
		{seq: 17, assert: 107 * sec},
	}}
	var edges []Edge
	src := &Source{Device: "/dev/pps9", OnEdge: func(e Edge) { edges = append(edges, e) }}
	s := &sink{}
	err := src.loop(context.Background(), d, "pps", s)
	if !errors.Is(err, errGone) {
		t.Fatalf("loop: %v, want the device's error", err)
	}
	var seqs []uint32
	for i, e := range edges {
		seqs = append(seqs, e.Seq)
		if e.Device != "/dev/pps9" || i > 0 && (e.Assert < edges[i-1].Assert || e.Host < edges[i-1].Host) {
			t.Errorf("edge %+v", e)
		}
	}
	if len(seqs) != 4 || seqs[0] != 10 || seqs[1] != 11 || seqs[2] != 14 || seqs[3] != 17 {
		t.Errorf("edges %v", seqs)
	}
	st := src.Stats()
	if st.Edges != 4 || st.Timeouts != 3 || st.Missed != 2+2+2 || st.LastSeq != 17 {
		t.Errorf("stats %+v", st)
	}
	var msgs []string
	for _, e := range s.events {
		if e.Code != schema.EvPPSMissing || e.Source != "pps" {
			t.Errorf("event %+v", e)
		}
		msgs = append(msgs, e.Message)
	}
	want := []string{"no pps edge yet", "resumed", "2 pps pulses missed (sequence 14 after 11)", "pps edges stopped",
		"2 pps pulses missed (sequence 17 after 14)", "resumed"}
	if len(msgs) != len(want) {
		t.Fatalf("events %q", msgs)
	}
	for i := range want {
		if want[i] == "resumed" {
			if !strings.HasPrefix(msgs[i], "pps edges resumed after ") || strings.Contains(msgs[i], "-") {
				t.Errorf("event %d: %q", i, msgs[i])
			}
		} else if msgs[i] != want[i] {
			t.Errorf("event %d: %q, want %q", i, msgs[i], want[i])
		}
	}
}

func TestOpenErrors(t *testing.T) {
	if err := (&Source{Device: "/nonexistent/pps0"}).Run(context.Background(), &sink{}); err == nil {
		t.Error("no error for a missing device")
	}
	// /dev/null is no PPS device: PPS_GETCAP fails.
	if err := (&Source{Device: "/dev/null"}).Run(context.Background(), &sink{}); err == nil {
		t.Error("no error for /dev/null")
	} else {
		t.Logf("/dev/null: %v", err)
	}
}

func TestTwin(t *testing.T) {
	tb := clock.NewSystem()
	edges := make(chan Edge, 100)
	tw := &Twin{Period: 20 * time.Millisecond, Timebase: tb, OnEdge: func(e Edge) { edges <- e }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tw.Run(ctx, &sink{}) }()
	var got []Edge
	for len(got) < 5 {
		got = append(got, <-edges)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	period := int64(20 * time.Millisecond)
	for i, e := range got {
		if e.Seq != uint32(i+1) || e.Assert%period != 0 || e.Device != "twin" {
			t.Errorf("edge %d: %+v", i, e)
		}
		if tb.Ref(e.Host) != e.Assert {
			t.Errorf("edge %d: host %d maps to %d, not to the edge %d", i, e.Host, tb.Ref(e.Host), e.Assert)
		}
		if i > 0 && (e.Assert-got[i-1].Assert)%period != 0 {
			t.Errorf("edge %d not on the period grid", i)
		}
	}
	if st := tw.Stats(); st.Edges < 5 {
		t.Errorf("stats %+v", st)
	}
}
