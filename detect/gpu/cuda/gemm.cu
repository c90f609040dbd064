// gemm.cu: convolutions as implicit GEMM over NHWC views. M = images x output pixels,
// N = output channels, K = KH x KW x input channels. The FP16 kernel feeds tensor cores
// (WMMA 16x16x16, FP32 accumulators) from double-buffered shared memory; the FP32 kernel
// is plain FFMA. Both fuse the epilogue: bias, residual, activation, a squeeze-excitation
// scale of the input channels applied while loading, and the store into a strided view
// (a concat slice) in FP16 or FP32.
#include <mma.h>

#include "internal.cuh"

using namespace nvcuda;

struct ConvArgs {
	char *arena;
	View x, y, z, s;
	const void *w; // [Kp][Np]
	const float *bias;
	int M, K, N, np;
	int kh, kw, sh, sw, dh, dw, pt, pl;
	int oh, ow, cin;
	int act;
	float alpha, beta;
	int residual, scale, epilogue;
	float *split;  // split-K: float partial sums [nsplit][M][N], or null
	int kt_per;    // split-K: K tiles per split
	int nsplit;    // split-K: number of splits (grid.z)
};

// Row m of the GEMM: which image and output pixel.
struct RowInfo {
	int64_t base; // element offset of the image in x
	int iy0, ix0; // input coordinates of the window's top-left
	int b;        // image (for the input scale)
	bool valid;
};

__device__ __forceinline__ RowInfo row_info(const ConvArgs &a, int m) {
	RowInfo r;
	r.valid = m < a.M;
	if (!r.valid)
		m = 0;
	int hw = a.oh * a.ow;
	int b = m / hw, rem = m - b * hw;
	int oy = rem / a.ow, ox = rem - oy * a.ow;
	r.b = b;
	r.base = (int64_t)b * a.x.s0;
	r.iy0 = oy * a.sh - a.pt;
	r.ix0 = ox * a.sw - a.pl;
	return r;
}

// Element offset in y (or z) of row m.
__device__ __forceinline__ int64_t out_row(const ConvArgs &a, const View &v, int m) {
	int hw = a.oh * a.ow;
	int b = m / hw, rem = m - b * hw;
	int oy = rem / a.ow, ox = rem - oy * a.ow;
	return (int64_t)b * v.s0 + (int64_t)oy * v.s1 + (int64_t)ox * v.s2;
}

__device__ __forceinline__ float epi(const ConvArgs &a, float v, int n, int64_t zrow) {
	if (!a.epilogue)
		return v;
	v += a.bias[n];
	if (a.residual)
		v += ldf(a.arena, a.z, zrow + n);
	return rl_act(a.act, v, a.alpha, a.beta);
}

template <typename TO> __device__ __forceinline__ void store_out(char *arena, const View &y, int64_t i, float v);
template <> __device__ __forceinline__ void store_out<__half>(char *arena, const View &y, int64_t i, float v) {
	reinterpret_cast<__half *>(arena + y.off)[i] = __float2half_rn(v);
}
template <> __device__ __forceinline__ void store_out<float>(char *arena, const View &y, int64_t i, float v) {
	reinterpret_cast<float *>(arena + y.off)[i] = v;
}

// ---------------------------------------------------------------- FP16, tensor cores

#define HBM 128
#define HBK 32
#define HLDA (HBK + 8)

template <int BN> struct HSmem {
	static constexpr int LDB = BN + 8;
	static constexpr int LDC = BN + 4;
	static constexpr int A = HBM * HLDA;
	static constexpr int B = HBK * LDB;
	static constexpr int STAGE = A + B; // halves
	static constexpr int AB_BYTES = 2 * STAGE * 2;
	static constexpr int C_BYTES = HBM * LDC * 4;
	static constexpr int BYTES = AB_BYTES > C_BYTES ? AB_BYTES : C_BYTES;
};

// load8 reads 8 consecutive K elements of row r into v (zero outside the input).
template <bool VEC>
__device__ __forceinline__ void load_a8(const ConvArgs &a, const RowInfo &r, int k, uint4 &out) {
	const __half *x = reinterpret_cast<const __half *>(a.arena + a.x.off);
	__align__(16) __half v[8];
	if (VEC) {
		// the 8 channels share one tap: cin % 8 == 0
		*reinterpret_cast<uint4 *>(v) = make_uint4(0, 0, 0, 0);
		if (r.valid && k < a.K) {
			int tap = k / a.cin, ci = k - tap * a.cin;
			int ky = tap / a.kw, kx = tap - ky * a.kw;
			int iy = r.iy0 + ky * a.dh, ix = r.ix0 + kx * a.dw;
			if (iy >= 0 && iy < a.x.h && ix >= 0 && ix < a.x.w) {
				const __half *p = x + r.base + (int64_t)iy * a.x.s1 + (int64_t)ix * a.x.s2 + ci;
				*reinterpret_cast<uint4 *>(v) = __ldg(reinterpret_cast<const uint4 *>(p));
				if (a.scale) {
					const float *s = reinterpret_cast<const float *>(a.arena + a.s.off) + (int64_t)r.b * a.s.s0 + ci;
#pragma unroll
					for (int j = 0; j < 8; j++)
						v[j] = __float2half_rn(__half2float(v[j]) * s[j]);
				}
			}
		}
	} else {
#pragma unroll
		for (int j = 0; j < 8; j++) {
			float f = 0.f;
			int kk = k + j;
			if (r.valid && kk < a.K) {
				int tap = kk / a.cin, ci = kk - tap * a.cin;
				int ky = tap / a.kw, kx = tap - ky * a.kw;
				int iy = r.iy0 + ky * a.dh, ix = r.ix0 + kx * a.dw;
				if (iy >= 0 && iy < a.x.h && ix >= 0 && ix < a.x.w) {
					f = __half2float(x[r.base + (int64_t)iy * a.x.s1 + (int64_t)ix * a.x.s2 + (int64_t)ci * a.x.s3]);
					if (a.scale)
						f *= reinterpret_cast<const float *>(a.arena + a.s.off)[(int64_t)r.b * a.s.s0 + ci];
				}
			}
			v[j] = __float2half_rn(f);
		}
	}
	out = *reinterpret_cast<uint4 *>(v);
}

template <int BN, bool VEC, typename TO> __global__ void __launch_bounds__(128) conv_h(ConvArgs a) {
	typedef HSmem<BN> S;
	__shared__ __align__(128) unsigned char smem[S::BYTES];
	__shared__ int64_t yrow[HBM], zrow[HBM];
	__half *sm = reinterpret_cast<__half *>(smem);
	const int t = threadIdx.x, warp = t >> 5;
	const int m0 = blockIdx.x * HBM, n0 = blockIdx.y * BN;
	const __half *w = reinterpret_cast<const __half *>(a.w);

	// this thread loads A vectors (row t/4 + 32i, k offset (t%4)*8) and B vectors
	const int kv = (t & 3) * 8;
	RowInfo rows[4];
#pragma unroll
	for (int i = 0; i < 4; i++)
		rows[i] = row_info(a, m0 + (t >> 2) + 32 * i);
	constexpr int BV = HBK * BN / 8; // B vectors per tile
	constexpr int BPT = (BV + 127) / 128;

	uint4 ra[4], rb[BPT];
	auto load = [&](int k0) {
#pragma unroll
		for (int i = 0; i < 4; i++)
			load_a8<VEC>(a, rows[i], k0 + kv, ra[i]);
#pragma unroll
		for (int i = 0; i < BPT; i++) {
			int v = t + i * 128;
			if (v < BV) {
				int kr = v / (BN / 8), c8 = v - kr * (BN / 8);
				rb[i] = __ldg(reinterpret_cast<const uint4 *>(w + (int64_t)(k0 + kr) * a.np + n0 + c8 * 8));
			}
		}
	};
	auto store = [&](int stage) {
		__half *As = sm + stage * S::STAGE, *Bs = As + S::A;
#pragma unroll
		for (int i = 0; i < 4; i++)
			*reinterpret_cast<uint4 *>(As + ((t >> 2) + 32 * i) * HLDA + kv) = ra[i];
#pragma unroll
		for (int i = 0; i < BPT; i++) {
			int v = t + i * 128;
			if (v < BV) {
				int kr = v / (BN / 8), c8 = v - kr * (BN / 8);
				*reinterpret_cast<uint4 *>(Bs + kr * S::LDB + c8 * 8) = rb[i];
			}
		}
	};

	constexpr int FN = BN / 16;
	wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][FN];
#pragma unroll
	for (int i = 0; i < 2; i++)
#pragma unroll
		for (int j = 0; j < FN; j++)
			wmma::fill_fragment(acc[i][j], 0.f);

	// split-K: this block's share of the K tiles
	const int KT0 = a.split ? blockIdx.z * a.kt_per : 0;
	const int KT = a.split ? min((a.K + HBK - 1) / HBK, KT0 + a.kt_per) : (a.K + HBK - 1) / HBK;
	load(KT0 * HBK);
	store(KT0 & 1);
	__syncthreads();
	for (int kt = KT0; kt < KT; kt++) {
		if (kt + 1 < KT)
			load((kt + 1) * HBK);
		const __half *As = sm + (kt & 1) * S::STAGE, *Bs = As + S::A;
#pragma unroll
		for (int kk = 0; kk < HBK; kk += 16) {
			wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
			wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[FN];
#pragma unroll
			for (int i = 0; i < 2; i++)
				wmma::load_matrix_sync(fa[i], As + (warp * 32 + i * 16) * HLDA + kk, HLDA);
#pragma unroll
			for (int j = 0; j < FN; j++)
				wmma::load_matrix_sync(fb[j], Bs + kk * S::LDB + j * 16, S::LDB);
#pragma unroll
			for (int i = 0; i < 2; i++)
#pragma unroll
				for (int j = 0; j < FN; j++)
					wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
		}
		if (kt + 1 < KT)
			store((kt + 1) & 1);
		__syncthreads();
	}

	// epilogue through shared memory
	float *Cs = reinterpret_cast<float *>(smem);
#pragma unroll
	for (int i = 0; i < 2; i++)
#pragma unroll
		for (int j = 0; j < FN; j++)
			wmma::store_matrix_sync(Cs + (warp * 32 + i * 16) * S::LDC + j * 16, acc[i][j], S::LDC, wmma::mem_row_major);
	if (a.split) { // partial sums, one slab per split; split_finish adds them and applies the epilogue
		__syncthreads();
		float *slab = a.split + (int64_t)blockIdx.z * a.M * a.N;
		for (int e = t; e < HBM * BN; e += 128) {
			int r = e / BN, c = e - r * BN;
			int m = m0 + r, n = n0 + c;
			if (m < a.M && n < a.N)
				slab[(int64_t)m * a.N + n] = Cs[r * S::LDC + c];
		}
		return;
	}
	{
		int m = m0 + t;
		if (m < a.M) {
			yrow[t] = out_row(a, a.y, m);
			zrow[t] = a.residual ? out_row(a, a.z, m) : 0;
		}
	}
	__syncthreads();
	// 8 channels per thread with 16-byte stores where the output (and residual) allow
	bool wide = sizeof(TO) == 2 && a.N % 8 == 0 && a.y.s3 == 1 && (a.y.off & 15) == 0 && (a.y.s2 & 7) == 0 &&
	            (a.y.s1 & 7) == 0 && (a.y.s0 & 7) == 0 &&
	            (!a.residual || (a.z.dtype == RL_F16 && a.z.s3 == 1 && (a.z.off & 15) == 0 && (a.z.s2 & 7) == 0 &&
	                             (a.z.s1 & 7) == 0 && (a.z.s0 & 7) == 0));
	if (wide) {
		for (int e = t; e < HBM * BN / 8; e += 128) {
			int r = e / (BN / 8), c = (e - r * (BN / 8)) * 8;
			int m = m0 + r, n = n0 + c;
			if (m >= a.M || n >= a.N)
				continue;
			float v[8];
#pragma unroll
			for (int j = 0; j < 8; j++)
				v[j] = Cs[r * S::LDC + c + j];
			if (a.epilogue) {
				float zv[8];
				if (a.residual) {
					uint4 u = *reinterpret_cast<const uint4 *>(reinterpret_cast<const __half *>(a.arena + a.z.off) + zrow[r] + n);
					const __half2 *h2 = reinterpret_cast<const __half2 *>(&u);
#pragma unroll
					for (int j = 0; j < 4; j++) {
						float2 f = __half22float2(h2[j]);
						zv[2 * j] = f.x, zv[2 * j + 1] = f.y;
					}
				}
#pragma unroll
				for (int j = 0; j < 8; j++) {
					float f = v[j] + a.bias[n + j];
					if (a.residual)
						f += zv[j];
					v[j] = rl_act(a.act, f, a.alpha, a.beta);
				}
			}
			__align__(16) __half h[8];
#pragma unroll
			for (int j = 0; j < 8; j++)
				h[j] = __float2half_rn(v[j]);
			*reinterpret_cast<uint4 *>(reinterpret_cast<__half *>(a.arena + a.y.off) + yrow[r] + n) =
			    *reinterpret_cast<const uint4 *>(h);
		}
		return;
	}
	if constexpr (sizeof(TO) == 4) { // float outputs 4 channels per thread
		if (a.N % 4 == 0 && a.y.s3 == 1 && (a.y.off & 15) == 0 && (a.y.s2 & 3) == 0 && (a.y.s1 & 3) == 0 &&
		    (a.y.s0 & 3) == 0) {
			for (int e = t; e < HBM * BN / 4; e += 128) {
				int r = e / (BN / 4), c = (e - r * (BN / 4)) * 4;
				int m = m0 + r, n = n0 + c;
				if (m >= a.M || n >= a.N)
					continue;
				float4 v;
				v.x = epi(a, Cs[r * S::LDC + c], n, zrow[r]);
				v.y = epi(a, Cs[r * S::LDC + c + 1], n + 1, zrow[r]);
				v.z = epi(a, Cs[r * S::LDC + c + 2], n + 2, zrow[r]);
				v.w = epi(a, Cs[r * S::LDC + c + 3], n + 3, zrow[r]);
				*reinterpret_cast<float4 *>(reinterpret_cast<float *>(a.arena + a.y.off) + yrow[r] + n) = v;
			}
			return;
		}
	}
	for (int e = t; e < HBM * BN; e += 128) {
		int r = e / BN, c = e - r * BN;
		int m = m0 + r, n = n0 + c;
		if (m >= a.M || n >= a.N)
			continue;
		float v = epi(a, Cs[r * S::LDC + c], n, zrow[r]);
		store_out<TO>(a.arena, a.y, yrow[r] + (int64_t)n * a.y.s3, v);
	}
}

// ---------------------------------------------------------------- few input channels

// Direct convolution for layers with few input channels (a network's first layer, RGB):
// one thread per output pixel computes every output channel from the KH x KW x Cin
// window, the weights in shared memory. Grid (x: columns, y: rows, z: images).
template <typename T> __global__ void conv_small(ConvArgs a) {
	extern __shared__ float ws[]; // [K][N]
	const T *wsrc = reinterpret_cast<const T *>(a.w);
	for (int i = threadIdx.x; i < a.K * a.N; i += blockDim.x) {
		int k = i / a.N, n = i - k * a.N;
		ws[i] = (float)wsrc[(int64_t)k * a.np + n];
	}
	__syncthreads();
	int ox = blockIdx.x * blockDim.x + threadIdx.x, oy = blockIdx.y, b = blockIdx.z;
	if (ox >= a.ow)
		return;
	const T *x = reinterpret_cast<const T *>(a.arena + a.x.off) + (int64_t)b * a.x.s0;
	float in[64];
#pragma unroll 1
	for (int k = 0; k < a.K; k++) {
		int tap = k / a.cin, ci = k - tap * a.cin;
		int ky = tap / a.kw, kx = tap - ky * a.kw;
		int iy = oy * a.sh - a.pt + ky * a.dh, ix = ox * a.sw - a.pl + kx * a.dw;
		in[k & 63] = (iy >= 0 && iy < a.x.h && ix >= 0 && ix < a.x.w)
		                 ? (float)x[(int64_t)iy * a.x.s1 + (int64_t)ix * a.x.s2 + (int64_t)ci * a.x.s3]
		                 : 0.f;
	}
	int64_t yo = (int64_t)b * a.y.s0 + (int64_t)oy * a.y.s1 + (int64_t)ox * a.y.s2;
	int64_t zo = a.residual ? (int64_t)b * a.z.s0 + (int64_t)oy * a.z.s1 + (int64_t)ox * a.z.s2 : 0;
	for (int n0 = 0; n0 < a.N; n0 += 8) {
		float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
		for (int k = 0; k < a.K; k++) {
			float v = in[k & 63];
#pragma unroll
			for (int j = 0; j < 8; j++)
				if (n0 + j < a.N)
					acc[j] = fmaf(v, ws[k * a.N + n0 + j], acc[j]);
		}
#pragma unroll
		for (int j = 0; j < 8; j++)
			if (n0 + j < a.N)
				stf(a.arena, a.y, yo + (int64_t)(n0 + j) * a.y.s3, epi(a, acc[j], n0 + j, zo));
	}
}

// ---------------------------------------------------------------- FP32, FFMA

#define FBM 64
#define FBN 64
#define FBK 16

__global__ void __launch_bounds__(256) conv_f(ConvArgs a) {
	__shared__ __align__(16) float As[FBK][FBM + 4];
	__shared__ __align__(16) float Bs[FBK][FBN];
	const int t = threadIdx.x;
	const int m0 = blockIdx.x * FBM, n0 = blockIdx.y * FBN;
	const float *x = reinterpret_cast<const float *>(a.arena + a.x.off);
	const float *w = reinterpret_cast<const float *>(a.w);
	const int kk = t & 15;
	RowInfo rows[4];
#pragma unroll
	for (int i = 0; i < 4; i++)
		rows[i] = row_info(a, m0 + (t >> 4) + 16 * i);
	const int tx = t & 15, ty = t >> 4;
	float acc[4][4];
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int j = 0; j < 4; j++)
			acc[i][j] = 0.f;
	for (int k0 = 0; k0 < a.K; k0 += FBK) {
		int k = k0 + kk;
		int tap = 0, ci = 0, ky = 0, kx = 0;
		if (k < a.K) {
			tap = k / a.cin, ci = k - tap * a.cin;
			ky = tap / a.kw, kx = tap - ky * a.kw;
		}
#pragma unroll
		for (int i = 0; i < 4; i++) {
			const RowInfo &r = rows[i];
			float f = 0.f;
			int iy = r.iy0 + ky * a.dh, ix = r.ix0 + kx * a.dw;
			if (r.valid && k < a.K && iy >= 0 && iy < a.x.h && ix >= 0 && ix < a.x.w) {
				f = x[r.base + (int64_t)iy * a.x.s1 + (int64_t)ix * a.x.s2 + (int64_t)ci * a.x.s3];
				if (a.scale)
					f *= reinterpret_cast<const float *>(a.arena + a.s.off)[(int64_t)r.b * a.s.s0 + ci];
			}
			As[kk][(t >> 4) + 16 * i] = f;
		}
#pragma unroll
		for (int i = 0; i < 4; i++) {
			int kr = (t >> 6) + 4 * i, c = t & 63;
			Bs[kr][c] = w[(int64_t)(k0 + kr) * a.np + n0 + c];
		}
		__syncthreads();
#pragma unroll
		for (int q = 0; q < FBK; q++) {
			float4 av = *reinterpret_cast<const float4 *>(&As[q][ty * 4]);
			float4 bv = *reinterpret_cast<const float4 *>(&Bs[q][tx * 4]);
			float ar[4] = {av.x, av.y, av.z, av.w}, br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
			for (int i = 0; i < 4; i++)
#pragma unroll
				for (int j = 0; j < 4; j++)
					acc[i][j] = fmaf(ar[i], br[j], acc[i][j]);
		}
		__syncthreads();
	}
#pragma unroll
	for (int i = 0; i < 4; i++) {
		int m = m0 + ty * 4 + i;
		if (m >= a.M)
			continue;
		int64_t yr = out_row(a, a.y, m), zr = a.residual ? out_row(a, a.z, m) : 0;
#pragma unroll
		for (int j = 0; j < 4; j++) {
			int n = n0 + tx * 4 + j;
			if (n < a.N)
				store_out<float>(a.arena, a.y, yr + (int64_t)n * a.y.s3, epi(a, acc[i][j], n, zr));
		}
	}
}

// split_finish: y = act(sum of the partials + bias + z) for a split-K convolution. The
// partials are added in split order (no atomics), so a run gives the same bits every time.
__global__ void split_finish(ConvArgs a) {
	int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	const int64_t mn = (int64_t)a.M * a.N;
	if (i >= mn)
		return;
	int m = (int)(i / a.N), n = (int)(i - (int64_t)m * a.N);
	float sum = 0.f;
	for (int z = 0; z < a.nsplit; z++)
		sum += a.split[z * mn + i];
	float v = epi(a, sum, n, a.residual ? out_row(a, a.z, m) : 0);
	stf(a.arena, a.y, out_row(a, a.y, m) + (int64_t)n * a.y.s3, v);
}

// conv_rgb: the 3x3, 3-channel, 16-output first layer of a network, one output pixel per
// thread with the window and accumulators in registers, 16-byte stores.
__global__ void conv_rgb(ConvArgs a) {
	__shared__ float ws[27 * 16];
	const __half *wsrc = reinterpret_cast<const __half *>(a.w);
	for (int i = threadIdx.x; i < 27 * 16; i += blockDim.x)
		ws[i] = __half2float(wsrc[(int64_t)(i / 16) * a.np + i % 16]);
	__syncthreads();
	int ox = blockIdx.x * blockDim.x + threadIdx.x, oy = blockIdx.y, b = blockIdx.z;
	if (ox >= a.ow)
		return;
	const __half *x = reinterpret_cast<const __half *>(a.arena + a.x.off) + (int64_t)b * a.x.s0;
	float in[27];
#pragma unroll
	for (int ky = 0; ky < 3; ky++)
#pragma unroll
		for (int kx = 0; kx < 3; kx++) {
			int iy = oy * a.sh - a.pt + ky * a.dh, ix = ox * a.sw - a.pl + kx * a.dw;
			bool ok = iy >= 0 && iy < a.x.h && ix >= 0 && ix < a.x.w;
			const __half *p = x + (int64_t)iy * a.x.s1 + (int64_t)ix * a.x.s2;
#pragma unroll
			for (int c = 0; c < 3; c++)
				in[(ky * 3 + kx) * 3 + c] = ok ? __half2float(p[c * a.x.s3]) : 0.f;
		}
	float acc[16];
#pragma unroll
	for (int n = 0; n < 16; n++)
		acc[n] = 0.f;
#pragma unroll
	for (int k = 0; k < 27; k++)
#pragma unroll
		for (int n = 0; n < 16; n++)
			acc[n] = fmaf(in[k], ws[k * 16 + n], acc[n]);
	int64_t yo = (int64_t)b * a.y.s0 + (int64_t)oy * a.y.s1 + (int64_t)ox * a.y.s2;
	int64_t zo = a.residual ? (int64_t)b * a.z.s0 + (int64_t)oy * a.z.s1 + (int64_t)ox * a.z.s2 : 0;
	__align__(16) __half h[16];
#pragma unroll
	for (int n = 0; n < 16; n++)
		h[n] = __float2half_rn(epi(a, acc[n], n, zo));
	__half *y = reinterpret_cast<__half *>(a.arena + a.y.off) + yo;
	if ((((uintptr_t)y) & 15) == 0 && a.y.s3 == 1) {
		reinterpret_cast<uint4 *>(y)[0] = reinterpret_cast<const uint4 *>(h)[0];
		reinterpret_cast<uint4 *>(y)[1] = reinterpret_cast<const uint4 *>(h)[1];
	} else {
#pragma unroll
		for (int n = 0; n < 16; n++)
			y[(int64_t)n * a.y.s3] = h[n];
	}
}

// ---------------------------------------------------------------- launch

static bool aligned16(const View &v) {
	return v.off % 16 == 0 && v.s0 % 8 == 0 && v.s1 % 8 == 0 && v.s2 % 8 == 0 && v.s3 == 1;
}

template <int BN, typename TO> static void go_h(const ConvArgs &a, bool vec, dim3 grid, cudaStream_t st) {
	if (vec)
		conv_h<BN, true, TO><<<grid, 128, 0, st>>>(a);
	else
		conv_h<BN, false, TO><<<grid, 128, 0, st>>>(a);
}

Status launch_conv(Engine *e, Pipe *p, Op *op, int n, int epilogue) {
	const rl_op &d = op->d;
	ConvArgs a;
	a.arena = p->arena;
	a.x = make_view(d.x, n);
	a.y = make_view(d.y, n);
	a.z = make_view(d.z, n);
	a.s = make_view(d.s, n);
	a.w = op->w;
	a.bias = op->bias;
	a.oh = a.y.h, a.ow = a.y.w, a.cin = a.x.c;
	a.M = a.y.n * a.oh * a.ow;
	a.K = d.kh * d.kw * a.cin;
	a.N = a.y.c;
	a.np = op->np;
	a.kh = d.kh, a.kw = d.kw, a.sh = d.sh, a.sw = d.sw, a.dh = d.dh, a.dw = d.dw, a.pt = d.pad_t, a.pl = d.pad_l;
	a.act = d.act, a.alpha = d.alpha, a.beta = d.beta;
	a.residual = (d.flags & RL_OPF_RESIDUAL) != 0;
	a.scale = (d.flags & RL_OPF_SCALE) != 0;
	a.epilogue = epilogue;
	a.split = nullptr, a.kt_per = 0, a.nsplit = 0;
	if (a.M == 0 || a.N == 0)
		return ok_status();
	if (e->dtype == RL_F16 && a.cin == 3 && a.N == 16 && d.kh == 3 && d.kw == 3 && !a.scale && d.y.dtype == RL_F16) {
		conv_rgb<<<dim3((a.ow + 127) / 128, a.oh, a.y.n), 128, 0, p->stream>>>(a);
		RL_CUDA(cudaGetLastError(), "launch convolution");
		return ok_status();
	}
	if (a.cin <= 4 && a.K <= 64 && a.N <= 64 && !a.scale && d.y.dtype == e->dtype) {
		dim3 grid((a.ow + 127) / 128, a.oh, a.y.n);
		size_t sm = sizeof(float) * (size_t)a.K * a.N;
		if (e->dtype == RL_F16)
			conv_small<__half><<<grid, 128, sm, p->stream>>>(a);
		else
			conv_small<float><<<grid, 128, sm, p->stream>>>(a);
	} else if (e->dtype == RL_F32) {
		dim3 grid((a.M + FBM - 1) / FBM, (a.N + FBN - 1) / FBN);
		conv_f<<<grid, 256, 0, p->stream>>>(a);
	} else {
		bool vec = a.cin % 8 == 0 && aligned16(a.x) && (!a.scale || (a.s.off % 16 == 0 && a.s.s0 % 4 == 0));
		int bn = a.N <= 16 ? 16 : (a.N <= 32 ? 32 : 64);
		dim3 grid((a.M + HBM - 1) / HBM, (a.N + bn - 1) / bn);
		// split-K where a long K would leave most multiprocessors idle
		int kt = (a.K + HBK - 1) / HBK, tiles = (int)(grid.x * grid.y), sms = e->prop.multiProcessorCount;
		if (p->split_ws && kt >= 8 && 2 * tiles < sms) {
			int s = min(min(kt / 2, (2 * sms + tiles - 1) / tiles), RL_SPLIT_MAX);
			if (s >= 2) {
				int per = (kt + s - 1) / s, nz = (kt + per - 1) / per;
				if ((int64_t)nz * a.M * a.N <= p->split_cap) { // every slab is written whole: no clearing
					a.kt_per = per, a.nsplit = nz;
					grid.z = nz;
					a.split = p->split_ws;
				}
			}
		}
		bool f32 = d.y.dtype == RL_F32;
		switch (bn) {
		case 16:
			f32 ? go_h<16, float>(a, vec, grid, p->stream) : go_h<16, __half>(a, vec, grid, p->stream);
			break;
		case 32:
			f32 ? go_h<32, float>(a, vec, grid, p->stream) : go_h<32, __half>(a, vec, grid, p->stream);
			break;
		default:
			f32 ? go_h<64, float>(a, vec, grid, p->stream) : go_h<64, __half>(a, vec, grid, p->stream);
		}
		if (a.split) {
			RL_CUDA(cudaGetLastError(), "launch convolution");
			split_finish<<<(unsigned)(((int64_t)a.M * a.N + 255) / 256), 256, 0, p->stream>>>(a);
		}
	}
	RL_CUDA(cudaGetLastError(), "launch convolution");
	return ok_status();
}
