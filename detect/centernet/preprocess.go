package centernet

import (
	"image"
	"image/color"
	"math"
)

// geometry maps model-input pixels back to the original image:
// x_img = (x_in − dx)·sx, y_img = (y_in − dy)·sy.
type geometry struct {
	w, h           int
	sx, sy, dx, dy float64
}

func (g geometry) toImage(x, y float32) (float32, float32) {
	return float32((float64(x) - g.dx) * g.sx), float32((float64(y) - g.dy) * g.sy)
}

// preprocessor turns images into the network's input tensor, reusing its buffers.
type preprocessor struct {
	size      int // square input side (512)
	letterbox bool
	rgb       []byte
	taps      []tap // per output column
}

type tap struct {
	i0, i1 int
	f      float64
}

// fill writes img into dst (size×size×3, RGB 0..255) and returns the mapping back.
func (p *preprocessor) fill(img image.Image, dst []float32) geometry {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	p.rgb = toRGB(img, p.rgb)
	s := p.size
	if !p.letterbox {
		// tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=false): a stretch
		p.resize(dst, s, s, 0, 0, s, w, h, false)
		return geometry{w: w, h: h, sx: float64(w) / float64(s), sy: float64(h) / float64(s)}
	}
	// keep the aspect ratio, centre on a black square (half-pixel centres, as the
	// model's author prepares images)
	scale := math.Min(float64(s)/float64(h), float64(s)/float64(w))
	nw := int(math.Round(float64(w) * scale))
	nh := int(math.Round(float64(h) * scale))
	dx, dy := (s-nw)/2, (s-nh)/2
	clear(dst[:s*s*3])
	p.resize(dst, nw, nh, dx, dy, s, w, h, true)
	return geometry{w: w, h: h, sx: 1 / scale, sy: 1 / scale, dx: float64(dx), dy: float64(dy)}
}

// taps1 computes TF.js's bilinear source taps for one axis.
func taps1(out []tap, in, n int, half bool) []tap {
	out = out[:0]
	ratio := float64(in) / float64(n)
	for o := 0; o < n; o++ {
		src := ratio * float64(o)
		if half {
			src = ratio*(float64(o)+0.5) - 0.5
		}
		lo := math.Max(0, math.Floor(src))
		hi := math.Min(float64(in-1), math.Ceil(src))
		out = append(out, tap{i0: int(lo), i1: int(hi), f: src - lo})
	}
	return out
}

// resize writes the nw×nh bilinear resize of the w×h RGB image at (dx, dy) of the
// stride-wide destination, computing in float64 as TF.js does.
func (p *preprocessor) resize(dst []float32, nw, nh, dx, dy, stride, w, h int, half bool) {
	p.taps = taps1(p.taps, w, nw, half)
	for oy := 0; oy < nh; oy++ {
		src := float64(h) / float64(nh) * float64(oy)
		if half {
			src = float64(h)/float64(nh)*(float64(oy)+0.5) - 0.5
		}
		lo := math.Max(0, math.Floor(src))
		y0, y1 := int(lo), int(math.Min(float64(h-1), math.Ceil(src)))
		fy := src - lo
		top := p.rgb[y0*w*3 : (y0+1)*w*3]
		bot := p.rgb[y1*w*3 : (y1+1)*w*3]
		row := dst[((oy+dy)*stride+dx)*3:]
		for ox, t := range p.taps {
			a, b := t.i0*3, t.i1*3
			o := row[ox*3 : ox*3+3]
			for c := 0; c < 3; c++ {
				tl, tr := float64(top[a+c]), float64(top[b+c])
				bl, br := float64(bot[a+c]), float64(bot[b+c])
				t0 := tl + (tr-tl)*t.f
				b0 := bl + (br-bl)*t.f
				o[c] = float32(t0 + (b0-t0)*fy)
			}
		}
	}
}

// toRGB converts img to packed 8-bit RGB (alpha dropped, not premultiplied), reusing buf.
func toRGB(img image.Image, buf []byte) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	n := w * h * 3
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	// a picture that converts itself to YCbCr without changing a sample (a raw capture
	// picture, acquire/camera RawImage) takes the YCbCr loop instead of At per pixel
	if y, ok := img.(interface{ YCbCr() *image.YCbCr }); ok {
		if m := y.YCbCr(); m != nil && m.Bounds() == b {
			img = m
		}
	}
	switch m := img.(type) {
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			row := buf[y*w*3:]
			for x := 0; x < w; x++ {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				row[3*x], row[3*x+1], row[3*x+2] = r, g, bl
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			src := m.Pix[y*m.Stride:]
			row := buf[y*w*3:]
			for x := 0; x < w; x++ {
				row[3*x], row[3*x+1], row[3*x+2] = src[4*x], src[4*x+1], src[4*x+2]
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			src := m.Pix[y*m.Stride:]
			row := buf[y*w*3:]
			for x := 0; x < w; x++ {
				if a := src[4*x+3]; a != 255 {
					c := color.NRGBAModel.Convert(color.RGBA{src[4*x], src[4*x+1], src[4*x+2], a}).(color.NRGBA)
					row[3*x], row[3*x+1], row[3*x+2] = c.R, c.G, c.B
					continue
				}
				row[3*x], row[3*x+1], row[3*x+2] = src[4*x], src[4*x+1], src[4*x+2]
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			src := m.Pix[y*m.Stride:]
			row := buf[y*w*3:]
			for x := 0; x < w; x++ {
				row[3*x], row[3*x+1], row[3*x+2] = src[x], src[x], src[x]
			}
		}
	default:
		for y := 0; y < h; y++ {
			row := buf[y*w*3:]
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				row[3*x], row[3*x+1], row[3*x+2] = c.R, c.G, c.B
			}
		}
	}
	return buf
}
