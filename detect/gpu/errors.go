package gpu

import (
	"errors"
	"fmt"
)

// Sentinel errors. *Error wraps one of them, so errors.Is works on what New, Run and
// the detector calls return.
var (
	// ErrNoLibrary: libroadlog_gpu.so (or a CUDA library it needs) could not be loaded.
	ErrNoLibrary = errors.New("GPU library not loaded")
	// ErrABI: the library speaks another ABI version or lays out its structs differently.
	ErrABI = errors.New("GPU library ABI mismatch")
	// ErrNoDevice: there is no CUDA device.
	ErrNoDevice = errors.New("no CUDA device")
	// ErrDriver: the driver is too old for the library's CUDA runtime, or refused it.
	ErrDriver = errors.New("CUDA driver and library do not match")
	// ErrOutOfMemory: device or pinned host memory ran out.
	ErrOutOfMemory = errors.New("out of GPU memory")
	// ErrUnsupportedFeature: the library lacks a feature (cuDNN, nvJPEG, an op variant).
	ErrUnsupportedFeature = errors.New("not supported by this GPU library build")
	// ErrCUDA: a CUDA call or kernel failed.
	ErrCUDA = errors.New("CUDA error")
	// ErrCUDALibrary: cuBLAS, cuDNN or nvJPEG failed.
	ErrCUDALibrary = errors.New("CUDA library error")
	// ErrDecode: a JPEG bitstream could not be decoded.
	ErrDecode = errors.New("JPEG decode failed")
	// ErrRawImage: a RawImage whose bytes are fewer than its layout and size need.
	ErrRawImage = errors.New("raw picture shorter than its layout needs")
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("GPU engine closed")
	// errBug: the binding passed something the library refused (a bug here).
	errBug = errors.New("GPU binding error")
)

// Error is a failure reported by the library: which call, its status, its message.
type Error struct {
	Call   string // e.g. "rl_run"
	Status int32
	Msg    string
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("%s: %v (status %d)", e.Call, e.Unwrap(), e.Status)
	}
	return fmt.Sprintf("%s: %s", e.Call, e.Msg)
}

// Unwrap returns the sentinel of the status.
func (e *Error) Unwrap() error {
	switch e.Status {
	case rlErrNoDevice:
		return ErrNoDevice
	case rlErrDriver:
		return ErrDriver
	case rlErrOOM:
		return ErrOutOfMemory
	case rlErrUnsup:
		return ErrUnsupportedFeature
	case rlErrCUDA:
		return ErrCUDA
	case rlErrLibrary:
		return ErrCUDALibrary
	case rlErrDecode:
		return ErrDecode
	}
	return errBug
}
