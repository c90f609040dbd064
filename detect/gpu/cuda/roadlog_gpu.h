/*
 * roadlog_gpu.h: the C ABI of libroadlog_gpu.so, roadlog's CUDA inference engine.
 *
 * The Go side (roadlog/detect/gpu) loads the library at run time with purego (no cgo),
 * plans the network (which ops, which fusions, where every activation lives in one
 * arena) and describes it here op by op; the library converts the weights to the
 * compute precision, runs the ops on one CUDA stream per pipeline, captures the whole
 * network in a CUDA graph per batch size, and does the detector's pre-processing
 * (8-bit pixels or JPEG bytes to the network input) and post-processing (heat-map
 * peaks, top-K) on the device so that only peaks cross back to the host.
 *
 * Rules of the ABI:
 *  - Only fixed-size integer and float types; structs are laid out by natural
 *    alignment (the same on amd64 and arm64, and the same in Go); rl_layout reports
 *    sizes and offsets so that the binding can refuse a library that disagrees.
 *  - Every call returns an RL_* status; calls that can fail for a reason worth telling
 *    take (err, errlen) and write a NUL-terminated message there.
 *  - Calls on different pipelines may run concurrently on different threads; calls
 *    on one pipeline must not.
 *  - Tensors are NHWC; an rl_tensor's byte offset is relative to its pipeline's arena.
 */
#ifndef ROADLOG_GPU_H
#define ROADLOG_GPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RL_ABI_VERSION 3

/* Status codes. */
#define RL_OK 0
#define RL_ERR_ARG 1          /* a bad argument (the binding's bug) */
#define RL_ERR_NO_DEVICE 2    /* no CUDA device */
#define RL_ERR_DRIVER 3       /* the driver is older than the library's CUDA runtime, or refused */
#define RL_ERR_OOM 4          /* device or pinned host memory exhausted */
#define RL_ERR_UNSUPPORTED 5  /* an op, parameter or feature this build lacks */
#define RL_ERR_CUDA 6         /* a CUDA runtime error (a kernel failed, ...) */
#define RL_ERR_LIBRARY 7      /* cuBLAS, cuDNN or nvJPEG failed */
#define RL_ERR_STATE 8        /* call out of order (run before finalize, ...) */
#define RL_ERR_DECODE 9       /* a JPEG bitstream could not be decoded */

/* Element types. */
#define RL_F32 0
#define RL_F16 1

/* Precision of an engine's activations and weights. */
#define RL_PREC_FP32 0
#define RL_PREC_FP16 1

/* Convolution back ends. */
#define RL_CONV_OWN 0    /* our fused implicit-GEMM kernels (tensor cores in FP16) */
#define RL_CONV_CUBLAS 1 /* cuBLAS GEMM for 1x1 convolutions, epilogue kernel after */
#define RL_CONV_CUDNN 2  /* cuDNN, bias+ReLU fused by cuDNN where it can */
#define RL_CONV_AUTO 3   /* per convolution the fastest of the three, timed on the first run */

/* rl_config.flags */
#define RL_CFG_UNFUSED 1  /* split every conv epilogue (bias, residual, activation) into its own kernel */
#define RL_CFG_NO_GRAPH 2 /* launch op by op instead of replaying a CUDA graph */
#define RL_CFG_SYNC 4     /* pageable host buffers, blocking copies, wait after every op */
#define RL_CFG_DW_F32 8   /* FP16 depthwise: multiply and add in float32 (default: each kernel row in half2) */

/* Op kinds. */
#define RL_OP_CONV 1      /* dense conv (implicit GEMM): x, w [KH*KW*Cin][Cout], b [Cout]; z residual; s input scale */
#define RL_OP_DW 2        /* depthwise conv: x, w [KH*KW][C*M], b [C*M]; z residual; s input scale */
#define RL_OP_BINARY 3    /* y = act(x op z), broadcasting by zero strides; z may be the constant w */
#define RL_OP_UNARY 4     /* y = act(f(x)) */
#define RL_OP_MEAN 5      /* y[n,0,0,c] = mean over h, w of x; scratch: float sums [N][C] */
#define RL_OP_SE 6        /* squeeze-excitation scale: s[n][c] = act2(w1 . act(w0 . mean(x) + b0) + b1); scratch: sums */
#define RL_OP_SCALE 7     /* y = x * s[n][c] (a squeeze-excitation scale no consumer could take) */
#define RL_OP_RESIZE 8    /* nearest / bilinear resize, y = act(resize(x)) */
#define RL_OP_POOL 9      /* max / average pool */
#define RL_OP_COPY 10     /* y = x (strided views, any element types: concat slices, casts) */

/* Binary op codes (rl_op.sub of RL_OP_BINARY). */
#define RL_BIN_ADD 0
#define RL_BIN_SUB 1
#define RL_BIN_MUL 2
#define RL_BIN_DIV 3
#define RL_BIN_MAX 4
#define RL_BIN_MIN 5

/* Unary op codes (rl_op.sub of RL_OP_UNARY). */
#define RL_UN_NONE 0 /* activation only */
#define RL_UN_NEG 1
#define RL_UN_EXP 2
#define RL_UN_SQRT 3
#define RL_UN_ABS 4

/* Pool kinds (rl_op.sub of RL_OP_POOL). */
#define RL_POOL_MAX 0
#define RL_POOL_AVG 1

/* Activations: the numbers of roadlog/detect/model.Activation. */
#define RL_ACT_NONE 0
#define RL_ACT_RELU 1
#define RL_ACT_RELU6 2
#define RL_ACT_LEAKY 3
#define RL_ACT_SIGMOID 4
#define RL_ACT_HARDSWISH 5
#define RL_ACT_HARDSIGMOID 6
#define RL_ACT_SILU 7
#define RL_ACT_TANH 8
#define RL_ACT_CLIP 9

/* Resize (rl_op.sub: mode; rl_op.coord, rl_op.nearest): model.ResizeMode, CoordMode, NearestRound numbers. */
#define RL_RESIZE_NEAREST 1
#define RL_RESIZE_BILINEAR 2

/* rl_op.flags */
#define RL_OPF_RESIDUAL 1  /* z is a residual added before the activation (conv, depthwise) */
#define RL_OPF_SCALE 2     /* s scales the input channels per image (a fused squeeze-excitation) */
#define RL_OPF_CONST_Z 4   /* binary: the second operand is the constant w0 */
#define RL_OPF_COUNT_PAD 8 /* average pool: padded cells count */
#define RL_OPF_CEIL 16     /* pools: output size rounded up (only changes which windows exist) */

/* A tensor: a strided NHWC view into a pipeline's arena. Lower ranks are right-aligned
 * with leading 1s. strides are in elements; 0 broadcasts a dimension. batched: dims[0]
 * is the batch, and a run of n images uses n instead. */
typedef struct rl_tensor {
	int64_t offset;     /* bytes from the arena base; -1: absent */
	int32_t dims[4];    /* N, H, W, C */
	int32_t strides[4]; /* elements */
	int32_t dtype;      /* RL_F32 or RL_F16 */
	int32_t batched;
} rl_tensor;

/* One op of the network. Which fields an op reads is said at its RL_OP_* constant. */
typedef struct rl_op {
	int32_t kind, sub, act, flags;
	float alpha, beta;                  /* activation parameters (LeakyRelu slope, HardSwish scale, Clip bounds) */
	int32_t kh, kw, sh, sw, dh, dw;     /* window, strides, dilations */
	int32_t pad_t, pad_l, pad_b, pad_r; /* padding */
	int32_t mult;                       /* depthwise channel multiplier */
	int32_t coord, nearest;             /* resize coordinate transform and nearest rounding */
	int32_t hidden;                     /* squeeze-excitation: outputs of the first FC */
	int32_t act2;                       /* squeeze-excitation: the second FC's activation */
	float alpha2, beta2;
	int32_t pad0;
	double ratio_h, ratio_w; /* resize: input/output size ratios used by the coordinate transform */
	int64_t scratch;         /* bytes from the arena base of float scratch (sums), -1: none */
	rl_tensor x, z, s, y;    /* input, second operand / residual, input scale [N][C] float, output */
} rl_op;

/* Engine configuration. */
typedef struct rl_config {
	int32_t device;
	int32_t max_batch;
	int32_t precision; /* RL_PREC_* */
	int32_t pipelines; /* independent streams, each with its own arena and graphs */
	int32_t conv;      /* RL_CONV_* */
	int32_t flags;     /* RL_CFG_* */
	int64_t arena_bytes;
	int64_t input_offset; /* the network input's arena offset (compute type, NHWC, max_batch images) */
	int32_t in_h, in_w, in_c;
	int32_t batched_run; /* 1: runs of n < max_batch images compute n; 0: always the whole batch */
} rl_config;

/* Pixel formats of rl_image. */
#define RL_PIX_RGB 1   /* packed 8-bit R,G,B */
#define RL_PIX_RGBA 2  /* 8-bit RGBA, alpha-premultiplied (Go image.RGBA): un-premultiplied as color.NRGBAModel */
#define RL_PIX_NRGBA 3 /* 8-bit RGBA, not premultiplied: alpha dropped */
#define RL_PIX_GRAY 4  /* 8-bit luma */
#define RL_PIX_YCBCR 5 /* planar Y, Cb, Cr; chroma subsampled by sub_x, sub_y (JFIF, as Go's color.YCbCrToRGB) */
#define RL_PIX_NV12 6  /* Y plane, then interleaved Cb,Cr at half resolution both ways */
#define RL_PIX_YUYV 7  /* packed Y0 Cb Y1 Cr (4:2:2) */
#define RL_PIX_JPEG 8  /* a JPEG bitstream (nvJPEG decodes it to RGB on the device) */

/* One image to pre-process: where its bytes are in the pipeline's staging buffer, and
 * where it goes in the network input (resized to nw x nh at (dx, dy), zero elsewhere;
 * bilinear with TF.js's arithmetic: half-pixel centres when half_pixel, else the
 * asymmetric mapping of tf.image.resizeBilinear). */
typedef struct rl_image {
	int32_t format;
	int32_t width, height;
	int32_t stride;       /* bytes per row of plane 0 */
	int32_t cstride;      /* bytes per row of the chroma plane(s) */
	int32_t sub_x, sub_y; /* chroma subsampling shifts (YCbCr) */
	int32_t nw, nh, dx, dy;
	int32_t half_pixel;
	int64_t off[3]; /* plane byte offsets in the staging buffer (JPEG: the bitstream) */
	int64_t len;    /* JPEG: bitstream length */
} rl_image;

/* One heat-map peak found by rl_peaks. */
typedef struct rl_peak {
	int32_t index; /* flat heat-map index (y*W + x)*C + class */
	float score;
	float wh[4]; /* the box output at the peak's cell */
} rl_peak;

typedef struct rl_engine rl_engine;

/* rl_abi_version returns RL_ABI_VERSION of the library. */
int32_t rl_abi_version(void);

/* rl_layout writes up to n numbers describing the ABI structs (sizes and field
 * offsets, in the order the binding expects) and returns how many it knows. */
int32_t rl_layout(int64_t *out, int32_t n);

/* rl_probe describes device `device` (name, compute capability, memory, driver and
 * library versions) into info, or says why there is none (the status). */
int32_t rl_probe(int32_t device, char *info, int32_t len);

/* rl_create makes an engine: streams, library handles, arenas, pinned buffers. */
int32_t rl_create(const rl_config *cfg, rl_engine **out, char *err, int32_t errlen);

/* rl_add_op appends an op. w0..w3 are the op's constants as float32 (converted to the
 * compute precision on the device): conv/depthwise weights and bias (w0, w1); the
 * squeeze-excitation's FC weights and biases (w0, w1, w2, w3); a binary op's constant
 * operand (w0, laid out as z's dims, dense). */
int32_t rl_add_op(rl_engine *e, const rl_op *op, const float *w0, const float *w1, const float *w2, const float *w3,
                  char *err, int32_t errlen);

/* rl_add_output names the arena tensor of graph output i (float32, dense). */
int32_t rl_add_output(rl_engine *e, const rl_tensor *t, char *err, int32_t errlen);

/* rl_finalize ends the description: algorithms chosen, workspaces allocated. */
int32_t rl_finalize(rl_engine *e, char *err, int32_t errlen);

/* rl_host_input returns pipeline p's host buffer for the network input (float32 NHWC,
 * max_batch images; pinned unless RL_CFG_SYNC). */
float *rl_host_input(rl_engine *e, int32_t p);

/* rl_host_output returns pipeline p's host buffer of graph output i (float32), filled
 * by rl_fetch. */
float *rl_host_output(rl_engine *e, int32_t p, int32_t i);

/* rl_staging returns pipeline p's pinned staging buffer of at least `bytes` bytes for
 * rl_preprocess (growing it if needed; NULL when out of memory). */
uint8_t *rl_staging(rl_engine *e, int32_t p, int64_t bytes);

/* Run sources (rl_run's `source`). */
#define RL_SRC_HOST 0   /* the float32 host input buffer */
#define RL_SRC_IMAGES 1 /* the images of the last rl_preprocess */
#define RL_SRC_DEVICE 2 /* the input tensor as it is on the device */

/* rl_preprocess uploads the staged pixels of n images and fits them into the network
 * input on the device (JPEG bitstreams decoded by nvJPEG first). Asynchronous. */
int32_t rl_preprocess(rl_engine *e, int32_t p, int32_t n, const rl_image *imgs, char *err, int32_t errlen);

/* rl_run enqueues the network for the first n images on pipeline p. Asynchronous:
 * rl_wait, rl_fetch and rl_peaks wait for it. */
int32_t rl_run(rl_engine *e, int32_t p, int32_t n, int32_t source, char *err, int32_t errlen);

/* rl_wait waits for pipeline p's work and reports an asynchronous failure. */
int32_t rl_wait(rl_engine *e, int32_t p, char *err, int32_t errlen);

/* rl_fetch copies graph output i of the first n images to its host buffer and waits. */
int32_t rl_fetch(rl_engine *e, int32_t p, int32_t i, int32_t n, char *err, int32_t errlen);

/* rl_peaks finds, for each of the first n images, the top_k 3x3 peaks of heat-map
 * output kp (H x W x C) whose value is above thr[class] (best first, equal values:
 * lower index first) with the 4 values of output wh at the peak's cell, and waits.
 * Results: rl_host_peaks. counts[i] = -1: too many candidates for the device buffer
 * (fetch the outputs and decode on the host). */
int32_t rl_peaks(rl_engine *e, int32_t p, int32_t n, int32_t kp, int32_t wh, const float *thr, int32_t top_k,
                 char *err, int32_t errlen);

/* Candidates (peaks above their threshold) one image may have on the device; more
 * make rl_peaks report -1 for that image. */
#define RL_PEAK_CAP 8192

/* rl_host_peaks returns pipeline p's peak results: int32 counts[max_batch] at offset
 * 0, then rl_peak[max_batch][top_k of the last rl_peaks] at rl_peaks_offset. */
void *rl_host_peaks(rl_engine *e, int32_t p);

/* rl_peaks_offset is the byte offset of the rl_peak array in rl_host_peaks. */
int64_t rl_peaks_offset(rl_engine *e);

/* rl_luma copies the 8-bit luminance (BT.601) of the JPEG picture that the last
 * rl_preprocess of pipeline p decoded into slot `slot` (w×h, which must match) to host
 * (w×h bytes, row-major) and waits: the recorder's pipeline aligns tracks' pixels in it
 * without decoding the bitstream a second time. ABI version 2. */
int32_t rl_luma(rl_engine *e, int32_t p, int32_t slot, int32_t w, int32_t h, uint8_t *host, char *err, int32_t errlen);

/* rl_luma_rects is rl_luma for n rectangles of the pictures of several slots of the
 * last rl_preprocess of pipeline p: rects holds slot, x0, y0, x1, y1 for each (inside
 * that slot's decoded picture, x0 < x1, y0 < y1). Their luminance goes to host,
 * row-major, one after the other (cap bytes at least their areas together), in one
 * kernel, one copy and one wait. The pipeline aligns pixels only around the
 * detections, so only those cross the bus. ABI version 3. */
int32_t rl_luma_rects(rl_engine *e, int32_t p, int32_t n, const int32_t *rects, uint8_t *host, int64_t cap, char *err,
                      int32_t errlen);

/* rl_read copies `bytes` bytes at arena offset `offset` of pipeline p to host (for
 * tests that compare every intermediate tensor) and waits. */
int32_t rl_read(rl_engine *e, int32_t p, int64_t offset, int64_t bytes, void *host, char *err, int32_t errlen);

/* rl_profile runs the network reps times op by op on pipeline p for n images, timing
 * every op with events, and writes each op's mean milliseconds to ms[nops]. */
int32_t rl_profile(rl_engine *e, int32_t p, int32_t n, int32_t reps, float *ms, char *err, int32_t errlen);

/* rl_info describes the engine (device, precision, back ends, memory) into buf. */
int32_t rl_info(rl_engine *e, char *buf, int32_t len);

/* rl_destroy releases everything. */
void rl_destroy(rl_engine *e);

#ifdef __cplusplus
}
#endif

#endif /* ROADLOG_GPU_H */
