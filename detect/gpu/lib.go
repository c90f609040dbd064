package gpu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"
)

// LibraryName is the file name of the CUDA engine library (`make gpu` builds it into
// bin/).
const LibraryName = "libroadlog_gpu.so"

// lib is the loaded library's function table.
type lib struct {
	path string

	abiVersion  func() int32
	layout      func(out *int64, n int32) int32
	probe       func(dev int32, info *byte, n int32) int32
	create      func(cfg *rlConfig, out *uintptr, err *byte, n int32) int32
	addOp       func(e uintptr, op *rlOp, w0, w1, w2, w3 *float32, err *byte, n int32) int32
	addOutput   func(e uintptr, t *rlTensor, err *byte, n int32) int32
	finalize    func(e uintptr, err *byte, n int32) int32
	hostInput   func(e uintptr, p int32) unsafe.Pointer
	hostOutput  func(e uintptr, p, i int32) unsafe.Pointer
	staging     func(e uintptr, p int32, bytes int64) unsafe.Pointer
	preprocess  func(e uintptr, p, n int32, imgs *rlImage, err *byte, errlen int32) int32
	run         func(e uintptr, p, n, src int32, err *byte, errlen int32) int32
	wait        func(e uintptr, p int32, err *byte, errlen int32) int32
	fetch       func(e uintptr, p, i, n int32, err *byte, errlen int32) int32
	peaks       func(e uintptr, p, n, kp, wh int32, thr *float32, topK int32, err *byte, errlen int32) int32
	hostPeaks   func(e uintptr, p int32) unsafe.Pointer
	peaksOffset func(e uintptr) int64
	read        func(e uintptr, p int32, off, n int64, host unsafe.Pointer, err *byte, errlen int32) int32
	luma        func(e uintptr, p, slot, w, h int32, host *byte, err *byte, errlen int32) int32
	lumaRects   func(e uintptr, p, n int32, rects *int32, host *byte, cap int64, err *byte, errlen int32) int32
	profile     func(e uintptr, p, n, reps int32, ms *float32, err *byte, errlen int32) int32
	info        func(e uintptr, buf *byte, n int32) int32
	destroy     func(e uintptr)
}

// libraryCandidates lists where to look for the library: the given path only, or
// $ROADLOG_GPU_LIB, beside the executable, ../lib beside it, then the dynamic loader's
// own search (LD_LIBRARY_PATH, ld.so.cache).
func libraryCandidates(path string) []string {
	if path != "" {
		return []string{path}
	}
	var c []string
	if env := os.Getenv("ROADLOG_GPU_LIB"); env != "" {
		c = append(c, env)
	}
	if exe, err := os.Executable(); err == nil {
		d := filepath.Dir(exe)
		for _, p := range []string{filepath.Join(d, LibraryName), filepath.Join(d, "..", "lib", LibraryName)} {
			if _, err := os.Stat(p); err == nil {
				c = append(c, p)
			}
		}
	}
	return append(c, LibraryName)
}

// openLib loads the library and checks its ABI.
func openLib(path string) (*lib, error) {
	var errs []error
	for _, p := range libraryCandidates(path) {
		l, err := loadLib(p)
		if err == nil {
			return l, nil
		}
		if errors.Is(err, ErrABI) {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrNoLibrary, errors.Join(errs...))
}

// check verifies the library's ABI version and struct layout.
func (l *lib) check() error {
	if v := l.abiVersion(); v != abiVersion {
		return fmt.Errorf("load %s: %w: library ABI %d, binding %d (rebuild with make gpu)", l.path, ErrABI, v, abiVersion)
	}
	want := layoutNumbers()
	got := make([]int64, len(want))
	if n := l.layout(&got[0], int32(len(got))); int(n) != len(want) {
		return fmt.Errorf("load %s: %w: library describes %d layout numbers, binding %d", l.path, ErrABI, n, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			return fmt.Errorf("load %s: %w: layout number %d is %d in the library, %d here", l.path, ErrABI, i, got[i], want[i])
		}
	}
	return nil
}

// layoutNumbers are the sizes and offsets rl_layout reports, in its order.
func layoutNumbers() []int64 {
	var t rlTensor
	var o rlOp
	var c rlConfig
	var im rlImage
	var pk rlPeak
	return []int64{
		int64(unsafe.Sizeof(t)), int64(unsafe.Offsetof(t.DType)),
		int64(unsafe.Sizeof(o)), int64(unsafe.Offsetof(o.Alpha2)), int64(unsafe.Offsetof(o.RatioH)),
		int64(unsafe.Offsetof(o.Scratch)), int64(unsafe.Offsetof(o.X)), int64(unsafe.Offsetof(o.Y)),
		int64(unsafe.Sizeof(c)), int64(unsafe.Offsetof(c.ArenaBytes)), int64(unsafe.Offsetof(c.InH)),
		int64(unsafe.Sizeof(im)), int64(unsafe.Offsetof(im.Off)), int64(unsafe.Sizeof(pk)),
	}
}

// errBuf is a buffer for the library's error messages.
type errBuf [1024]byte

func (b *errBuf) ptr() (*byte, int32) {
	b[0] = 0
	return &b[0], int32(len(b))
}

func (b *errBuf) String() string {
	if i := bytes.IndexByte(b[:], 0); i >= 0 {
		return string(b[:i])
	}
	return string(b[:])
}

// status turns a library status into an error.
func status(call string, st int32, b *errBuf) error {
	if st == rlOK {
		return nil
	}
	return &Error{Call: call, Status: st, Msg: b.String()}
}
