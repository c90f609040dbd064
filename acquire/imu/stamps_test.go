package imu

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"roadlog/schema"
	"roadlog/sync/clock"
)

// rowSink keeps IMU rows and sync rows.
type rowSink struct {
	mu   sync.Mutex // guards below
	imu  []*schema.IMU
	sync []*schema.SyncRow
}

func (s *rowSink) Publish(x schema.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch v := x.(type) {
	case *schema.IMU:
		s.imu = append(s.imu, v)
	case *schema.SyncRow:
		s.sync = append(s.sync, v)
	}
}

// TestIIOTimestampClocks: an IIO device whose timestamp clock can be set to monotonic
// is passed through as it stands; one without current_timestamp_clock (kernels before
// 4.10) stamps CLOCK_REALTIME, which is converted to the monotonic clock first. Either
// way the rows' t never decreases and the source publishes sync rows as imu/<name>.
func TestIIOTimestampClocks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		clockFile bool
		tol       int64 // ns
	}{
		{"monotonic", true, 5e3}, // float64 seconds in the fake record: good to about a µs
		// the system timebase read CLOCK_REALTIME − CLOCK_MONOTONIC once; the
		// conversion reads it now (NTP may have slewed it a little since)
		{"realtime", false, 1e6},
	} {
		t.Run("clock="+tc.name, func(t *testing.T) {
			fake := newFakeIIO(t)
			if !tc.clockFile {
				os.Remove(filepath.Join(fake.dir, "current_timestamp_clock"))
			}
			w, err := os.OpenFile(fake.node, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			tb := clock.NewSystem()
			src := &IIO{Device: "bmi088_accel", Name: "bmi", Timebase: tb, SysfsRoot: fake.root, DevDir: fake.dev}
			sink := &rowSink{}
			done := make(chan error, 1)
			go func() { done <- src.Run(context.Background(), sink) }()
			// the kernel's stamps, 2.5 ms apart, on the clock the device uses
			host := clock.HostNow() - 1e9
			stamp := host
			if !tc.clockFile {
				stamp = tb.Ref(host) // CLOCK_REALTIME, as near as the system timebase knows it
			}
			const n = 200
			var all []byte
			for i := range int64(n) {
				all = append(all, record(imuSample{t: float64(stamp+i*2_500_000) / 1e9}, 0)...)
			}
			w.Write(all)
			waitFor(t, "every sample", func() bool { return src.Stats().Samples == n })
			w.Close()
			<-done
			if len(sink.imu) != n {
				t.Fatalf("%d rows", len(sink.imu))
			}
			for i, r := range sink.imu {
				want := tb.Ref(host + int64(i)*2_500_000)
				if d := r.T - want; d > tc.tol || d < -tc.tol || (i > 0 && r.T < sink.imu[i-1].T) {
					t.Fatalf("row %d: t %d, want %d (Δ %d ns)", i, r.T, want, d)
				}
			}
			if len(sink.sync) == 0 || sink.sync[0].Source != "imu/bmi" || sink.sync[0].State != schema.SyncPassthrough {
				t.Errorf("sync rows %+v", sink.sync)
			}
		})
	}
}
