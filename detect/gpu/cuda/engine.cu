// engine.cu: the C ABI (roadlog_gpu.h): device probing, engine and pipeline
// lifecycle, the op list, runs (op by op or as a CUDA graph per batch size),
// pre-processing uploads, peaks, the cuBLAS path.
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.cuh"

Status ok_status() {
	Status s;
	s.code = RL_OK;
	s.msg[0] = 0;
	return s;
}

Status make_status(int32_t code, const char *fmt, ...) {
	Status s;
	s.code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s.msg, sizeof s.msg, fmt, ap);
	va_end(ap);
	return s;
}

static int32_t cuda_code(cudaError_t err) {
	switch (err) {
	case cudaErrorMemoryAllocation:
		return RL_ERR_OOM;
	case cudaErrorNoDevice:
		return RL_ERR_NO_DEVICE;
	case cudaErrorInsufficientDriver:
	case cudaErrorNoKernelImageForDevice:
	case cudaErrorUnsupportedPtxVersion:
		return RL_ERR_DRIVER;
	default:
		return RL_ERR_CUDA;
	}
}

Status cuda_status(cudaError_t err, const char *what) {
	int32_t code = cuda_code(err);
	if (code == RL_ERR_OOM) {
		size_t fr = 0, tot = 0;
		cudaGetLastError();
		cudaMemGetInfo(&fr, &tot);
		return make_status(code, "%s: out of device memory (%zu of %zu MiB free)", what, fr >> 20, tot >> 20);
	}
	if (code == RL_ERR_DRIVER) {
		int drv = 0;
		cudaDriverGetVersion(&drv);
		return make_status(code, "%s: %s (driver supports CUDA %d.%d, library built with CUDA %d.%d)", what,
		                   cudaGetErrorString(err), drv / 1000, (drv % 1000) / 10, CUDART_VERSION / 1000,
		                   (CUDART_VERSION % 1000) / 10);
	}
	return make_status(code, "%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

void prefix_status(Status &s, const char *fmt, ...) {
	char p[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p, sizeof p, fmt, ap);
	va_end(ap);
	char m[sizeof s.msg + sizeof p + 4];
	snprintf(m, sizeof m, "%s: %s", p, s.msg);
	memcpy(s.msg, m, sizeof s.msg - 1);
	s.msg[sizeof s.msg - 1] = 0;
}

int32_t report(const Status &s, char *err, int32_t errlen) {
	if (s.code != RL_OK && err && errlen > 0)
		snprintf(err, (size_t)errlen, "%s", s.msg);
	return s.code;
}

extern "C" int32_t rl_abi_version(void) { return RL_ABI_VERSION; }

extern "C" int32_t rl_layout(int64_t *out, int32_t n) {
	int64_t v[] = {
	    sizeof(rl_tensor), offsetof(rl_tensor, dtype), sizeof(rl_op),        offsetof(rl_op, alpha2),
	    offsetof(rl_op, ratio_h), offsetof(rl_op, scratch), offsetof(rl_op, x), offsetof(rl_op, y),
	    sizeof(rl_config), offsetof(rl_config, arena_bytes), offsetof(rl_config, in_h), sizeof(rl_image),
	    offsetof(rl_image, off), sizeof(rl_peak),
	};
	int32_t k = (int32_t)(sizeof(v) / sizeof(v[0]));
	for (int32_t i = 0; i < k && i < n; i++)
		out[i] = v[i];
	return k;
}

static Status select_device(int dev, cudaDeviceProp *prop) {
	int count = 0;
	cudaError_t err = cudaGetDeviceCount(&count);
	if (err != cudaSuccess)
		return cuda_status(err, "count CUDA devices");
	if (count == 0)
		return make_status(RL_ERR_NO_DEVICE, "no CUDA device");
	if (dev < 0 || dev >= count)
		return make_status(RL_ERR_NO_DEVICE, "no CUDA device %d (%d present)", dev, count);
	RL_CUDA(cudaSetDevice(dev), "select CUDA device");
	RL_CUDA(cudaGetDeviceProperties(prop, dev), "read device properties");
	return ok_status();
}

Status kernels_check(const cudaDeviceProp &prop);

extern "C" int32_t rl_probe(int32_t device, char *info, int32_t len) {
	cudaDeviceProp prop;
	Status s = select_device(device, &prop);
	if (s.code != RL_OK)
		return report(s, info, len);
	s = kernels_check(prop);
	if (s.code != RL_OK)
		return report(s, info, len);
	int drv = 0, rt = 0;
	cudaDriverGetVersion(&drv);
	cudaRuntimeGetVersion(&rt);
	size_t fr = 0, tot = 0;
	cudaMemGetInfo(&fr, &tot);
	char dnn[64];
	snprintf(info, (size_t)len, "%s sm_%d%d, %d SMs, %zu/%zu MiB free, driver CUDA %d.%d, runtime %d.%d, %s", prop.name,
	         prop.major, prop.minor, prop.multiProcessorCount, fr >> 20, tot >> 20, drv / 1000, (drv % 1000) / 10,
	         rt / 1000, (rt % 1000) / 10, cudnn_version_string(dnn, sizeof dnn));
	return RL_OK;
}

static void destroy_engine(Engine *e);

static Status create_pipe(Engine *e, Pipe *p) {
	const rl_config &c = e->cfg;
	int sync = (c.flags & RL_CFG_SYNC) != 0;
	RL_CUDA(cudaStreamCreateWithFlags(&p->stream, cudaStreamNonBlocking), "create stream");
	char what[128];
	snprintf(what, sizeof what, "allocate the %lld MiB activation arena", (long long)(c.arena_bytes >> 20));
	RL_CUDA(cudaMalloc((void **)&p->arena, (size_t)c.arena_bytes), what);
	RL_CUDA(cudaMemset(p->arena, 0, (size_t)c.arena_bytes), "clear arena");
	size_t in = (size_t)c.max_batch * c.in_h * c.in_w * c.in_c * sizeof(float);
	if (sync) {
		p->host_in = (float *)calloc(1, in);
		if (!p->host_in)
			return make_status(RL_ERR_OOM, "host input buffer");
	} else {
		RL_CUDA(cudaHostAlloc((void **)&p->host_in, in, cudaHostAllocDefault), "allocate pinned input buffer");
	}
	if (e->dtype == RL_F16)
		RL_CUDA(cudaMalloc((void **)&p->dev_in, in), "allocate input staging");
	RL_CUDA(cudaHostAlloc(&p->img_host, sizeof(ImgDesc) * (size_t)c.max_batch, cudaHostAllocDefault),
	        "allocate image descriptors");
	RL_CUDA(cudaMalloc(&p->img_dev, sizeof(ImgDesc) * (size_t)c.max_batch), "allocate image descriptors");
	RL_CUDA(cudaMalloc((void **)&p->cand_count, sizeof(int32_t) * (size_t)c.max_batch), "allocate peak counts");
	RL_CUDA(cudaMalloc((void **)&p->cand, sizeof(uint64_t) * (size_t)c.max_batch * RL_PEAK_CAP),
	        "allocate peak candidates");
	if (cublasCreate(&p->cublas) != CUBLAS_STATUS_SUCCESS)
		return make_status(RL_ERR_LIBRARY, "create cuBLAS handle");
	cublasSetStream(p->cublas, p->stream);
	RL_CUDA(cudaMalloc(&p->cublas_ws, 32 << 20), "allocate cuBLAS workspace");
	cublasSetWorkspace(p->cublas, p->cublas_ws, 32 << 20);
	cublasSetMathMode(p->cublas, CUBLAS_DEFAULT_MATH);
	return ok_status();
}

extern "C" int32_t rl_create(const rl_config *cfg, rl_engine **out, char *err, int32_t errlen) {
	*out = nullptr;
	if (cfg->pipelines < 1 || cfg->pipelines > RL_MAXPIPE || cfg->max_batch < 1 || cfg->max_batch > RL_MAXBATCH ||
	    cfg->arena_bytes <= 0)
		return report(make_status(RL_ERR_ARG, "bad config: %d pipelines, batch %d, arena %lld bytes", cfg->pipelines,
		                          cfg->max_batch, (long long)cfg->arena_bytes),
		              err, errlen);
	Engine *e = (Engine *)calloc(1, sizeof(Engine));
	if (!e)
		return report(make_status(RL_ERR_OOM, "engine struct"), err, errlen);
	e->cfg = *cfg;
	e->dtype = cfg->precision == RL_PREC_FP16 ? RL_F16 : RL_F32;
	e->tune_mu = new std::mutex();
	e->tune_policy = -1;
	Status s = select_device(cfg->device, &e->prop);
	if (s.code == RL_OK)
		s = kernels_check(e->prop);
	if (s.code == RL_OK && e->dtype == RL_F16 && e->prop.major < 7)
		s = make_status(RL_ERR_UNSUPPORTED, "%s (sm_%d%d) has no FP16 tensor cores; use FP32", e->prop.name,
		                e->prop.major, e->prop.minor);
	if (s.code == RL_OK && cfg->conv == RL_CONV_CUDNN)
		s = cudnn_init(e);
	if (s.code == RL_OK && cfg->conv == RL_CONV_AUTO && cudnn_init(e).code != RL_OK)
		e->cudnn_ok = 0; // auto: cuDNN is one candidate of three
	for (int i = 0; i < cfg->pipelines && s.code == RL_OK; i++) {
		s = create_pipe(e, &e->pipes[i]);
		if (s.code != RL_OK)
			prefix_status(s, "pipeline %d", i);
	}
	if (s.code == RL_OK)
		s = jpeg_init(e);
	if (s.code != RL_OK) {
		destroy_engine(e);
		return report(s, err, errlen);
	}
	*out = (rl_engine *)e;
	return RL_OK;
}

static int64_t tcount(const rl_tensor &t) { return (int64_t)t.dims[0] * t.dims[1] * t.dims[2] * t.dims[3]; }

// cublas_fits reports whether a conv is a 1x1 GEMM over uniformly strided rows.
int cublas_fits(const Engine *, const Op *op) {
	const rl_op &d = op->d;
	if (d.kh != 1 || d.kw != 1 || d.sh != 1 || d.sw != 1 || d.pad_t || d.pad_l || d.pad_b || d.pad_r ||
	    (d.flags & RL_OPF_SCALE))
		return 0;
	const rl_tensor *ts[2] = {&d.x, &d.y};
	for (int i = 0; i < 2; i++) {
		const rl_tensor &t = *ts[i];
		if (t.strides[3] != 1 || t.strides[1] != t.dims[2] * t.strides[2] || t.strides[0] != t.dims[1] * t.strides[1])
			return 0;
	}
	return 1;
}

Status launch_cublas(Engine *e, Pipe *p, Op *op, int n) {
	const rl_op &d = op->d;
	View x = make_view(d.x, n), y = make_view(d.y, n);
	int M = y.n * y.h * y.w, K = x.c, N = y.c;
	if (M == 0)
		return ok_status();
	float one = 1.f, zero = 0.f;
	cudaDataType_t ab = e->dtype == RL_F16 ? CUDA_R_16F : CUDA_R_32F;
	cudaDataType_t ct = y.dtype == RL_F16 ? CUDA_R_16F : CUDA_R_32F;
	cublasStatus_t st = cublasGemmEx(p->cublas, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, op->w, ab, op->np,
	                                 p->arena + x.off, ab, x.s2, &zero, p->arena + y.off, ct, y.s2, CUBLAS_COMPUTE_32F,
	                                 CUBLAS_GEMM_DEFAULT);
	if (st != CUBLAS_STATUS_SUCCESS)
		return make_status(RL_ERR_LIBRARY, "cublasGemmEx %dx%dx%d: status %d", M, N, K, (int)st);
	return launch_epilogue(e, p, op, n);
}

extern "C" int32_t rl_add_op(rl_engine *eh, const rl_op *op, const float *w0, const float *w1, const float *w2,
                             const float *w3, char *err, int32_t errlen) {
	Engine *e = (Engine *)eh;
	if (e->final)
		return report(make_status(RL_ERR_STATE, "add op after finalize"), err, errlen);
	if (op->kind < RL_OP_CONV || op->kind > RL_OP_COPY)
		return report(make_status(RL_ERR_UNSUPPORTED, "op kind %d", op->kind), err, errlen);
	if (e->nops == e->capops) {
		int cap = e->capops ? 2 * e->capops : 128;
		Op *ops = (Op *)realloc(e->ops, sizeof(Op) * (size_t)cap);
		if (!ops)
			return report(make_status(RL_ERR_OOM, "op list"), err, errlen);
		e->ops = ops, e->capops = cap;
	}
	cudaSetDevice(e->cfg.device);
	Op *o = &e->ops[e->nops];
	memset(o, 0, sizeof *o);
	o->d = *op;
	o->backend = RL_CONV_OWN;
	Status s = ok_status();
	int cout = op->y.dims[3], cin = op->x.dims[3];
	switch (op->kind) {
	case RL_OP_CONV:
		if (!w0 || !w1)
			return report(make_status(RL_ERR_ARG, "conv without weights or bias"), err, errlen);
		s = upload_conv_weights(e, o, w0);
		if (s.code == RL_OK)
			s = upload_constant(e, (void **)&o->bias, w1, cout, 0);
		o->cublas_ok = cublas_fits(e, o);
		if (s.code == RL_OK && e->cfg.conv == RL_CONV_CUBLAS && o->cublas_ok) {
			o->backend = RL_CONV_CUBLAS;
			e->cublas_ops++;
		}
		if (s.code == RL_OK && (e->cfg.conv == RL_CONV_CUDNN || (e->cfg.conv == RL_CONV_AUTO && e->cudnn_ok)))
			s = cudnn_prepare_op(e, o); // marks it cuDNN-capable (and cuDNN's under RL_CONV_CUDNN)
		break;
	case RL_OP_DW:
		if (!w0 || !w1)
			return report(make_status(RL_ERR_ARG, "depthwise conv without weights or bias"), err, errlen);
		s = upload_constant(e, &o->w, w0, (int64_t)op->kh * op->kw * cout, 1);
		if (s.code == RL_OK)
			s = upload_constant(e, (void **)&o->bias, w1, cout, 0);
		break;
	case RL_OP_SE: {
		const float *w[4] = {w0, w1, w2, w3};
		int64_t k[4] = {(int64_t)cin * op->hidden, op->hidden, (int64_t)op->hidden * cin, cin};
		for (int i = 0; i < 4 && s.code == RL_OK; i++) {
			if (!w[i])
				return report(make_status(RL_ERR_ARG, "squeeze-excitation constant %d missing", i), err, errlen);
			s = upload_constant(e, (void **)&o->se[i], w[i], k[i], 0);
		}
		if (s.code == RL_OK) { // the first FC read row by row: [hidden][C]
			float *t = (float *)malloc(sizeof(float) * (size_t)k[0]);
			if (!t)
				return report(make_status(RL_ERR_OOM, "host memory"), err, errlen);
			for (int c = 0; c < cin; c++)
				for (int r = 0; r < op->hidden; r++)
					t[(int64_t)r * cin + c] = w0[(int64_t)c * op->hidden + r];
			s = upload_constant(e, (void **)&o->se_t, t, k[0], 0);
			free(t);
		}
		break;
	}
	case RL_OP_BINARY:
		if (op->flags & RL_OPF_CONST_Z) {
			int64_t c = 1;
			for (int i = 0; i < 4; i++)
				if (op->z.strides[i] != 0 && (int64_t)op->z.strides[i] * op->z.dims[i] > c)
					c = (int64_t)op->z.strides[i] * op->z.dims[i];
			if (!w0)
				return report(make_status(RL_ERR_ARG, "binary op without its constant"), err, errlen);
			s = upload_constant(e, &o->cz, w0, c, 0);
		}
		break;
	}
	if (s.code != RL_OK) {
		prefix_status(s, "op %d", e->nops);
		return report(s, err, errlen);
	}
	e->nops++;
	return RL_OK;
}

extern "C" int32_t rl_add_output(rl_engine *eh, const rl_tensor *t, char *err, int32_t errlen) {
	Engine *e = (Engine *)eh;
	if (e->nouts >= RL_MAXOUT)
		return report(make_status(RL_ERR_UNSUPPORTED, "more than %d outputs", RL_MAXOUT), err, errlen);
	if (t->dtype != RL_F32)
		return report(make_status(RL_ERR_ARG, "output %d is not float32", e->nouts), err, errlen);
	e->outs[e->nouts++] = *t;
	return RL_OK;
}

extern "C" int32_t rl_finalize(rl_engine *eh, char *err, int32_t errlen) {
	Engine *e = (Engine *)eh;
	cudaSetDevice(e->cfg.device);
	int sync = (e->cfg.flags & RL_CFG_SYNC) != 0;
	for (int pi = 0; pi < e->cfg.pipelines; pi++) {
		Pipe *p = &e->pipes[pi];
		for (int i = 0; i < e->nouts; i++) {
			size_t b = (size_t)tcount(e->outs[i]) * sizeof(float);
			if (sync) {
				p->host_out[i] = (float *)calloc(1, b);
				if (!p->host_out[i])
					return report(make_status(RL_ERR_OOM, "host output buffer"), err, errlen);
			} else {
				cudaError_t ce = cudaHostAlloc((void **)&p->host_out[i], b, cudaHostAllocDefault);
				if (ce != cudaSuccess)
					return report(cuda_status(ce, "allocate pinned output buffer"), err, errlen);
			}
		}
		// split-K workspace: the largest M x N of a convolution with a long K
		int64_t cap = 0;
		for (int i = 0; i < e->nops; i++) {
			const rl_op &d = e->ops[i].d;
			if (d.kind == RL_OP_CONV && (int64_t)d.kh * d.kw * d.x.dims[3] >= 256) {
				int64_t mn = (int64_t)d.y.dims[0] * d.y.dims[1] * d.y.dims[2] * d.y.dims[3];
				cap = cap > mn ? cap : mn;
			}
		}
		// only grids of fewer than half the multiprocessors' tiles are split
		cap = min(cap, (int64_t)e->prop.multiProcessorCount / 2 * RL_SPLIT_TILE) * RL_SPLIT_MAX;
		if (cap > 0 && cap <= ((int64_t)64 << 20)) {
			cudaError_t ce = cudaMalloc((void **)&p->split_ws, sizeof(float) * (size_t)cap);
			if (ce != cudaSuccess)
				return report(cuda_status(ce, "allocate split-K workspace"), err, errlen);
			p->split_cap = cap;
		}
		// mean/SE partial-sum workspace: the largest [N][pixel blocks][C]
		int64_t mcap = 0;
		for (int i = 0; i < e->nops; i++) {
			const rl_op &d = e->ops[i].d;
			if (d.kind == RL_OP_MEAN || d.kind == RL_OP_SE) {
				int64_t hw = (int64_t)d.x.dims[1] * d.x.dims[2];
				int64_t m = (int64_t)d.x.dims[0] * ((hw + MEAN_PIX - 1) / MEAN_PIX) * d.x.dims[3];
				mcap = mcap > m ? mcap : m;
			}
		}
		if (mcap > 0) {
			cudaError_t ce = cudaMalloc((void **)&p->mean_ws, sizeof(float) * (size_t)mcap);
			if (ce != cudaSuccess)
				return report(cuda_status(ce, "allocate mean workspace"), err, errlen);
		}
		if (e->cfg.conv == RL_CONV_CUDNN || (e->cfg.conv == RL_CONV_AUTO && e->cudnn_ok)) {
			Status s = cudnn_pipe_init(e, p);
			if (s.code != RL_OK)
				return report(s, err, errlen);
		}
	}
	e->final = 1;
	return RL_OK;
}

extern "C" float *rl_host_input(rl_engine *eh, int32_t p) { return ((Engine *)eh)->pipes[p].host_in; }

extern "C" float *rl_host_output(rl_engine *eh, int32_t p, int32_t i) { return ((Engine *)eh)->pipes[p].host_out[i]; }

extern "C" uint8_t *rl_staging(rl_engine *eh, int32_t pi, int64_t bytes) {
	Engine *e = (Engine *)eh;
	Pipe *p = &e->pipes[pi];
	if (bytes <= p->staging_cap)
		return p->staging;
	cudaSetDevice(e->cfg.device);
	int64_t cap = bytes + bytes / 2;
	uint8_t *s = nullptr;
	if (cudaHostAlloc((void **)&s, (size_t)cap, cudaHostAllocDefault) != cudaSuccess)
		return nullptr;
	if (p->staging) {
		cudaStreamSynchronize(p->stream);
		memcpy(s, p->staging, (size_t)p->staging_cap);
		cudaFreeHost(p->staging);
	}
	p->staging = s, p->staging_cap = cap;
	return s;
}

// image_end is one byte past the last staged byte of image im.
static int64_t image_end(const rl_image &im) {
	int64_t h = im.height, end = 0;
	switch (im.format) {
	case RL_PIX_YCBCR: {
		int64_t ch = (h + (1 << im.sub_y) - 1) >> im.sub_y;
		end = im.off[0] + h * im.stride;
		int64_t c1 = im.off[1] + ch * im.cstride, c2 = im.off[2] + ch * im.cstride;
		end = end > c1 ? end : c1;
		end = end > c2 ? end : c2;
		break;
	}
	case RL_PIX_NV12: {
		int64_t c = im.off[1] + ((h + 1) / 2) * im.cstride;
		end = im.off[0] + h * im.stride;
		end = end > c ? end : c;
		break;
	}
	case RL_PIX_JPEG:
		end = im.off[0] + im.len;
		break;
	default:
		end = im.off[0] + h * im.stride;
	}
	return end;
}

extern "C" int32_t rl_preprocess(rl_engine *eh, int32_t pi, int32_t n, const rl_image *imgs, char *err,
                                 int32_t errlen) {
	Engine *e = (Engine *)eh;
	Pipe *p = &e->pipes[pi];
	cudaSetDevice(e->cfg.device);
	if (n < 1 || n > e->cfg.max_batch)
		return report(make_status(RL_ERR_ARG, "%d images for a batch of %d", n, e->cfg.max_batch), err, errlen);
	if (e->cfg.in_c != 3)
		return report(make_status(RL_ERR_UNSUPPORTED, "pre-processing needs a 3-channel input, not %d", e->cfg.in_c), err,
		              errlen);
	for (int j = 0; j < RL_MAXBATCH; j++) // rl_luma reads only what this call decodes
		p->jpeg[j].ready = false;
	int64_t end = 0;
	int jpegs = 0;
	for (int j = 0; j < n; j++) {
		const rl_image &im = imgs[j];
		if (im.format < RL_PIX_RGB || im.format > RL_PIX_JPEG || im.width <= 0 || im.height <= 0)
			return report(make_status(RL_ERR_ARG, "image %d: format %d, %dx%d", j, im.format, im.width, im.height), err,
			              errlen);
		int64_t x = image_end(im);
		end = end > x ? end : x;
		jpegs += im.format == RL_PIX_JPEG;
	}
	if (end > p->staging_cap)
		return report(make_status(RL_ERR_ARG, "images end at byte %lld of a %lld-byte staging buffer", (long long)end,
		                          (long long)p->staging_cap),
		              err, errlen);
	int sync = (e->cfg.flags & RL_CFG_SYNC) != 0;
	if (end > p->dstaging_cap) {
		cudaStreamSynchronize(p->stream);
		cudaFree(p->dstaging);
		p->dstaging = nullptr, p->dstaging_cap = 0;
		cudaError_t ce = cudaMalloc((void **)&p->dstaging, (size_t)end);
		if (ce != cudaSuccess)
			return report(cuda_status(ce, "allocate device staging"), err, errlen);
		p->dstaging_cap = end;
	}
	if (jpegs < n) { // pixels to upload
		cudaError_t ce = cudaMemcpyAsync(p->dstaging, p->staging, (size_t)end, cudaMemcpyHostToDevice, p->stream);
		if (ce == cudaSuccess && sync)
			ce = cudaStreamSynchronize(p->stream);
		if (ce != cudaSuccess)
			return report(cuda_status(ce, "upload staged pixels"), err, errlen);
	}
	ImgDesc *d = (ImgDesc *)p->img_host;
	uint8_t *rgb[RL_MAXBATCH];
	if (jpegs) {
		rl_image tmp[RL_MAXBATCH];
		memcpy(tmp, imgs, sizeof(rl_image) * (size_t)n);
		Status s = jpeg_decode(e, p, n, tmp, rgb);
		if (s.code != RL_OK)
			return report(s, err, errlen);
	}
	for (int j = 0; j < n; j++) {
		d[j].im = imgs[j];
		if (imgs[j].format == RL_PIX_JPEG) {
			d[j].im.format = RL_PIX_RGB;
			d[j].im.stride = 3 * imgs[j].width;
			d[j].p0 = rgb[j], d[j].p1 = d[j].p2 = rgb[j];
			continue;
		}
		d[j].p0 = p->dstaging + imgs[j].off[0];
		d[j].p1 = p->dstaging + imgs[j].off[1];
		d[j].p2 = p->dstaging + imgs[j].off[2];
	}
	cudaError_t ce = cudaMemcpyAsync(p->img_dev, p->img_host, sizeof(ImgDesc) * (size_t)n, cudaMemcpyHostToDevice,
	                                 p->stream);
	if (ce != cudaSuccess)
		return report(cuda_status(ce, "upload image descriptors"), err, errlen);
	Status s = launch_preprocess(e, p, n, p->img_dev);
	if (s.code == RL_OK && sync) {
		ce = cudaStreamSynchronize(p->stream);
		if (ce != cudaSuccess)
			s = cuda_status(ce, "pre-process");
	}
	return report(s, err, errlen);
}

static Status enqueue_ops(Engine *e, Pipe *p, int n, int sync) {
	for (int i = 0; i < e->nops; i++) {
		Status s = launch_op(e, p, &e->ops[i], n);
		if (s.code != RL_OK) {
			prefix_status(s, "op %d", i);
			return s;
		}
		if (sync) {
			cudaError_t ce = cudaStreamSynchronize(p->stream);
			if (ce != cudaSuccess) {
				char m[128];
				snprintf(m, sizeof m, "op %d", i);
				return cuda_status(ce, m);
			}
		}
	}
	return ok_status();
}

// autotune times every convolution on each back end that can run it (the network has
// just run once, so the arena holds real activations) and keeps the fastest.
static Status autotune(Engine *e, Pipe *p, int n) {
	cudaEvent_t a, b;
	RL_CUDA(cudaEventCreate(&a), "create event");
	RL_CUDA(cudaEventCreate(&b), "create event");
	Status s = ok_status();
	for (int i = 0; i < e->nops && s.code == RL_OK; i++) {
		Op *op = &e->ops[i];
		if (op->d.kind != RL_OP_CONV)
			continue;
		int cands[3] = {RL_CONV_OWN, -1, -1}, nc = 1;
		if (op->cublas_ok)
			cands[nc++] = RL_CONV_CUBLAS;
		if (op->cudnn_ok)
			cands[nc++] = RL_CONV_CUDNN;
		float best = 1e30f;
		int pick = RL_CONV_OWN;
		for (int c = 0; c < nc && s.code == RL_OK; c++) {
			op->backend = cands[c];
			s = launch_op(e, p, op, n); // warm
			cudaEventRecord(a, p->stream);
			for (int r = 0; r < 5 && s.code == RL_OK; r++)
				s = launch_op(e, p, op, n);
			cudaEventRecord(b, p->stream);
			cudaError_t ce = cudaEventSynchronize(b);
			if (ce != cudaSuccess)
				s = cuda_status(ce, "time a convolution");
			float t = 0;
			cudaEventElapsedTime(&t, a, b);
			if (s.code == RL_OK && t < best)
				best = t, pick = cands[c];
		}
		op->backend = pick;
	}
	// a network is not the sum of its ops (caches, overlap, launch costs): compare the
	// per-op choice with every convolution on one back end where it can, over whole runs
	// made as the engine will make them (a CUDA graph replay unless graphs are off), in
	// interleaved rounds after a warm-up so clocks ramping up favour no policy; keep the
	// fastest round of each
	int nc = 0;
	for (int i = 0; i < e->nops; i++)
		nc += e->ops[i].d.kind == RL_OP_CONV;
	int *tuned = (int *)malloc(sizeof(int) * (size_t)(e->nops + 1));
	if (!tuned) {
		cudaEventDestroy(a);
		cudaEventDestroy(b);
		return make_status(RL_ERR_OOM, "host memory");
	}
	for (int i = 0; i < e->nops; i++)
		tuned[i] = e->ops[i].backend;
	const int npol = RL_CONV_CUDNN + 2; // policy -1 (per op), then own, cuBLAS, cuDNN
	auto set_policy = [&](int policy) {
		for (int i = 0; i < e->nops; i++) {
			Op *op = &e->ops[i];
			if (op->d.kind != RL_OP_CONV)
				continue;
			int want = policy < 0 ? tuned[i] : policy;
			op->backend = (want == RL_CONV_CUBLAS && !op->cublas_ok) || (want == RL_CONV_CUDNN && !op->cudnn_ok)
			                  ? tuned[i]
			                  : want;
		}
	};
	const int graphs = !(e->cfg.flags & (RL_CFG_SYNC | RL_CFG_NO_GRAPH));
	cudaGraphExec_t exec[npol] = {};
	auto run_policy = [&](int k) -> Status {
		if (exec[k]) {
			RL_CUDA(cudaGraphLaunch(exec[k], p->stream), "launch tuning graph");
			return ok_status();
		}
		set_policy(k - 1);
		return enqueue_ops(e, p, n, 0);
	};
	for (int k = 0; k < npol && s.code == RL_OK && nc > 0 && graphs; k++) {
		set_policy(k - 1);
		cudaGraph_t g;
		cudaError_t ce = cudaStreamBeginCapture(p->stream, cudaStreamCaptureModeThreadLocal);
		if (ce != cudaSuccess) {
			s = cuda_status(ce, "begin tuning graph capture");
			break;
		}
		s = enqueue_ops(e, p, n, 0);
		ce = cudaStreamEndCapture(p->stream, &g);
		if (s.code == RL_OK && ce != cudaSuccess)
			s = cuda_status(ce, "end tuning graph capture");
		if (ce == cudaSuccess) {
			if (s.code == RL_OK && (ce = cudaGraphInstantiateWithFlags(&exec[k], g, 0)) != cudaSuccess)
				exec[k] = nullptr, s = cuda_status(ce, "instantiate tuning graph");
			cudaGraphDestroy(g);
		}
	}
	float best_t[npol];
	for (int k = 0; k < npol; k++)
		best_t[k] = 1e30f;
	for (int w = 0; w < 10 && s.code == RL_OK && nc > 0; w++) // warm-up
		s = run_policy(w % npol);
	for (int round = 0; round < 3 && s.code == RL_OK && nc > 0; round++) {
		for (int k = 0; k < npol && s.code == RL_OK; k++) {
			s = run_policy(k); // warm
			cudaEventRecord(a, p->stream);
			for (int r = 0; r < 4 && s.code == RL_OK; r++)
				s = run_policy(k);
			cudaEventRecord(b, p->stream);
			cudaError_t ce = cudaEventSynchronize(b);
			if (ce != cudaSuccess && s.code == RL_OK)
				s = cuda_status(ce, "time the network");
			float t = 0;
			cudaEventElapsedTime(&t, a, b);
			if (s.code == RL_OK)
				best_t[k] = fminf(best_t[k], t);
		}
	}
	for (int k = 0; k < npol; k++)
		if (exec[k])
			cudaGraphExecDestroy(exec[k]);
	int policy_best = -1;
	for (int k = 1; k < npol; k++)
		if (best_t[k] < best_t[policy_best + 1])
			policy_best = k - 1;
	for (int i = 0; i < e->nops; i++) {
		Op *op = &e->ops[i];
		if (op->d.kind != RL_OP_CONV)
			continue;
		int want = policy_best < 0 ? tuned[i] : policy_best;
		op->backend = (want == RL_CONV_CUBLAS && !op->cublas_ok) || (want == RL_CONV_CUDNN && !op->cudnn_ok) ? tuned[i]
		                                                                                                    : want;
		e->chosen[op->backend]++;
	}
	e->tune_policy = policy_best;
	free(tuned);
	cudaEventDestroy(a);
	cudaEventDestroy(b);
	return s;
}

static Status run_network(Engine *e, Pipe *p, int n) {
	int sync = (e->cfg.flags & RL_CFG_SYNC) != 0;
	if (e->cfg.conv == RL_CONV_AUTO) {
		std::lock_guard<std::mutex> lock(*e->tune_mu);
		if (!e->tuned) {
			RL_TRY(enqueue_ops(e, p, n, 0));
			RL_TRY(autotune(e, p, n));
			e->tuned = 1;
		}
	}
	if (sync || (e->cfg.flags & RL_CFG_NO_GRAPH))
		return enqueue_ops(e, p, n, sync);
	if (!p->graph[n]) {
		cudaGraph_t g;
		RL_CUDA(cudaStreamBeginCapture(p->stream, cudaStreamCaptureModeThreadLocal), "begin graph capture");
		Status s = enqueue_ops(e, p, n, 0);
		cudaError_t ce = cudaStreamEndCapture(p->stream, &g);
		if (s.code != RL_OK) {
			if (ce == cudaSuccess)
				cudaGraphDestroy(g);
			return s;
		}
		RL_CUDA(ce, "end graph capture");
		ce = cudaGraphInstantiateWithFlags(&p->graph[n], g, 0);
		cudaGraphDestroy(g);
		if (ce != cudaSuccess) {
			p->graph[n] = nullptr;
			return cuda_status(ce, "instantiate graph");
		}
	}
	RL_CUDA(cudaGraphLaunch(p->graph[n], p->stream), "launch graph");
	return ok_status();
}

extern "C" int32_t rl_run(rl_engine *eh, int32_t pi, int32_t n, int32_t source, char *err, int32_t errlen) {
	Engine *e = (Engine *)eh;
	if (!e->final)
		return report(make_status(RL_ERR_STATE, "run before finalize"), err, errlen);
	if (n < 1 || n > e->cfg.max_batch)
		return report(make_status(RL_ERR_ARG, "%d images for a batch of %d", n, e->cfg.max_batch), err, errlen);
	Pipe *p = &e->pipes[pi];
	cudaSetDevice(e->cfg.device);
	if (!e->cfg.batched_run)
		n = e->cfg.max_batch;
	int sync = (e->cfg.flags & RL_CFG_SYNC) != 0;
	if (source == RL_SRC_HOST) {
		size_t b = (size_t)n * e->cfg.in_h * e->cfg.in_w * e->cfg.in_c * sizeof(float);
		void *dst = e->dtype == RL_F16 ? (void *)p->dev_in : (void *)(p->arena + e->cfg.input_offset);
		// (a pageable cudaMemcpy may return before its DMA lands: copy on the stream, then wait)
		cudaError_t ce = cudaMemcpyAsync(dst, p->host_in, b, cudaMemcpyHostToDevice, p->stream);
		if (ce == cudaSuccess && sync)
			ce = cudaStreamSynchronize(p->stream);
		if (ce != cudaSuccess)
			return report(cuda_status(ce, "upload input"), err, errlen);
		if (e->dtype == RL_F16) {
			Status s = launch_input_convert(e, p, n);
			if (s.code != RL_OK)
				return report(s, err, errlen);
		}
	}
	Status s = run_network(e, p, n);
	if (s.code != RL_OK)
		return report(s, err, errlen);
	return RL_OK;
}

extern "C" int32_t rl_wait(rl_engine *eh, int32_t pi, char *err, int32_t errlen) {
	Engine *e = (Engine *)eh;
	cudaSetDevice(e->cfg.device);
	cudaError_t ce = cudaStreamSynchronize(e->pipes[pi].stream);
	if (ce != cudaSuccess)
		return report(cuda_status(ce, "run network"), err, errlen);
	return RL_OK;
}

extern "C" int32_t rl_fetch(rl_engine *eh, int32_t pi, int32_t i, int32_t n, char *err, int32_t errlen) {
	Engine *e = (Engine *)eh;
	if (i < 0 || i >= e->nouts)
		return report(make_status(RL_ERR_ARG, "output %d of %d", i, e->nouts), err, errlen);
	Pipe *p = &e->pipes[pi];
	cudaSetDevice(e->cfg.device);
	const rl_tensor &t = e->outs[i];
	if (!e->cfg.batched_run)
		n = e->cfg.max_batch;
	size_t b = (size_t)(t.batched ? n : t.dims[0]) * t.strides[0] * sizeof(float);
	cudaError_t ce = cudaMemcpyAsync(p->host_out[i], p->arena + t.offset, b, cudaMemcpyDeviceToHost, p->stream);
	if (ce == cudaSuccess)
		ce = cudaStreamSynchronize(p->stream);
	if (ce != cudaSuccess)
		return report(cuda_status(ce, "fetch output"), err, errlen);
	return RL_OK;
}

extern "C" int64_t rl_peaks_offset(rl_engine *eh) {
	Engine *e = (Engine *)eh;
	return ((int64_t)e->cfg.max_batch * 4 + 15) & ~(int64_t)15;
}

extern "C" int32_t rl_peaks(rl_engine *eh, int32_t pi, int32_t n, int32_t kp, int32_t wh, const float *thr,
                            int32_t top_k, char *err, int32_t errlen) {
	Engine *e = (Engine *)eh;
	Pipe *p = &e->pipes[pi];
	cudaSetDevice(e->cfg.device);
	if (kp < 0 || kp >= e->nouts || wh < 0 || wh >= e->nouts || top_k < 1 || top_k > RL_PEAK_CAP || n < 1 ||
	    n > e->cfg.max_batch)
		return report(make_status(RL_ERR_ARG, "peaks of outputs %d, %d, top %d, %d images", kp, wh, top_k, n), err,
		              errlen);
	const rl_tensor &tk = e->outs[kp], &tw = e->outs[wh];
	if (tw.dims[3] != 4 || tw.dims[1] != tk.dims[1] || tw.dims[2] != tk.dims[2])
		return report(make_status(RL_ERR_ARG, "box output is not H x W x 4 of the heat map"), err, errlen);
	int C = tk.dims[3];
	if (C > p->thr_cap) {
		cudaFreeHost(p->thr_host);
		cudaFree(p->thr_dev);
		p->thr_host = nullptr, p->thr_dev = nullptr, p->thr_cap = 0;
		cudaError_t ce = cudaHostAlloc((void **)&p->thr_host, sizeof(float) * (size_t)C, cudaHostAllocDefault);
		if (ce == cudaSuccess)
			ce = cudaMalloc((void **)&p->thr_dev, sizeof(float) * (size_t)C);
		if (ce != cudaSuccess)
			return report(cuda_status(ce, "allocate thresholds"), err, errlen);
		p->thr_cap = C;
	}
	int64_t bytes = rl_peaks_offset(eh) + (int64_t)e->cfg.max_batch * top_k * (int64_t)sizeof(rl_peak);
	if (top_k > p->peaks_topk) {
		cudaStreamSynchronize(p->stream);
		cudaFreeHost(p->peaks_host);
		cudaFree(p->peaks_dev);
		p->peaks_host = nullptr, p->peaks_dev = nullptr, p->peaks_topk = 0;
		cudaError_t ce = cudaHostAlloc((void **)&p->peaks_host, (size_t)bytes, cudaHostAllocDefault);
		if (ce == cudaSuccess)
			ce = cudaMalloc((void **)&p->peaks_dev, (size_t)bytes);
		if (ce != cudaSuccess)
			return report(cuda_status(ce, "allocate peak results"), err, errlen);
		p->peaks_topk = top_k;
	}
	memcpy(p->thr_host, thr, sizeof(float) * (size_t)C);
	cudaError_t ce = cudaMemcpyAsync(p->thr_dev, p->thr_host, sizeof(float) * (size_t)C, cudaMemcpyHostToDevice, p->stream);
	if (ce != cudaSuccess)
		return report(cuda_status(ce, "upload thresholds"), err, errlen);
	Status s = launch_peaks(e, p, n, kp, wh, top_k);
	if (s.code != RL_OK)
		return report(s, err, errlen);
	size_t back = (size_t)(rl_peaks_offset(eh) + (int64_t)n * top_k * (int64_t)sizeof(rl_peak));
	ce = cudaMemcpyAsync(p->peaks_host, p->peaks_dev, back, cudaMemcpyDeviceToHost, p->stream);
	if (ce == cudaSuccess)
		ce = cudaStreamSynchronize(p->stream);
	if (ce != cudaSuccess)
		return report(cuda_status(ce, "find peaks"), err, errlen);
	return RL_OK;
}

extern "C" void *rl_host_peaks(rl_engine *eh, int32_t pi) { return ((Engine *)eh)->pipes[pi].peaks_host; }

extern "C" int32_t rl_luma(rl_engine *eh, int32_t pi, int32_t slot, int32_t w, int32_t h, uint8_t *host, char *err,
                           int32_t errlen) {
	Engine *e = (Engine *)eh;
	if (pi < 0 || pi >= e->cfg.pipelines || w <= 0 || h <= 0 || !host)
		return report(make_status(RL_ERR_ARG, "luma of pipeline %d slot %d, %dx%d", pi, slot, w, h), err, errlen);
	cudaSetDevice(e->cfg.device);
	return report(jpeg_luma(e, &e->pipes[pi], slot, w, h, host), err, errlen);
}

extern "C" int32_t rl_luma_rects(rl_engine *eh, int32_t pi, int32_t n, const int32_t *rects, uint8_t *host,
                                 int64_t cap, char *err, int32_t errlen) {
	Engine *e = (Engine *)eh;
	if (pi < 0 || pi >= e->cfg.pipelines || !rects || !host)
		return report(make_status(RL_ERR_ARG, "luma of rectangles of pipeline %d", pi), err, errlen);
	cudaSetDevice(e->cfg.device);
	return report(jpeg_luma_rects(e, &e->pipes[pi], n, rects, host, cap), err, errlen);
}

extern "C" int32_t rl_read(rl_engine *eh, int32_t pi, int64_t offset, int64_t bytes, void *host, char *err,
                           int32_t errlen) {
	Engine *e = (Engine *)eh;
	if (offset < 0 || bytes < 0 || offset + bytes > e->cfg.arena_bytes)
		return report(make_status(RL_ERR_ARG, "read %lld bytes at %lld of a %lld-byte arena", (long long)bytes,
		                          (long long)offset, (long long)e->cfg.arena_bytes),
		              err, errlen);
	Pipe *p = &e->pipes[pi];
	cudaSetDevice(e->cfg.device);
	cudaError_t ce = cudaStreamSynchronize(p->stream);
	if (ce == cudaSuccess)
		ce = cudaMemcpy(host, p->arena + offset, (size_t)bytes, cudaMemcpyDeviceToHost);
	if (ce != cudaSuccess)
		return report(cuda_status(ce, "read arena"), err, errlen);
	return RL_OK;
}

// gate holds a stream until the host sets *open (mapped pinned memory) or about a second
// has passed, so that a profile's ops are all enqueued before the first runs: the time
// between two events is then the GPU's, not the host's launch cost (cuDNN's is large).
__global__ void gate(volatile int *open) {
	long long t0 = clock64();
	while (!*open && clock64() - t0 < 2000000000LL)
		;
}

extern "C" int32_t rl_profile(rl_engine *eh, int32_t pi, int32_t n, int32_t reps, float *ms, char *err,
                              int32_t errlen) {
	Engine *e = (Engine *)eh;
	if (!e->final || n < 1 || n > e->cfg.max_batch || reps < 1)
		return report(make_status(RL_ERR_ARG, "profile %d images, %d repetitions", n, reps), err, errlen);
	Pipe *p = &e->pipes[pi];
	cudaSetDevice(e->cfg.device);
	if (!e->cfg.batched_run)
		n = e->cfg.max_batch;
	cudaEvent_t *ev = (cudaEvent_t *)calloc((size_t)e->nops + 1, sizeof(cudaEvent_t));
	if (!ev)
		return report(make_status(RL_ERR_OOM, "events"), err, errlen);
	Status s = ok_status();
	for (int i = 0; i <= e->nops && s.code == RL_OK; i++) {
		cudaError_t ce = cudaEventCreate(&ev[i]);
		if (ce != cudaSuccess)
			s = cuda_status(ce, "create event");
	}
	for (int i = 0; i < e->nops; i++)
		ms[i] = 0;
	int *open = nullptr, *open_dev = nullptr;
	if (s.code == RL_OK && cudaHostAlloc((void **)&open, sizeof(int), cudaHostAllocMapped) == cudaSuccess &&
	    cudaHostGetDevicePointer((void **)&open_dev, open, 0) != cudaSuccess)
		open_dev = nullptr;
	for (int r = 0; r < reps && s.code == RL_OK; r++) {
		if (open_dev) {
			*(volatile int *)open = 0;
			gate<<<1, 1, 0, p->stream>>>(open_dev);
		}
		for (int i = 0; i < e->nops && s.code == RL_OK; i++) {
			cudaEventRecord(ev[i], p->stream);
			s = launch_op(e, p, &e->ops[i], n);
		}
		if (s.code != RL_OK)
			break;
		cudaEventRecord(ev[e->nops], p->stream);
		if (open)
			*(volatile int *)open = 1;
		cudaError_t ce = cudaEventSynchronize(ev[e->nops]);
		if (ce != cudaSuccess) {
			s = cuda_status(ce, "profile");
			break;
		}
		for (int i = 0; i < e->nops; i++) {
			float t = 0;
			cudaEventElapsedTime(&t, ev[i], ev[i + 1]);
			ms[i] += t / (float)reps;
		}
	}
	if (open) {
		*(volatile int *)open = 1; // an op that failed to launch left the gate shut
		cudaStreamSynchronize(p->stream);
		cudaFreeHost(open);
	}
	for (int i = 0; i <= e->nops; i++)
		if (ev[i])
			cudaEventDestroy(ev[i]);
	free(ev);
	return report(s, err, errlen);
}

extern "C" int32_t rl_info(rl_engine *eh, char *buf, int32_t len) {
	Engine *e = (Engine *)eh;
	const char *conv = e->cfg.conv == RL_CONV_CUBLAS ? "cublas"
	                   : e->cfg.conv == RL_CONV_CUDNN ? "cudnn"
	                   : e->cfg.conv == RL_CONV_AUTO  ? "auto"
	                                                  : "own";
	char tuned[96] = "";
	if (e->cfg.conv == RL_CONV_AUTO)
		snprintf(tuned, sizeof tuned, " (%s%s: own %d, cuBLAS %d, cuDNN %d)", e->tuned ? "tuned" : "untuned",
		         e->tune_policy < 0 ? " per op" : " network-wide", e->chosen[0], e->chosen[1], e->chosen[2]);
	int jpeg_hw = 0;
#ifndef ROADLOG_NO_NVJPEG
	jpeg_hw = e->jpeg_hw;
#endif
	return snprintf(buf, (size_t)len, "gpu %s sm_%d%d %s conv=%s%s%s%s%s%s ×%d (cuBLAS ops %d, cuDNN fallbacks %d, nvJPEG %s)",
	                e->prop.name, e->prop.major, e->prop.minor, e->dtype == RL_F16 ? "fp16" : "fp32", conv, tuned,
	                (e->cfg.flags & RL_CFG_UNFUSED) ? " unfused" : "",
	                (e->dtype == RL_F16 && (e->cfg.flags & RL_CFG_DW_F32)) ? " dw-f32" : "",
	                (e->cfg.flags & (RL_CFG_NO_GRAPH | RL_CFG_SYNC)) ? " launches" : " graph",
	                (e->cfg.flags & RL_CFG_SYNC) ? " sync" : "", e->cfg.pipelines, e->cublas_ops, e->cudnn_fallback,
	                jpeg_hw ? "hardware" : "cuda");
}

static void destroy_engine(Engine *e) {
	if (!e)
		return;
	cudaSetDevice(e->cfg.device);
	int sync = (e->cfg.flags & RL_CFG_SYNC) != 0;
	for (int pi = 0; pi < RL_MAXPIPE; pi++) {
		Pipe *p = &e->pipes[pi];
		if (p->stream)
			cudaStreamSynchronize(p->stream);
		for (int n = 0; n <= RL_MAXBATCH; n++)
			if (p->graph[n])
				cudaGraphExecDestroy(p->graph[n]);
		cudaFree(p->arena);
		if (sync) {
			free(p->host_in);
			for (int i = 0; i < RL_MAXOUT; i++)
				free(p->host_out[i]);
		} else {
			cudaFreeHost(p->host_in);
			for (int i = 0; i < RL_MAXOUT; i++)
				cudaFreeHost(p->host_out[i]);
		}
		cudaFree(p->dev_in);
		cudaFreeHost(p->staging);
		cudaFree(p->dstaging);
		cudaFreeHost(p->img_host);
		cudaFree(p->img_dev);
		for (int j = 0; j < RL_MAXBATCH; j++) {
			cudaFree(p->jpeg[j].rgb);
			cudaFree(p->jpeg[j].luma);
		}
		cudaFreeHost(p->rect_host);
		cudaFree(p->rect_dev);
		cudaFree(p->rect_out);
		cudaFreeHost(p->thr_host);
		cudaFree(p->thr_dev);
		cudaFree(p->cand_count);
		cudaFree(p->cand);
		cudaFreeHost(p->peaks_host);
		cudaFree(p->peaks_dev);
		if (p->cublas)
			cublasDestroy(p->cublas);
		cudaFree(p->cublas_ws);
		cudaFree(p->cudnn_ws);
		cudaFree(p->split_ws);
		cudaFree(p->mean_ws);
		if (p->stream)
			cudaStreamDestroy(p->stream);
	}
	cudnn_destroy(e);
	jpeg_destroy(e);
	for (int i = 0; i < e->nops; i++) {
		Op *o = &e->ops[i];
		cudaFree(o->w);
		cudaFree(o->bias);
		cudaFree(o->cz);
		cudaFree(o->w_krsc);
		cudaFree(o->bias_c);
		for (int k = 0; k < 4; k++)
			cudaFree(o->se[k]);
		cudaFree(o->se_t);
	}
	free(e->ops);
	delete e->tune_mu;
	free(e);
}

extern "C" void rl_destroy(rl_engine *eh) { destroy_engine((Engine *)eh); }
