// kernels.cu: every op except the dense convolutions: depthwise convolution with its
// whole epilogue, elementwise ops with broadcasting, mean and the fused
// squeeze-excitation, resize, pools, copies into concat slices, the unfused conv
// epilogue, and the detector's pre-processing and peak finding.
#include "internal.cuh"

static inline unsigned blocks(int64_t n, int t) { return (unsigned)((n + t - 1) / t); }

// ---------------------------------------------------------------- depthwise

struct DwArgs {
	char *arena;
	View x, y, z, s;
	const void *w; // [KH*KW][C*M], compute type
	const float *bias;
	int kh, kw, sh, sw, dh, dw, pt, pl, mult;
	int act;
	float alpha, beta;
	int residual, scale, epilogue;
};

template <typename T> __device__ __forceinline__ float tof(T v);
template <> __device__ __forceinline__ float tof<float>(float v) { return v; }
template <> __device__ __forceinline__ float tof<__half>(__half v) { return __half2float(v); }

// Vector loads of VEC consecutive elements as floats.
template <typename T, int VEC> struct Vec;
template <> struct Vec<__half, 8> {
	static __device__ __forceinline__ void load(const __half *p, float *o) {
		uint4 u = __ldg(reinterpret_cast<const uint4 *>(p));
		const __half2 *h = reinterpret_cast<const __half2 *>(&u);
#pragma unroll
		for (int i = 0; i < 4; i++) {
			float2 f = __half22float2(h[i]);
			o[2 * i] = f.x, o[2 * i + 1] = f.y;
		}
	}
};
template <> struct Vec<__half, 2> {
	static __device__ __forceinline__ void load(const __half *p, float *o) {
		float2 f = __half22float2(*reinterpret_cast<const __half2 *>(p));
		o[0] = f.x, o[1] = f.y;
	}
};
template <> struct Vec<float, 4> {
	static __device__ __forceinline__ void load(const float *p, float *o) {
		float4 f = __ldg(reinterpret_cast<const float4 *>(p));
		o[0] = f.x, o[1] = f.y, o[2] = f.z, o[3] = f.w;
	}
};
template <> struct Vec<float, 2> {
	static __device__ __forceinline__ void load(const float *p, float *o) {
		float2 f = *reinterpret_cast<const float2 *>(p);
		o[0] = f.x, o[1] = f.y;
	}
};

// Grid (x: output columns x channel groups, y: output rows, z: images); one thread: VEC
// consecutive output channels of one output pixel (VEC == 1: any multiplier and layout).
// H2 (FP16, VEC 8 only): each kernel row's products are added in half2 (HFMA2: two
// lanes an instruction, no conversions), the rows in float32 — 1.1x the re-run rate of
// converting and adding everything in float32 (H2 false, RL_CFG_DW_F32), and FP16 still
// finds what FP32 finds; adding the whole window in half2 lost detections.
template <typename T, int VEC, int KS, bool H2 = false> __global__ void dw_kernel(DwArgs a) {
	const unsigned CV = (unsigned)(a.y.c / VEC);
	unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= CV * (unsigned)a.y.w)
		return;
	const int ox = (int)(i / CV), oc = (int)(i - (unsigned)ox * CV) * VEC;
	const int oy = blockIdx.y, b = blockIdx.z;
	const int C = a.y.c;
	const T *x = reinterpret_cast<const T *>(a.arena + a.x.off) + (int64_t)b * a.x.s0;
	const T *w = reinterpret_cast<const T *>(a.w);
	float acc[VEC];
#pragma unroll
	for (int v = 0; v < VEC; v++)
		acc[v] = 0.f;
	const int KH = KS ? KS : a.kh, KW = KS ? KS : a.kw;
	constexpr int NH = H2 ? VEC / 2 : 1;
	__half2 hacc[NH];
#pragma unroll
	for (int ky = 0; ky < KH; ky++) {
		int iy = oy * a.sh - a.pt + ky * a.dh;
		if (iy < 0 || iy >= a.x.h)
			continue;
		const T *row = x + (int64_t)iy * a.x.s1;
		if constexpr (H2) {
#pragma unroll
			for (int v = 0; v < NH; v++)
				hacc[v] = __float2half2_rn(0.f);
		}
#pragma unroll
		for (int kx = 0; kx < KW; kx++) {
			int ix = ox * a.sw - a.pl + kx * a.dw;
			if (ix < 0 || ix >= a.x.w)
				continue;
			const T *px = row + (int64_t)ix * a.x.s2;
			const T *pw = w + (ky * KW + kx) * C + oc;
			if constexpr (H2) {
				uint4 xu = __ldg(reinterpret_cast<const uint4 *>(px + oc));
				uint4 wu = __ldg(reinterpret_cast<const uint4 *>(pw));
				const __half2 *xh = reinterpret_cast<const __half2 *>(&xu);
				const __half2 *wh = reinterpret_cast<const __half2 *>(&wu);
#pragma unroll
				for (int v = 0; v < NH; v++)
					hacc[v] = __hfma2(xh[v], wh[v], hacc[v]);
			} else if constexpr (VEC > 1) {
				float xv[VEC], wv[VEC];
				Vec<T, VEC>::load(px + oc, xv);
				Vec<T, VEC>::load(pw, wv);
#pragma unroll
				for (int v = 0; v < VEC; v++)
					acc[v] = fmaf(xv[v], wv[v], acc[v]);
			} else {
				acc[0] = fmaf(tof<T>(px[(int64_t)(oc / a.mult) * a.x.s3]), tof<T>(pw[0]), acc[0]);
			}
		}
		if constexpr (H2) {
#pragma unroll
			for (int v = 0; v < NH; v++) {
				float2 f = __half22float2(hacc[v]);
				acc[2 * v] += f.x, acc[2 * v + 1] += f.y;
			}
		}
	}
	int64_t yo = (int64_t)b * a.y.s0 + (int64_t)oy * a.y.s1 + (int64_t)ox * a.y.s2;
	int64_t zo = (int64_t)b * a.z.s0 + (int64_t)oy * a.z.s1 + (int64_t)ox * a.z.s2;
	const float *sc = a.scale ? reinterpret_cast<const float *>(a.arena + a.s.off) + (int64_t)b * a.s.s0 : nullptr;
	float out[VEC];
#pragma unroll
	for (int v = 0; v < VEC; v++) {
		int c = oc + v;
		float f = acc[v];
		if (sc)
			f *= sc[c / a.mult];
		if (a.epilogue) {
			f += a.bias[c];
			if (a.residual)
				f += ldf(a.arena, a.z, zo + c);
			f = rl_act(a.act, f, a.alpha, a.beta);
		}
		out[v] = f;
	}
	if constexpr (VEC == 8) {
		if (a.y.s3 == 1 && a.y.dtype == RL_F16 && ((a.y.off / 2 + yo + oc) & 7) == 0) {
			__align__(16) __half h[8];
#pragma unroll
			for (int v = 0; v < 8; v++)
				h[v] = __float2half_rn(out[v]);
			*reinterpret_cast<uint4 *>(reinterpret_cast<__half *>(a.arena + a.y.off) + yo + oc) =
			    *reinterpret_cast<uint4 *>(h);
			return;
		}
	}
#pragma unroll
	for (int v = 0; v < VEC; v++)
		stf(a.arena, a.y, yo + (int64_t)(oc + v) * a.y.s3, out[v]);
}

static bool vec_ok(const View &v, int vec, int es) {
	return v.s3 == 1 && v.c % vec == 0 && v.s2 % vec == 0 && v.s1 % vec == 0 && v.s0 % vec == 0 &&
	       v.off % (vec * es) == 0;
}

static Status launch_dw(Engine *e, Pipe *p, Op *op, int n, int epilogue) {
	const rl_op &d = op->d;
	DwArgs a;
	a.arena = p->arena;
	a.x = make_view(d.x, n), a.y = make_view(d.y, n), a.z = make_view(d.z, n), a.s = make_view(d.s, n);
	a.w = op->w, a.bias = op->bias;
	a.kh = d.kh, a.kw = d.kw, a.sh = d.sh, a.sw = d.sw, a.dh = d.dh, a.dw = d.dw, a.pt = d.pad_t, a.pl = d.pad_l;
	a.mult = d.mult > 0 ? d.mult : 1;
	a.act = d.act, a.alpha = d.alpha, a.beta = d.beta;
	a.residual = (d.flags & RL_OPF_RESIDUAL) != 0, a.scale = (d.flags & RL_OPF_SCALE) != 0, a.epilogue = epilogue;
	if (a.y.n == 0 || a.y.h == 0 || a.y.w == 0 || a.y.c == 0)
		return ok_status();
	int es = e->dtype == RL_F16 ? 2 : 4;
	int vec = 1;
	if (a.mult == 1) {
		int wide = e->dtype == RL_F16 ? 8 : 4;
		if (vec_ok(a.x, wide, es) && a.y.c % wide == 0)
			vec = wide;
		else if (vec_ok(a.x, 2, es) && a.y.c % 2 == 0)
			vec = 2;
	}
	unsigned cols = (unsigned)(a.y.c / vec) * (unsigned)a.y.w;
	dim3 grid((cols + 127) / 128, a.y.h, a.y.n);
	int ks = a.kh == a.kw && (a.kh == 3 || a.kh == 5) ? a.kh : 0;
#define DW(T, V, H)                                                                                                    \
	do {                                                                                                               \
		if (ks == 3)                                                                                                   \
			dw_kernel<T, V, 3, H><<<grid, 128, 0, p->stream>>>(a);                                                     \
		else if (ks == 5)                                                                                              \
			dw_kernel<T, V, 5, H><<<grid, 128, 0, p->stream>>>(a);                                                     \
		else                                                                                                           \
			dw_kernel<T, V, 0, H><<<grid, 128, 0, p->stream>>>(a);                                                     \
	} while (0)
	if (e->dtype == RL_F16) {
		if (vec == 8 && !(e->cfg.flags & RL_CFG_DW_F32))
			DW(__half, 8, true);
		else if (vec == 8)
			DW(__half, 8, false);
		else if (vec == 2)
			DW(__half, 2, false);
		else
			DW(__half, 1, false);
	} else {
		if (vec == 4)
			DW(float, 4, false);
		else if (vec == 2)
			DW(float, 2, false);
		else
			DW(float, 1, false);
	}
#undef DW
	RL_CUDA(cudaGetLastError(), "launch depthwise convolution");
	return ok_status();
}

// ---------------------------------------------------------------- elementwise

struct EwArgs {
	char *arena;
	View x, z, s, y;
	const float *cz; // constant second operand (float32)
	int kind, sub, act;
	float alpha, beta;
	const float *bias; // epilogue: bias per channel
	int residual;      // epilogue: add z
	int64_t total;
};

// Grid (x: columns x channels, y: rows, z: images): one thread per element.
__global__ void ew_kernel(EwArgs a) {
	unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
	const unsigned C = (unsigned)a.y.c;
	if (i >= C * (unsigned)a.y.w)
		return;
	const int xw = (int)(i / C), c = (int)(i - (unsigned)xw * C);
	const int yh = blockIdx.y, b = blockIdx.z;
	int64_t yi = vidx(a.y, b, yh, xw, c);
	float v;
	switch (a.kind) {
	case RL_OP_BINARY: {
		float xv = ldf(a.arena, a.x, vidx(a.x, b, yh, xw, c));
		float zv = a.cz ? a.cz[vidx(a.z, b, yh, xw, c)] : ldf(a.arena, a.z, vidx(a.z, b, yh, xw, c));
		v = rl_binop(a.sub, xv, zv);
		break;
	}
	case RL_OP_UNARY:
		v = rl_unop(a.sub, ldf(a.arena, a.x, vidx(a.x, b, yh, xw, c)));
		break;
	case RL_OP_SCALE:
		v = ldf(a.arena, a.x, vidx(a.x, b, yh, xw, c)) *
		    reinterpret_cast<const float *>(a.arena + a.s.off)[(int64_t)b * a.s.s0 + c];
		break;
	case -1: // unfused conv epilogue, in place on y
		v = ldf(a.arena, a.y, yi) + a.bias[c];
		if (a.residual)
			v += ldf(a.arena, a.z, vidx(a.z, b, yh, xw, c));
		break;
	default: // copy
		v = ldf(a.arena, a.x, vidx(a.x, b, yh, xw, c));
	}
	stf(a.arena, a.y, yi, rl_act(a.act, v, a.alpha, a.beta));
}

static dim3 ew_grid(const View &y, unsigned t) { return dim3(((unsigned)y.w * (unsigned)y.c + t - 1) / t, y.h, y.n); }

static Status launch_ew(Engine *, Pipe *p, Op *op, int n) {
	const rl_op &d = op->d;
	EwArgs a;
	a.arena = p->arena;
	a.x = make_view(d.x, n), a.z = make_view(d.z, n), a.s = make_view(d.s, n), a.y = make_view(d.y, n);
	a.cz = (d.flags & RL_OPF_CONST_Z) ? reinterpret_cast<const float *>(op->cz) : nullptr;
	a.kind = d.kind, a.sub = d.sub, a.act = d.act, a.alpha = d.alpha, a.beta = d.beta;
	a.bias = nullptr, a.residual = 0;
	a.total = (int64_t)a.y.n * a.y.h * a.y.w * a.y.c;
	if (a.total == 0)
		return ok_status();
	ew_kernel<<<ew_grid(a.y, 256), 256, 0, p->stream>>>(a);
	RL_CUDA(cudaGetLastError(), "launch elementwise op");
	return ok_status();
}

Status launch_epilogue(Engine *, Pipe *p, Op *op, int n) {
	const rl_op &d = op->d;
	EwArgs a;
	a.arena = p->arena;
	a.x = make_view(d.y, n), a.z = make_view(d.z, n), a.s = a.x, a.y = make_view(d.y, n);
	a.cz = nullptr;
	a.kind = -1, a.sub = 0, a.act = d.act, a.alpha = d.alpha, a.beta = d.beta;
	a.bias = op->bias, a.residual = (d.flags & RL_OPF_RESIDUAL) != 0;
	a.total = (int64_t)a.y.n * a.y.h * a.y.w * a.y.c;
	if (a.total == 0)
		return ok_status();
	ew_kernel<<<ew_grid(a.y, 256), 256, 0, p->stream>>>(a);
	RL_CUDA(cudaGetLastError(), "launch conv epilogue");
	return ok_status();
}

// ---------------------------------------------------------------- mean, squeeze-excitation

// Partial channel sums: block (channel block, pixel block, image), 64 channels x 4 lanes;
// each block writes its own slot part[b][pixel block][c] (no atomics: the same bits
// every run).
__global__ void mean_partial(const char *arena, View x, float *part) {
	int c = blockIdx.x * 64 + (threadIdx.x & 63);
	int lane = threadIdx.x >> 6;
	int b = blockIdx.z;
	int hw = x.h * x.w;
	int p0 = blockIdx.y * MEAN_PIX, p1 = min(p0 + MEAN_PIX, hw);
	float acc = 0.f;
	if (c < x.c)
		for (int pix = p0 + lane; pix < p1; pix += 4) {
			int yy = pix / x.w, xx = pix - yy * x.w;
			acc += ldf(arena, x, vidx(x, b, yy, xx, c));
		}
	__shared__ float part_s[4][64];
	part_s[lane][threadIdx.x & 63] = acc;
	__syncthreads();
	if (lane == 0 && c < x.c) {
		float s = part_s[0][threadIdx.x] + part_s[1][threadIdx.x] + part_s[2][threadIdx.x] + part_s[3][threadIdx.x];
		part[((int64_t)b * gridDim.y + blockIdx.y) * x.c + c] = s;
	}
}

// The same sums for FP16 tensors whose channels come in aligned groups of 8: 32 channel
// groups x 8 pixel lanes, a 16-byte load per pixel and group instead of 8 two-byte ones.
__global__ void mean_partial8(const char *arena, View x, float *part) {
	const int g = blockIdx.x * 32 + (threadIdx.x & 31), lane = threadIdx.x >> 5;
	const int b = blockIdx.z, hw = x.h * x.w;
	const int p0 = blockIdx.y * MEAN_PIX, p1 = min(p0 + MEAN_PIX, hw);
	float acc[8];
#pragma unroll
	for (int k = 0; k < 8; k++)
		acc[k] = 0.f;
	if (g < x.c / 8) {
		const __half *base = reinterpret_cast<const __half *>(arena + x.off) + (int64_t)b * x.s0 + g * 8;
		for (int pix = p0 + lane; pix < p1; pix += 8) {
			int yy = pix / x.w, xx = pix - yy * x.w;
			float v[8];
			Vec<__half, 8>::load(base + (int64_t)yy * x.s1 + (int64_t)xx * x.s2, v);
#pragma unroll
			for (int k = 0; k < 8; k++)
				acc[k] += v[k];
		}
	}
	__shared__ float part_s[8][256];
#pragma unroll
	for (int k = 0; k < 8; k++)
		part_s[lane][(threadIdx.x & 31) * 8 + k] = acc[k];
	__syncthreads();
	const int c = blockIdx.x * 256 + threadIdx.x;
	if (c < x.c) {
		float s = 0.f;
#pragma unroll
		for (int l = 0; l < 8; l++)
			s += part_s[l][threadIdx.x];
		part[((int64_t)b * gridDim.y + blockIdx.y) * x.c + c] = s;
	}
}

// sums[b][c] = the partial sums of image b, channel c, added in pixel-block order.
__global__ void mean_reduce(const float *part, float *sums, int C, int nblk, int total) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= total)
		return;
	int b = i / C, c = i - b * C;
	const float *q = part + (int64_t)b * nblk * C + c;
	float s = 0.f;
	for (int k = 0; k < nblk; k++)
		s += q[(int64_t)k * C];
	sums[i] = s;
}

// Mean: y[b, c] = sums / (H W).
__global__ void mean_final(char *arena, View y, float *sums, float inv, int C, int total) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= total)
		return;
	int b = i / C, c = i - b * C;
	stf(arena, y, vidx(y, b, 0, 0, c), sums[i] * inv);
}

// Squeeze-excitation, first FC: grid (hidden / 8, images), one warp per hidden unit:
// h[b][r] = act(W0t[r] . sums[b] / HW + b0[r]) (W0t: [hidden][C], rows read whole).
__global__ void se_fc1(const float *sums, float *h, float inv, int C, int R, const float *w0t, const float *b0, int act,
                       float alpha, float beta) {
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	int r = blockIdx.x * 8 + warp, b = blockIdx.y;
	if (r >= R)
		return;
	const float *m = sums + (int64_t)b * C, *w = w0t + (int64_t)r * C;
	float acc = 0.f;
	for (int c = lane; c < C; c += 32)
		acc = fmaf(m[c], w[c], acc);
#pragma unroll
	for (int o = 16; o > 0; o >>= 1)
		acc += __shfl_down_sync(0xffffffffu, acc, o);
	if (lane == 0)
		h[(int64_t)b * R + r] = rl_act(act, acc * inv + b0[r], alpha, beta);
}

// Second FC: grid (C / 128, images), one thread per channel: s[b][c] = act2(W1[:,c] . h[b]
// + b1[c]).
__global__ void se_fc2(char *arena, View y, const float *h, int C, int R, const float *w1, const float *b1,
                       int act2, float alpha2, float beta2) {
	int c = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.y;
	if (c >= C)
		return;
	const float *hb = h + (int64_t)b * R;
	float acc = b1[c];
	for (int r = 0; r < R; r++)
		acc = fmaf(hb[r], w1[(int64_t)r * C + c], acc);
	stf(arena, y, vidx(y, b, 0, 0, c), rl_act(act2, acc, alpha2, beta2));
}

static Status launch_mean(Engine *, Pipe *p, Op *op, int n) {
	const rl_op &d = op->d;
	View x = make_view(d.x, n), y = make_view(d.y, n);
	float *sums = reinterpret_cast<float *>(p->arena + d.scratch);
	int hw = x.h * x.w;
	if (x.n == 0 || x.c == 0)
		return ok_status();
	dim3 grid((x.c + 63) / 64, (hw + MEAN_PIX - 1) / MEAN_PIX, x.n);
	if (x.dtype == RL_F16 && vec_ok(x, 8, 2)) {
		grid.x = (x.c / 8 + 31) / 32;
		mean_partial8<<<grid, 256, 0, p->stream>>>(p->arena, x, p->mean_ws);
	} else
		mean_partial<<<grid, 256, 0, p->stream>>>(p->arena, x, p->mean_ws);
	RL_CUDA(cudaGetLastError(), "launch mean");
	mean_reduce<<<blocks(x.n * x.c, 256), 256, 0, p->stream>>>(p->mean_ws, sums, x.c, (int)grid.y, x.n * x.c);
	RL_CUDA(cudaGetLastError(), "launch mean reduction");
	float inv = 1.f / (float)hw;
	if (d.kind == RL_OP_MEAN) {
		int total = x.n * x.c;
		mean_final<<<blocks(total, 256), 256, 0, p->stream>>>(p->arena, y, sums, inv, x.c, total);
	} else {
		float *h = sums + (int64_t)x.n * x.c; // the scratch holds [N][C] sums, then [N][hidden]
		se_fc1<<<dim3((d.hidden + 7) / 8, x.n), 256, 0, p->stream>>>(sums, h, inv, x.c, d.hidden, op->se_t, op->se[1], d.act,
		                                                           d.alpha, d.beta);
		RL_CUDA(cudaGetLastError(), "launch squeeze-excitation");
		se_fc2<<<dim3((x.c + 127) / 128, x.n), 128, 0, p->stream>>>(p->arena, y, h, x.c, d.hidden, op->se[2],
		                                                          op->se[3], d.act2, d.alpha2, d.beta2);
	}
	RL_CUDA(cudaGetLastError(), "launch mean/squeeze-excitation");
	return ok_status();
}

// ---------------------------------------------------------------- resize, pool

struct ResizeArgs {
	char *arena;
	View x, y;
	int mode, coord, nearest, act;
	float alpha, beta;
	double rh, rw;
	int64_t total; // output pixels x channel groups of 8
};

__global__ void resize_kernel(ResizeArgs a) {
	const unsigned CG = (unsigned)(a.y.c + 7) / 8;
	unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= CG * (unsigned)a.y.w)
		return;
	const int ox = (int)(i / CG), cg = (int)(i - (unsigned)ox * CG);
	const int oy = blockIdx.y, b = blockIdx.z;
	double sy = rl_resize_coord(a.coord, oy, a.x.h, a.y.h, a.rh);
	double sx = rl_resize_coord(a.coord, ox, a.x.w, a.y.w, a.rw);
	int c0 = cg * 8, c1 = min(c0 + 8, a.y.c);
	int64_t yo = vidx(a.y, b, oy, ox, 0);
	if (a.mode == RL_RESIZE_NEAREST) {
		int iy = rl_nearest(a.nearest, sy, a.x.h), ix = rl_nearest(a.nearest, sx, a.x.w);
		for (int c = c0; c < c1; c++)
			stf(a.arena, a.y, yo + (int64_t)c * a.y.s3,
			    rl_act(a.act, ldf(a.arena, a.x, vidx(a.x, b, iy, ix, c)), a.alpha, a.beta));
		return;
	}
	int y0, y1, x0, x1;
	float fy, fx;
	rl_bilinear_taps(sy, a.x.h, &y0, &y1, &fy);
	rl_bilinear_taps(sx, a.x.w, &x0, &x1, &fx);
	for (int c = c0; c < c1; c++) {
		float tl = ldf(a.arena, a.x, vidx(a.x, b, y0, x0, c)), tr = ldf(a.arena, a.x, vidx(a.x, b, y0, x1, c));
		float bl = ldf(a.arena, a.x, vidx(a.x, b, y1, x0, c)), br = ldf(a.arena, a.x, vidx(a.x, b, y1, x1, c));
		float top = tl + (tr - tl) * fx, bot = bl + (br - bl) * fx;
		stf(a.arena, a.y, yo + (int64_t)c * a.y.s3, rl_act(a.act, top + (bot - top) * fy, a.alpha, a.beta));
	}
}

static Status launch_resize(Engine *, Pipe *p, Op *op, int n) {
	const rl_op &d = op->d;
	ResizeArgs a;
	a.arena = p->arena;
	a.x = make_view(d.x, n), a.y = make_view(d.y, n);
	a.mode = d.sub, a.coord = d.coord, a.nearest = d.nearest, a.act = d.act, a.alpha = d.alpha, a.beta = d.beta;
	a.rh = d.ratio_h, a.rw = d.ratio_w;
	a.total = (int64_t)a.y.n * a.y.h * a.y.w * ((a.y.c + 7) / 8);
	if (a.total == 0)
		return ok_status();
	resize_kernel<<<ew_grid(View{0, a.y.n, a.y.h, a.y.w, (a.y.c + 7) / 8, 0, 0, 0, 0, 0}, 256), 256, 0, p->stream>>>(a);
	RL_CUDA(cudaGetLastError(), "launch resize");
	return ok_status();
}

struct PoolArgs {
	char *arena;
	View x, y;
	int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
	int avg, count_pad, act;
	float alpha, beta;
	int64_t total;
};

__global__ void pool_kernel(PoolArgs a) {
	unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
	const unsigned C = (unsigned)a.y.c;
	if (i >= C * (unsigned)a.y.w)
		return;
	const int ox = (int)(i / C), c = (int)(i - (unsigned)ox * C);
	const int oy = blockIdx.y, b = blockIdx.z;
	float acc = a.avg ? 0.f : -INFINITY;
	int cnt = 0;
	for (int ky = 0; ky < a.kh; ky++) {
		int iy = oy * a.sh - a.pt + ky * a.dh;
		for (int kx = 0; kx < a.kw; kx++) {
			int ix = ox * a.sw - a.pl + kx * a.dw;
			if (iy < 0 || iy >= a.x.h || ix < 0 || ix >= a.x.w) {
				if (a.count_pad && iy < a.x.h + a.pb && ix < a.x.w + a.pr)
					cnt++;
				continue;
			}
			float v = ldf(a.arena, a.x, vidx(a.x, b, iy, ix, c));
			acc = a.avg ? acc + v : fmaxf(acc, v);
			cnt++;
		}
	}
	if (a.avg && cnt > 0)
		acc /= (float)cnt;
	stf(a.arena, a.y, vidx(a.y, b, oy, ox, c), rl_act(a.act, acc, a.alpha, a.beta));
}

static Status launch_pool(Engine *, Pipe *p, Op *op, int n) {
	const rl_op &d = op->d;
	PoolArgs a;
	a.arena = p->arena;
	a.x = make_view(d.x, n), a.y = make_view(d.y, n);
	a.kh = d.kh, a.kw = d.kw, a.sh = d.sh, a.sw = d.sw, a.dh = d.dh, a.dw = d.dw;
	a.pt = d.pad_t, a.pl = d.pad_l, a.pb = d.pad_b, a.pr = d.pad_r;
	a.avg = d.sub == RL_POOL_AVG, a.count_pad = (d.flags & RL_OPF_COUNT_PAD) != 0;
	a.act = d.act, a.alpha = d.alpha, a.beta = d.beta;
	a.total = (int64_t)a.y.n * a.y.h * a.y.w * a.y.c;
	if (a.total == 0)
		return ok_status();
	pool_kernel<<<ew_grid(a.y, 256), 256, 0, p->stream>>>(a);
	RL_CUDA(cudaGetLastError(), "launch pool");
	return ok_status();
}

// ---------------------------------------------------------------- dispatch

Status launch_op(Engine *e, Pipe *p, Op *op, int n) {
	int unfused = (e->cfg.flags & RL_CFG_UNFUSED) != 0;
	switch (op->d.kind) {
	case RL_OP_CONV:
		if (op->backend == RL_CONV_CUBLAS)
			return launch_cublas(e, p, op, n);
		if (op->backend == RL_CONV_CUDNN)
			return launch_cudnn(e, p, op, n);
		RL_TRY(launch_conv(e, p, op, n, !unfused));
		return unfused ? launch_epilogue(e, p, op, n) : ok_status();
	case RL_OP_DW:
		RL_TRY(launch_dw(e, p, op, n, !unfused));
		return unfused ? launch_epilogue(e, p, op, n) : ok_status();
	case RL_OP_BINARY:
	case RL_OP_UNARY:
	case RL_OP_SCALE:
	case RL_OP_COPY:
		return launch_ew(e, p, op, n);
	case RL_OP_MEAN:
	case RL_OP_SE:
		return launch_mean(e, p, op, n);
	case RL_OP_RESIZE:
		return launch_resize(e, p, op, n);
	case RL_OP_POOL:
		return launch_pool(e, p, op, n);
	}
	return make_status(RL_ERR_UNSUPPORTED, "op kind %d", op->d.kind);
}

// ---------------------------------------------------------------- input, pre-processing

__global__ void to_half(const float *in, __half *out, int64_t n) {
	int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = __float2half_rn(in[i]);
}

Status launch_input_convert(Engine *e, Pipe *p, int n) {
	int64_t k = (int64_t)n * e->cfg.in_h * e->cfg.in_w * e->cfg.in_c;
	to_half<<<blocks(k, 256), 256, 0, p->stream>>>(p->dev_in, reinterpret_cast<__half *>(p->arena + e->cfg.input_offset),
	                                                 k);
	RL_CUDA(cudaGetLastError(), "launch input conversion");
	return ok_status();
}

// One thread: one output pixel (3 channels) of one image; zero outside the fitted area.
template <typename T>
__global__ void preprocess_kernel(const ImgDesc *imgs, T *out, int H, int W, int n) {
	int ox = blockIdx.x * blockDim.x + threadIdx.x;
	if (ox >= W)
		return;
	const int oy = blockIdx.y, j = blockIdx.z;
	const int64_t i = ((int64_t)j * H + oy) * W + ox;
	const ImgDesc &d = imgs[j];
	const rl_image &im = d.im;
	T *o = out + i * 3;
	if (ox < im.dx || ox >= im.dx + im.nw || oy < im.dy || oy >= im.dy + im.nh) {
		o[0] = o[1] = o[2] = T(0.f);
		return;
	}
	int x0, x1, y0, y1;
	double fx, fy;
	rl_prep_taps(ox - im.dx, im.width, im.nw, im.half_pixel, &x0, &x1, &fx);
	rl_prep_taps(oy - im.dy, im.height, im.nh, im.half_pixel, &y0, &y1, &fy);
#pragma unroll
	for (int c = 0; c < 3; c++) {
#define PX(x, y) rl_pixel(im.format, d.p0, d.p1, d.p2, im.stride, im.cstride, im.sub_x, im.sub_y, x, y, c)
		o[c] = T(rl_prep_lerp(PX(x0, y0), PX(x1, y0), PX(x0, y1), PX(x1, y1), fx, fy));
#undef PX
	}
}

Status launch_preprocess(Engine *e, Pipe *p, int n, const void *descs_dev) {
	int H = e->cfg.in_h, W = e->cfg.in_w;
	const ImgDesc *d = reinterpret_cast<const ImgDesc *>(descs_dev);
	if (e->dtype == RL_F16)
		preprocess_kernel<__half><<<dim3((W + 127) / 128, H, n), 128, 0, p->stream>>>(
		    d, reinterpret_cast<__half *>(p->arena + e->cfg.input_offset), H, W, n);
	else
		preprocess_kernel<float><<<dim3((W + 127) / 128, H, n), 128, 0, p->stream>>>(
		    d, reinterpret_cast<float *>(p->arena + e->cfg.input_offset), H, W, n);
	RL_CUDA(cudaGetLastError(), "launch pre-processing");
	return ok_status();
}

// ---------------------------------------------------------------- peaks

// Candidates: heat-map values above their class threshold that are 3x3 peaks of their
// class plane, appended per image as 64-bit keys sorting best first:
// (~orderable(score) << 32) | index.
__global__ void peak_candidates(const float *kp, int64_t istride, int H, int W, int C, const float *thr, int n,
                                int32_t *count, uint64_t *cand) {
	unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (unsigned)W * (unsigned)C)
		return;
	const int x = (int)(i / (unsigned)C), c = (int)(i - (unsigned)x * (unsigned)C);
	const int y = blockIdx.y, b = blockIdx.z;
	const float *m = kp + (int64_t)b * istride;
	const int64_t k = ((int64_t)y * W + x) * C + c;
	float v = m[k];
	if (!(v > thr[c]))
		return;
	for (int yy = max(y - 1, 0); yy <= min(y + 1, H - 1); yy++)
		for (int xx = max(x - 1, 0); xx <= min(x + 1, W - 1); xx++)
			if (m[((int64_t)yy * W + xx) * C + c] > v)
				return;
	int pos = atomicAdd(&count[b], 1);
	if (pos < RL_PEAK_CAP) {
		uint32_t u = __float_as_uint(v);
		u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); // orderable ascending
		cand[(int64_t)b * RL_PEAK_CAP + pos] = ((uint64_t)(~u) << 32) | (uint32_t)k;
	}
}

// One block per image: sort the candidates (bitonic, shared memory) and write the best
// top_k with their box values.
__global__ void peak_select(const int32_t *count, const uint64_t *cand, const float *wh, int64_t wstride, int C,
                            int top_k, uint8_t *out, int64_t peaks_off) {
	extern __shared__ uint64_t keys[];
	int b = blockIdx.x;
	int m = count[b];
	int32_t *counts = reinterpret_cast<int32_t *>(out);
	rl_peak *pk = reinterpret_cast<rl_peak *>(out + peaks_off) + (int64_t)b * top_k;
	if (m > RL_PEAK_CAP) {
		if (threadIdx.x == 0)
			counts[b] = -1;
		return;
	}
	int P = 1;
	while (P < m)
		P <<= 1;
	for (int i = threadIdx.x; i < P; i += blockDim.x)
		keys[i] = i < m ? cand[(int64_t)b * RL_PEAK_CAP + i] : ~0ull;
	__syncthreads();
	for (int k = 2; k <= P; k <<= 1)
		for (int j = k >> 1; j > 0; j >>= 1) {
			for (int i = threadIdx.x; i < P; i += blockDim.x) {
				int l = i ^ j;
				if (l > i) {
					uint64_t a = keys[i], c = keys[l];
					bool up = (i & k) == 0;
					if ((a > c) == up) {
						keys[i] = c;
						keys[l] = a;
					}
				}
			}
			__syncthreads();
		}
	int kept = m < top_k ? m : top_k;
	for (int r = threadIdx.x; r < kept; r += blockDim.x) {
		uint64_t key = keys[r];
		uint32_t u = ~(uint32_t)(key >> 32);
		u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
		int32_t idx = (int32_t)(key & 0xffffffffu);
		rl_peak q;
		q.index = idx;
		q.score = __uint_as_float(u);
		int64_t cell = idx / C;
		const float *w4 = wh + (int64_t)b * wstride + cell * 4;
		q.wh[0] = w4[0], q.wh[1] = w4[1], q.wh[2] = w4[2], q.wh[3] = w4[3];
		pk[r] = q;
	}
	if (threadIdx.x == 0)
		counts[b] = kept;
}

Status launch_peaks(Engine *e, Pipe *p, int n, int kp, int wh, int top_k) {
	const rl_tensor &tk = e->outs[kp], &tw = e->outs[wh];
	int H = tk.dims[1], W = tk.dims[2], C = tk.dims[3];
	RL_CUDA(cudaMemsetAsync(p->cand_count, 0, sizeof(int32_t) * (size_t)n, p->stream), "clear peak counts");
	peak_candidates<<<dim3(((unsigned)W * C + 255) / 256, H, n), 256, 0, p->stream>>>(
	    reinterpret_cast<const float *>(p->arena + tk.offset), tk.strides[0], H, W, C, p->thr_dev, n, p->cand_count,
	    p->cand);
	RL_CUDA(cudaGetLastError(), "launch peak candidates");
	peak_select<<<n, 1024, RL_PEAK_CAP * sizeof(uint64_t), p->stream>>>(
	    p->cand_count, p->cand, reinterpret_cast<const float *>(p->arena + tw.offset), tw.strides[0], C, top_k,
	    p->peaks_dev, rl_peaks_offset((rl_engine *)e));
	RL_CUDA(cudaGetLastError(), "launch peak selection");
	return ok_status();
}

// ---------------------------------------------------------------- constants

// upload_constant copies n floats to a new device buffer, in the compute type when asked.
Status upload_constant(Engine *e, void **dst, const float *src, int64_t n, int as_compute) {
	*dst = nullptr;
	if (n == 0)
		return ok_status();
	float *tmp = nullptr;
	RL_CUDA(cudaMalloc(&tmp, sizeof(float) * (size_t)n), "allocate constant");
	cudaError_t err = cudaMemcpy(tmp, src, sizeof(float) * (size_t)n, cudaMemcpyHostToDevice);
	if (err != cudaSuccess) {
		cudaFree(tmp);
		return cuda_status(err, "upload constant");
	}
	if (!as_compute || e->dtype == RL_F32) {
		*dst = tmp;
		return ok_status();
	}
	__half *h = nullptr;
	err = cudaMalloc(&h, sizeof(__half) * (size_t)n);
	if (err != cudaSuccess) {
		cudaFree(tmp);
		return cuda_status(err, "allocate constant");
	}
	to_half<<<blocks(n, 256), 256>>>(tmp, h, n);
	err = cudaDeviceSynchronize();
	cudaFree(tmp);
	if (err != cudaSuccess) {
		cudaFree(h);
		return cuda_status(err, "convert constant to fp16");
	}
	*dst = h;
	return ok_status();
}

// upload_conv_weights stores w [K][N] zero-padded to [Kp][Np] (K to 32, N to 64) in
// the compute type, so that the GEMM kernels load B tiles without bounds checks.
Status upload_conv_weights(Engine *e, Op *op, const float *w) {
	const rl_op &d = op->d;
	int K = d.kh * d.kw * d.x.dims[3], N = d.y.dims[3];
	op->kp = (K + 31) / 32 * 32;
	op->np = (N + 63) / 64 * 64;
	float *pad = (float *)calloc((size_t)op->kp * op->np, sizeof(float));
	if (!pad)
		return make_status(RL_ERR_OOM, "host memory for padded weights");
	for (int k = 0; k < K; k++)
		for (int c = 0; c < N; c++)
			pad[(int64_t)k * op->np + c] = w[(int64_t)k * N + c];
	Status s = upload_constant(e, &op->w, pad, (int64_t)op->kp * op->np, 1);
	free(pad);
	return s;
}

// kernels_check verifies that the library has machine code (or PTX) for the device and
// raises the shared-memory limit of the peak sort.
Status kernels_check(const cudaDeviceProp &prop) {
	cudaFuncAttributes attr;
	cudaError_t err = cudaFuncGetAttributes(&attr, to_half);
	if (err != cudaSuccess) {
		cudaGetLastError();
		return make_status(RL_ERR_DRIVER,
		                   "this library has no code for %s (sm_%d%d): %s; rebuild it with make gpu ARCHS=%d%d",
		                   prop.name, prop.major, prop.minor, cudaGetErrorString(err), prop.major, prop.minor);
	}
	RL_CUDA(cudaFuncSetAttribute(peak_select, cudaFuncAttributeMaxDynamicSharedMemorySize,
	                             (int)(RL_PEAK_CAP * sizeof(uint64_t))),
	        "raise the shared memory of the peak sort");
	return ok_status();
}
