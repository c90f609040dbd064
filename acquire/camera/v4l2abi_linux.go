package camera

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The V4L2 kernel ABI (linux/videodev2.h), written out for the ioctls the capture
// source uses. golang.org/x/sys/unix has no V4L2 definitions, and go4vl needs cgo
// against a matching header, so the structs are declared here; v4l2abi_linux_test.go
// checks every size, offset and request number against the C header with gcc.

// ioctl request encoding (asm-generic/ioctl.h).
const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2
)

// V4L2 ioctl requests: dir<<30 | size<<16 | type<<8 | nr.
const (
	vidiocQuerycap  = (iocRead)<<30 | unsafe.Sizeof(v4l2Capability{})<<16 | 'V'<<8 | 0
	vidiocEnumFmt   = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Fmtdesc{})<<16 | 'V'<<8 | 2
	vidiocGFmt      = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Format{})<<16 | 'V'<<8 | 4
	vidiocSFmt      = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Format{})<<16 | 'V'<<8 | 5
	vidiocReqbufs   = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Requestbuffers{})<<16 | 'V'<<8 | 8
	vidiocQuerybuf  = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Buffer{})<<16 | 'V'<<8 | 9
	vidiocQbuf      = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Buffer{})<<16 | 'V'<<8 | 15
	vidiocDqbuf     = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Buffer{})<<16 | 'V'<<8 | 17
	vidiocStreamon  = (iocWrite)<<30 | unsafe.Sizeof(int32(0))<<16 | 'V'<<8 | 18
	vidiocStreamoff = (iocWrite)<<30 | unsafe.Sizeof(int32(0))<<16 | 'V'<<8 | 19
	vidiocGParm     = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Streamparm{})<<16 | 'V'<<8 | 21
	vidiocSParm     = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Streamparm{})<<16 | 'V'<<8 | 22
	vidiocGCtrl     = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Control{})<<16 | 'V'<<8 | 27
	vidiocSCtrl     = (iocRead|iocWrite)<<30 | unsafe.Sizeof(v4l2Control{})<<16 | 'V'<<8 | 28
)

// Constants of videodev2.h.
const (
	v4l2BufTypeVideoCapture = 1
	v4l2MemoryMmap          = 1
	v4l2FieldNone           = 1
	v4l2CapVideoCapture     = 0x00000001
	v4l2CapStreaming        = 0x04000000
	v4l2CapDeviceCaps       = 0x80000000
	v4l2BufFlagError        = 0x00000040
	v4l2BufFlagTsMask       = 0x0000e000
	v4l2BufFlagTsMonotonic  = 0x00002000
	v4l2CapTimeperframe     = 0x1000
)

// Standard control ids.
const (
	CIDExposureAuto     = 0x009a0901 // V4L2_CID_EXPOSURE_AUTO (1: manual)
	CIDExposureAbsolute = 0x009a0902 // V4L2_CID_EXPOSURE_ABSOLUTE, units of 100 µs
	CIDGain             = 0x00980913 // V4L2_CID_GAIN
)

// V4L2 pixel formats the source takes (fourcc codes, first letter lowest).
const (
	v4l2PixMJPEG = 'M' | 'J'<<8 | 'P'<<16 | 'G'<<24
	v4l2PixJPEG  = 'J' | 'P'<<8 | 'E'<<16 | 'G'<<24
	v4l2PixYUYV  = 'Y' | 'U'<<8 | 'Y'<<16 | 'V'<<24
	v4l2PixUYVY  = 'U' | 'Y'<<8 | 'V'<<16 | 'Y'<<24
	v4l2PixNV12  = 'N' | 'V'<<8 | '1'<<16 | '2'<<24
	v4l2PixH264  = 'H' | '2'<<8 | '6'<<16 | '4'<<24
)

type v4l2Capability struct {
	Driver       [16]uint8
	Card         [32]uint8
	BusInfo      [32]uint8
	Version      uint32
	Capabilities uint32
	DeviceCaps   uint32
	Reserved     [3]uint32
}

type v4l2Fmtdesc struct {
	Index       uint32
	Type        uint32
	Flags       uint32
	Description [32]uint8
	Pixelformat uint32
	MbusCode    uint32
	Reserved    [3]uint32
}

type v4l2PixFormat struct {
	Width        uint32
	Height       uint32
	Pixelformat  uint32
	Field        uint32
	Bytesperline uint32
	Sizeimage    uint32
	Colorspace   uint32
	Priv         uint32
	Flags        uint32
	YcbcrEnc     uint32
	Quantization uint32
	XferFunc     uint32
}

// v4l2Format is struct v4l2_format: the union is 200 bytes, 8-aligned (it holds
// pointers in struct v4l2_window).
type v4l2Format struct {
	Type uint32
	_    uint32
	Fmt  [200]byte
}

func (f *v4l2Format) pix() *v4l2PixFormat { return (*v4l2PixFormat)(unsafe.Pointer(&f.Fmt[0])) }

type v4l2Requestbuffers struct {
	Count        uint32
	Type         uint32
	Memory       uint32
	Capabilities uint32
	Flags        uint8
	Reserved     [3]uint8
}

type v4l2Timecode struct {
	Type     uint32
	Flags    uint32
	Frames   uint8
	Seconds  uint8
	Minutes  uint8
	Hours    uint8
	Userbits [4]uint8
}

type v4l2Buffer struct {
	Index     uint32
	Type      uint32
	Bytesused uint32
	Flags     uint32
	Field     uint32
	_         uint32
	Timestamp unix.Timeval
	Timecode  v4l2Timecode
	Sequence  uint32
	Memory    uint32
	M         uint64 // union: offset (u32) for MMAP, userptr, planes, fd
	Length    uint32
	Reserved2 uint32
	RequestFD int32
	_         uint32
}

func (b *v4l2Buffer) offset() uint32 { return uint32(b.M) } // little-endian: the u32 member

type v4l2Fract struct {
	Numerator   uint32
	Denominator uint32
}

type v4l2Captureparm struct {
	Capability   uint32
	Capturemode  uint32
	Timeperframe v4l2Fract
	Extendedmode uint32
	Readbuffers  uint32
	Reserved     [4]uint32
}

type v4l2Streamparm struct {
	Type uint32
	Parm [200]byte
}

func (p *v4l2Streamparm) capture() *v4l2Captureparm {
	return (*v4l2Captureparm)(unsafe.Pointer(&p.Parm[0]))
}

type v4l2Control struct {
	ID    uint32
	Value int32
}

// device is what the capture source needs of a V4L2 device: ioctls, buffer mapping
// and waiting for a filled buffer. devFile is the kernel's; the software twin in the
// tests implements the same ioctls in memory.
type device interface {
	ioctl(req uintptr, arg unsafe.Pointer) error
	mmap(offset int64, length int) ([]byte, error)
	munmap(b []byte) error
	// wait blocks until a buffer can be dequeued or timeout passes (false).
	wait(timeout time.Duration) (bool, error)
	close() error
}

// devFile is an opened /dev/videoN.
type devFile struct{ fd int }

func openDevice(path string) (device, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &devFile{fd: fd}, nil
}

func (d *devFile) ioctl(req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), req, uintptr(arg))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

func (d *devFile) mmap(offset int64, length int) ([]byte, error) {
	return unix.Mmap(d.fd, offset, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func (d *devFile) munmap(b []byte) error { return unix.Munmap(b) }

func (d *devFile) wait(timeout time.Duration) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(d.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(timeout/time.Millisecond))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, err
		}
		if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			return false, fmt.Errorf("poll: device error (revents 0x%x): %w", fds[0].Revents, unix.EIO)
		}
		return n > 0, nil
	}
}

func (d *devFile) close() error { return unix.Close(d.fd) }
