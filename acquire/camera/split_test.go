package camera

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"roadlog/schema"
)

// streamCase is one elementary-stream fixture made by ffmpeg (testsrc 96x64, 12 frames,
// a keyframe every 5 frames, no B-frames; see testdata/README.md for the commands).
// The table feeds the splitter tests, the fuzz seeds and the benchmarks.
type streamCase struct {
	file      string
	codec     schema.Codec
	frames    int
	keyframes []int64 // seq of the keyframes
}

var streamCases = []streamCase{
	{"h264_plain.h264", schema.CodecH264, 12, []int64{0, 5, 10}},
	{"h264_aud_slices.h264", schema.CodecH264, 12, []int64{0, 5, 10}},
	{"h265_plain.h265", schema.CodecH265, 12, []int64{0, 5, 10}},
	{"mjpeg_plain.mjpeg", schema.CodecMJPEG, 12, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// splitAll pushes b in pieces of chunk bytes and returns every unit and error.
func splitAll(codec schema.Codec, b []byte, chunk int) ([]AccessUnit, []error) {
	sp, err := newSplitter(codec, 0)
	if err != nil {
		return nil, []error{err}
	}
	var aus []AccessUnit
	var errs []error
	keep := func(a []AccessUnit, e []error) {
		aus = append(aus, a...)
		errs = append(errs, e...)
	}
	for i := 0; i < len(b); i += chunk {
		keep(sp.Push(b[i:min(len(b), i+chunk)], int64(i)))
	}
	keep(sp.Flush())
	return aus, errs
}

// auBytes is a unit's payload in one slice, for comparison.
func auBytes(au AccessUnit) []byte {
	if au.JPEG != nil {
		return au.JPEG
	}
	var b []byte
	for _, n := range au.NALUs {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

func TestSplitFixtures(t *testing.T) {
	for _, c := range streamCases {
		t.Run(c.file, func(t *testing.T) {
			b := readFixture(t, c.file)
			whole, errs := splitAll(c.codec, b, len(b))
			if len(errs) != 0 {
				t.Fatalf("errors on a clean stream: %v", errs)
			}
			if len(whole) != c.frames {
				t.Fatalf("%d access units, want %d", len(whole), c.frames)
			}
			// any split of the bytes gives the same units
			for _, chunk := range []int{1, 3, 7, 188, 4096} {
				parts, errs := splitAll(c.codec, b, chunk)
				if len(errs) != 0 || len(parts) != len(whole) {
					t.Fatalf("chunk %d: %d units, %v", chunk, len(parts), errs)
				}
				for i := range parts {
					if !bytes.Equal(auBytes(parts[i]), auBytes(whole[i])) || parts[i].Offset != whole[i].Offset {
						t.Fatalf("chunk %d: unit %d differs", chunk, i)
					}
				}
			}
			// no NAL unit lost or invented: the units hold exactly the stream's NAL units
			if c.codec != schema.CodecMJPEG {
				var all h264.AnnexB
				if err := all.Unmarshal(b); err != nil {
					t.Fatal(err)
				}
				var got [][]byte
				for _, au := range whole {
					got = append(got, au.NALUs...)
				}
				if len(got) != len(all) {
					t.Fatalf("%d NAL units, stream has %d", len(got), len(all))
				}
				for i := range got {
					if !bytes.Equal(got[i], all[i]) {
						t.Fatalf("NAL unit %d differs", i)
					}
				}
			} else {
				var cat []byte
				for _, au := range whole {
					cat = append(cat, au.JPEG...)
				}
				if !bytes.Equal(cat, b) {
					t.Fatal("the images do not add up to the stream")
				}
			}
			// frames: keyframes where the encoder put them, parameter sets on the first
			tr := newTrack(0, c.codec)
			var keys []int64
			for i, au := range whole {
				var vf *schema.VideoFrame
				var err error
				if au.JPEG != nil {
					vf, err = tr.jpeg(au.JPEG)
				} else {
					vf, err = tr.h26x(au.NALUs)
				}
				if err != nil || vf == nil {
					t.Fatalf("frame %d: %v %v", i, vf, err)
				}
				if vf.Seq != int64(i) || vf.Width != 96 || vf.Height != 64 || vf.Codec != c.codec {
					t.Fatalf("frame %d: seq %d %dx%d %v", i, vf.Seq, vf.Width, vf.Height, vf.Codec)
				}
				if vf.Keyframe {
					keys = append(keys, vf.Seq)
				}
				wantParams := 0
				if i == 0 && c.codec == schema.CodecH264 {
					wantParams = 2
				} else if i == 0 && c.codec == schema.CodecH265 {
					wantParams = 3
				}
				if len(vf.Params) != wantParams {
					t.Fatalf("frame %d: %d parameter sets, want %d", i, len(vf.Params), wantParams)
				}
				if c.codec != schema.CodecMJPEG {
					checkAVCC(t, vf.Data)
				}
			}
			if fmt.Sprint(keys) != fmt.Sprint(c.keyframes) {
				t.Fatalf("keyframes %v, want %v", keys, c.keyframes)
			}
			// ffprobe agrees on the number of pictures and where the keyframes are
			if _, err := exec.LookPath("ffprobe"); err == nil {
				out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=flags",
					"-of", "csv=p=0", filepath.Join("testdata", c.file)).Output()
				if err != nil {
					t.Fatal(err)
				}
				var pk []int64
				lines := strings.Fields(string(out))
				for i, l := range lines {
					if strings.HasPrefix(l, "K") {
						pk = append(pk, int64(i))
					}
				}
				if len(lines) != c.frames || fmt.Sprint(pk) != fmt.Sprint(c.keyframes) {
					t.Fatalf("ffprobe: %d packets, keyframes %v", len(lines), pk)
				}
			}
		})
	}
}

// checkAVCC checks that d is a sequence of 4-byte length-prefixed NAL units with no
// parameter set and no delimiter among them.
func checkAVCC(t *testing.T, d []byte) {
	t.Helper()
	var a h264.AVCC
	if err := a.Unmarshal(d); err != nil {
		t.Fatalf("AVCC: %v", err)
	}
}

// damage cases: what a broken stream must give. Each mutates a clean fixture.
var damageCases = []struct {
	name   string
	file   string
	codec  schema.Codec
	mutate func([]byte) []byte
	// frames: how many pictures must survive at least / at most
	minFrames, maxFrames int
	wantErr              error // an error the damage must be reported as (nil: any)
}{
	{"truncated mid-frame", "h264_plain.h264", schema.CodecH264,
		func(b []byte) []byte { return b[:len(b)-20] }, 11, 12, nil},
	{"garbage before the stream", "h264_plain.h264", schema.CodecH264,
		func(b []byte) []byte { return append([]byte("garbage!"), b...) }, 12, 12, nil},
	{"forbidden bit in the IDR slice", "h264_plain.h264", schema.CodecH264,
		func(b []byte) []byte { return setForbidden(b, 3) }, 7, 7, ErrForbiddenBit},
	{"forbidden bit in a P slice", "h264_plain.h264", schema.CodecH264,
		func(b []byte) []byte { return setForbidden(b, 5) }, 10, 11, ErrForbiddenBit},
	{"forbidden bit in an H.265 slice", "h265_plain.h265", schema.CodecH265,
		func(b []byte) []byte { return setForbidden(b, 6) }, 10, 11, ErrForbiddenBit},
	{"JPEG cut off by the next image", "mjpeg_plain.mjpeg", schema.CodecMJPEG,
		func(b []byte) []byte { return cutJPEG(b, 4) }, 11, 11, errTruncated},
	{"JPEG stream truncated", "mjpeg_plain.mjpeg", schema.CodecMJPEG,
		func(b []byte) []byte { return b[:len(b)-100] }, 11, 11, errTruncated},
	{"JPEG junk between images", "mjpeg_plain.mjpeg", schema.CodecMJPEG,
		func(b []byte) []byte { return insertAt(b, jpegStart(b, 3), []byte("\x00junk\xff\x00")) }, 12, 12, nil},
}

// setForbidden sets forbidden_zero_bit in the n-th NAL unit of an Annex-B stream.
func setForbidden(b []byte, n int) []byte {
	b = bytes.Clone(b)
	k := 0
	for i := 0; i+3 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if k == n {
				b[i+3] |= 0x80
				return b
			}
			k++
		}
	}
	return b
}

func jpegStart(b []byte, n int) int {
	k := 0
	for i := 0; i+1 < len(b); i++ {
		if b[i] == 0xFF && b[i+1] == 0xD8 {
			if k == n {
				return i
			}
			k++
		}
	}
	return len(b)
}

// cutJPEG removes the last 200 bytes of image n (its EOI included).
func cutJPEG(b []byte, n int) []byte {
	end := jpegStart(b, n+1)
	return append(bytes.Clone(b[:end-200]), b[end:]...)
}

func insertAt(b []byte, at int, ins []byte) []byte {
	out := append(bytes.Clone(b[:at]), ins...)
	return append(out, b[at:]...)
}

func TestSplitDamage(t *testing.T) {
	for _, c := range damageCases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(readFixture(t, c.file))
			for _, chunk := range []int{len(b), 5, 1000} {
				aus, errs := splitAll(c.codec, b, chunk)
				tr := newTrack(0, c.codec)
				n := 0
				for _, au := range aus {
					var vf *schema.VideoFrame
					var err error
					if au.JPEG != nil {
						vf, err = tr.jpeg(au.JPEG)
					} else {
						vf, err = tr.h26x(au.NALUs)
					}
					if err == nil && vf != nil {
						n++
					}
				}
				if n < c.minFrames || n > c.maxFrames {
					t.Fatalf("chunk %d: %d frames survive, want %d..%d (errors %v)", chunk, n, c.minFrames, c.maxFrames, errs)
				}
				if c.wantErr != nil {
					found := false
					for _, e := range errs {
						var se *StreamError
						if errors.Is(e, c.wantErr) && errors.As(e, &se) {
							found = true
						}
					}
					if !found {
						t.Fatalf("chunk %d: errors %v do not report %v", chunk, errs, c.wantErr)
					}
				}
			}
		})
	}
}

func FuzzAnnexBSplitter(f *testing.F) {
	for _, c := range streamCases {
		if c.codec == schema.CodecMJPEG {
			continue
		}
		b := readFixture(f, c.file)
		f.Add(b, c.codec == schema.CodecH265, uint16(7))
		f.Add(setForbidden(b, 2), c.codec == schema.CodecH265, uint16(100))
	}
	f.Fuzz(func(t *testing.T, b []byte, hevc bool, chunk uint16) {
		codec := schema.CodecH264
		if hevc {
			codec = schema.CodecH265
		}
		fuzzSplit(t, codec, b, int(chunk))
	})
}

func FuzzJPEGSplitter(f *testing.F) {
	b := readFixture(f, "mjpeg_plain.mjpeg")
	f.Add(b[:jpegStart(b, 3)], uint16(7))
	f.Add(cutJPEG(b[:jpegStart(b, 3)], 1), uint16(500))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint16) {
		fuzzSplit(t, schema.CodecMJPEG, b, int(chunk))
	})
}

// fuzzSplit checks the splitter's promises on any input: no panic, every split of the
// bytes gives the same units, units respect the caps, and the track never panics.
func fuzzSplit(t *testing.T, codec schema.Codec, b []byte, chunk int) {
	if chunk <= 0 {
		chunk = 1
	}
	whole, werrs := splitAll(codec, b, max(1, len(b)))
	parts, perrs := splitAll(codec, b, chunk)
	if len(whole) != len(parts) || len(werrs) != len(perrs) {
		t.Fatalf("chunk %d: %d units %d errors; whole: %d units %d errors", chunk, len(parts), len(perrs), len(whole), len(werrs))
	}
	tr := newTrack(0, codec)
	for i := range whole {
		if !bytes.Equal(auBytes(whole[i]), auBytes(parts[i])) {
			t.Fatalf("unit %d differs between splits", i)
		}
		if len(whole[i].NALUs) > DefaultMaxNALUs || len(auBytes(whole[i])) > DefaultMaxAccessUnit+4*DefaultMaxNALUs {
			t.Fatalf("unit %d exceeds the caps", i)
		}
		if whole[i].JPEG != nil {
			_, _ = tr.jpeg(whole[i].JPEG)
		} else {
			_, _ = tr.h26x(whole[i].NALUs)
		}
	}
	for _, e := range werrs {
		var se *StreamError
		if !errors.As(e, &se) || se.Offset < 0 || se.Offset > int64(len(b)) {
			t.Fatalf("error %v does not locate the damage", e)
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	for _, c := range streamCases {
		data := readFixture(b, c.file)
		b.Run("file="+c.file, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				aus, errs := splitAll(c.codec, data, 64<<10)
				if len(aus) != c.frames || len(errs) != 0 {
					b.Fatal(len(aus), errs)
				}
			}
		})
	}
}
