package gpu

// The Go mirror of cuda/roadlog_gpu.h. Field order, types and therefore offsets match
// the C structs (natural alignment, the same on amd64 and arm64); rl_layout lets Open
// check that against the library it loaded.

// abiVersion is the RL_ABI_VERSION this binding speaks.
const abiVersion = 3

// Status codes (RL_*).
const (
	rlOK          = 0
	rlErrArg      = 1
	rlErrNoDevice = 2
	rlErrDriver   = 3
	rlErrOOM      = 4
	rlErrUnsup    = 5
	rlErrCUDA     = 6
	rlErrLibrary  = 7
	rlErrState    = 8
	rlErrDecode   = 9
)

// Element types.
const (
	rlF32 = 0
	rlF16 = 1
)

// rl_config.flags
const (
	cfgUnfused = 1
	cfgNoGraph = 2
	cfgSync    = 4
	cfgDWF32   = 8
)

// Op kinds.
const (
	opConv   = 1
	opDW     = 2
	opBinary = 3
	opUnary  = 4
	opMean   = 5
	opSE     = 6
	opScale  = 7
	opResize = 8
	opPool   = 9
	opCopy   = 10
)

// Binary, unary and pool codes.
const (
	binAdd = 0
	binSub = 1
	binMul = 2
	binDiv = 3
	binMax = 4
	binMin = 5

	unNone = 0
	unNeg  = 1
	unExp  = 2
	unSqrt = 3
	unAbs  = 4

	poolMax = 0
	poolAvg = 1
)

// rl_op.flags
const (
	opfResidual = 1
	opfScale    = 2
	opfConstZ   = 4
	opfCountPad = 8
	opfCeil     = 16
)

// Pixel formats of rlImage.
const (
	pixRGB   = 1
	pixRGBA  = 2
	pixNRGBA = 3
	pixGray  = 4
	pixYCbCr = 5
	pixNV12  = 6
	pixYUYV  = 7
	pixJPEG  = 8
)

// Run sources.
const (
	srcHost   = 0
	srcImages = 1
	srcDevice = 2
)

// rlTensor is rl_tensor: a strided NHWC view into a pipeline's arena.
type rlTensor struct {
	Offset  int64 // bytes; -1: absent
	Dims    [4]int32
	Strides [4]int32
	DType   int32
	Batched int32
}

// rlOp is rl_op.
type rlOp struct {
	Kind, Sub, Act, Flags  int32
	Alpha, Beta            float32
	KH, KW, SH, SW, DH, DW int32
	PadT, PadL, PadB, PadR int32
	Mult                   int32
	Coord, Nearest         int32
	Hidden                 int32
	Act2                   int32
	Alpha2, Beta2          float32
	pad0                   int32
	RatioH, RatioW         float64
	Scratch                int64
	X, Z, S, Y             rlTensor
}

// rlConfig is rl_config.
type rlConfig struct {
	Device      int32
	MaxBatch    int32
	Precision   int32
	Pipelines   int32
	Conv        int32
	Flags       int32
	ArenaBytes  int64
	InputOffset int64
	InH, InW    int32
	InC         int32
	BatchedRun  int32
}

// rlImage is rl_image.
type rlImage struct {
	Format         int32
	Width, Height  int32
	Stride         int32
	CStride        int32
	SubX, SubY     int32
	NW, NH, DX, DY int32
	HalfPixel      int32
	Off            [3]int64
	Len            int64
}

// rlPeak is rl_peak.
type rlPeak struct {
	Index int32
	Score float32
	WH    [4]float32
}
