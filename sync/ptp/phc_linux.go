package ptp

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"roadlog/sync/clock"
)

// PHC is an open PTP hardware clock device.
type PHC struct {
	f  *os.File
	id int32
}

// Open opens a PHC device such as /dev/ptp0 and checks that it is one.
func Open(path string) (*PHC, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open PHC: %w", err)
	}
	p := &PHC{f: f, id: ClockID(int(f.Fd()))}
	if _, err := p.Read(); err != nil {
		f.Close()
		return nil, fmt.Errorf("open PHC %s: %w", path, err)
	}
	return p, nil
}

// ClockID returns the PHC's dynamic clock id.
func (p *PHC) ClockID() int32 { return p.id }

// Caps returns the PHC's capabilities (PTP_CLOCK_GETCAPS).
func (p *PHC) Caps() (*unix.PtpClockCaps, error) {
	c, err := unix.IoctlPtpClockGetcaps(int(p.f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("get PHC caps: %w", err)
	}
	return c, nil
}

// Read reads the PHC between two host monotonic reads.
func (p *PHC) Read() (Reading, error) { return readClock(p.id) }

func readClock(id int32) (Reading, error) {
	var ts unix.Timespec
	b := clock.HostNow()
	if err := unix.ClockGettime(id, &ts); err != nil {
		return Reading{}, fmt.Errorf("read clock %d: %w", id, err)
	}
	a := clock.HostNow()
	return Reading{Before: b, PHC: ts.Nano(), After: a}, nil
}

// Close closes the device.
func (p *PHC) Close() error { return p.f.Close() }
