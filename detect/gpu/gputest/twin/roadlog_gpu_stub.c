/*
 * The CPU twin of libroadlog_gpu.so: the same C ABI (cuda/roadlog_gpu.h), every op
 * computed with plain loops on the host, FP16 mode storing activations and weights as
 * IEEE half exactly where the CUDA engine does. The Go tests compile it with gcc so
 * that the purego binding, the planner's fusions and arena, the pre- and
 * post-processing contracts and the error paths are tested on machines without a GPU;
 * the CUDA kernels implement the same semantics (the .cu files in detect/gpu/cuda).
 *
 * gcc -O2 -shared -fPIC -ffp-contract=off -I../../cuda roadlog_gpu_stub.c -o libroadlog_gpu.so -lm
 */
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_math.h"
#include "roadlog_gpu.h"

#define MAXOPS 4096
#define MAXOUT 16
#define MAXPIPE 16

typedef struct {
	uint8_t *arena;
	float *host_in;
	float *host_out[MAXOUT];
	uint8_t *staging;
	int64_t staging_cap;
	uint8_t *peaks;
	int32_t peaks_topk;
	int32_t last_n;
} pipe_t;

typedef struct {
	rl_op op;
	float *w[4];
} opd_t;

struct rl_engine {
	rl_config cfg;
	opd_t ops[MAXOPS];
	int nops;
	rl_tensor outs[MAXOUT];
	int nouts;
	int final;
	pipe_t pipes[MAXPIPE];
};

static int fail(char *err, int32_t errlen, int32_t code, const char *fmt, ...) {
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, (size_t)errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

#ifndef STUB_ABI_VERSION
#define STUB_ABI_VERSION RL_ABI_VERSION
#endif

int32_t rl_abi_version(void) { return STUB_ABI_VERSION; }

int32_t rl_layout(int64_t *out, int32_t n) {
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

int32_t rl_probe(int32_t device, char *info, int32_t len) {
	if (device != 0)
		return fail(info, len, RL_ERR_NO_DEVICE, "no device %d in the CPU twin", device);
	snprintf(info, (size_t)len, "CPU twin of libroadlog_gpu (no CUDA)");
	return RL_OK;
}

static float ld(const uint8_t *base, const rl_tensor *t, int64_t i) {
	if (t->dtype == RL_F16) {
		uint16_t h;
		memcpy(&h, base + t->offset + 2 * i, 2);
		return rl_h2f(h);
	}
	float f;
	memcpy(&f, base + t->offset + 4 * i, 4);
	return f;
}

static void st(uint8_t *base, const rl_tensor *t, int64_t i, float v) {
	if (t->dtype == RL_F16) {
		uint16_t h = rl_f2h(v);
		memcpy(base + t->offset + 2 * i, &h, 2);
		return;
	}
	memcpy(base + t->offset + 4 * i, &v, 4);
}

static int64_t idx(const rl_tensor *t, int64_t b, int64_t h, int64_t w, int64_t c) {
	return b * t->strides[0] + h * t->strides[1] + w * t->strides[2] + c * t->strides[3];
}

static int nb(const rl_tensor *t, int n) { return t->batched ? n : t->dims[0]; }

int32_t rl_create(const rl_config *cfg, rl_engine **out, char *err, int32_t errlen) {
	if (cfg->pipelines < 1 || cfg->pipelines > MAXPIPE || cfg->max_batch < 1)
		return fail(err, errlen, RL_ERR_ARG, "bad config: %d pipelines, batch %d", cfg->pipelines, cfg->max_batch);
	if (cfg->device != 0)
		return fail(err, errlen, RL_ERR_NO_DEVICE, "no device %d in the CPU twin", cfg->device);
	/* the twin emulates a device of 16 GiB */
	if ((double)cfg->arena_bytes * cfg->pipelines > 16.0 * (1 << 30))
		return fail(err, errlen, RL_ERR_OOM, "allocate %d x %lld MiB activation arenas: out of device memory (16384 MiB in the twin)",
		            cfg->pipelines, (long long)(cfg->arena_bytes >> 20));
	rl_engine *e = calloc(1, sizeof(rl_engine));
	if (!e)
		return fail(err, errlen, RL_ERR_OOM, "engine struct");
	e->cfg = *cfg;
	int64_t in = (int64_t)cfg->max_batch * cfg->in_h * cfg->in_w * cfg->in_c;
	for (int p = 0; p < cfg->pipelines; p++) {
		e->pipes[p].arena = calloc(1, (size_t)cfg->arena_bytes);
		e->pipes[p].host_in = calloc((size_t)in, sizeof(float));
		if (!e->pipes[p].arena || !e->pipes[p].host_in) {
			rl_destroy(e);
			return fail(err, errlen, RL_ERR_OOM, "allocate %lld MiB activation arena for pipeline %d: out of memory",
			            (long long)(cfg->arena_bytes >> 20), p);
		}
	}
	*out = e;
	return RL_OK;
}

static int64_t count(const rl_tensor *t) { return (int64_t)t->dims[0] * t->dims[1] * t->dims[2] * t->dims[3]; }

int32_t rl_add_op(rl_engine *e, const rl_op *op, const float *w0, const float *w1, const float *w2, const float *w3,
                  char *err, int32_t errlen) {
	if (e->final)
		return fail(err, errlen, RL_ERR_STATE, "add op after finalize");
	if (e->nops >= MAXOPS)
		return fail(err, errlen, RL_ERR_UNSUPPORTED, "more than %d ops", MAXOPS);
	if (op->kind < RL_OP_CONV || op->kind > RL_OP_COPY)
		return fail(err, errlen, RL_ERR_UNSUPPORTED, "op kind %d", op->kind);
	opd_t *d = &e->ops[e->nops];
	d->op = *op;
	int64_t n[4] = {0, 0, 0, 0};
	int32_t cin = op->x.dims[3], cout = op->y.dims[3];
	switch (op->kind) {
	case RL_OP_CONV:
		n[0] = (int64_t)op->kh * op->kw * cin * cout;
		n[1] = cout;
		break;
	case RL_OP_DW:
		n[0] = (int64_t)op->kh * op->kw * cout;
		n[1] = cout;
		break;
	case RL_OP_SE:
		n[0] = (int64_t)cin * op->hidden;
		n[1] = op->hidden;
		n[2] = (int64_t)op->hidden * cin;
		n[3] = cin;
		break;
	case RL_OP_BINARY:
		if (op->flags & RL_OPF_CONST_Z) {
			/* the constant's own dense size: dims where the stride is not 0 */
			int64_t c = 1;
			for (int i = 0; i < 4; i++)
				if (op->z.strides[i] != 0)
					c = (int64_t)op->z.strides[i] * op->z.dims[i] > c ? (int64_t)op->z.strides[i] * op->z.dims[i] : c;
			n[0] = c;
		}
		break;
	}
	const float *src[4] = {w0, w1, w2, w3};
	for (int i = 0; i < 4; i++) {
		d->w[i] = NULL;
		if (!n[i])
			continue;
		if (!src[i])
			return fail(err, errlen, RL_ERR_ARG, "op %d: constant %d missing", e->nops, i);
		d->w[i] = malloc((size_t)n[i] * sizeof(float));
		if (!d->w[i])
			return fail(err, errlen, RL_ERR_OOM, "op %d weights", e->nops);
		for (int64_t k = 0; k < n[i]; k++) {
			float v = src[i][k];
			/* conv/depthwise weights and constants live in the compute precision; biases and
			 * the squeeze-excitation stay float32 */
			int half = e->cfg.precision == RL_PREC_FP16 && i == 0 && op->kind != RL_OP_SE;
			d->w[i][k] = half ? rl_h2f(rl_f2h(v)) : v;
		}
	}
	e->nops++;
	return RL_OK;
}

int32_t rl_add_output(rl_engine *e, const rl_tensor *t, char *err, int32_t errlen) {
	if (e->nouts >= MAXOUT)
		return fail(err, errlen, RL_ERR_UNSUPPORTED, "more than %d outputs", MAXOUT);
	if (t->dtype != RL_F32)
		return fail(err, errlen, RL_ERR_ARG, "output %d is not float32", e->nouts);
	e->outs[e->nouts++] = *t;
	return RL_OK;
}

int32_t rl_finalize(rl_engine *e, char *err, int32_t errlen) {
	for (int p = 0; p < e->cfg.pipelines; p++)
		for (int i = 0; i < e->nouts; i++) {
			e->pipes[p].host_out[i] = calloc((size_t)count(&e->outs[i]), sizeof(float));
			if (!e->pipes[p].host_out[i])
				return fail(err, errlen, RL_ERR_OOM, "host output buffer");
		}
	e->final = 1;
	return RL_OK;
}

float *rl_host_input(rl_engine *e, int32_t p) { return e->pipes[p].host_in; }
float *rl_host_output(rl_engine *e, int32_t p, int32_t i) { return e->pipes[p].host_out[i]; }

uint8_t *rl_staging(rl_engine *e, int32_t p, int64_t bytes) {
	pipe_t *q = &e->pipes[p];
	if (bytes > q->staging_cap) {
		int64_t cap = bytes + bytes / 2;
		uint8_t *s = realloc(q->staging, (size_t)cap);
		if (!s)
			return NULL;
		q->staging_cap = cap;
		q->staging = s;
	}
	return q->staging;
}

/* ---- ops ---- */

static void run_conv(rl_engine *e, uint8_t *a, const opd_t *d, int n) {
	const rl_op *o = &d->op;
	int N = nb(&o->y, n), OH = o->y.dims[1], OW = o->y.dims[2], CO = o->y.dims[3];
	int H = o->x.dims[1], W = o->x.dims[2], CI = o->x.dims[3];
	int dw = o->kind == RL_OP_DW, M = dw ? (o->mult > 0 ? o->mult : 1) : 1;
	const float *sc = (o->flags & RL_OPF_SCALE) ? (const float *)(a + o->s.offset) : NULL;
	int K = dw ? o->kh * o->kw : o->kh * o->kw * CI;
	float *patch = malloc(sizeof(float) * (size_t)K * (dw ? CO : 1));
	float *acc = malloc(sizeof(float) * (size_t)CO);
	for (int b = 0; b < N; b++)
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				/* gather the receptive field (zero outside the input) */
				for (int ky = 0; ky < o->kh; ky++) {
					int iy = oy * o->sh - o->pad_t + ky * o->dh;
					for (int kx = 0; kx < o->kw; kx++) {
						int ix = ox * o->sw - o->pad_l + kx * o->dw;
						int in = iy >= 0 && iy < H && ix >= 0 && ix < W;
						int t = ky * o->kw + kx;
						if (dw) {
							for (int oc = 0; oc < CO; oc++)
								patch[(int64_t)t * CO + oc] = in ? ld(a, &o->x, idx(&o->x, b, iy, ix, oc / M)) : 0.f;
							continue;
						}
						for (int ci = 0; ci < CI; ci++) {
							float xv = in ? ld(a, &o->x, idx(&o->x, b, iy, ix, ci)) : 0.f;
							if (sc && in) {
								xv *= sc[(int64_t)b * o->s.strides[0] + ci];
								if (e->cfg.precision == RL_PREC_FP16)
									xv = rl_h2f(rl_f2h(xv));
							}
							patch[(int64_t)t * CI + ci] = xv;
						}
					}
				}
				for (int oc = 0; oc < CO; oc++)
					acc[oc] = 0;
				if (dw) {
					for (int k = 0; k < K; k++) {
						const float *w = d->w[0] + (int64_t)k * CO, *p = patch + (int64_t)k * CO;
						for (int oc = 0; oc < CO; oc++)
							acc[oc] += p[oc] * w[oc];
					}
				} else {
					for (int k = 0; k < K; k++) {
						float p = patch[k];
						const float *w = d->w[0] + (int64_t)k * CO;
						if (p == 0.f)
							continue;
						for (int oc = 0; oc < CO; oc++)
							acc[oc] += p * w[oc];
					}
				}
				for (int oc = 0; oc < CO; oc++) {
					float v = acc[oc];
					if (dw && sc)
						v *= sc[(int64_t)b * o->s.strides[0] + oc / M];
					v += d->w[1][oc];
					if (o->flags & RL_OPF_RESIDUAL)
						v += ld(a, &o->z, idx(&o->z, b, oy, ox, oc));
					st(a, &o->y, idx(&o->y, b, oy, ox, oc), rl_act(o->act, v, o->alpha, o->beta));
				}
			}
	free(patch);
	free(acc);
}

static void run_elementwise(uint8_t *a, const opd_t *d, int n) {
	const rl_op *o = &d->op;
	int N = nb(&o->y, n);
	for (int b = 0; b < N; b++)
		for (int h = 0; h < o->y.dims[1]; h++)
			for (int w = 0; w < o->y.dims[2]; w++)
				for (int c = 0; c < o->y.dims[3]; c++) {
					float x = ld(a, &o->x, idx(&o->x, b, h, w, c)), v;
					switch (o->kind) {
					case RL_OP_BINARY: {
						float z = (o->flags & RL_OPF_CONST_Z) ? d->w[0][idx(&o->z, b, h, w, c)]
						                                     : ld(a, &o->z, idx(&o->z, b, h, w, c));
						v = rl_binop(o->sub, x, z);
						break;
					}
					case RL_OP_UNARY:
						v = rl_unop(o->sub, x);
						break;
					case RL_OP_SCALE:
						v = x * ((const float *)(a + o->s.offset))[(int64_t)b * o->s.strides[0] + c];
						break;
					default: /* copy */
						v = x;
					}
					st(a, &o->y, idx(&o->y, b, h, w, c), rl_act(o->act, v, o->alpha, o->beta));
				}
}

static void run_mean(uint8_t *a, const opd_t *d, int n) {
	const rl_op *o = &d->op;
	int N = nb(&o->x, n), H = o->x.dims[1], W = o->x.dims[2], C = o->x.dims[3];
	for (int b = 0; b < N; b++) {
		float *m = calloc((size_t)C, sizeof(float)), *h1 = NULL;
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				for (int c = 0; c < C; c++)
					m[c] += ld(a, &o->x, idx(&o->x, b, y, x, c));
		for (int c = 0; c < C; c++)
			m[c] /= (float)(H * W);
		if (o->kind == RL_OP_MEAN) {
			for (int c = 0; c < C; c++)
				st(a, &o->y, idx(&o->y, b, 0, 0, c), m[c]);
			free(m);
			continue;
		}
		h1 = calloc((size_t)o->hidden, sizeof(float));
		for (int r = 0; r < o->hidden; r++) {
			float acc = d->w[1][r];
			for (int c = 0; c < C; c++)
				acc += m[c] * d->w[0][(int64_t)c * o->hidden + r];
			h1[r] = rl_act(o->act, acc, o->alpha, o->beta);
		}
		for (int c = 0; c < C; c++) {
			float acc = d->w[3][c];
			for (int r = 0; r < o->hidden; r++)
				acc += h1[r] * d->w[2][(int64_t)r * C + c];
			st(a, &o->y, idx(&o->y, b, 0, 0, c), rl_act(o->act2, acc, o->alpha2, o->beta2));
		}
		free(m);
		free(h1);
	}
}

static void run_resize(uint8_t *a, const opd_t *d, int n) {
	const rl_op *o = &d->op;
	int N = nb(&o->y, n), H = o->x.dims[1], W = o->x.dims[2], OH = o->y.dims[1], OW = o->y.dims[2], C = o->y.dims[3];
	for (int b = 0; b < N; b++)
		for (int oy = 0; oy < OH; oy++) {
			double sy = rl_resize_coord(o->coord, oy, H, OH, o->ratio_h);
			for (int ox = 0; ox < OW; ox++) {
				double sx = rl_resize_coord(o->coord, ox, W, OW, o->ratio_w);
				for (int c = 0; c < C; c++) {
					float v;
					if (o->sub == RL_RESIZE_NEAREST) {
						v = ld(a, &o->x, idx(&o->x, b, rl_nearest(o->nearest, sy, H), rl_nearest(o->nearest, sx, W), c));
					} else {
						int y0, y1, x0, x1;
						float fy, fx;
						rl_bilinear_taps(sy, H, &y0, &y1, &fy);
						rl_bilinear_taps(sx, W, &x0, &x1, &fx);
						float tl = ld(a, &o->x, idx(&o->x, b, y0, x0, c)), tr = ld(a, &o->x, idx(&o->x, b, y0, x1, c));
						float bl = ld(a, &o->x, idx(&o->x, b, y1, x0, c)), br = ld(a, &o->x, idx(&o->x, b, y1, x1, c));
						float top = tl + (tr - tl) * fx, bot = bl + (br - bl) * fx;
						v = top + (bot - top) * fy;
					}
					st(a, &o->y, idx(&o->y, b, oy, ox, c), rl_act(o->act, v, o->alpha, o->beta));
				}
			}
		}
}

static void run_pool(uint8_t *a, const opd_t *d, int n) {
	const rl_op *o = &d->op;
	int N = nb(&o->y, n), H = o->x.dims[1], W = o->x.dims[2], OH = o->y.dims[1], OW = o->y.dims[2], C = o->y.dims[3];
	for (int b = 0; b < N; b++)
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++)
				for (int c = 0; c < C; c++) {
					float acc = o->sub == RL_POOL_MAX ? -INFINITY : 0.f;
					int cnt = 0;
					for (int ky = 0; ky < o->kh; ky++) {
						int iy = oy * o->sh - o->pad_t + ky * o->dh;
						for (int kx = 0; kx < o->kw; kx++) {
							int ix = ox * o->sw - o->pad_l + kx * o->dw;
							if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
								if ((o->flags & RL_OPF_COUNT_PAD) && iy < H + o->pad_b && ix < W + o->pad_r)
									cnt++;
								continue;
							}
							float v = ld(a, &o->x, idx(&o->x, b, iy, ix, c));
							acc = o->sub == RL_POOL_MAX ? fmaxf(acc, v) : acc + v;
							cnt++;
						}
					}
					if (o->sub == RL_POOL_AVG && cnt > 0)
						acc /= (float)cnt;
					st(a, &o->y, idx(&o->y, b, oy, ox, c), rl_act(o->act, acc, o->alpha, o->beta));
				}
}

static rl_tensor input_tensor(const rl_engine *e) {
	rl_tensor t;
	memset(&t, 0, sizeof t);
	t.offset = e->cfg.input_offset;
	t.dims[0] = e->cfg.max_batch, t.dims[1] = e->cfg.in_h, t.dims[2] = e->cfg.in_w, t.dims[3] = e->cfg.in_c;
	t.strides[3] = 1, t.strides[2] = e->cfg.in_c, t.strides[1] = e->cfg.in_w * e->cfg.in_c;
	t.strides[0] = e->cfg.in_h * t.strides[1];
	t.dtype = e->cfg.precision == RL_PREC_FP16 ? RL_F16 : RL_F32;
	return t;
}

int32_t rl_preprocess(rl_engine *e, int32_t p, int32_t n, const rl_image *imgs, char *err, int32_t errlen) {
	pipe_t *q = &e->pipes[p];
	rl_tensor t = input_tensor(e);
	if (e->cfg.in_c != 3)
		return fail(err, errlen, RL_ERR_UNSUPPORTED, "pre-processing needs a 3-channel input, not %d", e->cfg.in_c);
	for (int j = 0; j < n; j++) {
		const rl_image *im = &imgs[j];
		if (im->format == RL_PIX_JPEG)
			return fail(err, errlen, RL_ERR_UNSUPPORTED, "the CPU twin has no JPEG decoder");
		if (im->format < RL_PIX_RGB || im->format > RL_PIX_YUYV)
			return fail(err, errlen, RL_ERR_ARG, "image %d: pixel format %d", j, im->format);
		const uint8_t *p0 = q->staging + im->off[0], *p1 = q->staging + im->off[1], *p2 = q->staging + im->off[2];
		for (int oy = 0; oy < e->cfg.in_h; oy++)
			for (int ox = 0; ox < e->cfg.in_w; ox++) {
				int inside = ox >= im->dx && ox < im->dx + im->nw && oy >= im->dy && oy < im->dy + im->nh;
				int x0 = 0, x1 = 0, y0 = 0, y1 = 0;
				double fx = 0, fy = 0;
				if (inside) {
					rl_prep_taps(ox - im->dx, im->width, im->nw, im->half_pixel, &x0, &x1, &fx);
					rl_prep_taps(oy - im->dy, im->height, im->nh, im->half_pixel, &y0, &y1, &fy);
				}
				for (int c = 0; c < 3; c++) {
					float v = 0;
					if (inside) {
#define PX(x, y) rl_pixel(im->format, p0, p1, p2, im->stride, im->cstride, im->sub_x, im->sub_y, x, y, c)
						v = rl_prep_lerp(PX(x0, y0), PX(x1, y0), PX(x0, y1), PX(x1, y1), fx, fy);
#undef PX
					}
					st(q->arena, &t, idx(&t, j, oy, ox, c), v);
				}
			}
	}
	return RL_OK;
}

int32_t rl_run(rl_engine *e, int32_t p, int32_t n, int32_t source, char *err, int32_t errlen) {
	if (!e->final)
		return fail(err, errlen, RL_ERR_STATE, "run before finalize");
	if (n < 1 || n > e->cfg.max_batch)
		return fail(err, errlen, RL_ERR_ARG, "%d images for a batch of %d", n, e->cfg.max_batch);
	pipe_t *q = &e->pipes[p];
	if (!e->cfg.batched_run)
		n = e->cfg.max_batch;
	if (source == RL_SRC_HOST) {
		rl_tensor t = input_tensor(e);
		int64_t k = (int64_t)n * t.strides[0];
		for (int64_t i = 0; i < k; i++)
			st(q->arena, &t, i, q->host_in[i]);
	}
	for (int i = 0; i < e->nops; i++) {
		const opd_t *d = &e->ops[i];
		switch (d->op.kind) {
		case RL_OP_CONV:
		case RL_OP_DW:
			run_conv(e, q->arena, d, n);
			break;
		case RL_OP_BINARY:
		case RL_OP_UNARY:
		case RL_OP_SCALE:
		case RL_OP_COPY:
			run_elementwise(q->arena, d, n);
			break;
		case RL_OP_MEAN:
		case RL_OP_SE:
			run_mean(q->arena, d, n);
			break;
		case RL_OP_RESIZE:
			run_resize(q->arena, d, n);
			break;
		case RL_OP_POOL:
			run_pool(q->arena, d, n);
			break;
		}
	}
	q->last_n = n;
	return RL_OK;
}

int32_t rl_wait(rl_engine *e, int32_t p, char *err, int32_t errlen) {
	(void)e, (void)p, (void)err, (void)errlen;
	return RL_OK;
}

int32_t rl_fetch(rl_engine *e, int32_t p, int32_t i, int32_t n, char *err, int32_t errlen) {
	if (i < 0 || i >= e->nouts)
		return fail(err, errlen, RL_ERR_ARG, "output %d of %d", i, e->nouts);
	pipe_t *q = &e->pipes[p];
	const rl_tensor *t = &e->outs[i];
	int64_t k = (t->batched ? n : t->dims[0]) * (int64_t)t->strides[0];
	memcpy(q->host_out[i], q->arena + t->offset, (size_t)k * 4);
	return RL_OK;
}

typedef struct {
	float v;
	int32_t i;
} cand_t;

static int cand_cmp(const void *pa, const void *pb) {
	const cand_t *a = pa, *b = pb;
	if (a->v != b->v)
		return a->v > b->v ? -1 : 1;
	return a->i < b->i ? -1 : (a->i > b->i);
}

int64_t rl_peaks_offset(rl_engine *e) { return ((int64_t)e->cfg.max_batch * 4 + 15) & ~(int64_t)15; }

int32_t rl_peaks(rl_engine *e, int32_t p, int32_t n, int32_t kp, int32_t wh, const float *thr, int32_t top_k,
                 char *err, int32_t errlen) {
	pipe_t *q = &e->pipes[p];
	if (kp < 0 || kp >= e->nouts || wh < 0 || wh >= e->nouts || top_k < 1 || top_k > RL_PEAK_CAP)
		return fail(err, errlen, RL_ERR_ARG, "peaks of outputs %d, %d, top %d", kp, wh, top_k);
	const rl_tensor *tk = &e->outs[kp], *tw = &e->outs[wh];
	if (tw->dims[3] != 4 || tw->dims[1] != tk->dims[1] || tw->dims[2] != tk->dims[2])
		return fail(err, errlen, RL_ERR_ARG, "box output is not H x W x 4 of the heat map");
	if (top_k > q->peaks_topk) {
		free(q->peaks);
		q->peaks = calloc(1, (size_t)(rl_peaks_offset(e) + (int64_t)e->cfg.max_batch * top_k * sizeof(rl_peak)));
		if (!q->peaks)
			return fail(err, errlen, RL_ERR_OOM, "peak results");
		q->peaks_topk = top_k;
	}
	int H = tk->dims[1], W = tk->dims[2], C = tk->dims[3];
	cand_t *cs = malloc(sizeof(cand_t) * (size_t)H * W * C);
	for (int j = 0; j < n; j++) {
		const float *k = (const float *)(q->arena + tk->offset) + (int64_t)j * tk->strides[0];
		const float *w4 = (const float *)(q->arena + tw->offset) + (int64_t)j * tw->strides[0];
		int m = 0;
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				for (int c = 0; c < C; c++) {
					float v = k[((int64_t)y * W + x) * C + c];
					if (!(v > thr[c]))
						continue;
					int peak = 1;
					for (int yy = y > 0 ? y - 1 : 0; yy <= (y < H - 1 ? y + 1 : H - 1) && peak; yy++)
						for (int xx = x > 0 ? x - 1 : 0; xx <= (x < W - 1 ? x + 1 : W - 1); xx++)
							if (k[((int64_t)yy * W + xx) * C + c] > v) {
								peak = 0;
								break;
							}
					if (peak) {
						cs[m].v = v;
						cs[m].i = (int32_t)(((int64_t)y * W + x) * C + c);
						m++;
					}
				}
		int32_t *counts = (int32_t *)q->peaks;
		rl_peak *out = (rl_peak *)(q->peaks + rl_peaks_offset(e)) + (int64_t)j * top_k;
		if (m > RL_PEAK_CAP) {
			counts[j] = -1;
			continue;
		}
		qsort(cs, (size_t)m, sizeof(cand_t), cand_cmp);
		counts[j] = m < top_k ? m : top_k;
		for (int r = 0; r < counts[j]; r++) {
			out[r].index = cs[r].i;
			out[r].score = cs[r].v;
			int cell = cs[r].i / C;
			for (int t = 0; t < 4; t++)
				out[r].wh[t] = w4[(int64_t)cell * 4 + t];
		}
	}
	free(cs);
	return RL_OK;
}

void *rl_host_peaks(rl_engine *e, int32_t p) { return e->pipes[p].peaks; }

int32_t rl_luma(rl_engine *e, int32_t p, int32_t slot, int32_t w, int32_t h, uint8_t *host, char *err, int32_t errlen) {
	(void)e, (void)p, (void)slot, (void)w, (void)h, (void)host;
	return fail(err, errlen, RL_ERR_UNSUPPORTED, "the CPU twin has no JPEG decoder: no JPEG picture to read");
}

int32_t rl_luma_rects(rl_engine *e, int32_t p, int32_t n, const int32_t *rects, uint8_t *host, int64_t cap, char *err,
                      int32_t errlen) {
	(void)e, (void)p, (void)n, (void)rects, (void)host, (void)cap;
	return fail(err, errlen, RL_ERR_UNSUPPORTED, "the CPU twin has no JPEG decoder: no JPEG picture to read");
}

int32_t rl_read(rl_engine *e, int32_t p, int64_t offset, int64_t bytes, void *host, char *err, int32_t errlen) {
	if (offset < 0 || offset + bytes > e->cfg.arena_bytes)
		return fail(err, errlen, RL_ERR_ARG, "read %lld bytes at %lld of a %lld-byte arena", (long long)bytes,
		            (long long)offset, (long long)e->cfg.arena_bytes);
	memcpy(host, e->pipes[p].arena + offset, (size_t)bytes);
	return RL_OK;
}

#include <time.h>

int32_t rl_profile(rl_engine *e, int32_t p, int32_t n, int32_t reps, float *ms, char *err, int32_t errlen) {
	if (!e->final || n < 1 || n > e->cfg.max_batch || reps < 1)
		return fail(err, errlen, RL_ERR_ARG, "profile %d images, %d repetitions", n, reps);
	for (int i = 0; i < e->nops; i++)
		ms[i] = 0;
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < e->nops; i++) {
			struct timespec a, b;
			int saved = e->nops;
			opd_t keep = e->ops[0];
			clock_gettime(CLOCK_MONOTONIC, &a);
			e->ops[0] = e->ops[i];
			e->nops = 1;
			int32_t st = rl_run(e, p, n, RL_SRC_DEVICE, err, errlen);
			e->nops = saved;
			e->ops[0] = keep;
			clock_gettime(CLOCK_MONOTONIC, &b);
			if (st != RL_OK)
				return st;
			ms[i] += (float)((b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6) / (float)reps;
		}
	return RL_OK;
}

int32_t rl_info(rl_engine *e, char *buf, int32_t len) {
	return snprintf(buf, (size_t)len, "gpu-twin (CPU) %s ×%d", e->cfg.precision == RL_PREC_FP16 ? "fp16" : "fp32",
	                e->cfg.pipelines);
}

void rl_destroy(rl_engine *e) {
	if (!e)
		return;
	for (int i = 0; i < e->nops; i++)
		for (int k = 0; k < 4; k++)
			free(e->ops[i].w[k]);
	for (int p = 0; p < MAXPIPE; p++) {
		free(e->pipes[p].arena);
		free(e->pipes[p].host_in);
		free(e->pipes[p].staging);
		free(e->pipes[p].peaks);
		for (int i = 0; i < MAXOUT; i++)
			free(e->pipes[p].host_out[i]);
	}
	free(e);
}
