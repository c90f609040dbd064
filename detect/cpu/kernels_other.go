//go:build !amd64 || purego

package cpu

// asmKernels reports that this build has no assembly kernels.
func asmKernels() (kernelSet, bool) { return kernelSet{}, false }
