package pps

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RFC 2783 as Linux defines it (include/uapi/linux/pps.h). golang.org/x/sys/unix has
// the ioctl numbers and the structs but not the mode bits.
const (
	ppsAPIVers1      = 1
	ppsCaptureAssert = 0x01
	ppsCaptureClear  = 0x02
	ppsOffsetAssert  = 0x10
	ppsCanWait       = 0x100
	ppsCanPoll       = 0x200
	ppsTSFmtTSpec    = 0x1000
	ppsTimeInvalid   = 1 << 0
)

// kernelDevice is an open /dev/ppsN.
type kernelDevice struct {
	f       *os.File
	canWait bool
	last    uint32 // sequence number of the last edge returned (polling devices)
	polled  bool   // last is set
}

// open opens the device, checks that it captures assert edges, and turns assert
// capture with struct-timespec stamps on where the device allows writing.
func open(path string) (device, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	writable := err == nil
	if errors.Is(err, os.ErrPermission) {
		f, err = os.Open(path) // fetching needs read access only
	}
	if err != nil {
		return nil, err
	}
	d := &kernelDevice{f: f}
	var caps int32
	if err := d.ioctl(unix.PPS_GETCAP, unsafe.Pointer(&caps)); err != nil {
		f.Close()
		return nil, fmt.Errorf("get pps capabilities: %w", err)
	}
	if caps&ppsCaptureAssert == 0 {
		f.Close()
		return nil, ErrNoAssert
	}
	d.canWait = caps&ppsCanWait != 0
	var p unix.PPSKParams
	if err := d.ioctl(unix.PPS_GETPARAMS, unsafe.Pointer(&p)); err != nil {
		f.Close()
		return nil, fmt.Errorf("get pps parameters: %w", err)
	}
	if want := p.Mode | ppsCaptureAssert | ppsTSFmtTSpec; want != p.Mode && writable {
		p.Api_version = ppsAPIVers1
		p.Mode = want
		if err := d.ioctl(unix.PPS_SETPARAMS, unsafe.Pointer(&p)); err != nil {
			f.Close()
			return nil, fmt.Errorf("set pps parameters: %w", err)
		}
	}
	return d, nil
}

func (d *kernelDevice) ioctl(req uint, arg unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, d.f.Fd(), uintptr(req), uintptr(arg))
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return errno
	}
}

// fetch waits in the kernel for the next assert edge (PPS_FETCH with a timeout). A
// device that cannot wait is polled every 50 ms instead.
func (d *kernelDevice) fetch(timeout time.Duration) (uint32, int64, error) {
	if !d.canWait {
		return d.poll(timeout)
	}
	fd := fetchData(timeout)
	switch err := d.ioctl(unix.PPS_FETCH, unsafe.Pointer(&fd)); {
	case errors.Is(err, unix.ETIMEDOUT):
		return 0, 0, ErrTimeout
	case err != nil:
		return 0, 0, err
	}
	return fd.Info.Assert_sequence, ktimeNanos(fd.Info.Assert_tu), nil
}

func (d *kernelDevice) poll(timeout time.Duration) (uint32, int64, error) {
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		fd := fetchData(0)
		if err := d.ioctl(unix.PPS_FETCH, unsafe.Pointer(&fd)); err != nil {
			return 0, 0, err
		}
		seq := fd.Info.Assert_sequence
		if !d.polled {
			d.last, d.polled = seq, true // the edge already there when we opened is old
		} else if seq != d.last {
			d.last = seq
			return seq, ktimeNanos(fd.Info.Assert_tu), nil
		}
		if time.Since(start) >= timeout {
			return 0, 0, ErrTimeout
		}
	}
}

func (d *kernelDevice) close() error { return d.f.Close() }

// fetchData is a PPS_FETCH argument waiting at most timeout.
func fetchData(timeout time.Duration) unix.PPSFData {
	var fd unix.PPSFData
	fd.Timeout.Sec = int64(timeout / time.Second)
	fd.Timeout.Nsec = int32(timeout % time.Second)
	return fd
}

// ktimeNanos converts a kernel pps_ktime to ns since the Unix epoch (0 when the
// kernel marks it invalid).
func ktimeNanos(t unix.PPSKTime) int64 {
	if t.Flags&ppsTimeInvalid != 0 {
		return 0
	}
	return t.Sec*int64(time.Second) + int64(t.Nsec)
}
