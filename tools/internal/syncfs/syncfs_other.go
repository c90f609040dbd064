//go:build !linux

// Package syncfs makes a freshly written folder tree durable before it is published
// by a rename (tools/convert's output files, tools/export's clips).
package syncfs

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Tree fsyncs every file and folder under dir.
func Tree(dir string) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
