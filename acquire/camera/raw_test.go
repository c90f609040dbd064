package camera

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"sync"
	"testing"
)

// rawCases feed TestRawImage, FuzzRawImage and BenchmarkRawImage: good pictures (odd
// sizes too: NV12 rounds its chroma up, the packed layouts leave the last pixel
// without a chroma pair) and bad ones that must give ErrPixelFormat.
var rawCases = []struct {
	name   string
	format PixelFormat
	w, h   int
	pix    int // bytes of Pix; -1: the frame size
	bad    bool
}{
	{"yuyv", PixYUYV, 16, 8, -1, false},
	{"uyvy", PixUYVY, 16, 8, -1, false},
	{"nv12", PixNV12, 16, 8, -1, false},
	{"nv12-odd", PixNV12, 15, 7, -1, false},
	{"yuyv-odd", PixYUYV, 15, 7, -1, false},
	{"uyvy-odd", PixUYVY, 15, 1, -1, false},
	{"nv12-1x1", PixNV12, 1, 1, -1, false},
	{"nv12-vga", PixNV12, 640, 480, -1, false},
	{"yuyv-vga", PixYUYV, 640, 480, -1, false},
	{"short", PixNV12, 16, 8, 16*8 + 10, true},
	{"empty", PixYUYV, 16, 8, 0, true},
	{"zero-width", PixNV12, 0, 8, 64, true},
	{"negative-height", PixYUYV, 16, -2, 64, true},
	{"unknown-format", PixUnknown, 4, 4, 64, true},
	{"format-99", PixelFormat(99), 4, 4, 64, true},
	{"huge", PixYUYV, math.MaxInt/2 + 2, 4, 64, true}, // 2·w·h wraps to 8 on 64-bit
	{"too-wide", PixNV12, maxRawSide + 1, 1, 2 * (maxRawSide + 2), true},
}

// rawBytes is a picture of n bytes whose every byte differs from its neighbours.
func rawBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestRawImage(t *testing.T) {
	for _, c := range rawCases {
		t.Run(c.name, func(t *testing.T) {
			n := c.pix
			if n < 0 {
				n = c.format.FrameSize(c.w, c.h)
			}
			f := RawFrame{Pix: rawBytes(n), Format: c.format, Width: c.w, Height: c.h}
			m, err := f.Image()
			if c.bad {
				if !errors.Is(err, ErrPixelFormat) || m != nil {
					t.Fatalf("Image: %v (an image: %v), want ErrPixelFormat", err, m != nil)
				}
				if _, err := f.YCbCr(); !errors.Is(err, ErrPixelFormat) {
					t.Fatalf("YCbCr: %v, want ErrPixelFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkRawImage(t, &f, m)
		})
	}
}

// checkRawImage checks m against the frame it wraps: bounds, colour model, RawPix,
// and every pixel (and some outside) against RawFrame.YCbCr.
func checkRawImage(t *testing.T, f *RawFrame, m *RawImage) {
	t.Helper()
	want, err := f.YCbCr()
	if err != nil {
		t.Fatal(err)
	}
	if b := m.Bounds(); b != image.Rect(0, 0, f.Width, f.Height) || b != want.Bounds() {
		t.Fatalf("bounds %v, want %v", b, want.Bounds())
	}
	if m.ColorModel() != color.YCbCrModel {
		t.Fatal("colour model is not color.YCbCrModel")
	}
	layout, pix, w, h := m.RawPix()
	n := f.Format.FrameSize(f.Width, f.Height)
	if layout != f.Format.String() || w != f.Width || h != f.Height || len(pix) != n || &pix[0] != &f.Pix[0] {
		t.Fatalf("RawPix: %s %dx%d, %d bytes (shared: %v); want %v %dx%d, %d bytes of Pix", layout, w, h, len(pix),
			&pix[0] == &f.Pix[0], f.Format, f.Width, f.Height, n)
	}
	if m.Format() != f.Format {
		t.Fatalf("Format %v, want %v", m.Format(), f.Format)
	}
	for y := -1; y <= f.Height; y++ {
		for x := -1; x <= f.Width; x++ {
			if got, w := m.At(x, y), want.At(x, y); got != w {
				t.Fatalf("At(%d, %d) = %v, want %v", x, y, got, w)
			}
		}
	}
}

// TestRawImageConcurrent: the conversion made on first use is made once when many
// goroutines read pixels at once (run with -race).
func TestRawImageConcurrent(t *testing.T) {
	f := RawFrame{Pix: rawBytes(PixNV12.FrameSize(64, 32)), Format: PixNV12, Width: 64, Height: 32}
	m, err := f.Image()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*image.YCbCr, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = m.At(i, i)
			got[i] = m.YCbCr()
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("goroutine %d got another conversion", i)
		}
	}
}

func FuzzRawImage(f *testing.F) {
	for _, c := range rawCases {
		if c.w > 64 || c.h > 64 || c.w < -64 || c.h < -64 {
			continue
		}
		n := c.pix
		if n < 0 {
			n = c.format.FrameSize(c.w, c.h)
		}
		f.Add(uint8(c.format), c.w, c.h, rawBytes(n))
	}
	f.Fuzz(func(t *testing.T, format uint8, w, h int, pix []byte) {
		if w > 256 || h > 256 { // a picture that size fails on length only; keep At's loop short
			w, h = w%257, h%257
		}
		fr := RawFrame{Pix: pix, Format: PixelFormat(format), Width: w, Height: h}
		m, err := fr.Image()
		if err != nil {
			if !errors.Is(err, ErrPixelFormat) {
				t.Fatalf("error %v is not ErrPixelFormat", err)
			}
			return
		}
		checkRawImage(t, &fr, m)
	})
}

// BenchmarkRawImage is the cost of the conversion a pixel reader pays on first use.
func BenchmarkRawImage(b *testing.B) {
	for _, c := range rawCases {
		if c.bad || c.w < 640 {
			continue
		}
		pix := rawBytes(c.format.FrameSize(c.w, c.h))
		b.Run(fmt.Sprintf("format=%v/size=%dx%d", c.format, c.w, c.h), func(b *testing.B) {
			b.SetBytes(int64(len(pix)))
			for b.Loop() {
				f := RawFrame{Pix: pix, Format: c.format, Width: c.w, Height: c.h}
				m, err := f.Image()
				if err != nil {
					b.Fatal(err)
				}
				_ = m.YCbCr()
			}
		})
	}
}
