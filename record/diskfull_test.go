package record

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"roadlog/record/drive"
	"roadlog/schema"
)

// fullFS is a file system that runs out of space after a byte budget: writes beyond it
// fail with ENOSPC (a short write), as a real disk that fills up. Removing a file gives
// its bytes back.
type fullFS struct {
	mu     gosync.Mutex // guards budget, sizes
	budget int64
	sizes  map[string]int64
}

type fullFile struct {
	*os.File
	fs   *fullFS
	path string
}

func (fs *fullFS) Create(path string) (drive.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &fullFile{File: f, fs: fs, path: path}, nil
}
func (fs *fullFS) MkdirAll(path string) error { return os.MkdirAll(path, 0o755) }
func (fs *fullFS) Remove(path string) error {
	fs.mu.Lock()
	fs.budget += fs.sizes[path]
	delete(fs.sizes, path)
	fs.mu.Unlock()
	return os.Remove(path)
}

func (f *fullFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	n := int64(len(p))
	if n > f.fs.budget {
		n = max(f.fs.budget, 0)
	}
	f.fs.budget -= n
	f.fs.sizes[f.path] += n
	f.fs.mu.Unlock()
	w, err := f.File.Write(p[:n])
	if err == nil && int(n) < len(p) {
		err = syscall.ENOSPC
	}
	return w, err
}

func TestDiskFullMidDriveClosesCleanly(t *testing.T) {
	root := t.TempDir()
	t0 := int64(1_800_000_000) * 1e9
	fs := &fullFS{budget: 8<<20 + 600<<10, sizes: map[string]int64{}} // the reserve, then 600 KiB
	e, err := New(Options{Root: root, FS: fs, SegmentDuration: 2 * time.Second, CloseLag: 200 * time.Millisecond,
		FlushInterval: 100 * time.Millisecond, Timebase: fixedStart{t0: t0, h0: hostNow()}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Start("test")
	if err != nil {
		t.Fatal(err)
	}
	go feed(e, t0, 20*time.Second, schema.CodecMJPEG)
	select {
	case <-d.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("the recording did not stop when the disk filled")
	}
	sum := d.Summary()
	if !strings.Contains(sum.StopReason, "no space left") {
		t.Fatalf("stop reason %q", sum.StopReason)
	}
	rep, err := drive.Verify(d.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		var b strings.Builder
		rep.Print(&b)
		t.Fatalf("drive does not verify after the disk filled:\n%s", b.String())
	}
	m, _ := drive.ReadManifest(d.Dir)
	if m.Status != drive.StatusClosed || !strings.Contains(m.StopReason, "no space") {
		t.Fatalf("manifest status %s reason %q", m.Status, m.StopReason)
	}
	var full bool
	for _, s := range m.Segments {
		drive.ReadRows(filepath.Join(d.Dir, s.Dir, "events.arrow"), schema.EventsTable, func(ev *schema.Event) error {
			if ev.Code == schema.EvDiskFull {
				full = true
			}
			return nil
		})
	}
	if !full {
		t.Fatal("no disk_full event in the drive")
	}
	if _, err := os.Stat(filepath.Join(d.Dir, drive.ReserveFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reserve file left behind: %v", err)
	}
}

func TestDiskGuardStopsBeforeTheDiskIsFull(t *testing.T) {
	root := t.TempDir()
	t0 := int64(1_800_000_000) * 1e9
	var free gosync.Mutex
	left := int64(300 << 20)
	e, err := New(Options{Root: root, FlushInterval: 100 * time.Millisecond, Timebase: fixedStart{t0: t0, h0: hostNow()},
		MinFreeBytes: 256 << 20, WarnFreeBytes: 290 << 20,
		FreeSpace: func(string) (int64, error) {
			free.Lock()
			defer free.Unlock()
			left -= 10 << 20
			return left, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Start("test")
	if err != nil {
		t.Fatal(err)
	}
	go feed(e, t0, 3*time.Second, schema.CodecMJPEG)
	select {
	case <-d.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the disk guard did not stop the recording")
	}
	if !strings.HasPrefix(d.Summary().StopReason, "disk full") {
		t.Fatalf("stop reason %q", d.Summary().StopReason)
	}
	rep, _ := drive.Verify(d.Dir)
	if !rep.OK() {
		t.Fatal("drive does not verify")
	}
	codes := map[schema.EventCode]bool{}
	drive.ReadRows(filepath.Join(d.Dir, "seg-000000", "events.arrow"), schema.EventsTable, func(ev *schema.Event) error {
		codes[ev.Code] = true
		return nil
	})
	if !codes[schema.EvDiskLow] || !codes[schema.EvDiskFull] || !codes[schema.EvRecordStop] {
		t.Fatalf("events %v: want disk_low, disk_full, record_stop", codes)
	}
}

func TestUnwritableOutputFailsBeforeStart(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ro")
	os.MkdirAll(root, 0o555)
	if os.Getuid() == 0 {
		// root writes anywhere: use a path under a file instead
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o644)
		root = filepath.Join(f, "drives")
	}
	e, err := New(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start("test"); err == nil {
		t.Fatal("start succeeded on an unwritable output folder")
	}
	if e.State() != Idle {
		t.Fatal("engine not idle after a failed start")
	}
}
