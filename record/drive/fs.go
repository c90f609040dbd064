package drive

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// File is the smallest file interface the writers need (prometheus wlog.SegmentFile):
// tests inject faults (ENOSPC, short writes) through it.
type File interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// FS creates the files of a drive.
type FS interface {
	Create(path string) (File, error)
	MkdirAll(path string) error
	Remove(path string) error
}

// OSFS is the real file system.
type OSFS struct{}

// Create creates (or truncates) a file for writing.
func (OSFS) Create(path string) (File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return dataSyncFile{f}, nil
}

// MkdirAll creates a folder and its parents.
func (OSFS) MkdirAll(path string) error { return os.MkdirAll(path, 0o755) }

// Remove removes a file.
func (OSFS) Remove(path string) error { return os.Remove(path) }

// dataSyncFile syncs with fdatasync: file data and the size, not the inode times.
type dataSyncFile struct{ *os.File }

func (f dataSyncFile) Sync() error { return unix.Fdatasync(int(f.Fd())) }
