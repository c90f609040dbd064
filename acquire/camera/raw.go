package camera

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync"
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

// maxRawSide bounds a raw picture's width and height (V4L2 reports them as 32-bit
// numbers): larger sizes are ErrPixelFormat, so FrameSize cannot overflow.
const maxRawSide = 1 << 16

// check returns ErrPixelFormat unless Pix holds a whole Width×Height picture of Format.
func (f *RawFrame) check(verb string) error {
	w, h := f.Width, f.Height
	if w <= 0 || h <= 0 || w > maxRawSide || h > maxRawSide || f.Format.FrameSize(w, h) == 0 || len(f.Pix) < f.Format.FrameSize(w, h) {
		return fmt.Errorf("%s %v %dx%d picture of %d bytes: %w", verb, f.Format, w, h, len(f.Pix), ErrPixelFormat)
	}
	return nil
}

// YCbCr returns the picture as an image (4:2:2 for the packed formats, 4:2:0 for
// NV12), converting the layout without changing a sample.
func (f *RawFrame) YCbCr() (*image.YCbCr, error) {
	if err := f.check("convert"); err != nil {
		return nil, err
	}
	return toYCbCr(f.Pix, f.Format, f.Width, f.Height), nil
}

// toYCbCr is YCbCr on a checked picture.
func toYCbCr(pix []byte, format PixelFormat, w, h int) *image.YCbCr {
	r := image.Rect(0, 0, w, h)
	switch format {
	case PixYUYV, PixUYVY:
		img := image.NewYCbCr(r, image.YCbCrSubsampleRatio422)
		yo, uo, vo := 0, 1, 3
		if format == PixUYVY {
			yo, uo, vo = 1, 0, 2
		}
		cw := (w + 1) / 2
		for y := 0; y < h; y++ {
			row := pix[y*w*2:]
			for x := 0; x < w; x++ {
				img.Y[y*img.YStride+x] = row[x*2+yo]
			}
			for x := 0; x < cw && x*4+vo < w*2; x++ {
				img.Cb[y*img.CStride+x] = row[x*4+uo]
				img.Cr[y*img.CStride+x] = row[x*4+vo]
			}
		}
		return img
	default: // NV12
		img := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
		copy(img.Y, pix[:w*h])
		cw, ch := (w+1)/2, (h+1)/2
		uv := pix[w*h:]
		for y := 0; y < ch; y++ {
			for x := 0; x < cw; x++ {
				img.Cb[y*img.CStride+x] = uv[(y*cw+x)*2]
				img.Cr[y*img.CStride+x] = uv[(y*cw+x)*2+1]
			}
		}
		return img
	}
}

// Image returns the picture as an image.Image that keeps its raw layout: the GPU
// engine (detect/gpu) stages the bytes RawPix gives as they are and converts on the
// device; anything that reads pixels sees the picture YCbCr returns, converted on
// first use. The image shares Pix: the frame's bytes must not change while it is used.
func (f *RawFrame) Image() (*RawImage, error) {
	if err := f.check("wrap"); err != nil {
		return nil, err
	}
	n := f.Format.FrameSize(f.Width, f.Height)
	return &RawImage{pix: f.Pix[:n:n], format: f.Format, w: f.Width, h: f.Height}, nil
}

// RawImage is a raw capture picture as an image.Image (RawFrame.Image). Its bounds
// are (0, 0)–(Width, Height), its colour model color.YCbCrModel; it is safe for
// concurrent use.
type RawImage struct {
	pix    []byte // exactly FrameSize bytes
	format PixelFormat
	w, h   int

	once sync.Once
	ycc  *image.YCbCr // guarded by once: the converted picture
}

// RawPix returns the picture's layout (PixelFormat.String: "yuyv", "uyvy" or "nv12"),
// its tightly packed bytes (shared, not copied) and its size.
func (m *RawImage) RawPix() (layout string, pix []byte, w, h int) {
	return m.format.String(), m.pix, m.w, m.h
}

// Format returns the picture's pixel format.
func (m *RawImage) Format() PixelFormat { return m.format }

// YCbCr returns the picture converted as RawFrame.YCbCr does (made once, then shared:
// callers must not change it). Pixel readers that have a fast path for *image.YCbCr
// take this one.
func (m *RawImage) YCbCr() *image.YCbCr {
	m.once.Do(func() { m.ycc = toYCbCr(m.pix, m.format, m.w, m.h) })
	return m.ycc
}

// ColorModel returns color.YCbCrModel.
func (m *RawImage) ColorModel() color.Model { return color.YCbCrModel }

// Bounds returns (0, 0)–(Width, Height).
func (m *RawImage) Bounds() image.Rectangle { return image.Rect(0, 0, m.w, m.h) }

// At returns the colour of pixel (x, y) (a color.YCbCr; zero outside the bounds).
func (m *RawImage) At(x, y int) color.Color { return m.YCbCr().YCbCrAt(x, y) }
