// Package clock holds roadlog's time vocabulary: the host clocks, and the Timebase
// that maps host monotonic time onto a drive's reference time.
package clock

import (
	"time"

	"golang.org/x/sys/unix"
)

// HostNow returns the host's CLOCK_MONOTONIC in nanoseconds: the t_host of every row.
func HostNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// CLOCK_MONOTONIC cannot fail on Linux; keep a monotonic answer anyway.
		return int64(time.Since(processStart)) + processStartMono
	}
	return ts.Nano()
}

var processStart = time.Now()
var processStartMono = func() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}()

// Timebase maps host monotonic nanoseconds onto the drive's reference timebase
// (nanoseconds since the Unix epoch, UTC). Implementations are safe for concurrent use
// and never map a later host time to an earlier reference time.
type Timebase interface {
	Ref(host int64) int64
}

// System is the free-running timebase: the host's wall clock, read once at start and
// advanced by the monotonic clock, so that steps of the wall clock never make t jump.
type System struct {
	offset int64 // reference minus host monotonic
}

// NewSystem returns a System timebase anchored now.
func NewSystem() *System {
	h := HostNow()
	return &System{offset: time.Now().UnixNano() - h}
}

// Ref maps a host monotonic time to the reference.
func (s *System) Ref(host int64) int64 { return host + s.offset }

// Now returns the reference time now.
func (s *System) Now() int64 { return s.Ref(HostNow()) }
