package camera

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// abiProgram prints, from linux/videodev2.h, every size, offset, request number and
// constant the Go declarations in v4l2abi_linux.go mirror, as "name value" lines.
const abiProgram = `
#include <stdio.h>
#include <stddef.h>
#include <linux/videodev2.h>
#define S(t) printf("sizeof_%s %zu\n", #t, sizeof(struct t));
#define O(t, f) printf("offsetof_%s_%s %zu\n", #t, #f, offsetof(struct t, f));
#define C(c) printf("%s %lu\n", #c, (unsigned long)(c));
int main(void) {
	S(v4l2_capability) O(v4l2_capability, version) O(v4l2_capability, capabilities) O(v4l2_capability, device_caps)
	S(v4l2_fmtdesc) O(v4l2_fmtdesc, description) O(v4l2_fmtdesc, pixelformat) O(v4l2_fmtdesc, mbus_code)
	S(v4l2_format) O(v4l2_format, fmt)
	S(v4l2_pix_format) O(v4l2_pix_format, pixelformat) O(v4l2_pix_format, bytesperline) O(v4l2_pix_format, sizeimage) O(v4l2_pix_format, xfer_func)
	S(v4l2_requestbuffers) O(v4l2_requestbuffers, capabilities) O(v4l2_requestbuffers, flags)
	S(v4l2_buffer) O(v4l2_buffer, field) O(v4l2_buffer, timestamp) O(v4l2_buffer, timecode) O(v4l2_buffer, sequence)
	O(v4l2_buffer, memory) O(v4l2_buffer, m) O(v4l2_buffer, length) O(v4l2_buffer, reserved2) O(v4l2_buffer, request_fd)
	S(v4l2_timecode)
	S(v4l2_streamparm) O(v4l2_streamparm, parm)
	S(v4l2_captureparm) O(v4l2_captureparm, timeperframe) O(v4l2_captureparm, readbuffers)
	S(v4l2_control) O(v4l2_control, value)
	C(VIDIOC_QUERYCAP) C(VIDIOC_ENUM_FMT) C(VIDIOC_G_FMT) C(VIDIOC_S_FMT) C(VIDIOC_REQBUFS) C(VIDIOC_QUERYBUF)
	C(VIDIOC_QBUF) C(VIDIOC_DQBUF) C(VIDIOC_STREAMON) C(VIDIOC_STREAMOFF) C(VIDIOC_G_PARM) C(VIDIOC_S_PARM)
	C(VIDIOC_G_CTRL) C(VIDIOC_S_CTRL)
	C(V4L2_BUF_TYPE_VIDEO_CAPTURE) C(V4L2_MEMORY_MMAP) C(V4L2_FIELD_NONE) C(V4L2_CAP_VIDEO_CAPTURE)
	C(V4L2_CAP_STREAMING) C(V4L2_CAP_DEVICE_CAPS) C(V4L2_BUF_FLAG_ERROR) C(V4L2_BUF_FLAG_TIMESTAMP_MASK)
	C(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) C(V4L2_CAP_TIMEPERFRAME)
	C(V4L2_CID_EXPOSURE_AUTO) C(V4L2_CID_EXPOSURE_ABSOLUTE) C(V4L2_CID_GAIN)
	C(V4L2_PIX_FMT_MJPEG) C(V4L2_PIX_FMT_JPEG) C(V4L2_PIX_FMT_YUYV) C(V4L2_PIX_FMT_UYVY) C(V4L2_PIX_FMT_NV12) C(V4L2_PIX_FMT_H264)
	return 0;
}
`

// TestV4L2ABI compiles abiProgram against the kernel header and compares every number
// with the Go declarations, byte for byte.
func TestV4L2ABI(t *testing.T) {
	if _, err := os.Stat("/usr/include/linux/videodev2.h"); err != nil {
		t.Skip("linux/videodev2.h is absent (apt-get install -y linux-libc-dev)")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "abi.c"), filepath.Join(dir, "abi")
	if err := os.WriteFile(src, []byte(abiProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v %s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	c := map[string]uint64{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		c[f[0]] = v
	}
	var (
		capab v4l2Capability
		fd    v4l2Fmtdesc
		fm    v4l2Format
		pf    v4l2PixFormat
		rb    v4l2Requestbuffers
		b     v4l2Buffer
		sp    v4l2Streamparm
		cp    v4l2Captureparm
		ctl   v4l2Control
	)
	want := map[string]uint64{
		"sizeof_v4l2_capability":                    uint64(unsafe.Sizeof(capab)),
		"offsetof_v4l2_capability_version":          uint64(unsafe.Offsetof(capab.Version)),
		"offsetof_v4l2_capability_capabilities":     uint64(unsafe.Offsetof(capab.Capabilities)),
		"offsetof_v4l2_capability_device_caps":      uint64(unsafe.Offsetof(capab.DeviceCaps)),
		"sizeof_v4l2_fmtdesc":                       uint64(unsafe.Sizeof(fd)),
		"offsetof_v4l2_fmtdesc_description":         uint64(unsafe.Offsetof(fd.Description)),
		"offsetof_v4l2_fmtdesc_pixelformat":         uint64(unsafe.Offsetof(fd.Pixelformat)),
		"offsetof_v4l2_fmtdesc_mbus_code":           uint64(unsafe.Offsetof(fd.MbusCode)),
		"sizeof_v4l2_format":                        uint64(unsafe.Sizeof(fm)),
		"offsetof_v4l2_format_fmt":                  uint64(unsafe.Offsetof(fm.Fmt)),
		"sizeof_v4l2_pix_format":                    uint64(unsafe.Sizeof(pf)),
		"offsetof_v4l2_pix_format_pixelformat":      uint64(unsafe.Offsetof(pf.Pixelformat)),
		"offsetof_v4l2_pix_format_bytesperline":     uint64(unsafe.Offsetof(pf.Bytesperline)),
		"offsetof_v4l2_pix_format_sizeimage":        uint64(unsafe.Offsetof(pf.Sizeimage)),
		"offsetof_v4l2_pix_format_xfer_func":        uint64(unsafe.Offsetof(pf.XferFunc)),
		"sizeof_v4l2_requestbuffers":                uint64(unsafe.Sizeof(rb)),
		"offsetof_v4l2_requestbuffers_capabilities": uint64(unsafe.Offsetof(rb.Capabilities)),
		"offsetof_v4l2_requestbuffers_flags":        uint64(unsafe.Offsetof(rb.Flags)),
		"sizeof_v4l2_buffer":                        uint64(unsafe.Sizeof(b)),
		"offsetof_v4l2_buffer_field":                uint64(unsafe.Offsetof(b.Field)),
		"offsetof_v4l2_buffer_timestamp":            uint64(unsafe.Offsetof(b.Timestamp)),
		"offsetof_v4l2_buffer_timecode":             uint64(unsafe.Offsetof(b.Timecode)),
		"offsetof_v4l2_buffer_sequence":             uint64(unsafe.Offsetof(b.Sequence)),
		"offsetof_v4l2_buffer_memory":               uint64(unsafe.Offsetof(b.Memory)),
		"offsetof_v4l2_buffer_m":                    uint64(unsafe.Offsetof(b.M)),
		"offsetof_v4l2_buffer_length":               uint64(unsafe.Offsetof(b.Length)),
		"offsetof_v4l2_buffer_reserved2":            uint64(unsafe.Offsetof(b.Reserved2)),
		"offsetof_v4l2_buffer_request_fd":           uint64(unsafe.Offsetof(b.RequestFD)),
		"sizeof_v4l2_timecode":                      uint64(unsafe.Sizeof(v4l2Timecode{})),
		"sizeof_v4l2_streamparm":                    uint64(unsafe.Sizeof(sp)),
		"offsetof_v4l2_streamparm_parm":             uint64(unsafe.Offsetof(sp.Parm)),
		"sizeof_v4l2_captureparm":                   uint64(unsafe.Sizeof(cp)),
		"offsetof_v4l2_captureparm_timeperframe":    uint64(unsafe.Offsetof(cp.Timeperframe)),
		"offsetof_v4l2_captureparm_readbuffers":     uint64(unsafe.Offsetof(cp.Readbuffers)),
		"sizeof_v4l2_control":                       uint64(unsafe.Sizeof(ctl)),
		"offsetof_v4l2_control_value":               uint64(unsafe.Offsetof(ctl.Value)),
		"VIDIOC_QUERYCAP":                           uint64(vidiocQuerycap),
		"VIDIOC_ENUM_FMT":                           uint64(vidiocEnumFmt),
		"VIDIOC_G_FMT":                              uint64(vidiocGFmt),
		"VIDIOC_S_FMT":                              uint64(vidiocSFmt),
		"VIDIOC_REQBUFS":                            uint64(vidiocReqbufs),
		"VIDIOC_QUERYBUF":                           uint64(vidiocQuerybuf),
		"VIDIOC_QBUF":                               uint64(vidiocQbuf),
		"VIDIOC_DQBUF":                              uint64(vidiocDqbuf),
		"VIDIOC_STREAMON":                           uint64(vidiocStreamon),
		"VIDIOC_STREAMOFF":                          uint64(vidiocStreamoff),
		"VIDIOC_G_PARM":                             uint64(vidiocGParm),
		"VIDIOC_S_PARM":                             uint64(vidiocSParm),
		"VIDIOC_G_CTRL":                             uint64(vidiocGCtrl),
		"VIDIOC_S_CTRL":                             uint64(vidiocSCtrl),
		"V4L2_BUF_TYPE_VIDEO_CAPTURE":               v4l2BufTypeVideoCapture,
		"V4L2_MEMORY_MMAP":                          v4l2MemoryMmap,
		"V4L2_FIELD_NONE":                           v4l2FieldNone,
		"V4L2_CAP_VIDEO_CAPTURE":                    v4l2CapVideoCapture,
		"V4L2_CAP_STREAMING":                        v4l2CapStreaming,
		"V4L2_CAP_DEVICE_CAPS":                      v4l2CapDeviceCaps,
		"V4L2_BUF_FLAG_ERROR":                       v4l2BufFlagError,
		"V4L2_BUF_FLAG_TIMESTAMP_MASK":              v4l2BufFlagTsMask,
		"V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC":         v4l2BufFlagTsMonotonic,
		"V4L2_CAP_TIMEPERFRAME":                     v4l2CapTimeperframe,
		"V4L2_CID_EXPOSURE_AUTO":                    CIDExposureAuto,
		"V4L2_CID_EXPOSURE_ABSOLUTE":                CIDExposureAbsolute,
		"V4L2_CID_GAIN":                             CIDGain,
		"V4L2_PIX_FMT_MJPEG":                        uint64(v4l2PixMJPEG),
		"V4L2_PIX_FMT_JPEG":                         uint64(v4l2PixJPEG),
		"V4L2_PIX_FMT_YUYV":                         uint64(v4l2PixYUYV),
		"V4L2_PIX_FMT_UYVY":                         uint64(v4l2PixUYVY),
		"V4L2_PIX_FMT_NV12":                         uint64(v4l2PixNV12),
		"V4L2_PIX_FMT_H264":                         uint64(v4l2PixH264),
	}
	if len(c) != len(want) {
		t.Fatalf("the C program printed %d values, the test checks %d", len(c), len(want))
	}
	for k, v := range want {
		got, ok := c[k]
		if !ok {
			t.Errorf("%s: not printed by the C program", k)
			continue
		}
		if got != v {
			t.Errorf("%s: C %d, Go %d", k, got, v)
		}
	}
}
