// Package ptp reads a PTP hardware clock (/dev/ptpN, a NIC's clock synchronised by
// gPTP/ptp4l) as an optional reference for the drive's timebase. The kernel exposes a
// PHC as a dynamic POSIX clock: clock_gettime on the id made from the open file
// descriptor (ClockID). A Reader brackets each PHC read between two host monotonic
// reads; Discipline feeds the best bracket of a few into a reference.Clock as
// measurements. Twin is a software PHC for rigs (and tests) without one.
package ptp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"roadlog/sync/reference"
)

// clockFD is CLOCKFD from the kernel's include/linux/posix-timers.h: the low three
// bits of a dynamic clock id.
const clockFD = 3

// ClockID returns the dynamic POSIX clock id of an open PHC file descriptor: the
// kernel's FD_TO_CLOCKID, ((~fd) << 3) | CLOCKFD.
func ClockID(fd int) int32 { return int32((^fd)<<3) | clockFD }

// FD returns the file descriptor a dynamic clock id was made from: the kernel's
// CLOCKID_TO_FD, (unsigned) ~(clk >> 3).
func FD(id int32) int { return int(uint32(^(id >> 3))) }

// IsDynamic reports whether id is a dynamic (file-descriptor) clock id.
func IsDynamic(id int32) bool { return id < 0 && id&7 == clockFD }

// Reading is one PHC read bracketed by host monotonic reads.
type Reading struct {
	Before int64 // host CLOCK_MONOTONIC before, ns
	PHC    int64 // the PHC, ns since the epoch of its timescale (TAI for gPTP)
	After  int64 // host CLOCK_MONOTONIC after, ns
}

// Reader reads a PHC. *PHC (Linux) and *Twin implement it.
type Reader interface {
	Read() (Reading, error)
}

// ErrBadReading is returned by Measure when no read bracketed the PHC sanely.
var ErrBadReading = errors.New("no usable PHC reading")

// Best takes n readings and returns the one with the narrowest bracket.
func Best(r Reader, n int) (Reading, error) {
	var best Reading
	found := false
	var errs []error
	for range max(n, 1) {
		x, err := r.Read()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if x.After < x.Before || x.PHC <= 0 {
			continue
		}
		if !found || x.After-x.Before < best.After-best.Before {
			best, found = x, true
		}
	}
	if !found {
		return Reading{}, fmt.Errorf("read PHC: %w", errors.Join(append(errs, ErrBadReading)...))
	}
	return best, nil
}

// Measurement converts a reading into a reference measurement: the PHC at the
// bracket's midpoint, less utcOffset (TAI−UTC, 37 s since 2017, when the PHC keeps
// TAI as gPTP does), with the bracket's half-width as uniform error.
func Measurement(x Reading, utcOffset time.Duration) reference.Measurement {
	w := float64(x.After - x.Before)
	return reference.Measurement{
		Host:  x.Before + (x.After-x.Before)/2,
		Ref:   x.PHC - int64(utcOffset),
		Sigma: math.Max(w/2/math.Sqrt(3), 1),
	}
}

// Discipline is the loop that disciplines a reference clock by a PHC.
type Discipline struct {
	Reader    Reader
	Clock     *reference.Clock
	Interval  time.Duration // between measurements (default 1 s)
	Reads     int           // reads per measurement, the narrowest kept (default 5)
	UTCOffset time.Duration // PHC minus UTC (default 37 s: a TAI PHC; 0 if it keeps UTC: set Raw)
	Raw       bool          // the PHC keeps UTC: UTCOffset is 0
}

// Once takes one measurement.
func (d *Discipline) Once() error {
	x, err := Best(d.Reader, d.reads())
	if err != nil {
		return err
	}
	d.Clock.Measure(Measurement(x, d.offset()))
	return nil
}

func (d *Discipline) reads() int {
	if d.Reads <= 0 {
		return 5
	}
	return d.Reads
}

func (d *Discipline) offset() time.Duration {
	if d.Raw {
		return 0
	}
	if d.UTCOffset == 0 {
		return 37 * time.Second
	}
	return d.UTCOffset
}

// Run measures every Interval until ctx ends; a failed read is skipped (the clock
// goes to holdover when they keep failing) and the last error is returned with ctx's.
func (d *Discipline) Run(ctx context.Context) error {
	iv := d.Interval
	if iv <= 0 {
		iv = time.Second
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	var last error
	for {
		if err := d.Once(); err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-t.C:
		}
	}
}
