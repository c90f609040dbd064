package replay

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"go.uber.org/goleak"

	"roadlog/record/drive"
	"roadlog/replay/internal/testdrive"
	"roadlog/schema"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { cleanupBench() }))
}

// key is a comparable form of a sample (NaN prints the same on both sides).
func key(s schema.Sample) string { return fmt.Sprintf("%T %+v", s, s) }

// sampleT is the sample's t; it fails on a sample type schema does not know.
func sampleT(s schema.Sample) int64 {
	if t := schema.TimeOf(s); t != 0 {
		return t
	}
	panic(fmt.Sprintf("sample %T", s))
}

func readAll(t *testing.T, r *Reader) []schema.Sample {
	t.Helper()
	var out []schema.Sample
	for {
		s, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
}

// expected returns the written samples that pass keep, as sorted keys.
func expected(d *testdrive.Drive, keep func(schema.Sample) bool) []string {
	var out []string
	for _, rows := range d.Rows {
		for _, s := range rows {
			if keep == nil || keep(s) {
				out = append(out, key(s))
			}
		}
	}
	sort.Strings(out)
	return out
}

func keys(ss []schema.Sample) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, key(s))
	}
	sort.Strings(out)
	return out
}

func checkOrdered(t *testing.T, ss []schema.Sample) {
	t.Helper()
	for i := 1; i < len(ss); i++ {
		if sampleT(ss[i]) < sampleT(ss[i-1]) {
			t.Fatalf("sample %d (%T t=%d) comes after t=%d", i, ss[i], sampleT(ss[i]), sampleT(ss[i-1]))
		}
	}
}

func sameKeys(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d differs:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// mergeOrder returns a drive's samples in the order the merge must deliver them: by
// t, ties in the table order of schema.Tables, then in file order (a stable sort of
// the tables' rows taken in that order).
func mergeOrder(d *testdrive.Drive) []schema.Sample {
	var out []schema.Sample
	for _, tbl := range schema.Tables() {
		out = append(out, d.Rows[tbl.TableName()]...)
	}
	sort.SliceStable(out, func(i, j int) bool { return sampleT(out[i]) < sampleT(out[j]) })
	return out
}

// sameOrder checks that got is want, sample by sample.
func sameOrder(t *testing.T, got, want []schema.Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if g, w := key(got[i]), key(want[i]); g != w {
			t.Fatalf("sample %d (t=%d) out of merge order:\n got %s\nwant %s", i, sampleT(got[i]), g, w)
		}
	}
}

// writeDrive writes a random drive to a temporary folder and opens it.
func writeDrive(t *testing.T, spec testdrive.Spec) (*testdrive.Drive, *Drive) {
	t.Helper()
	td, err := testdrive.Write(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(td.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return td, d
}

// mergeCases are the random drives the ordering properties are checked on.
var mergeCases = []testdrive.Spec{
	{Seed: 1},
	{Seed: 2, Segments: 3, BatchRows: 7, Codec: drive.CodecNone},
	{Seed: 3, Segments: 1, BatchRows: 500, Codec: drive.CodecLZ4, Cameras: 4},
	{Seed: 4, Segments: 3, BatchRows: 16, Late: 300 * time.Millisecond},
	{Seed: 5, Segments: 2, BatchRows: 1, Cameras: 1, CANRate: 50},
	{Seed: 6, Segments: 1, BatchRows: 300, Codec: drive.CodecZSTDSmall},
}

func TestMergeIsOrderedAndComplete(t *testing.T) {
	for _, spec := range mergeCases {
		td, d := writeDrive(t, spec)
		for _, mode := range readModes {
			t.Run(fmt.Sprintf("seed=%d/read=%s", spec.Seed, mode.name), func(t *testing.T) {
				r, err := d.NewReader(Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				got, lost := mode.read(t, r)
				if len(lost) > 0 {
					t.Fatalf("frames lost on an intact drive: %v", lost)
				}
				checkOrdered(t, got)
				sameKeys(t, keys(got), expected(td, nil))
				sameOrder(t, got, mergeOrder(td))
				st := r.Stats()
				if st.Damage != 0 || st.OutOfOrder != 0 {
					t.Fatalf("stats %+v: want no damage, nothing out of order", st)
				}
				if st.Rows[schema.TableCAN] != int64(len(td.Rows[schema.TableCAN])) {
					t.Fatalf("stats count %d CAN rows, wrote %d", st.Rows[schema.TableCAN], len(td.Rows[schema.TableCAN]))
				}
			})
		}
	}
}

func TestFilters(t *testing.T) {
	td, d := writeDrive(t, testdrive.Spec{Seed: 11, Cameras: 3, Segments: 3})
	from, to := testdrive.T0+int64(1500*time.Millisecond), testdrive.T0+int64(4200*time.Millisecond)
	cases := []struct {
		name string
		opts Options
		keep func(schema.Sample) bool
	}{
		{"tables", Options{Tables: []schema.TableName{schema.TableCAN, schema.TableGNSS}}, func(s schema.Sample) bool {
			return s.Table() == schema.TableCAN || s.Table() == schema.TableGNSS
		}},
		{"cameras", Options{Cameras: []uint8{1}}, func(s schema.Sample) bool {
			switch r := s.(type) {
			case *schema.VideoFrame:
				return r.Camera == 1
			case *schema.Object:
				return r.Camera == 1
			case *schema.Truth:
				return r.Camera == 1 || r.Camera == schema.TruthNoCamera
			}
			return true
		}},
		{"can", Options{Tables: []schema.TableName{schema.TableCAN}, CANBuses: []string{"pt"}, CANIDs: []uint32{0x101, 0x103}}, func(s schema.Sample) bool {
			c, ok := s.(*schema.CAN)
			return ok && c.Bus == "pt" && (c.ID == 0x101 || c.ID == 0x103)
		}},
		{"range", Options{From: from, To: to}, func(s schema.Sample) bool {
			return sampleT(s) >= from && sampleT(s) <= to
		}},
		{"no video data", Options{Tables: []schema.TableName{schema.TableFrames}, NoVideoData: true}, nil},
	}
	for _, c := range cases {
		for _, mode := range readModes {
			t.Run(c.name+"/read="+mode.name, func(t *testing.T) {
				r, err := d.NewReader(c.opts)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				got, lost := mode.read(t, r)
				if len(lost) > 0 {
					t.Fatalf("frames lost on an intact drive: %v", lost)
				}
				checkOrdered(t, got)
				if c.keep == nil { // frames rows without payload
					var want []schema.Sample
					for _, s := range td.Rows[schema.TableFrames] {
						want = append(want, &s.(*schema.VideoFrame).Frame)
					}
					sameKeys(t, keys(got), keys(want))
					return
				}
				sameKeys(t, keys(got), expected(td, c.keep))
			})
		}
	}
}

func TestSeekTime(t *testing.T) {
	for _, spec := range mergeCases {
		td, d := writeDrive(t, spec)
		for _, mode := range readModes {
			t.Run(fmt.Sprintf("seed=%d/read=%s", spec.Seed, mode.name), func(t *testing.T) {
				r, err := d.NewReader(Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				rng := rand.New(rand.NewPCG(spec.Seed, 9))
				span := td.End - testdrive.T0
				for range 6 {
					at := testdrive.T0 - int64(time.Second) + rng.Int64N(span+int64(2*time.Second))
					for k := range rng.IntN(50) { // read a little first: seeks go back and forth
						var err error
						if k%2 == 0 {
							_, err = r.Next()
						} else {
							_, err = r.NextRow()
						}
						if err != nil {
							break
						}
					}
					r.SeekTime(at)
					got, lost := mode.read(t, r)
					if len(lost) > 0 {
						t.Fatalf("frames lost on an intact drive: %v", lost)
					}
					checkOrdered(t, got)
					sameKeys(t, keys(got), expected(td, func(s schema.Sample) bool { return sampleT(s) >= at }))
				}
			})
		}
	}
}

func TestOpenBadInput(t *testing.T) {
	dir := t.TempDir()
	notDrive := filepath.Join(dir, "photos")
	os.MkdirAll(notDrive, 0o755)
	os.WriteFile(filepath.Join(notDrive, "a.jpg"), []byte("x"), 0o644)
	if _, err := Open(notDrive); !errors.Is(err, drive.ErrNotDrive) {
		t.Fatalf("open a folder that is not a drive: %v, want ErrNotDrive", err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open a missing folder: %v, want ErrNotExist", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Open(file); !errors.Is(err, drive.ErrNotDrive) {
		t.Fatalf("open a file: %v, want ErrNotDrive", err)
	}
	td, err := testdrive.Write(dir, testdrive.Spec{Seed: 1, Segments: 1})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(td.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.NewReader(Options{Run: "nope"}); !errors.Is(err, ErrNoRun) {
		t.Fatalf("reader over a missing run: %v, want ErrNoRun", err)
	}
	if _, err := d.RunDir("../seg-000000"); !errors.Is(err, ErrNoRun) {
		t.Fatalf("run id with a path: %v, want ErrNoRun", err)
	}
	if _, err := d.NewReader(Options{Tables: []schema.TableName{"bogus"}}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("unknown table: %v, want ErrBadOptions", err)
	}
	if _, err := d.NewReader(Options{From: 10, To: 5}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("inverted range: %v, want ErrBadOptions", err)
	}
}

// Samples are the caller's: appending to or changing one leaves every other as read.
func TestSamplesAreOwned(t *testing.T) {
	_, d := writeDrive(t, testdrive.Spec{Seed: 61, Segments: 2})
	r, err := d.NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := readAll(t, r)
	want := keys(got)
	var mutated []schema.Sample
	for _, s := range got {
		switch v := s.(type) {
		case *schema.CAN:
			_ = append(v.Data, 0xEE, 0xEE, 0xEE) // would land on the next row's bytes if capacity were shared
		case *schema.VideoFrame:
			_ = append(v.Data, 0xEE)
			if len(v.Data) > 0 {
				c := *v
				c.Data = append([]byte(nil), v.Data...)
				mutated = append(mutated, &c)
			}
		}
	}
	sameKeys(t, keys(got), want)
	if len(mutated) == 0 {
		t.Fatal("no video frames read")
	}
}
