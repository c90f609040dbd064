package videoread

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// growPipe asks for a 1 MiB pipe buffer (Linux's default pipe-max-size) behind the
// decoder's output: a 1080p picture is 3 MB, which through the default 64 KiB pipe
// costs about fifty wake-ups of ffmpeg and the reader each. Best effort.
func growPipe(r io.Reader) {
	f, ok := r.(*os.File)
	if !ok {
		return
	}
	if c, err := f.SyscallConn(); err == nil {
		_ = c.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
	}
}
