package reference_test

import (
	"fmt"

	"roadlog/schema"
	"roadlog/sync/reference"
)

// offset is a starting timebase: host time plus a fixed offset.
type offset int64

func (o offset) Ref(h int64) int64 { return h + int64(o) }

// A GNSS source hands every PPS edge and every dated sentence to the clock; every
// other source stamps its samples with clock.Ref.
func Example() {
	const utc0 = int64(1796026500) * 1e9 // 2026-11-30T08:15:00Z
	host := int64(5000e9)                // the host's monotonic clock
	ref := reference.New(reference.Config{
		Start: offset(utc0 - host + 2e6), // the host's wall clock, 2 ms ahead
		Now:   func() int64 { return host },
	})
	var events []string
	sink := schema.SinkFunc(func(s schema.Sample) {
		if e, ok := s.(*schema.Event); ok && e.Code == schema.EvSyncState {
			events = append(events, e.Message)
		}
	})
	for s := int64(0); s < 10; s++ {
		edge := 5000e9 + s*1_000_000_020 // the host clock runs 20 ppb slow
		host = edge
		ref.Edge(reference.Edge{Host: edge, Seq: uint64(s + 1)})
		host = edge + 150e6 // the RMC dating this edge arrives 150 ms later
		ref.UTC(reference.UTCTime{Host: host, UTC: utc0 + s*1e9})
		ref.Tick(host, sink)
	}
	edge9 := int64(5000e9 + 9*1_000_000_020)
	fmt.Println(events)
	fmt.Println(ref.Status(host).State, ref.Ref(edge9)-(utc0+9e9), "ns off at the last edge")
	// Output:
	// [free_run→converging converging→locked]
	// locked 0 ns off at the last edge
}
