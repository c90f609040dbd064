//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

//go:noescape
func sgemm6x16(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue)

//go:noescape
func sgemm6x8(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue)

//go:noescape
func dwConvAVX2(a *dwArgs)

//go:noescape
func dwConvAVX512(a *dwArgs)

//go:noescape
func sgemm6x32(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue)

// asmKernels returns the assembly kernels the CPU can run: AVX2+FMA, plus the 32-wide
// AVX-512 GEMM where the CPU (and OS) support AVX-512F.
func asmKernels() (kernelSet, bool) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return kernelSet{}, false
	}
	k := kernelSet{name: "avx2+fma", gemm16: sgemm6x16, gemm8: sgemm6x8, dw: dwConvAVX2}
	if cpu.X86.HasAVX512F {
		k.name, k.gemm32, k.dw16 = "avx512+avx2", sgemm6x32, dwConvAVX512
	}
	return k, true
}
