// Package gputest builds the CPU twin of libroadlog_gpu.so for tests: the same C ABI
// (detect/gpu/cuda/roadlog_gpu.h) computed with plain loops on the host
// (twin/roadlog_gpu_stub.c), compiled with gcc, so that the purego binding, the planner
// and everything above the engine are tested on machines without a GPU.
package gputest

import (
	_ "embed"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"roadlog/detect/gpu/cuda"
)

//go:embed twin/roadlog_gpu_stub.c
var twinSource []byte

var twin struct {
	once sync.Once
	dir  string
	err  error
}

// Library names of what Twin builds.
const (
	Name      = "libroadlog_gpu.so" // the twin
	NameABI99 = "libabi99.so"       // the twin claiming ABI version 99
)

// Twin compiles the CPU twin once per process and returns its path; the test is skipped
// when gcc is missing.
func Twin(tb testing.TB) string {
	tb.Helper()
	twin.once.Do(build)
	if twin.err != nil {
		if errors.Is(twin.err, exec.ErrNotFound) {
			tb.Skip("gcc is not installed: the CPU twin of the GPU library cannot be built (apt-get install gcc)")
		}
		tb.Fatalf("build the CPU twin: %v", twin.err)
	}
	return filepath.Join(twin.dir, Name)
}

func build() {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		twin.err = err
		return
	}
	dir, err := os.MkdirTemp("", "roadlog-gpu-twin")
	if err != nil {
		twin.err = err
		return
	}
	// the twin's source and the library's headers, written out for gcc
	src := filepath.Join(dir, "roadlog_gpu_stub.c")
	err = os.WriteFile(src, twinSource, 0o644)
	for _, h := range []string{"roadlog_gpu.h", "rl_math.h"} {
		if err != nil {
			break
		}
		var b []byte
		if b, err = fs.ReadFile(cuda.Headers, h); err == nil {
			err = os.WriteFile(filepath.Join(dir, h), b, 0o644)
		}
	}
	if err != nil {
		twin.err = err
		return
	}
	for _, v := range []struct{ out, def string }{{Name, "-DSTUB_ABI_VERSION=RL_ABI_VERSION"}, {NameABI99, "-DSTUB_ABI_VERSION=99"}} {
		args := []string{v.def, "-O3", "-shared", "-fPIC", "-ffp-contract=off", "-I" + dir,
			"-o", filepath.Join(dir, v.out), src, "-lm"}
		if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
			twin.err = errors.Join(err, errors.New(string(out)))
			return
		}
	}
	twin.dir = dir
}
