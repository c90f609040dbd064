package ptp

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"roadlog/schema"
	"roadlog/sync/reference"
	"roadlog/sync/simclock"
)

// TestClockID pins the clock-id arithmetic to the kernel's macros
// (include/linux/posix-timers.h): FD_TO_CLOCKID(fd) = ((~(clockid_t)(fd)) << 3) | CLOCKFD,
// CLOCKID_TO_FD(clk) = ((unsigned int) ~((clk) >> 3)).
func TestClockID(t *testing.T) {
	cases := []struct {
		fd int
		id int32
	}{
		{0, -5},          // ~0 = -1; -1<<3 = -8; |3 = -5
		{3, -29},         // ~3 = -4; -32|3
		{4, -37},         // ~4 = -5; -40|3
		{1023, -8189},    // ~1023 = -1024; -8192|3
		{65535, -524285}, // ~65535 = -65536; -524288|3
	}
	for _, c := range cases {
		if got := ClockID(c.fd); got != c.id {
			t.Errorf("ClockID(%d) = %d, want %d", c.fd, got, c.id)
		}
		if got := FD(c.id); got != c.fd {
			t.Errorf("FD(%d) = %d, want %d", c.id, got, c.fd)
		}
		if !IsDynamic(c.id) {
			t.Errorf("IsDynamic(%d) = false", c.id)
		}
	}
	for _, id := range []int32{unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_TAI, -6 /* a CPU-time clock id */} {
		if IsDynamic(id) {
			t.Errorf("IsDynamic(%d) = true", id)
		}
	}
}

// TestKernelRejectsNonPHC: the kernel refuses a dynamic clock id made from a file
// that is no POSIX clock — the real call, the real error.
func TestKernelRejectsNonPHC(t *testing.T) {
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Skip("no /dev/null:", err)
	}
	defer f.Close()
	_, err = readClock(ClockID(int(f.Fd())))
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("clock_gettime on /dev/null's clock id: %v, want EINVAL", err)
	}
	if _, err := Open("/dev/null"); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Open(/dev/null) = %v, want EINVAL", err)
	}
	if _, err := Open("/dev/ptp-none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want not-exist", err)
	}
}

// TestTwinDisciplines: a reference clock disciplined by a PHC twin locks and tracks
// UTC to well under a microsecond.
func TestTwinDisciplines(t *testing.T) {
	const t0 = int64(1796026500) * 1e9
	host := &simclock.Oscillator{Origin: t0, Offset: 9000e9, DriftPPM: 42, Wander: 1, Seed: 1}
	phc := &simclock.Oscillator{Origin: t0, Offset: t0 + 37e9, Wander: 0.1, Seed: 2} // TAI, gPTP-disciplined
	truth := t0
	tw := &Twin{PHC: phc, Host: host, ReadTime: 1500, True: func() int64 { return truth }, Seed: 3}
	now := host.Read(truth)
	ref := reference.New(reference.Config{Start: offsetTB(t0 - now + 5e6), Now: func() int64 { return now }})
	d := &Discipline{Reader: tw, Clock: ref}
	var errs []float64
	for i := range 120 {
		truth = t0 + int64(i)*1e9
		now = host.Read(truth)
		if err := d.Once(); err != nil {
			t.Fatal(err)
		}
		truth += 5e5
		now = host.Read(truth)
		ref.Tick(now, nil)
		if i > 20 {
			for k := int64(0); k < 10; k++ {
				tt := truth + k*9e7
				errs = append(errs, math.Abs(float64(ref.Ref(host.Read(tt))-tt)))
			}
		}
	}
	slices.Sort(errs)
	p99 := errs[len(errs)*99/100]
	t.Logf("PHC twin: p99 error %.0f ns over %d samples", p99, len(errs))
	if st := ref.Status(now).State; st != schema.SyncLocked {
		t.Errorf("state %s, want locked", st)
	}
	if p99 > 1000 {
		t.Errorf("p99 error %.0f ns", p99)
	}
}

type offsetTB int64

func (o offsetTB) Ref(h int64) int64 { return h + int64(o) }

func TestBestRefusesGarbage(t *testing.T) {
	bad := readerFunc(func() (Reading, error) { return Reading{Before: 10, PHC: 5, After: 9}, nil })
	if _, err := Best(bad, 3); !errors.Is(err, ErrBadReading) {
		t.Errorf("Best(bad) = %v", err)
	}
	m := Measurement(Reading{Before: 100, PHC: 50e9, After: 300}, 37*time.Second)
	if m.Host != 200 || m.Ref != 13e9 {
		t.Errorf("Measurement = %+v", m)
	}
}

type readerFunc func() (Reading, error)

func (f readerFunc) Read() (Reading, error) { return f() }
