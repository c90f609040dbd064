package testdrive

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"roadlog/record/drive"
	"roadlog/schema"
)

func TestWriteIsReproducibleAndVerifies(t *testing.T) {
	hash := func(dir string) map[string][32]byte {
		out := map[string][32]byte{}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = sha256.Sum256(b)
			return nil
		})
		return out
	}
	o := Options{Duration: 6 * 1e9, Segment: 4 * 1e9, Live: true, RunID: "truth-1"}
	a, err := Write(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Write(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	ha, hb := hash(a.Dir), hash(b.Dir)
	if len(ha) == 0 || len(ha) != len(hb) {
		t.Fatalf("%d files vs %d", len(ha), len(hb))
	}
	for k, v := range ha {
		if hb[k] != v {
			t.Errorf("%s differs between two writes", k)
		}
	}
	rep, err := drive.Verify(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if !f.Warn {
			t.Errorf("verify: %s: %s", f.Path, f.Problem)
		}
	}
	var objects int
	if _, err := drive.ReadRows(filepath.Join(a.Dir, "seg-000000", "objects.arrow"), schema.ObjectsTable, func(*schema.Object) error {
		objects++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if objects == 0 {
		t.Error("no live objects in segment 0")
	}
}

func TestH264Drive(t *testing.T) {
	a, err := Write(t.TempDir(), Options{Duration: 3e9, Segment: 2e9, Cameras: 4, H264: true})
	if errors.Is(err, ErrNoFFmpeg) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	rep, err := drive.Verify(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if !f.Warn {
			t.Errorf("verify: %s: %s", f.Path, f.Problem)
		}
	}
	keys, n := 0, 0
	if _, err := drive.ReadRows(filepath.Join(a.Dir, "seg-000001", "frames.arrow"), schema.FramesTable, func(f *schema.Frame) error {
		n++
		if f.Keyframe {
			keys++
		}
		if f.Codec != schema.CodecH264 {
			t.Fatalf("codec %v", f.Codec)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := 4 * ((n/4 + GOP - 1) / GOP); keys != want {
		t.Errorf("%d keyframes in %d frames, want %d", keys, n, want)
	}
}
