// Package cuda holds the sources of libroadlog_gpu.so (built with nvcc by the Makefile
// here, not by the Go tool) and exposes its C headers to Go tests: the CPU twin of the
// library (detect/gpu/gputest) is compiled against the very same ABI.
package cuda

import "embed"

// Headers are roadlog_gpu.h (the C ABI) and rl_math.h (arithmetic the CUDA kernels and
// the twin share).
//
//go:embed roadlog_gpu.h rl_math.h
var Headers embed.FS
