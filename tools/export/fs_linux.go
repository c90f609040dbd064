package export

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncTree flushes the file system holding dir with one syncfs(2): a clip has
// thousands of small files (an image and two label files per frame), and one syncfs
// costs a fraction of an fsync each.
func syncTree(dir string) error {
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
