// Package syncfs makes a freshly written folder tree durable before it is published
// by a rename (tools/convert's output files, tools/export's clips).
package syncfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// Tree flushes the file system holding dir with one syncfs(2): an export's clip has
// thousands of small files (an image and two label files per frame), and one syncfs
// costs a fraction of an fsync each.
func Tree(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}
