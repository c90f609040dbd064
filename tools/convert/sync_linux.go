package convert

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncTree flushes the file system holding dir with one syncfs(2).
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
