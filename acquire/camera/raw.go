package camera

import (
	"errors"
	"fmt"
	"image"
)

// PixelFormat is the layout of an uncompressed picture from a capture device.
type PixelFormat uint8

// Pixel formats (explicit numbers; they appear in configuration and events).
const (
	PixUnknown PixelFormat = 0
	PixYUYV    PixelFormat = 1 // packed 4:2:2, Y0 U Y1 V (V4L2 YUYV, ffmpeg yuyv422, GStreamer YUY2)
	PixUYVY    PixelFormat = 2 // packed 4:2:2, U Y0 V Y1 (V4L2 UYVY, ffmpeg uyvy422)
	PixNV12    PixelFormat = 3 // planar Y, then interleaved U V at half resolution (4:2:0)
)

var pixNames = map[PixelFormat]string{PixYUYV: "yuyv", PixUYVY: "uyvy", PixNV12: "nv12"}

func (p PixelFormat) String() string {
	if n, ok := pixNames[p]; ok {
		return n
	}
	return fmt.Sprintf("pix_%d", p)
}

// ffmpegName is the pixel format's name for ffmpeg's -pix_fmt.
func (p PixelFormat) ffmpegName() string {
	return map[PixelFormat]string{PixYUYV: "yuyv422", PixUYVY: "uyvy422", PixNV12: "nv12"}[p]
}

// gstName is the pixel format's name for GStreamer caps.
func (p PixelFormat) gstName() string {
	return map[PixelFormat]string{PixYUYV: "yuy2", PixUYVY: "uyvy", PixNV12: "nv12"}[p]
}

// FrameSize returns the bytes of one tightly packed picture.
func (p PixelFormat) FrameSize(w, h int) int {
	switch p {
	case PixYUYV, PixUYVY:
		return w * h * 2
	case PixNV12:
		return w*h + 2*((w+1)/2)*((h+1)/2)
	}
	return 0
}

// ErrPixelFormat: a raw picture of an unknown layout or the wrong size.
var ErrPixelFormat = errors.New("bad raw picture")

// RawFrame is one uncompressed picture from a capture device, with the times and
// counters the frames row needs. Pix is tightly packed (no row padding) and owned by
// the receiver.
type RawFrame struct {
	Pix        []byte
	Format     PixelFormat
	Width      int
	Height     int
	T          int64 // reference time of the exposure
	THost      int64
	TDevice    int64
	Seq        int64
	TriggerID  int64   // -1: none
	ExposureUS float32 // NaN: unknown
}

// YCbCr returns the picture as an image (4:2:2 for the packed formats, 4:2:0 for
// NV12), converting the layout without changing a sample.
func (f *RawFrame) YCbCr() (*image.YCbCr, error) {
	w, h := f.Width, f.Height
	if w <= 0 || h <= 0 || len(f.Pix) < f.Format.FrameSize(w, h) || f.Format.FrameSize(w, h) == 0 {
		return nil, fmt.Errorf("convert %v %dx%d picture of %d bytes: %w", f.Format, w, h, len(f.Pix), ErrPixelFormat)
	}
	r := image.Rect(0, 0, w, h)
	switch f.Format {
	case PixYUYV, PixUYVY:
		img := image.NewYCbCr(r, image.YCbCrSubsampleRatio422)
		yo, uo, vo := 0, 1, 3
		if f.Format == PixUYVY {
			yo, uo, vo = 1, 0, 2
		}
		cw := (w + 1) / 2
		for y := 0; y < h; y++ {
			row := f.Pix[y*w*2:]
			for x := 0; x < w; x++ {
				img.Y[y*img.YStride+x] = row[x*2+yo]
			}
			for x := 0; x < cw && x*4+vo < w*2; x++ {
				img.Cb[y*img.CStride+x] = row[x*4+uo]
				img.Cr[y*img.CStride+x] = row[x*4+vo]
			}
		}
		return img, nil
	default: // NV12
		img := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
		copy(img.Y, f.Pix[:w*h])
		cw, ch := (w+1)/2, (h+1)/2
		uv := f.Pix[w*h:]
		for y := 0; y < ch; y++ {
			for x := 0; x < cw; x++ {
				img.Cb[y*img.CStride+x] = uv[(y*cw+x)*2]
				img.Cr[y*img.CStride+x] = uv[(y*cw+x)*2+1]
			}
		}
		return img, nil
	}
}
