package devclock_test

import (
	"fmt"
	"time"

	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// A source with a device clock maps every sample's counter through its Clock; the
// reference timebase (here the host wall clock) does the rest.
func Example() {
	tb := clock.NewSystem()
	imu := devclock.New(devclock.Config{
		Name:    "imu",
		TickNS:  1000,    // a microsecond counter…
		Wrap:    1 << 32, // …of 32 bits
		Latency: 200 * time.Microsecond,
	}, tb)
	host := int64(1e12)
	var lastT int64
	for i := range int64(3000) { // 30 s at 100 Hz
		dev := (7_000_000 + i*10_000) % (1 << 32)                // device µs
		arrival := host + i*10_000_000 + 200_000 + (i%7)*300_000 // 0.2 ms latency + jitter
		lastT = imu.Observe(dev, arrival)
	}
	want := tb.Ref(host + 2999*10_000_000)
	fmt.Println(imu.Estimate(host+30e9).State, (lastT-want)/1000, "µs off")
	// Output: locked 0 µs off
}
