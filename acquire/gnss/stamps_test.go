package gnss

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"roadlog/schema"
)

// refClock is a reference timebase that states its own uncertainty, as the drive's
// reference clock does (+Inf: never disciplined).
type refClock struct {
	off int64
	unc float64
}

func (r refClock) Ref(h int64) int64         { return h + r.off }
func (r refClock) Uncertainty(int64) float64 { return r.unc }

// TestEpochTimes: an epoch's t is the receiver's time of fix while the reference is
// disciplined; otherwise the fix times are mapped as a device clock through the
// sentences' arrivals, which leaves the receiver's output latency in (it is not
// observable one way). The source publishes its sync rows as gnss/<name>.
func TestEpochTimes(t *testing.T) {
	const off = int64(1_796_026_500e9) - 5000e9 // reference minus host
	const latency = int64(80e6)                 // fix to sentence arrival, at least
	for _, tc := range []struct {
		name   string
		unc    float64
		lo, hi int64 // t − time of fix
		state  schema.SyncState
	}{
		{"disciplined", 2e3, 0, 0, schema.SyncPassthrough},
		{"free-running", math.Inf(1), latency - 1e6, latency + 5e6, schema.SyncLocked},
	} {
		var rows []*schema.GNSS
		var syncRows []*schema.SyncRow
		sink := schema.SinkFunc(func(x schema.Sample) {
			switch v := x.(type) {
			case *schema.GNSS:
				rows = append(rows, v)
			case *schema.SyncRow:
				syncRows = append(syncRows, v)
			}
		})
		p := newPipeline(Config{Name: "rx", Timebase: refClock{off, tc.unc}}, sink, nil)
		rng := rand.New(rand.NewPCG(1, 2))
		for s := int64(0); s < 60; s++ {
			fix := int64(1_796_026_500e9) + s*1e9
			host := fix - off + latency + rng.Int64N(10e6)
			utc := time.Unix(0, fix).UTC()
			line := withSum(fmt.Sprintf("$GPRMC,%02d%02d%02d.00,A,4807.038,N,01131.000,E,0.0,,%02d%02d%02d,,",
				utc.Hour(), utc.Minute(), utc.Second(), utc.Day(), int(utc.Month()), utc.Year()%100)) + "\r\n"
			p.feed([]byte(line), host)
			p.endEpoch()
		}
		if len(rows) != 60 {
			t.Fatalf("%s: %d rows", tc.name, len(rows))
		}
		for i, r := range rows[30:] {
			if d := r.T - r.TDevice; d < tc.lo || d > tc.hi {
				t.Errorf("%s: row %d: t − time of fix = %d ns, want [%d, %d]", tc.name, i+30, d, tc.lo, tc.hi)
			}
		}
		if n := len(syncRows); n < 55 || syncRows[n-1].Source != "gnss/rx" || syncRows[n-1].State != tc.state {
			t.Errorf("%s: %d sync rows, last %+v", tc.name, n, syncRows[n-1])
		}
	}
}
