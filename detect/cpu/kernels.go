package cpu

import (
	"math"
	"unsafe"

	"roadlog/detect/model"
)

// kernelSet is the inner loops one engine uses, chosen when the engine is built: AVX2+FMA
// assembly where the CPU has it, otherwise (or when asked) the pure-Go versions.
type kernelSet struct {
	name string
	// gemm16 and gemm8 compute a 6-row × 16 (8) column block: C = clamp(bias + A·B)
	// with B a packed panel; see sgemm6x16 in kernels_amd64.s.
	gemm16 func(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue)
	gemm8  func(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue)
	// gemm32 is the 32-column block where the CPU has wide vectors (nil otherwise).
	gemm32 func(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue)
	// dw computes a run of depthwise-convolution output pixels for whole 8-channel blocks.
	dw func(a *dwArgs)
	// dw16 does whole 16-channel blocks with wide vectors (nil where the CPU lacks them).
	dw16 func(a *dwArgs)
}

// dwArgs is the argument block of the depthwise kernel (layout shared with assembly:
// do not reorder). in points at the first pixel's first tap inside the input; taps
// holds {input offset from in, weight offset from w} byte pairs, input offsets ≥ 0.
type dwArgs struct {
	in      unsafe.Pointer // 0
	w       unsafe.Pointer // 8: weights [KH][KW][C]
	bias    unsafe.Pointer // 16
	out     unsafe.Pointer // 24: first output pixel
	npix    int            // 32
	cbytes  int            // 40: bytes of channels done here (multiple of 32)
	taps    unsafe.Pointer // 48: *[ntaps][2]int64
	tapsEnd uintptr        // 56: address just past the taps (for the assembly loop)
	inPix   int            // 64: bytes between the windows of consecutive pixels
	outPix  int            // 72: bytes between output pixels
	ep      epilogue       // 80
	ntaps   int            // 96
}

// epilogue is what the kernels apply to a finished sum (layout shared with assembly):
// clamp to [lo, hi], then the mode's activation.
type epilogue struct {
	lo, hi float32 // 0, 4
	alpha  float32 // 8: hard-swish / hard-sigmoid scale
	mode   int32   // 12: epNone, epHardSwish, epHardSigmoid
}

// Epilogue modes.
const (
	epNone        = 0
	epHardSwish   = 1 // x·relu6(x+3)·alpha
	epHardSigmoid = 2 // relu6(x+3)·alpha
)

// newEpilogue returns the kernel epilogue for an activation, and whether the activation
// still has to be applied afterwards (those the kernels lack).
func newEpilogue(act model.Activation, alpha, beta float32) (epilogue, bool) {
	ep := epilogue{lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))}
	switch act {
	case model.ActNone:
	case model.ActRelu:
		ep.lo = 0
	case model.ActRelu6:
		ep.lo, ep.hi = 0, 6
	case model.ActClip:
		ep.lo, ep.hi = alpha, beta
	case model.ActHardSwish:
		ep.mode, ep.alpha = epHardSwish, alpha
	case model.ActHardSigmoid:
		ep.mode, ep.alpha = epHardSigmoid, alpha
	default:
		return ep, true
	}
	return ep, false
}

// apply is the pure-Go epilogue.
func (ep *epilogue) apply(x float32) float32 {
	x = min(max(x, ep.lo), ep.hi)
	switch ep.mode {
	case epHardSwish:
		return x * (min(max(x+3, 0), 6) * ep.alpha)
	case epHardSigmoid:
		return min(max(x+3, 0), 6) * ep.alpha
	}
	return x
}

// goKernels are the portable kernels.
var goKernels = kernelSet{name: "go", gemm16: gemm16Go, gemm8: gemm8Go, dw: dwGo}

func gemm16Go(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue) {
	gemmGo(k, a, b, c, ldc, bias, ep, 16)
}

func gemm8Go(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue) {
	gemmGo(k, a, b, c, ldc, bias, ep, 8)
}

func gemmGo(k int, a *[6]*float32, b, c *float32, ldc int, bias *float32, ep *epilogue, nr int) {
	bs := unsafe.Slice(b, k*nr)
	bi := unsafe.Slice(bias, nr)
	for r := 0; r < 6; r++ {
		ar := unsafe.Slice(a[r], k)
		cr := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(c), r*ldc)), nr)
		for j0 := 0; j0 < nr; j0 += 8 {
			// eight scalar accumulators stay in registers
			c0, c1, c2, c3, c4, c5, c6, c7 := bi[j0], bi[j0+1], bi[j0+2], bi[j0+3], bi[j0+4], bi[j0+5], bi[j0+6], bi[j0+7]
			for kk, av := range ar {
				o := kk*nr + j0
				p := bs[o : o+8 : o+8]
				c0 += av * p[0]
				c1 += av * p[1]
				c2 += av * p[2]
				c3 += av * p[3]
				c4 += av * p[4]
				c5 += av * p[5]
				c6 += av * p[6]
				c7 += av * p[7]
			}
			o := cr[j0 : j0+8 : j0+8]
			o[0], o[1], o[2], o[3] = ep.apply(c0), ep.apply(c1), ep.apply(c2), ep.apply(c3)
			o[4], o[5], o[6], o[7] = ep.apply(c4), ep.apply(c5), ep.apply(c6), ep.apply(c7)
		}
	}
}

func dwGo(a *dwArgs) {
	taps := unsafe.Slice((*[2]int64)(a.taps), a.ntaps)
	nc := a.cbytes / 4
	bias := unsafe.Slice((*float32)(a.bias), nc)
	for p := 0; p < a.npix; p++ {
		out := unsafe.Slice((*float32)(unsafe.Add(a.out, p*a.outPix)), nc)
		copy(out, bias)
		for _, t := range taps {
			in := unsafe.Slice((*float32)(unsafe.Add(a.in, p*a.inPix+int(t[0]))), nc)
			w := unsafe.Slice((*float32)(unsafe.Add(a.w, int(t[1]))), nc)
			for c := range out {
				out[c] += in[c] * w[c]
			}
		}
		for c := range out {
			out[c] = a.ep.apply(out[c])
		}
	}
}

// expf is a float32 exp accurate to about 2 ulp (Cody–Waite reduction and a degree-6
// polynomial), several times faster than math.Exp.
func expf(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	if x > 88.7 {
		return float32(math.Inf(1))
	}
	if x < -87.3 {
		return 0
	}
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	p := float32(1.0/720)*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// sigmoidf is 1/(1+exp(-x)) in float32.
func sigmoidf(x float32) float32 { return 1 / (1 + expf(-x)) }
