//go:build linux && (amd64 || arm64)

package pps

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioc is the kernel's _IOC macro (include/uapi/asm-generic/ioctl.h).
func ioc(dir, typ, nr, size uintptr) uint { return uint(dir<<30 | size<<16 | typ<<8 | nr) }

// TestIoctlNumbers derives the PPS ioctl numbers the way linux/pps.h does: the
// argument type there is a pointer (struct pps_kparams *), so the size field is the
// size of a pointer, not of the struct.
func TestIoctlNumbers(t *testing.T) {
	const read, write = 2, 1
	ptr := unsafe.Sizeof(uintptr(0))
	for _, tc := range []struct {
		name      string
		got, want uint
		literal   uint
	}{
		{"PPS_GETPARAMS", unix.PPS_GETPARAMS, ioc(read, 'p', 0xa1, ptr), 0x800870a1},
		{"PPS_SETPARAMS", unix.PPS_SETPARAMS, ioc(write, 'p', 0xa2, ptr), 0x400870a2},
		{"PPS_GETCAP", unix.PPS_GETCAP, ioc(read, 'p', 0xa3, ptr), 0x800870a3},
		{"PPS_FETCH", unix.PPS_FETCH, ioc(read|write, 'p', 0xa4, ptr), 0xc00870a4},
	} {
		if tc.got != tc.want || tc.got != tc.literal {
			t.Errorf("%s = %#x, _IOC gives %#x, linux/pps.h on 64-bit gives %#x", tc.name, tc.got, tc.want, tc.literal)
		}
	}
}

// TestModeBits pins the mode bits to linux/pps.h.
func TestModeBits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"PPS_API_VERS_1", ppsAPIVers1, 1}, {"PPS_CAPTUREASSERT", ppsCaptureAssert, 0x01},
		{"PPS_CAPTURECLEAR", ppsCaptureClear, 0x02}, {"PPS_OFFSETASSERT", ppsOffsetAssert, 0x10},
		{"PPS_CANWAIT", ppsCanWait, 0x100}, {"PPS_CANPOLL", ppsCanPoll, 0x200},
		{"PPS_TSFMT_TSPEC", ppsTSFmtTSpec, 0x1000}, {"PPS_TIME_INVALID", ppsTimeInvalid, 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

// TestStructLayout checks sizes and offsets against the C structs:
//
//	struct pps_ktime  { __s64 sec; __s32 nsec; __u32 flags; };                  16 bytes
//	struct pps_kinfo  { __u32 assert_sequence, clear_sequence;
//	                    struct pps_ktime assert_tu, clear_tu; int current_mode; } 48 (44 + tail padding)
//	struct pps_fdata  { struct pps_kinfo info; struct pps_ktime timeout; };      64
//	struct pps_kparams{ int api_version, mode;
//	                    struct pps_ktime assert_off_tu, clear_off_tu; };        40
func TestStructLayout(t *testing.T) {
	var k unix.PPSKTime
	var i unix.PPSKInfo
	var f unix.PPSFData
	var p unix.PPSKParams
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof pps_ktime", unsafe.Sizeof(k), 16},
		{"pps_ktime.nsec", unsafe.Offsetof(k.Nsec), 8},
		{"pps_ktime.flags", unsafe.Offsetof(k.Flags), 12},
		{"sizeof pps_kinfo", unsafe.Sizeof(i), 48},
		{"pps_kinfo.clear_sequence", unsafe.Offsetof(i.Clear_sequence), 4},
		{"pps_kinfo.assert_tu", unsafe.Offsetof(i.Assert_tu), 8},
		{"pps_kinfo.clear_tu", unsafe.Offsetof(i.Clear_tu), 24},
		{"pps_kinfo.current_mode", unsafe.Offsetof(i.Current_mode), 40},
		{"sizeof pps_fdata", unsafe.Sizeof(f), 64},
		{"pps_fdata.timeout", unsafe.Offsetof(f.Timeout), 48},
		{"sizeof pps_kparams", unsafe.Sizeof(p), 40},
		{"pps_kparams.mode", unsafe.Offsetof(p.Mode), 4},
		{"pps_kparams.assert_off_tu", unsafe.Offsetof(p.Assert_off_tu), 8},
		{"pps_kparams.clear_off_tu", unsafe.Offsetof(p.Clear_off_tu), 24},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// TestFetchDataBytes compares, byte for byte, a PPS_FETCH argument as this package
// builds it and the kernel's answer as it would lay it out, with the C layout written
// out by hand in little-endian order.
func TestFetchDataBytes(t *testing.T) {
	fd := fetchData(1500 * time.Millisecond)
	fd.Info = unix.PPSKInfo{
		Assert_sequence: 0x01020304,
		Clear_sequence:  0x05060708,
		Assert_tu:       unix.PPSKTime{Sec: 1764500000, Nsec: 123456789},
		Clear_tu:        unix.PPSKTime{Sec: -1, Nsec: 1, Flags: ppsTimeInvalid},
		Current_mode:    ppsCaptureAssert | ppsTSFmtTSpec | ppsCanWait,
	}
	var want bytes.Buffer
	le := func(v any) { binary.Write(&want, binary.LittleEndian, v) }
	le(uint32(0x01020304))
	le(uint32(0x05060708))
	le(int64(1764500000))
	le(int32(123456789))
	le(uint32(0))
	le(int64(-1))
	le(int32(1))
	le(uint32(1))
	le(int32(0x1101))
	le(uint32(0)) // tail padding of pps_kinfo
	le(int64(1))  // timeout.sec
	le(int32(500000000))
	le(uint32(0)) // timeout.flags: a valid timeout
	got := unsafe.Slice((*byte)(unsafe.Pointer(&fd)), unsafe.Sizeof(fd))
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("PPS_FETCH argument:\n got % x\nwant % x", got, want.Bytes())
	}
	if n := ktimeNanos(fd.Info.Assert_tu); n != 1764500000123456789 {
		t.Errorf("assert time %d", n)
	}
	if n := ktimeNanos(fd.Info.Clear_tu); n != 0 {
		t.Errorf("invalid time read as %d", n)
	}
}

func TestKParamsBytes(t *testing.T) {
	p := unix.PPSKParams{Api_version: ppsAPIVers1, Mode: ppsCaptureAssert | ppsTSFmtTSpec,
		Assert_off_tu: unix.PPSKTime{Sec: 0, Nsec: -250}}
	var want bytes.Buffer
	for _, v := range []any{int32(1), int32(0x1001), int64(0), int32(-250), uint32(0), int64(0), int32(0), uint32(0)} {
		binary.Write(&want, binary.LittleEndian, v)
	}
	if got := unsafe.Slice((*byte)(unsafe.Pointer(&p)), unsafe.Sizeof(p)); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("PPS_SETPARAMS argument:\n got % x\nwant % x", got, want.Bytes())
	}
}
