package live

import (
	"bytes"
	"context"
	"errors"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"roadlog/acquire/camera"
	"roadlog/schema"
)

const (
	streamW, streamH = 320, 192
	streamGOP        = 12
)

// h264Frames encodes n frames of ffmpeg's moving test pattern as H.264 (libx264, no
// B-frames, a keyframe every streamGOP frames) and returns them as a camera publishes
// them (AVCC access units, parameter sets on keyframes), with the pictures ffmpeg
// decodes from the same stream in one go (planar 4:2:0), frame by frame.
func h264Frames(t *testing.T, n int) ([]*schema.VideoFrame, [][]byte) {
	t.Helper()
	return encodeH264(t, n, streamW, streamH, []string{"-f", "lavfi", "-i", "testsrc2=size=320x192:rate=30"})
}

// encodeH264 encodes n frames of size w×h from ffmpeg input in (arguments) as
// h264Frames does.
func encodeH264(t *testing.T, n, w, h int, in []string, extra ...string) ([]*schema.VideoFrame, [][]byte) {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not found (make test installs it)")
	}
	var es, stderr bytes.Buffer
	args := append([]string{"-hide_banner", "-v", "error"}, in...)
	args = append(args, "-frames:v", itoa(n), "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", itoa(streamGOP),
		"-keyint_min", itoa(streamGOP), "-sc_threshold", "0", "-pix_fmt", "yuv420p")
	args = append(append(args, extra...), "-f", "h264", "-")
	enc := exec.Command(ff, args...)
	enc.Stdout, enc.Stderr = &es, &stderr
	if err := enc.Run(); err != nil {
		t.Skipf("ffmpeg cannot encode H.264 here: %v: %s", err, stderr.String())
	}
	var raw bytes.Buffer
	dec := exec.Command(ff, "-hide_banner", "-v", "error", "-f", "h264", "-i", "-", "-pix_fmt", "yuv420p", "-f", "rawvideo", "-")
	dec.Stdin, dec.Stdout, dec.Stderr = bytes.NewReader(es.Bytes()), &raw, &stderr
	if err := dec.Run(); err != nil {
		t.Fatalf("ffmpeg decode: %v: %s", err, stderr.String())
	}
	size := w*h + 2*((w+1)/2)*((h+1)/2)
	if raw.Len() != n*size {
		t.Fatalf("reference decode: %d bytes for %d frames", raw.Len(), n)
	}
	var pics [][]byte
	for i := range n {
		pics = append(pics, raw.Bytes()[i*size:(i+1)*size])
	}
	sp := &camera.AnnexBSplitter{Codec: schema.CodecH264}
	aus, errs := sp.Push(es.Bytes(), 0)
	aus = append([]camera.AccessUnit(nil), aus...)
	rest, errs2 := sp.Flush()
	aus = append(aus, rest...)
	if len(errs)+len(errs2) > 0 || len(aus) != n {
		t.Fatalf("split: %d access units for %d frames, errors %v %v", len(aus), n, errs, errs2)
	}
	var frames []*schema.VideoFrame
	for i, au := range aus {
		vf := &schema.VideoFrame{Frame: schema.Frame{Camera: 2, Seq: int64(100 + i), Codec: schema.CodecH264, Width: uint16(w), Height: uint16(h)}}
		var keep [][]byte
		for _, nalu := range au.NALUs {
			switch h264.NALUType(nalu[0] & 0x1f) {
			case h264.NALUTypeSPS, h264.NALUTypePPS:
				vf.Params = append(vf.Params, nalu)
			case h264.NALUTypeIDR:
				vf.Keyframe = true
				keep = append(keep, nalu)
			case h264.NALUTypeAccessUnitDelimiter:
			default:
				keep = append(keep, nalu)
			}
		}
		if vf.Data, err = h264.AVCC(keep).Marshal(); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, vf)
	}
	return frames, pics
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// samePicture checks a decoded picture against the reference bytes of its frame.
func samePicture(t *testing.T, img image.Image, want []byte, seq int64) {
	t.Helper()
	y, ok := img.(*image.YCbCr)
	if !ok || y.Rect.Dx() != streamW || y.Rect.Dy() != streamH {
		t.Fatalf("frame %d: picture %T %v", seq, img, img.Bounds())
	}
	got := append(append(append([]byte(nil), y.Y...), y.Cb...), y.Cr...)
	if !bytes.Equal(got, want) {
		t.Fatalf("frame %d: the picture is not that frame's", seq)
	}
}

// Fed frame after frame, as a camera publishes them, every frame's picture is the
// one ffmpeg decodes for it from the whole stream: the counting never slips.
// Frames before the first keyframe have no picture (an error at once, not a wait).
func TestStreamDecoderPicturesMatchFrames(t *testing.T) {
	frames, pics := h264Frames(t, 3*streamGOP+5)
	// a frame whose picture is on its way waits as long as ffmpeg takes (a loaded
	// machine is slow); one without a picture must say so at once, not time out
	d := &StreamDecoder{Keep: 6, Timeout: time.Hour}
	defer d.Close()
	ctx := context.Background()
	start := 5 // mid-GOP: the decoder waits for the keyframe at streamGOP
	lent := map[int]image.Image{}
	for i := start; i < len(frames); i++ {
		d.Feed(frames[i])
		if k := i - 3; k >= streamGOP {
			img, err := d.Picture(ctx, frames[k].Seq)
			if err != nil {
				t.Fatalf("frame %d: %v", k, err)
			}
			samePicture(t, img, pics[k], frames[k].Seq)
			if k%3 == 0 {
				lent[k] = img
			}
		}
	}
	for k, img := range lent { // what Picture handed out was not reused for later frames
		samePicture(t, img, pics[k], frames[k].Seq)
	}
	soon, cancel := context.WithTimeout(ctx, time.Minute) // a wait would end in DeadlineExceeded
	defer cancel()
	if _, err := d.Picture(soon, frames[start+1].Seq); !errors.Is(err, ErrNoPicture) {
		t.Fatalf("a frame before the first keyframe: %v, want ErrNoPicture", err)
	}
	if _, err := d.Picture(soon, frames[streamGOP].Seq); !errors.Is(err, ErrNoPicture) { // no longer kept
		t.Fatalf("a frame no longer kept: %v, want ErrNoPicture", err)
	}
	if d.Dropped() != 0 {
		t.Fatalf("%d frames dropped at this pace", d.Dropped())
	}
	d.Close()
	if _, err := d.Picture(ctx, frames[len(frames)-1].Seq+1); err == nil {
		t.Fatal("a picture after Close")
	}
}

// When ffmpeg cannot keep up, Feed drops frames up to the next keyframe instead of
// blocking; the dropped frames have no picture, and the frames decoded after the
// next keyframe are still matched to the right pictures.
func TestStreamDecoderDropsToTheNextKeyframe(t *testing.T) {
	frames, pics := h264Frames(t, 6*streamGOP)
	burst := 4 * streamGOP
	d := &StreamDecoder{Queue: 2, Keep: 6 * streamGOP, Timeout: time.Hour}
	defer d.Close()
	for _, f := range frames[:burst] { // far faster than ffmpeg starts
		d.Feed(f)
	}
	if d.Dropped() == 0 {
		t.Fatal("no frame dropped with a queue of 2")
	}
	dropped := d.Dropped()
	taken := func() { // wait until ffmpeg's writer took every queued frame
		d.mu.Lock()
		for d.err == nil && len(d.in) > 0 { // each frame written broadcasts
			d.cond.Wait()
		}
		d.mu.Unlock()
	}
	ctx := context.Background()
	for _, f := range frames[burst:] { // then at ffmpeg's pace: the queue empty before each frame
		taken()
		d.Feed(f)
	}
	if d.Dropped() != dropped {
		t.Fatalf("%d frames dropped at ffmpeg's own pace", d.Dropped()-dropped)
	}
	decoded := 0
	for k := range burst {
		img, err := d.Picture(ctx, frames[k].Seq)
		if errors.Is(err, ErrNoPicture) {
			continue
		}
		if err != nil {
			t.Fatalf("frame %d: %v", k, err)
		}
		samePicture(t, img, pics[k], frames[k].Seq)
		decoded++
	}
	for k := burst; k < len(frames)-3; k++ { // fed at a pace: all decoded
		img, err := d.Picture(ctx, frames[k].Seq)
		if err != nil {
			t.Fatalf("frame %d, fed after the burst: %v", k, err)
		}
		samePicture(t, img, pics[k], frames[k].Seq)
	}
	if int64(decoded) > int64(burst)-d.Dropped() {
		t.Fatalf("%d of the burst's frames decoded, %d dropped", decoded, d.Dropped())
	}
	t.Logf("burst of %d: %d dropped, %d decoded and matched", burst, d.Dropped(), decoded)
}

// A damaged access unit that gives no picture — garbage after the NAL header, a slice
// NAL with no header, a unit with no slice at all — must not shift the pictures of the
// frames after it onto the wrong frames: the damaged frame has no picture
// (ErrNoPicture, counted in Undecodable) and every frame of the next GOP gets exactly
// the picture ffmpeg decodes for it from the undamaged stream. A unit cut short is
// concealed by ffmpeg and keeps a picture.
func TestStreamDecoderUndecodableUnits(t *testing.T) {
	for _, c := range []struct {
		name    string
		damage  func(slice []byte) [][]byte
		picture bool // ffmpeg still makes a picture of it
	}{
		{"garbage", func(n []byte) [][]byte {
			n = bytes.Clone(n)
			for i := 1; i < len(n); i++ {
				n[i] = byte(i*7919 + 13)
			}
			return [][]byte{n}
		}, false},
		{"slice-without-header", func([]byte) [][]byte { return [][]byte{{0x41}} }, false},
		{"no-slice", func([]byte) [][]byte { return [][]byte{{0x06, 0x05, 0x01, 0x00, 0x80}} }, false}, // an SEI alone
		{"cut-short", func(n []byte) [][]byte { return [][]byte{n[:len(n)/3]} }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			frames, pics := h264Frames(t, 3*streamGOP)
			k := streamGOP + 5 // a P-frame mid-GOP
			var nalus h264.AVCC
			if err := nalus.Unmarshal(frames[k].Data); err != nil {
				t.Fatal(err)
			}
			bad := *frames[k]
			var err error
			if bad.Data, err = h264.AVCC(c.damage(nalus[0])).Marshal(); err != nil {
				t.Fatal(err)
			}
			frames[k] = &bad
			d := &StreamDecoder{Keep: 3 * streamGOP, Timeout: time.Hour}
			defer d.Close()
			for _, f := range frames {
				d.Feed(f)
			}
			ctx := context.Background()
			for i := 2 * streamGOP; i < len(frames)-3; i++ { // ffmpeg keeps the last few until more come
				img, err := d.Picture(ctx, frames[i].Seq)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				samePicture(t, img, pics[i], frames[i].Seq)
			}
			_, err = d.Picture(ctx, frames[k].Seq)
			if got := err == nil; got != c.picture || (!got && !errors.Is(err, ErrNoPicture)) {
				t.Errorf("the damaged frame: %v; want a picture: %v", err, c.picture)
			}
			if want := int64(map[bool]int{true: 0, false: 1}[c.picture]); d.Undecodable() != want {
				t.Errorf("%d frames undecodable, want %d", d.Undecodable(), want)
			}
		})
	}
}

// An ffmpeg built without the showinfo filter still decodes, by counting alone: every
// picture of a clean stream on its own frame.
func TestStreamDecoderWithoutShowinfo(t *testing.T) {
	frames, pics := h264Frames(t, 2*streamGOP)
	wrapper := ffmpegWrapper(t, `[ "$a" = -filters ] && exit 0`) // lists no filters
	if hasShowinfo(wrapper) {
		t.Fatal("the wrapper lists showinfo")
	}
	decodeAll(t, &StreamDecoder{FFmpeg: wrapper, Keep: 2 * streamGOP, Timeout: time.Hour}, frames, pics)
}

// ffmpegWrapper writes a shell script that runs check on each of its arguments ($a)
// and then the real ffmpeg, and returns its path.
func ffmpegWrapper(t *testing.T, check string) string {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("no ffmpeg")
	}
	path := filepath.Join(t.TempDir(), "ffmpeg")
	script := "#!/bin/sh\nfor a in \"$@\"; do " + check + "; done\nexec " + ff + " \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// decodeAll feeds d every frame and holds every picture but the last three (which
// ffmpeg keeps back) equal to ffmpeg's own.
func decodeAll(t *testing.T, d *StreamDecoder, frames []*schema.VideoFrame, pics [][]byte) {
	t.Helper()
	defer d.Close()
	for _, f := range frames {
		d.Feed(f)
	}
	for i := range len(frames) - 3 {
		img, err := d.Picture(context.Background(), frames[i].Seq)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		samePicture(t, img, pics[i], frames[i].Seq)
	}
}

// An ffmpeg slow to start (2 s, as on a loaded machine): the first pictures wait for
// it up to StartTimeout, not Timeout, and none is lost.
func TestStreamDecoderSlowStart(t *testing.T) {
	frames, pics := h264Frames(t, streamGOP)
	slow := ffmpegWrapper(t, `[ "$a" = -i ] && sleep 2`) // the decoding run, not the filter list
	decodeAll(t, &StreamDecoder{FFmpeg: slow, Keep: streamGOP, Timeout: 100 * time.Millisecond, StartTimeout: time.Minute}, frames, pics)
}

// An ffmpeg that takes frames and returns no picture: Picture gives up once no picture
// has come for Timeout, with DeadlineExceeded, instead of waiting for ever.
func TestStreamDecoderStalled(t *testing.T) {
	frames, _ := h264Frames(t, 4)
	stuck := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(stuck, []byte("#!/bin/sh\nexec cat >/dev/null\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := &StreamDecoder{FFmpeg: stuck, Timeout: 100 * time.Millisecond, StartTimeout: 200 * time.Millisecond}
	defer d.Close()
	for _, f := range frames {
		d.Feed(f)
	}
	for i := range 2 { // the first waits for the start, the second no longer
		if _, err := d.Picture(context.Background(), frames[i+1].Seq); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a frame ffmpeg never returns: %v, want DeadlineExceeded", err)
		}
	}
}

// EncodeH264 is encodeH264 for the external tests (raw_test.go).
var EncodeH264 = encodeH264

// FuzzCodedPicture: any bytes as an access unit give an answer, never a panic, and a
// unit said to hold a coded picture holds a slice NAL by mediacommon's own reading of
// the AVCC framing. Seeded with the units of an H.264 stream from the camera tests.
func FuzzCodedPicture(f *testing.F) {
	es, err := os.ReadFile(filepath.Join("..", "..", "acquire", "camera", "testdata", "h264_plain.h264"))
	if err != nil {
		f.Fatal(err)
	}
	sp := &camera.AnnexBSplitter{Codec: schema.CodecH264}
	aus, _ := sp.Push(es, 0)
	rest, _ := sp.Flush()
	for _, au := range append(aus, rest...) {
		b, err := h264.AVCC(au.NALUs).Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0, 5, 0x06, 0x05, 0x01, 0x00, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := codedPicture(schema.CodecH264, b)
		_ = codedPicture(schema.CodecH265, b)
		var nalus h264.AVCC
		if got && nalus.Unmarshal(b) == nil && !slices.ContainsFunc(nalus, func(n []byte) bool { return len(n) > 0 && n[0]&0x1f >= 1 && n[0]&0x1f <= 5 }) {
			t.Fatalf("%x: said to hold a coded picture, but holds none", b)
		}
	})
}
