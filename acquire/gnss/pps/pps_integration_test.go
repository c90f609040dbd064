//go:build integration

package pps

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestLivePPS reads a real PPS device (ROADLOG_PPS_DEVICE, default /dev/pps0) for a
// few seconds: go test -tags integration -run TestLivePPS ./acquire/gnss/pps
func TestLivePPS(t *testing.T) {
	dev := os.Getenv("ROADLOG_PPS_DEVICE")
	if dev == "" {
		dev = "/dev/pps0"
	}
	if _, err := os.Stat(dev); err != nil {
		t.Skipf("no PPS device %s: %v", dev, err)
	}
	var edges []Edge
	src := &Source{Device: dev, OnEdge: func(e Edge) { edges = append(edges, e) }}
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	if err := src.Run(ctx, &sink{}); err != nil {
		t.Fatal(err)
	}
	if len(edges) < 2 {
		t.Fatalf("%d edges in 3.5 s", len(edges))
	}
	for i := 1; i < len(edges); i++ {
		if edges[i].Seq != edges[i-1].Seq+1 || edges[i].Host <= edges[i-1].Host || edges[i].Assert <= edges[i-1].Assert {
			t.Errorf("edge %d %+v after %+v", i, edges[i], edges[i-1])
		}
		t.Logf("edge %d: seq %d assert %s", i, edges[i].Seq, time.Unix(0, edges[i].Assert).UTC().Format(time.RFC3339Nano))
	}
}
