// internal.cuh: what the library's .cu files share: the engine's structs, device views,
// element loads and stores, launch helpers.
#ifndef ROADLOG_INTERNAL_CUH
#define ROADLOG_INTERNAL_CUH

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#ifndef ROADLOG_NO_CUDNN
#include <cudnn.h>
#endif
#ifndef ROADLOG_NO_NVJPEG
#include <nvjpeg.h>
#endif

#include "rl_math.h"
#include "roadlog_gpu.h"

#define RL_MAXOUT 16
#define RL_MAXPIPE 16
#define RL_MAXBATCH 256
// Split-K: at most this many splits, each writing its own slab of float partial sums
// that split_finish adds in order (deterministic; no atomics).
#define RL_SPLIT_MAX 16
#define RL_SPLIT_TILE (128 * 64) // the largest GEMM tile (rows x columns)
// Means and squeeze-excitation: a block sums this many pixels of 64 channels into its
// own slot of the partial-sum workspace; mean_reduce adds the slots in order.
#define MEAN_PIX 128

// Status with a message: every internal function returns one.
struct Status {
	int32_t code;
	char msg[512];
};

Status ok_status();
Status make_status(int32_t code, const char *fmt, ...);
Status cuda_status(cudaError_t err, const char *what);
int32_t report(const Status &s, char *err, int32_t errlen);
void prefix_status(Status &s, const char *fmt, ...);

#define RL_TRY(expr)                                                                                                   \
	do {                                                                                                               \
		Status _s = (expr);                                                                                            \
		if (_s.code != RL_OK)                                                                                          \
			return _s;                                                                                                 \
	} while (0)

#define RL_CUDA(expr, what)                                                                                            \
	do {                                                                                                               \
		cudaError_t _e = (expr);                                                                                       \
		if (_e != cudaSuccess)                                                                                         \
			return cuda_status(_e, what);                                                                              \
	} while (0)

// A view as kernels take it: dims with the run's batch substituted, strides in elements.
struct View {
	int64_t off; // bytes from the arena base
	int n, h, w, c;
	int s0, s1, s2, s3;
	int dtype;
};

// view of tensor t for a run of n images.
inline View make_view(const rl_tensor &t, int n) {
	View v;
	v.off = t.offset;
	v.n = t.batched ? n : t.dims[0];
	v.h = t.dims[1], v.w = t.dims[2], v.c = t.dims[3];
	v.s0 = t.strides[0], v.s1 = t.strides[1], v.s2 = t.strides[2], v.s3 = t.strides[3];
	v.dtype = t.dtype;
	return v;
}

__device__ __forceinline__ int64_t vidx(const View &v, int64_t b, int64_t y, int64_t x, int64_t c) {
	return b * v.s0 + y * v.s1 + x * v.s2 + c * v.s3;
}

// Loads and stores of either element type (the branch is uniform across a launch).
__device__ __forceinline__ float ldf(const char *arena, const View &v, int64_t i) {
	if (v.dtype == RL_F16)
		return __half2float(reinterpret_cast<const __half *>(arena + v.off)[i]);
	return reinterpret_cast<const float *>(arena + v.off)[i];
}

__device__ __forceinline__ void stf(char *arena, const View &v, int64_t i, float x) {
	if (v.dtype == RL_F16)
		reinterpret_cast<__half *>(arena + v.off)[i] = __float2half_rn(x);
	else
		reinterpret_cast<float *>(arena + v.off)[i] = x;
}

struct Engine;

// One op with its device constants.
struct Op {
	rl_op d;
	void *w;        // conv/depthwise weights in the compute type; conv: [Kp][Np] zero-padded
	float *bias;    // [Cout] float32
	float *se[4];   // squeeze-excitation FC weights and biases (float32)
	void *cz;       // binary: the constant operand, compute type
	int kp, np;     // conv: padded K and N of w
	int backend;    // RL_CONV_* actually used for this op
	int cublas_ok;  // cuBLAS can run it (a 1x1 GEMM over uniformly strided rows)
	int cudnn_ok;   // cuDNN can run it
	float *se_t;    // squeeze-excitation: the first FC's weights transposed to [hidden][C]
	// cuDNN
	void *w_krsc;   // weights as [Cout][KH][KW][Cin] for cuDNN
	void *bias_c;   // bias in the compute type for cudnnConvolutionBiasActivationForward
	int cudnn_algo;
	int cudnn_fused; // bias+activation by cuDNN
	size_t cudnn_ws;
#ifndef ROADLOG_NO_CUDNN
	cudnnFilterDescriptor_t wdesc;
	cudnnConvolutionDescriptor_t cdesc;
	cudnnActivationDescriptor_t adesc;
	cudnnTensorDescriptor_t bdesc;
#endif
};

#include <mutex>

// Device scratch for one pipeline's JPEG decoding.
struct JpegSlot {
	uint8_t *rgb;
	int64_t cap;
	// the slot's decoded picture (rgb) is valid for rl_luma: w×h, from the last rl_preprocess
	int32_t w, h;
	bool ready;
	uint8_t *luma; // device scratch for rl_luma
	int64_t luma_cap;
};

// RectJob is one rectangle of rl_luma_rects: where its picture and its output are.
struct RectJob {
	const uint8_t *rgb; // the slot's decoded picture, interleaved RGB
	int64_t off;        // where its luminance goes in the output
	int32_t w;          // the picture's width
	int32_t x0, y0, x1, y1;
	int32_t pad;
};

struct Pipe {
	cudaStream_t stream;
	char *arena;
	float *host_in; // pinned (pageable in sync mode)
	float *dev_in;  // float staging of the host input on the device (FP16 mode)
	float *host_out[RL_MAXOUT];
	uint8_t *staging; // pinned
	int64_t staging_cap;
	uint8_t *dstaging; // device copy
	int64_t dstaging_cap;
	void *img_host; // pinned descriptors of the images to pre-process
	void *img_dev;
	JpegSlot jpeg[RL_MAXBATCH];
	// rl_luma_rects: its jobs (pinned, and on the device) and its output on the device
	RectJob *rect_host, *rect_dev;
	int64_t rect_cap; // jobs
	uint8_t *rect_out;
	int64_t rect_out_cap;
	// peaks
	float *thr_host, *thr_dev;
	int32_t *cand_count;  // [max_batch]
	uint64_t *cand;       // [max_batch][RL_PEAK_CAP]
	uint8_t *peaks_dev;   // counts + rl_peak array
	uint8_t *peaks_host;  // pinned
	int32_t peaks_topk;
	int32_t thr_cap;
	// graphs per batch size
	cudaGraphExec_t graph[RL_MAXBATCH + 1];
	cublasHandle_t cublas;
	void *cublas_ws;
#ifndef ROADLOG_NO_CUDNN
	cudnnHandle_t cudnn;
	cudnnTensorDescriptor_t tx, ty, tz;
#endif
	void *cudnn_ws;
	size_t cudnn_ws_size;
	float *split_ws; // split-K partial sums [split][M][N]
	int64_t split_cap;
	float *mean_ws; // mean/SE partial sums [N][pixel blocks][C]
#ifndef ROADLOG_NO_NVJPEG
	nvjpegJpegState_t jstate;
	nvjpegJpegState_t jstate1; // single-image fallback on the default backend
	int jbatch;                // batch size the batched decoder was initialised for
#endif
};

struct Engine {
	rl_config cfg;
	std::mutex *tune_mu; // guards tuning (the first runs of several pipelines)
	int dtype; // RL_F16 or RL_F32
	Op *ops;
	int nops, capops;
	rl_tensor outs[RL_MAXOUT];
	int nouts;
	int final;
	Pipe pipes[RL_MAXPIPE];
	cudaDeviceProp prop;
	int cudnn_ok;       // cuDNN usable
	int cudnn_fallback; // ops the cuDNN back end gave to our kernels
	int cublas_ops;     // ops run by cuBLAS
	int tuned;          // RL_CONV_AUTO: back ends chosen
	int chosen[3];      // convolutions per back end after tuning
	int tune_policy;    // -1: per-op choice kept; else the back end all convolutions use where they can
#ifndef ROADLOG_NO_NVJPEG
	nvjpegHandle_t jpeg;  // hardware back end where the GPU has one, else default
	nvjpegHandle_t jpeg1; // default back end
	int jpeg_hw;
#endif
};

// kernels.cu
Status launch_op(Engine *e, Pipe *p, Op *op, int n);
Status launch_epilogue(Engine *e, Pipe *p, Op *op, int n);
Status launch_input_convert(Engine *e, Pipe *p, int n);
Status launch_preprocess(Engine *e, Pipe *p, int n, const void *descs_dev);
Status launch_peaks(Engine *e, Pipe *p, int n, int kp, int wh, int top_k);
Status upload_conv_weights(Engine *e, Op *op, const float *w);
Status upload_constant(Engine *e, void **dst, const float *src, int64_t n, int as_compute);

// gemm.cu
Status launch_conv(Engine *e, Pipe *p, Op *op, int n, int epilogue);

// cublas path (engine.cu)
int cublas_fits(const Engine *e, const Op *op);
Status launch_cublas(Engine *e, Pipe *p, Op *op, int n);

// cudnn.cu
Status cudnn_init(Engine *e);
Status cudnn_prepare_op(Engine *e, Op *op);
Status cudnn_pipe_init(Engine *e, Pipe *p);
Status launch_cudnn(Engine *e, Pipe *p, Op *op, int n);
void cudnn_destroy(Engine *e);
const char *cudnn_version_string(char *buf, int len);

// jpeg.cu
Status jpeg_init(Engine *e);
Status jpeg_pipe_init(Engine *e, Pipe *p);
Status jpeg_decode(Engine *e, Pipe *p, int n, rl_image *imgs, uint8_t **rgb);
Status jpeg_luma(Engine *e, Pipe *p, int slot, int w, int h, uint8_t *host);
Status jpeg_luma_rects(Engine *e, Pipe *p, int n, const int32_t *rects, uint8_t *host, int64_t cap);
void jpeg_destroy(Engine *e);

// Pre-processing descriptor on the device: the image and its plane pointers.
struct ImgDesc {
	rl_image im;
	const uint8_t *p0, *p1, *p2;
};

#endif
