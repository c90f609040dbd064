//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

//go:noescape
func sgemm6x16(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue)

//go:noescape
func sgemm6x8(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue)

//go:noescape
func dwConvAVX2(a *dwArgs)

// asmKernels returns the AVX2+FMA kernels when the CPU has them.
func asmKernels() (kernelSet, bool) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return kernelSet{}, false
	}
	return kernelSet{name: "avx2+fma", gemm16: sgemm6x16, gemm8: sgemm6x8, dw: dwConvAVX2}, true
}
