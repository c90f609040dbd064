package mp4file

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"roadlog/internal/shared"
	"roadlog/schema"
)

// fileCase is one MP4 the index must agree with ffprobe on. The table feeds the test,
// the fuzz seeds and the benchmark.
type fileCase struct {
	name   string
	path   func(testing.TB) string
	codec  schema.Codec
	w, h   int
	frames int
}

func fixture(name string) func(testing.TB) string {
	return func(testing.TB) string { return filepath.Join("testdata", name) }
}

var fileCases = []fileCase{
	{"fragmented h264", fixture("frag_h264.mp4"), schema.CodecH264, 64, 48, 10},
	{"progressive mjpeg", fixture("prog_mjpeg.mp4"), schema.CodecMJPEG, 64, 48, 6},
	{"dash-cam h264 with audio", func(tb testing.TB) string {
		return shared.Path(tb, "testdata/images/video/udacity_lanes_solidWhiteRight.mp4")
	}, schema.CodecH264, 960, 540, 221},
}

func readTracks(tb testing.TB, b []byte) ([]*Track, error) {
	tb.Helper()
	return Read(bytes.NewReader(b), int64(len(b)))
}

// probe returns ffprobe's view of the first video stream: pos, size and key flag per
// packet in decode order.
func probe(t *testing.T, path string) (pos []int64, size []int32, key []bool) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"packet=pos,size,flags", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	for _, l := range strings.Fields(string(out)) {
		f := strings.Split(l, ",")
		s, _ := strconv.Atoi(f[0])
		p, _ := strconv.ParseInt(f[1], 10, 64)
		pos, size, key = append(pos, p), append(size, int32(s)), append(key, strings.HasPrefix(f[2], "K"))
	}
	return pos, size, key
}

func TestReadAgreesWithFFprobe(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skipf("ffprobe is not installed (apt-get install -y ffmpeg): %v", err)
	}
	for _, c := range fileCases {
		t.Run(c.name, func(t *testing.T) {
			p := c.path(t)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			tracks, err := readTracks(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(tracks) != 1 {
				t.Fatalf("%d video tracks", len(tracks))
			}
			tr := tracks[0]
			if tr.Codec != c.codec || tr.Width != c.w || tr.Height != c.h || len(tr.Samples) != c.frames {
				t.Fatalf("track %v %dx%d %d samples", tr.Codec, tr.Width, tr.Height, len(tr.Samples))
			}
			if c.codec == schema.CodecH264 && (len(tr.Params) != 2 || tr.Params[0][0]&0x1f != 7 || tr.Params[1][0]&0x1f != 8) {
				t.Fatalf("parameter sets %x", tr.Params)
			}
			pos, size, key := probe(t, p)
			if len(pos) != len(tr.Samples) {
				t.Fatalf("ffprobe sees %d packets, index %d", len(pos), len(tr.Samples))
			}
			for i, s := range tr.Samples {
				if s.Offset != pos[i] || s.Size != size[i] || s.Sync != key[i] {
					t.Fatalf("sample %d: %+v; ffprobe pos %d size %d key %v", i, s, pos[i], size[i], key[i])
				}
				if i > 0 && s.DTS != tr.Samples[i-1].DTS+int64(tr.Samples[i-1].Duration) {
					t.Fatalf("sample %d: dts %d does not follow", i, s.DTS)
				}
			}
		})
	}
}

// TestReadDamage: a torn or damaged file gives a *CorruptionError and keeps every
// sample that lies wholly inside the file.
func TestReadDamage(t *testing.T) {
	clean, err := os.ReadFile(filepath.Join("testdata", "frag_h264.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := readTracks(t, clean)
	if err != nil {
		t.Fatal(err)
	}
	last := all[0].Samples[len(all[0].Samples)-1]
	cases := []struct {
		name     string
		b        []byte
		min, max int  // samples kept
		corrupt  bool // a *CorruptionError is due
	}{
		{"torn in the last sample", clean[:last.Offset+int64(last.Size)/2], 4, 9, true},
		{"torn after the moov", clean[:1000], 0, 0, true},
		{"box header torn at the end", append(bytes.Clone(clean), 0, 0, 0, 9, 'x'), 10, 10, false},
		{"box claims more than the file", append(bytes.Clone(clean), 0, 0, 1, 0, 'm', 'o', 'o', 'f', 1, 2), 10, 10, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tracks, err := readTracks(t, c.b)
			var ce *CorruptionError
			if errors.As(err, &ce) != c.corrupt {
				t.Fatalf("err %v, want *CorruptionError: %v", err, c.corrupt)
			}
			n := 0
			if len(tracks) > 0 {
				n = len(tracks[0].Samples)
				for i, s := range tracks[0].Samples {
					if s != all[0].Samples[i] {
						t.Fatalf("sample %d changed: %+v", i, s)
					}
				}
			}
			if n < c.min || n > c.max {
				t.Fatalf("%d samples kept, want %d..%d", n, c.min, c.max)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	for _, c := range fileCases[:2] {
		b, err := os.ReadFile(c.path(f))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)*2/3])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tracks, _ := Read(bytes.NewReader(b), int64(len(b)))
		for _, tr := range tracks {
			for _, s := range tr.Samples {
				if s.Offset < 0 || s.Size < 0 || s.Offset+int64(s.Size) > int64(len(b)) {
					t.Fatalf("sample outside the file: %+v", s)
				}
			}
		}
	})
}

func BenchmarkRead(b *testing.B) {
	for _, c := range fileCases {
		data, err := os.ReadFile(c.path(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("file="+strings.ReplaceAll(c.name, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				if _, err := Read(bytes.NewReader(data), int64(len(data))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
