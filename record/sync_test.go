package record

import (
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
)

// syncFS is the real file system, counting each file's fdatasyncs.
type syncFS struct {
	mu    gosync.Mutex // guards syncs
	syncs map[string]int
}

type syncFile struct {
	*os.File
	fs *syncFS
}

func (fs *syncFS) Create(path string) (drive.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &syncFile{File: f, fs: fs}, nil
}
func (fs *syncFS) MkdirAll(path string) error { return os.MkdirAll(path, 0o755) }
func (fs *syncFS) Remove(path string) error   { return os.Remove(path) }

func (f *syncFile) Sync() error {
	f.fs.mu.Lock()
	f.fs.syncs[filepath.Base(f.Name())]++
	f.fs.mu.Unlock()
	return f.File.Sync()
}

// TestOpenFilesAreSynced: while a segment is open, its video files are fdatasynced
// every SyncInterval like its tables (not only when the segment closes), so a power
// loss costs at most FlushInterval + SyncInterval of video too.
func TestOpenFilesAreSynced(t *testing.T) {
	root := t.TempDir()
	t0 := int64(1_800_000_000) * 1e9
	fs := &syncFS{syncs: map[string]int{}}
	e, err := New(Options{Root: root, FS: fs, SegmentDuration: time.Minute, FlushInterval: 100 * time.Millisecond,
		SyncInterval: 200 * time.Millisecond, Timebase: fixedStart{t0: t0, h0: hostNow()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start("test"); err != nil {
		t.Fatal(err)
	}
	feed(e, t0, 3*time.Second, schema.CodecMJPEG)
	time.Sleep(1500 * time.Millisecond) // the segment stays open: several sync intervals
	fs.mu.Lock()
	open := map[string]int{}
	for name, n := range fs.syncs {
		open[name] = n
	}
	fs.mu.Unlock()
	if _, err := e.Stop("test over", "test"); err != nil {
		t.Fatal(err)
	}
	videos := 0
	for name, n := range open {
		if strings.HasSuffix(name, ".mp4") {
			videos++
			if n < 2 {
				t.Errorf("%s synced %d times while its segment was open, want every SyncInterval", name, n)
			}
		}
	}
	if videos != 2 || open[drive.TableFile(schema.TableCAN)] < 2 {
		t.Fatalf("syncs while the segment was open: %v (want both cameras' videos and the tables)", open)
	}
}
