package gpu

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"unsafe"

	"roadlog/detect/centernet"
)

// Raw picture layouts of RawImage.RawPix (the names acquire/camera's PixelFormat.String
// gives; pictures are tightly packed, no row padding).
const (
	RawNV12 = "nv12" // Y plane, then interleaved Cb,Cr at half resolution both ways (4:2:0)
	RawYUYV = "yuyv" // packed Y0 Cb Y1 Cr (4:2:2)
	RawUYVY = "uyvy" // packed Cb Y0 Cr Y1 (4:2:2)
)

// RawImage is an image that also gives its bytes in a capture device's layout
// (acquire/camera's RawFrame.Image returns one). SetImage stages NV12 and YUYV as they
// are, UYVY as YUYV (each byte pair swapped, no sample changed); the kernel converts
// each pixel with its own chroma sample (that of its 2×2, or 2×1, block), as
// color.YCbCrToRGB: what At must report for the CPU path to match. Other layouts,
// packed 4:2:2 pictures of odd width and bounds of another size go through At like
// any other image.
type RawImage interface {
	image.Image
	// RawPix returns the picture's layout (RawNV12, RawYUYV, RawUYVY), its bytes and
	// its size.
	RawPix() (layout string, pix []byte, w, h int)
}

// SetImage stages img for input slot j of the next run: its 8-bit pixels go to the
// device as they are (YCbCr, RGBA, NRGBA, gray and RawImage's NV12/YUYV/UYVY without
// conversion; other image types converted to RGB here) and one kernel resizes them to
// nw×nh at (dx, dy) of the input, zero elsewhere, with the CPU path's arithmetic
// (half: half-pixel centres). Slots are staged in order from 0.
func (p *Pipeline) SetImage(j int, img image.Image, nw, nh, dx, dy int, half bool) error {
	if err := p.slot(j); err != nil {
		return err
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return fmt.Errorf("stage image %d: empty image %v", j, b)
	}
	im := rlImage{Width: int32(w), Height: int32(h), NW: int32(nw), NH: int32(nh), DX: int32(dx), DY: int32(dy)}
	if half {
		im.HalfPixel = 1
	}
	if m, ok := img.(RawImage); ok {
		if done, err := p.stageRaw(j, m, im); done {
			return err
		}
	}
	switch m := img.(type) {
	case *image.YCbCr:
		sx, sy, ok := subsampling(m.SubsampleRatio)
		if !ok || b.Min.X%(1<<sx) != 0 || b.Min.Y%(1<<sy) != 0 {
			return p.stageRGB(j, img, im)
		}
		cw, ch := (b.Max.X+(1<<sx)-1)>>sx-b.Min.X>>sx, (b.Max.Y+(1<<sy)-1)>>sy-b.Min.Y>>sy
		im.Format, im.SubX, im.SubY, im.Stride, im.CStride = pixYCbCr, int32(sx), int32(sy), int32(w), int32(cw)
		dst, err := p.reserve(int64(w*h + 2*cw*ch))
		if err != nil {
			return fmt.Errorf("stage image %d: %w", j, err)
		}
		im.Off = [3]int64{p.stage, p.stage + int64(w*h), p.stage + int64(w*h+cw*ch)}
		for y := 0; y < h; y++ {
			i := m.YOffset(b.Min.X, b.Min.Y+y)
			copy(dst[y*w:(y+1)*w], m.Y[i:i+w])
		}
		for y := 0; y < ch; y++ {
			i := m.COffset(b.Min.X, b.Min.Y+y<<sy)
			copy(dst[w*h+y*cw:w*h+(y+1)*cw], m.Cb[i:i+cw])
			copy(dst[w*h+cw*ch+y*cw:w*h+cw*ch+(y+1)*cw], m.Cr[i:i+cw])
		}
	case *image.RGBA:
		im.Format = pixRGBA
		return p.stageRows(j, im, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 4*w, h)
	case *image.NRGBA:
		im.Format = pixNRGBA
		return p.stageRows(j, im, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, 4*w, h)
	case *image.Gray:
		im.Format = pixGray
		return p.stageRows(j, im, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h)
	default:
		return p.stageRGB(j, img, im)
	}
	p.commit(j, im)
	return nil
}

// SetJPEG stages a w×h JPEG bitstream for slot j: nvJPEG decodes it on the device,
// then it is fitted as SetImage does.
func (p *Pipeline) SetJPEG(j int, data []byte, w, h, nw, nh, dx, dy int, half bool) error {
	if err := p.slot(j); err != nil {
		return err
	}
	if len(data) == 0 || w <= 0 || h <= 0 {
		return fmt.Errorf("stage jpeg %d: %w: %d bytes, %dx%d", j, ErrDecode, len(data), w, h)
	}
	im := rlImage{Format: pixJPEG, Width: int32(w), Height: int32(h), NW: int32(nw), NH: int32(nh), DX: int32(dx), DY: int32(dy), Len: int64(len(data))}
	if half {
		im.HalfPixel = 1
	}
	dst, err := p.reserve(int64(len(data)))
	if err != nil {
		return fmt.Errorf("stage jpeg %d: %w", j, err)
	}
	im.Off[0] = p.stage
	copy(dst, data)
	p.commit(j, im)
	return nil
}

// Luma copies the luminance of the JPEG picture that the last run decoded into slot j
// (SetJPEG, then RunPeaks) into dst, whose size must be the picture's: the pipeline
// aligns tracks' pixels in it (looming) without decoding the JPEG again on the host.
func (p *Pipeline) Luma(j int, dst *image.Gray) error {
	b := dst.Bounds()
	if p.e.isClosed() {
		return fmt.Errorf("luma %d: %w", j, ErrClosed)
	}
	if dst.Stride != b.Dx() || len(dst.Pix) < b.Dx()*b.Dy() || b.Empty() {
		return fmt.Errorf("luma %d: the destination must be a whole, packed image (%v, stride %d)", j, b, dst.Stride)
	}
	ptr, k := p.b.ptr()
	return status("rl_luma", p.e.l.luma(p.e.h, p.i, int32(j), int32(b.Dx()), int32(b.Dy()), &dst.Pix[0], ptr, k), &p.b)
}

// LumaRects copies the luminance of rectangles of the JPEG pictures that the last run
// decoded: rects[j] are slot j's, each inside its picture. It returns parts[j][k], an
// image.Gray at its place in the picture, for rects[j][k], all over one buffer, read
// in one device call. Only their bytes cross the bus: the pipeline aligns pixels
// (looming) only around the detections.
func (p *Pipeline) LumaRects(rects [][]image.Rectangle) ([][]*image.Gray, error) {
	if p.e.isClosed() {
		return nil, fmt.Errorf("luma rectangles: %w", ErrClosed)
	}
	var q []int32
	total := 0
	for j, rs := range rects {
		for _, r := range rs {
			if r.Empty() || r.Min.X < 0 || r.Min.Y < 0 {
				return nil, fmt.Errorf("luma rectangles: slot %d: %v is not inside a picture", j, r)
			}
			q = append(q, int32(j), int32(r.Min.X), int32(r.Min.Y), int32(r.Max.X), int32(r.Max.Y))
			total += r.Dx() * r.Dy()
		}
	}
	parts := make([][]*image.Gray, len(rects))
	if total == 0 {
		return parts, nil
	}
	buf := make([]byte, total)
	ptr, k := p.b.ptr()
	if err := status("rl_luma_rects", p.e.l.lumaRects(p.e.h, p.i, int32(len(q)/5), &q[0], &buf[0], int64(total), ptr, k), &p.b); err != nil {
		return nil, err
	}
	for j, rs := range rects {
		parts[j] = make([]*image.Gray, len(rs))
		for i, r := range rs {
			n := r.Dx() * r.Dy()
			parts[j][i] = &image.Gray{Pix: buf[:n:n], Stride: r.Dx(), Rect: r}
			buf = buf[n:]
		}
	}
	return parts, nil
}

// slot checks that j is the next slot to stage (0 starts a new batch).
func (p *Pipeline) slot(j int) error {
	if p.e.isClosed() {
		return fmt.Errorf("stage image: %w", ErrClosed)
	}
	if j == 0 {
		p.staged, p.stage = 0, 0
	}
	if j != p.staged || j >= p.e.p.batch {
		return fmt.Errorf("stage image %d: slots are staged in order below %d (next is %d)", j, p.e.p.batch, p.staged)
	}
	return nil
}

func (p *Pipeline) commit(j int, im rlImage) {
	p.imgs[j] = im
	p.staged = j + 1
	p.stage = p.reserved
}

// reserve returns n bytes of the pinned staging buffer after what is staged.
func (p *Pipeline) reserve(n int64) ([]byte, error) {
	start := (p.stage + 15) &^ 15
	ptr := p.e.l.staging(p.e.h, p.i, start+n)
	if ptr == nil {
		return nil, fmt.Errorf("pinned staging buffer of %d bytes: %w", start+n, ErrOutOfMemory)
	}
	p.stage = start
	p.reserved = start + n
	return unsafe.Slice((*byte)(unsafe.Add(ptr, start)), n), nil
}

// stageRows copies h rows of rowBytes bytes (stride apart) into the staging buffer.
func (p *Pipeline) stageRows(j int, im rlImage, pix []byte, stride, rowBytes, h int) error {
	dst, err := p.reserve(int64(rowBytes * h))
	if err != nil {
		return fmt.Errorf("stage image %d: %w", j, err)
	}
	for y := 0; y < h; y++ {
		copy(dst[y*rowBytes:(y+1)*rowBytes], pix[y*stride:y*stride+rowBytes])
	}
	im.Off[0], im.Stride = p.stage, int32(rowBytes)
	p.commit(j, im)
	return nil
}

// stageRaw stages a raw picture as it is (NV12, YUYV) or with its byte pairs swapped
// (UYVY as YUYV). done is false for a picture the kernel cannot read as it is.
func (p *Pipeline) stageRaw(j int, m RawImage, im rlImage) (done bool, err error) {
	layout, pix, w, h := m.RawPix()
	if int(im.Width) != w || int(im.Height) != h {
		return false, nil
	}
	var n int
	switch layout {
	case RawNV12:
		cw := 2 * ((w + 1) / 2) // bytes per Cb,Cr row
		n = w*h + cw*((h+1)/2)
		im.Format, im.Stride, im.CStride = pixNV12, int32(w), int32(cw)
	case RawYUYV, RawUYVY:
		if w%2 != 0 {
			return false, nil // the kernel reads a whole Y0 Cb Y1 Cr group for the last pixel
		}
		n = 2 * w * h
		im.Format, im.Stride = pixYUYV, int32(2*w)
	default:
		return false, nil
	}
	if len(pix) < n {
		return true, fmt.Errorf("stage image %d: %s %dx%d picture of %d bytes, %d needed: %w", j, layout, w, h, len(pix), n, ErrRawImage)
	}
	dst, err := p.reserve(int64(n))
	if err != nil {
		return true, fmt.Errorf("stage image %d: %w", j, err)
	}
	if layout == RawUYVY {
		swapPairs(dst, pix[:n])
	} else {
		copy(dst, pix[:n])
	}
	im.Off[0] = p.stage
	if layout == RawNV12 {
		im.Off[1] = p.stage + int64(w*h)
	}
	p.commit(j, im)
	return true, nil
}

// swapPairs writes src to dst with the two bytes of each pair swapped (UYVY to YUYV);
// len(src) is even.
func swapPairs(dst, src []byte) {
	const lo = 0x00ff00ff00ff00ff
	i := 0
	for ; i+8 <= len(src); i += 8 {
		v := binary.LittleEndian.Uint64(src[i:])
		binary.LittleEndian.PutUint64(dst[i:], (v&lo)<<8|(v>>8)&lo)
	}
	for ; i+1 < len(src); i += 2 {
		dst[i], dst[i+1] = src[i+1], src[i]
	}
}

// stageRGB converts any image to packed RGB on the host (as the CPU path does for
// image types it has no fast path for) and stages that.
func (p *Pipeline) stageRGB(j int, img image.Image, im rlImage) error {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dst, err := p.reserve(int64(3 * w * h))
	if err != nil {
		return fmt.Errorf("stage image %d: %w", j, err)
	}
	for y := 0; y < h; y++ {
		row := dst[y*3*w:]
		for x := 0; x < w; x++ {
			var c color.NRGBA
			switch px := img.At(b.Min.X+x, b.Min.Y+y).(type) {
			case color.YCbCr:
				c.R, c.G, c.B = color.YCbCrToRGB(px.Y, px.Cb, px.Cr)
			default:
				c = color.NRGBAModel.Convert(px).(color.NRGBA)
			}
			row[3*x], row[3*x+1], row[3*x+2] = c.R, c.G, c.B
		}
	}
	im.Format, im.Off[0], im.Stride = pixRGB, p.stage, int32(3*w)
	p.commit(j, im)
	return nil
}

// subsampling returns the chroma shifts of a YCbCr ratio the kernel handles.
func subsampling(r image.YCbCrSubsampleRatio) (sx, sy int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 0, 0, true
	case image.YCbCrSubsampleRatio422:
		return 1, 0, true
	case image.YCbCrSubsampleRatio420:
		return 1, 1, true
	case image.YCbCrSubsampleRatio440:
		return 0, 1, true
	case image.YCbCrSubsampleRatio411:
		return 2, 0, true
	case image.YCbCrSubsampleRatio410:
		return 2, 1, true
	}
	return 0, 0, false
}

// RunPeaks runs the network on the first n slots (staged images, or else the host
// Input) and returns each image's topK heat-map peaks of output 0 above thr[class],
// with output 1 at each peak's cell; only those cross from the device. A nil slice
// marks an image whose candidates overflowed the device buffer (decode it from Output).
func (p *Pipeline) RunPeaks(ctx context.Context, n int, thr []float32, topK int) ([][]centernet.Peak, error) {
	if len(p.e.p.outputs) < 2 {
		return nil, fmt.Errorf("find peaks: the graph has %d outputs (heat map and box sizes needed)", len(p.e.p.outputs))
	}
	if c := int(p.e.p.outputs[0].dims[3]); len(thr) != c {
		return nil, fmt.Errorf("find peaks: %d thresholds for %d classes", len(thr), c)
	}
	if err := p.launch(ctx, n); err != nil {
		return nil, err
	}
	ptr, k := p.b.ptr()
	if err := status("rl_peaks", p.e.l.peaks(p.e.h, p.i, int32(n), 0, 1, &thr[0], int32(topK), ptr, k), &p.b); err != nil {
		return nil, fmt.Errorf("find peaks: %w", err)
	}
	base := p.e.l.hostPeaks(p.e.h, p.i)
	counts := unsafe.Slice((*int32)(base), n)
	all := unsafe.Slice((*rlPeak)(unsafe.Add(base, p.e.l.peaksOffset(p.e.h))), n*topK)
	if len(p.peaks) < n {
		p.peaks = make([][]centernet.Peak, p.e.p.batch)
	}
	out := p.peaks[:n]
	for j := range out {
		c := int(counts[j])
		if c < 0 {
			out[j] = nil
			continue
		}
		out[j] = out[j][:0]
		for _, r := range all[j*topK : j*topK+min(c, topK)] {
			out[j] = append(out[j], centernet.Peak{Index: r.Index, Score: r.Score, WH: r.WH})
		}
		if out[j] == nil {
			out[j] = []centernet.Peak{}
		}
	}
	return out, nil
}

// SetImage stages img for slot j of pipeline 0 (see Pipeline.SetImage).
func (e *Engine) SetImage(j int, img image.Image, nw, nh, dx, dy int, half bool) error {
	return e.pipes[0].SetImage(j, img, nw, nh, dx, dy, half)
}

// SetJPEG stages a JPEG bitstream for slot j of pipeline 0 (see Pipeline.SetJPEG).
func (e *Engine) SetJPEG(j int, data []byte, w, h, nw, nh, dx, dy int, half bool) error {
	return e.pipes[0].SetJPEG(j, data, w, h, nw, nh, dx, dy, half)
}

// RunPeaks runs pipeline 0 and returns its peaks (see Pipeline.RunPeaks).
func (e *Engine) RunPeaks(ctx context.Context, n int, thr []float32, topK int) ([][]centernet.Peak, error) {
	return e.pipes[0].RunPeaks(ctx, n, thr, topK)
}

// Luma reads slot j's decoded JPEG picture of pipeline 0 (see Pipeline.Luma).
func (e *Engine) Luma(j int, dst *image.Gray) error { return e.pipes[0].Luma(j, dst) }

// LumaRects reads rectangles of the decoded JPEG pictures of pipeline 0 (see
// Pipeline.LumaRects).
func (e *Engine) LumaRects(rects [][]image.Rectangle) ([][]*image.Gray, error) {
	return e.pipes[0].LumaRects(rects)
}

// The engine and its pipelines do the detector's pre- and post-processing on the device.
var (
	_ centernet.JPEGEngine = (*Engine)(nil)
	_ centernet.JPEGEngine = (*Pipeline)(nil)
	_ centernet.LumaEngine = (*Engine)(nil)
	_ centernet.LumaEngine = (*Pipeline)(nil)
)
