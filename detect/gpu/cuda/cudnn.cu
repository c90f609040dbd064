// cudnn.cu: the cuDNN convolution back end (cuDNN 8/9 legacy API), for comparison with
// the library's own kernels. NHWC tensors (strided views), tensor-core math in FP16,
// FMA-only math in FP32 (no TF32), bias and ReLU (or identity) fused by
// cudnnConvolutionBiasActivationForward where cuDNN supports it, otherwise
// cudnnConvolutionForward followed by the library's epilogue kernel. Ops cuDNN cannot
// take (asymmetric padding, a fused squeeze-excitation scale, an FP32 output of an FP16
// network) stay on the library's kernels.
#include <stdlib.h>
#include <string.h>

#include "internal.cuh"

#ifdef ROADLOG_NO_CUDNN

Status cudnn_init(Engine *) {
	return make_status(RL_ERR_UNSUPPORTED, "this library was built without cuDNN (make gpu CUDNN_HOME=...)");
}
Status cudnn_prepare_op(Engine *, Op *) { return ok_status(); }
Status cudnn_pipe_init(Engine *, Pipe *) { return ok_status(); }
Status launch_cudnn(Engine *, Pipe *, Op *, int) { return make_status(RL_ERR_UNSUPPORTED, "no cuDNN"); }
void cudnn_destroy(Engine *) {}
const char *cudnn_version_string(char *buf, int len) {
	snprintf(buf, (size_t)len, "no cuDNN");
	return buf;
}

#else

#define DNN(expr, what)                                                                                                \
	do {                                                                                                               \
		cudnnStatus_t _s = (expr);                                                                                     \
		if (_s != CUDNN_STATUS_SUCCESS)                                                                                \
			return make_status(RL_ERR_LIBRARY, "%s: %s", what, cudnnGetErrorString(_s));                               \
	} while (0)

const char *cudnn_version_string(char *buf, int len) {
	size_t v = cudnnGetVersion();
	snprintf(buf, (size_t)len, "cuDNN %zu.%zu.%zu", v / 10000, (v % 10000) / 100, v % 100);
	return buf;
}

Status cudnn_init(Engine *e) {
	size_t v = cudnnGetVersion();
	if (v / 10000 != CUDNN_MAJOR)
		return make_status(RL_ERR_DRIVER, "cuDNN %zu loaded, library built against cuDNN %d", v, CUDNN_MAJOR);
	e->cudnn_ok = 1;
	return ok_status();
}

static cudnnDataType_t dnn_type(int dt) { return dt == RL_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }

static Status set_tensor(cudnnTensorDescriptor_t d, const View &v) {
	DNN(cudnnSetTensor4dDescriptorEx(d, dnn_type(v.dtype), v.n, v.c, v.h, v.w, v.s0, v.s3, v.s1, v.s2),
	    "describe tensor");
	return ok_status();
}

__global__ void krsc_kernel(const float *w, float *out, int K, int R, int S, int C) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= K * R * S * C)
		return;
	// out [k][r][s][c] from w [r][s][c][k]
	int c = i % C, s = (i / C) % S, r = (i / (C * S)) % R, k = i / (C * S * R);
	out[i] = w[((r * S + s) * C + c) * K + k];
}

// cudnn_prepare_op decides whether cuDNN runs op and prepares its descriptors and
// weights; ops it cannot run keep the library's kernels.
Status cudnn_prepare_op(Engine *e, Op *op) {
	const rl_op &d = op->d;
	bool sym = d.pad_t == d.pad_b && d.pad_l == d.pad_r;
	if (!e->cudnn_ok || !sym || (d.flags & RL_OPF_SCALE) || d.y.dtype != e->dtype || d.x.strides[3] != 1 ||
	    d.y.strides[3] != 1) {
		e->cudnn_fallback++;
		return ok_status();
	}
	int K = d.y.dims[3], C = d.x.dims[3], R = d.kh, S = d.kw;
	cudnnDataType_t t = dnn_type(e->dtype);
	DNN(cudnnCreateFilterDescriptor(&op->wdesc), "create filter descriptor");
	DNN(cudnnSetFilter4dDescriptor(op->wdesc, t, CUDNN_TENSOR_NHWC, K, C, R, S), "describe filter");
	DNN(cudnnCreateConvolutionDescriptor(&op->cdesc), "create convolution descriptor");
	DNN(cudnnSetConvolution2dDescriptor(op->cdesc, d.pad_t, d.pad_l, d.sh, d.sw, d.dh, d.dw, CUDNN_CROSS_CORRELATION,
	                                    CUDNN_DATA_FLOAT),
	    "describe convolution");
	DNN(cudnnSetConvolutionMathType(op->cdesc, e->dtype == RL_F16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
	    "set math type");
	// weights [K][R][S][C] in the compute type: transpose the padded-free HWIO floats
	{
		const int64_t n = (int64_t)K * R * S * C;
		float *hw = (float *)malloc(sizeof(float) * (size_t)n);
		if (!hw)
			return make_status(RL_ERR_OOM, "host memory for cuDNN weights");
		// the op's own weights are [Kp][Np] padded on the device: rebuild HWIO on the host
		float *pad = (float *)malloc(sizeof(float) * (size_t)op->kp * op->np);
		if (!pad) {
			free(hw);
			return make_status(RL_ERR_OOM, "host memory for cuDNN weights");
		}
		cudaError_t ce = cudaSuccess;
		if (e->dtype == RL_F32) {
			ce = cudaMemcpy(pad, op->w, sizeof(float) * (size_t)op->kp * op->np, cudaMemcpyDeviceToHost);
		} else {
			__half *hh = (__half *)malloc(sizeof(__half) * (size_t)op->kp * op->np);
			if (hh) {
				ce = cudaMemcpy(hh, op->w, sizeof(__half) * (size_t)op->kp * op->np, cudaMemcpyDeviceToHost);
				for (int64_t i = 0; i < (int64_t)op->kp * op->np; i++)
					pad[i] = __half2float(hh[i]);
				free(hh);
			}
		}
		for (int rsc = 0; rsc < R * S * C; rsc++)
			for (int k = 0; k < K; k++)
				hw[(int64_t)rsc * K + k] = pad[(int64_t)rsc * op->np + k];
		free(pad);
		if (ce != cudaSuccess) {
			free(hw);
			return cuda_status(ce, "read back weights");
		}
		float *dw = nullptr, *dk = nullptr;
		ce = cudaMalloc(&dw, sizeof(float) * (size_t)n);
		if (ce == cudaSuccess)
			ce = cudaMalloc(&dk, sizeof(float) * (size_t)n);
		if (ce == cudaSuccess)
			ce = cudaMemcpy(dw, hw, sizeof(float) * (size_t)n, cudaMemcpyHostToDevice);
		free(hw);
		if (ce == cudaSuccess) {
			krsc_kernel<<<(unsigned)((n + 255) / 256), 256>>>(dw, dk, K, R, S, C);
			ce = cudaDeviceSynchronize();
		}
		if (ce != cudaSuccess) {
			cudaFree(dw);
			cudaFree(dk);
			return cuda_status(ce, "transpose weights for cuDNN");
		}
		float *kr = (float *)malloc(sizeof(float) * (size_t)n);
		if (!kr) {
			cudaFree(dw);
			cudaFree(dk);
			return make_status(RL_ERR_OOM, "host memory for cuDNN weights");
		}
		ce = cudaMemcpy(kr, dk, sizeof(float) * (size_t)n, cudaMemcpyDeviceToHost);
		cudaFree(dw);
		cudaFree(dk);
		if (ce != cudaSuccess) {
			free(kr);
			return cuda_status(ce, "read transposed weights");
		}
		Status s = upload_constant(e, &op->w_krsc, kr, n, 1);
		free(kr);
		RL_TRY(s);
	}
	// bias+activation fused by cuDNN: ReLU or identity; bias in the data type
	op->cudnn_fused = d.act == RL_ACT_RELU || d.act == RL_ACT_NONE;
	if (op->cudnn_fused) {
		float *b = (float *)malloc(sizeof(float) * (size_t)K);
		if (!b)
			return make_status(RL_ERR_OOM, "host memory for bias");
		cudaError_t ce = cudaMemcpy(b, op->bias, sizeof(float) * (size_t)K, cudaMemcpyDeviceToHost);
		Status s = ce == cudaSuccess ? upload_constant(e, &op->bias_c, b, K, 1) : cuda_status(ce, "read bias");
		free(b);
		RL_TRY(s);
		DNN(cudnnCreateTensorDescriptor(&op->bdesc), "create bias descriptor");
		DNN(cudnnSetTensor4dDescriptor(op->bdesc, CUDNN_TENSOR_NHWC, t, 1, K, 1, 1), "describe bias");
		DNN(cudnnCreateActivationDescriptor(&op->adesc), "create activation descriptor");
		DNN(cudnnSetActivationDescriptor(op->adesc, d.act == RL_ACT_RELU ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY,
		                                 CUDNN_NOT_PROPAGATE_NAN, 0.0),
		    "describe activation");
	}
	// algorithm for the whole batch (identity activation needs IMPLICIT_PRECOMP_GEMM)
	cudnnHandle_t h;
	DNN(cudnnCreate(&h), "create cuDNN handle");
	cudnnTensorDescriptor_t tx, ty;
	cudnnCreateTensorDescriptor(&tx);
	cudnnCreateTensorDescriptor(&ty);
	View vx = make_view(d.x, e->cfg.max_batch), vy = make_view(d.y, e->cfg.max_batch);
	Status s = set_tensor(tx, vx);
	if (s.code == RL_OK)
		s = set_tensor(ty, vy);
	op->cudnn_algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
	if (s.code == RL_OK && !(op->cudnn_fused && d.act == RL_ACT_NONE)) {
		cudnnConvolutionFwdAlgoPerf_t perf[8];
		int got = 0;
		if (cudnnGetConvolutionForwardAlgorithm_v7(h, tx, op->wdesc, op->cdesc, ty, 8, &got, perf) ==
		    CUDNN_STATUS_SUCCESS)
			for (int i = 0; i < got; i++)
				// cuDNN's heuristics (not timing) and a deterministic algorithm: the same
				// choice and the same bits on every run
				if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= ((size_t)256 << 20) &&
				    perf[i].determinism == CUDNN_DETERMINISTIC) {
					op->cudnn_algo = perf[i].algo;
					break;
				}
	}
	if (s.code == RL_OK) {
		size_t ws = 0;
		cudnnStatus_t st = cudnnGetConvolutionForwardWorkspaceSize(h, tx, op->wdesc, op->cdesc, ty,
		                                                            (cudnnConvolutionFwdAlgo_t)op->cudnn_algo, &ws);
		if (st != CUDNN_STATUS_SUCCESS)
			s = make_status(RL_ERR_LIBRARY, "cuDNN workspace size: %s", cudnnGetErrorString(st));
		op->cudnn_ws = ws;
	}
	cudnnDestroyTensorDescriptor(tx);
	cudnnDestroyTensorDescriptor(ty);
	cudnnDestroy(h);
	if (s.code != RL_OK) { // cuDNN cannot describe it: our kernels keep it
		e->cudnn_fallback++;
		return ok_status();
	}
	op->cudnn_ok = 1;
	if (e->cfg.conv == RL_CONV_CUDNN)
		op->backend = RL_CONV_CUDNN;
	return ok_status();
}

Status cudnn_pipe_init(Engine *e, Pipe *p) {
	DNN(cudnnCreate(&p->cudnn), "create cuDNN handle");
	DNN(cudnnSetStream(p->cudnn, p->stream), "set cuDNN stream");
	DNN(cudnnCreateTensorDescriptor(&p->tx), "create tensor descriptor");
	DNN(cudnnCreateTensorDescriptor(&p->ty), "create tensor descriptor");
	DNN(cudnnCreateTensorDescriptor(&p->tz), "create tensor descriptor");
	size_t ws = 0;
	for (int i = 0; i < e->nops; i++)
		if (e->ops[i].cudnn_ok && e->ops[i].cudnn_ws > ws)
			ws = e->ops[i].cudnn_ws;
	if (ws) {
		RL_CUDA(cudaMalloc(&p->cudnn_ws, ws), "allocate cuDNN workspace");
		p->cudnn_ws_size = ws;
	}
	return ok_status();
}

Status launch_cudnn(Engine *e, Pipe *p, Op *op, int n) {
	const rl_op &d = op->d;
	View x = make_view(d.x, n), y = make_view(d.y, n), z = make_view(d.z, n);
	if (y.n == 0)
		return ok_status();
	RL_TRY(set_tensor(p->tx, x));
	RL_TRY(set_tensor(p->ty, y));
	cudnnConvolutionFwdAlgo_t algo = (cudnnConvolutionFwdAlgo_t)op->cudnn_algo;
	size_t ws = 0;
	if (cudnnGetConvolutionForwardWorkspaceSize(p->cudnn, p->tx, op->wdesc, op->cdesc, p->ty, algo, &ws) !=
	        CUDNN_STATUS_SUCCESS ||
	    ws > p->cudnn_ws_size) {
		algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
		ws = 0;
		cudnnGetConvolutionForwardWorkspaceSize(p->cudnn, p->tx, op->wdesc, op->cdesc, p->ty, algo, &ws);
		if (ws > p->cudnn_ws_size)
			return make_status(RL_ERR_LIBRARY, "cuDNN needs %zu bytes of workspace, %zu allocated", ws, p->cudnn_ws_size);
	}
	float one = 1.f, zero = 0.f;
	if (op->cudnn_fused) {
		int res = (d.flags & RL_OPF_RESIDUAL) != 0;
		if (res)
			RL_TRY(set_tensor(p->tz, z));
		DNN(cudnnConvolutionBiasActivationForward(p->cudnn, &one, p->tx, p->arena + x.off, op->wdesc, op->w_krsc,
		                                          op->cdesc, algo, p->cudnn_ws, ws, res ? &one : &zero,
		                                          res ? p->tz : p->ty, res ? p->arena + z.off : p->arena + y.off,
		                                          op->bdesc, op->bias_c, op->adesc, p->ty, p->arena + y.off),
		    "cudnnConvolutionBiasActivationForward");
		return ok_status();
	}
	DNN(cudnnConvolutionForward(p->cudnn, &one, p->tx, p->arena + x.off, op->wdesc, op->w_krsc, op->cdesc, algo,
	                            p->cudnn_ws, ws, &zero, p->ty, p->arena + y.off),
	    "cudnnConvolutionForward");
	return launch_epilogue(e, p, op, n);
}

void cudnn_destroy(Engine *e) {
	for (int i = 0; i < e->nops; i++) {
		Op *o = &e->ops[i];
		if (o->wdesc)
			cudnnDestroyFilterDescriptor(o->wdesc);
		if (o->cdesc)
			cudnnDestroyConvolutionDescriptor(o->cdesc);
		if (o->adesc)
			cudnnDestroyActivationDescriptor(o->adesc);
		if (o->bdesc)
			cudnnDestroyTensorDescriptor(o->bdesc);
	}
	for (int pi = 0; pi < RL_MAXPIPE; pi++) {
		Pipe *p = &e->pipes[pi];
		if (p->tx)
			cudnnDestroyTensorDescriptor(p->tx);
		if (p->ty)
			cudnnDestroyTensorDescriptor(p->ty);
		if (p->tz)
			cudnnDestroyTensorDescriptor(p->tz);
		if (p->cudnn)
			cudnnDestroy(p->cudnn);
	}
}

#endif
