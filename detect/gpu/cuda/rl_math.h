/*
 * rl_math.h: the arithmetic that the CUDA kernels and the CPU twin used in tests
 * (detect/gpu/gputest/twin) must share bit for bit: activations, pixel conversions, the
 * pre-processing resize and the resize coordinate transforms. Plain C99 so that gcc
 * compiles it too; RL_HD marks the functions for both host and device under nvcc.
 */
#ifndef ROADLOG_RL_MATH_H
#define ROADLOG_RL_MATH_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define RL_HD static __host__ __device__ __forceinline__
#else
#define RL_HD static inline
#endif

/* Double arithmetic without fused multiply-add, so that the device computes what Go
 * computes (Go never fuses float64 operations on amd64 unless asked). */
#ifdef __CUDA_ARCH__
#define RL_DADD(a, b) __dadd_rn((a), (b))
#define RL_DSUB(a, b) __dsub_rn((a), (b))
#define RL_DMUL(a, b) __dmul_rn((a), (b))
#else
#define RL_DADD(a, b) ((a) + (b))
#define RL_DSUB(a, b) ((a) - (b))
#define RL_DMUL(a, b) ((a) * (b))
#endif

/* rl_act applies activation `act` (model.Activation numbering) in float. */
RL_HD float rl_act(int act, float x, float alpha, float beta) {
	switch (act) {
	case 1: /* relu */
		return x < 0.f ? 0.f : x;
	case 2: /* relu6 */
		return fminf(fmaxf(x, 0.f), 6.f);
	case 3: /* leaky relu */
		return x < 0.f ? alpha * x : x;
	case 4: /* sigmoid */
		return 1.f / (1.f + expf(-x));
	case 5: /* hard swish: x * relu6(x+3) * alpha */
		return x * fminf(fmaxf(x + 3.f, 0.f), 6.f) * alpha;
	case 6: /* hard sigmoid */
		return fminf(fmaxf(x + 3.f, 0.f), 6.f) * alpha;
	case 7: /* silu */
		return x / (1.f + expf(-x));
	case 8:
		return tanhf(x);
	case 9: /* clip */
		return fminf(fmaxf(x, alpha), beta);
	}
	return x;
}

/* rl_binop applies binary op `op` (RL_BIN_*). */
RL_HD float rl_binop(int op, float a, float b) {
	switch (op) {
	case 0:
		return a + b;
	case 1:
		return a - b;
	case 2:
		return a * b;
	case 3:
		return a / b;
	case 4:
		return fmaxf(a, b);
	case 5:
		return fminf(a, b);
	}
	return 0.f;
}

/* rl_unop applies unary op `op` (RL_UN_*). */
RL_HD float rl_unop(int op, float a) {
	switch (op) {
	case 1:
		return -a;
	case 2:
		return expf(a);
	case 3:
		return sqrtf(a);
	case 4:
		return fabsf(a);
	}
	return a;
}

/* rl_resize_coord maps output coordinate o to the input (model.ResizeCoord). */
RL_HD double rl_resize_coord(int mode, int o, int in_size, int out_size, double ratio) {
	switch (mode) {
	case 2: /* half pixel */
		return ((double)o + 0.5) * ratio - 0.5;
	case 4: /* pytorch half pixel */
		if (out_size <= 1)
			return 0;
		return ((double)o + 0.5) * ratio - 0.5;
	case 3: /* align corners */
		if (out_size <= 1)
			return 0;
		return (double)o * (double)(in_size - 1) / (double)(out_size - 1);
	case 5: /* TF half pixel for nearest */
		return ((double)o + 0.5) * ratio;
	}
	return (double)o * ratio;
}

/* rl_nearest rounds an input coordinate for nearest resize and clamps it (model.NearestIndex). */
RL_HD int rl_nearest(int r, double x, int size) {
	double i;
	switch (r) {
	case 2:
		i = floor(x + 0.5);
		break;
	case 3:
		i = floor(x);
		break;
	case 4:
		i = ceil(x);
		break;
	default:
		i = ceil(x - 0.5);
	}
	int k = (int)i;
	if (k < 0)
		k = 0;
	if (k > size - 1)
		k = size - 1;
	return k;
}

/* rl_bilinear_taps is model.BilinearTaps: the two input indices and the weight of the
 * upper one. */
RL_HD void rl_bilinear_taps(double x, int size, int *i0, int *i1, float *frac) {
	if (x < 0)
		x = 0;
	double f = floor(x);
	int a = (int)f;
	if (a > size - 1)
		a = size - 1;
	int b = a + 1;
	if (b > size - 1)
		b = size - 1;
	*i0 = a;
	*i1 = b;
	*frac = (a == size - 1) ? 0.f : (float)(x - f);
}

/* rl_ycbcr_to_rgb is Go's color.YCbCrToRGB (JFIF, integer arithmetic). */
RL_HD void rl_ycbcr_to_rgb(int y, int cb, int cr, int *r, int *g, int *b) {
	int32_t yy1 = (int32_t)y * 0x10101;
	int32_t cb1 = (int32_t)cb - 128;
	int32_t cr1 = (int32_t)cr - 128;
	int32_t rr = yy1 + 91881 * cr1;
	int32_t gg = yy1 - 22554 * cb1 - 46802 * cr1;
	int32_t bb = yy1 + 116130 * cb1;
	rr = ((uint32_t)rr & 0xff000000u) == 0 ? rr >> 16 : ~(rr >> 31);
	gg = ((uint32_t)gg & 0xff000000u) == 0 ? gg >> 16 : ~(gg >> 31);
	bb = ((uint32_t)bb & 0xff000000u) == 0 ? bb >> 16 : ~(bb >> 31);
	*r = rr & 0xff;
	*g = gg & 0xff;
	*b = bb & 0xff;
}

/* rl_unpremultiply is color.NRGBAModel on an alpha-premultiplied 8-bit colour channel. */
RL_HD int rl_unpremultiply(int c, int a) {
	if (a == 255)
		return c;
	if (a == 0)
		return 0;
	uint32_t c16 = (uint32_t)c * 0x101u, a16 = (uint32_t)a * 0x101u;
	return (int)(((c16 * 0xffffu) / a16) >> 8);
}

/* rl_pixel reads channel ch (0 R, 1 G, 2 B) of pixel (x, y) from planes p0..p2 in the
 * given format (stride: bytes per row of plane 0; cstride of the chroma planes). */
RL_HD int rl_pixel(int format, const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, int stride, int cstride,
                   int sub_x, int sub_y, int x, int y, int ch) {
	switch (format) {
	case 1: /* RGB */
		return p0[(int64_t)y * stride + 3 * x + ch];
	case 2: { /* RGBA premultiplied */
		const uint8_t *q = p0 + (int64_t)y * stride + 4 * x;
		return rl_unpremultiply(q[ch], q[3]);
	}
	case 3: /* NRGBA */
		return p0[(int64_t)y * stride + 4 * x + ch];
	case 4: /* gray */
		return p0[(int64_t)y * stride + x];
	case 5: { /* planar YCbCr */
		int64_t ci = (int64_t)(y >> sub_y) * cstride + (x >> sub_x);
		int r, g, b;
		rl_ycbcr_to_rgb(p0[(int64_t)y * stride + x], p1[ci], p2[ci], &r, &g, &b);
		return ch == 0 ? r : (ch == 1 ? g : b);
	}
	case 6: { /* NV12 */
		int64_t ci = (int64_t)(y >> 1) * cstride + 2 * (x >> 1);
		int r, g, b;
		rl_ycbcr_to_rgb(p0[(int64_t)y * stride + x], p1[ci], p1[ci + 1], &r, &g, &b);
		return ch == 0 ? r : (ch == 1 ? g : b);
	}
	case 7: { /* YUYV */
		const uint8_t *q = p0 + (int64_t)y * stride + 4 * (x >> 1);
		int r, g, b;
		rl_ycbcr_to_rgb(q[(x & 1) * 2], q[1], q[3], &r, &g, &b);
		return ch == 0 ? r : (ch == 1 ? g : b);
	}
	}
	return 0;
}

/* rl_prep_taps is the source taps of output coordinate o of one axis of the
 * pre-processing resize (detect/centernet preprocessor.resize: TF.js's arithmetic in
 * float64): in pixels resized to n; half: half-pixel centres. */
RL_HD void rl_prep_taps(int o, int in, int n, int half, int *i0, int *i1, double *f) {
	double ratio = (double)in / (double)n;
	double src = RL_DMUL(ratio, (double)o);
	if (half)
		src = RL_DSUB(RL_DMUL(ratio, RL_DADD((double)o, 0.5)), 0.5);
	double lo = floor(src);
	if (lo < 0)
		lo = 0;
	double hi = ceil(src);
	if (hi > (double)(in - 1))
		hi = (double)(in - 1);
	*i0 = (int)lo;
	*i1 = (int)hi;
	*f = RL_DSUB(src, lo);
}

/* rl_prep_lerp is the bilinear blend of the four taps as the CPU path computes it. */
RL_HD float rl_prep_lerp(int tl, int tr, int bl, int br, double fx, double fy) {
	double t0 = RL_DADD((double)tl, RL_DMUL(RL_DSUB((double)tr, (double)tl), fx));
	double b0 = RL_DADD((double)bl, RL_DMUL(RL_DSUB((double)br, (double)bl), fx));
	return (float)RL_DADD(t0, RL_DMUL(RL_DSUB(b0, t0), fy));
}

/* Half-precision rounding for the CPU twin (IEEE binary16, round to nearest even). */
RL_HD uint16_t rl_f2h(float f) {
	union {
		float f;
		uint32_t u;
	} v;
	v.f = f;
	uint32_t b = v.u;
	uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
	int32_t exp = (int32_t)((b >> 23) & 0xff);
	uint32_t mant = b & 0x7fffffu;
	if (exp == 0xff)
		return (uint16_t)(sign | (mant ? 0x7e00u : 0x7c00u));
	int32_t e = exp - 127 + 15;
	if (e >= 0x1f)
		return (uint16_t)(sign | 0x7c00u);
	if (e <= 0) {
		if (e < -10)
			return sign;
		uint32_t m = mant | 0x800000u;
		uint32_t shift = (uint32_t)(14 - e);
		uint32_t h = m >> shift;
		uint32_t rem = m & ((1u << shift) - 1);
		uint32_t half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1u)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
	uint32_t rem = mant & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
		h++;
	return (uint16_t)(sign | h);
}

RL_HD float rl_h2f(uint16_t h) {
	uint32_t sign = (uint32_t)(h >> 15) << 31;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu;
	union {
		float f;
		uint32_t u;
	} v;
	if (exp == 0x1f) {
		v.u = sign | 0x7f800000u | (mant << 13);
		return v.f;
	}
	if (exp != 0) {
		v.u = sign | ((exp + 112) << 23) | (mant << 13);
		return v.f;
	}
	if (mant == 0) {
		v.u = sign;
		return v.f;
	}
	float f = (float)mant * (1.0f / 16777216.0f);
	return sign ? -f : f;
}

#endif /* ROADLOG_RL_MATH_H */
