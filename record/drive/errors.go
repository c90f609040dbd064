package drive

import (
	"errors"
	"fmt"
)

// ErrNotDrive is returned when a folder is not a roadlog drive.
var ErrNotDrive = errors.New("not a roadlog drive (no manifest.json and no seg-* folders)")

// ErrNoFooter reports an Arrow file without its footer: a file still being written, or
// left by a crash. Its batches can still be read as a stream (ReadTable does).
var ErrNoFooter = errors.New("arrow file has no footer")

// CorruptionError locates damage in a file: the byte offset where the readable part
// ends and what was wrong there.
type CorruptionError struct {
	Path   string
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("%s: corrupt at byte %d: %v", e.Path, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }
