package export

import (
	"errors"
	"io"
	"os"
	"syscall"

	"roadlog/tools/internal/syncfs"
)

// FS is the part of the file system export writes through: the output folder. Tests
// inject faults (a disk that fills up) through it (prometheus wlog's SegmentFile).
type FS interface {
	MkdirAll(path string) error
	Create(path string) (io.WriteCloser, error)
	Rename(from, to string) error
	RemoveAll(path string) error
	// SyncTree makes everything written under dir durable: file data and folder
	// entries. A clip is synced once, before the rename that publishes it.
	SyncTree(dir string) error
	// SyncDir makes one folder's entries (the rename) durable.
	SyncDir(path string) error
}

// OSFS is the real file system.
type OSFS struct{}

// MkdirAll creates a folder and its parents.
func (OSFS) MkdirAll(path string) error { return os.MkdirAll(path, 0o755) }

// Create creates (truncates) a file.
func (OSFS) Create(path string) (io.WriteCloser, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
}

// Rename renames a file or folder.
func (OSFS) Rename(from, to string) error { return os.Rename(from, to) }

// RemoveAll removes a folder and what it holds.
func (OSFS) RemoveAll(path string) error { return os.RemoveAll(path) }

// SyncDir fsyncs a folder.
func (OSFS) SyncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// SyncTree makes a folder's files durable (one syncfs(2) on Linux, see syncfs.Tree).
func (OSFS) SyncTree(dir string) error { return syncfs.Tree(dir) }

// ErrDestinationFull reports that the output's file system ran out of space; the
// clips finished before stay, and running the export again resumes after them.
var ErrDestinationFull = errors.New("destination is full")

// isNoSpace reports whether err says the disk (or the quota) is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
