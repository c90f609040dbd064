// jpeg.cu: batched JPEG decoding with nvJPEG into per-slot RGB buffers on the device:
// the hardware decoder where the GPU has one (A100, H100/H200, Orin), else nvJPEG's
// CUDA decoder; an image the batched path refuses is decoded on its own.
#include <stdlib.h>
#include <string.h>

#include "internal.cuh"

#ifdef ROADLOG_NO_NVJPEG

Status jpeg_init(Engine *) { return ok_status(); }
Status jpeg_pipe_init(Engine *, Pipe *) { return ok_status(); }
Status jpeg_decode(Engine *, Pipe *, int, rl_image *, uint8_t **) {
	return make_status(RL_ERR_UNSUPPORTED, "this library was built without nvJPEG");
}
Status jpeg_luma(Engine *, Pipe *, int, int, int, uint8_t *) {
	return make_status(RL_ERR_UNSUPPORTED, "this library was built without nvJPEG: no JPEG picture to read");
}
Status jpeg_luma_rects(Engine *, Pipe *, int, const int32_t *, uint8_t *, int64_t) {
	return make_status(RL_ERR_UNSUPPORTED, "this library was built without nvJPEG: no JPEG picture to read");
}
void jpeg_destroy(Engine *) {}

#else

static int32_t jcode(nvjpegStatus_t s) {
	switch (s) {
	case NVJPEG_STATUS_BAD_JPEG:
	case NVJPEG_STATUS_JPEG_NOT_SUPPORTED:
	case NVJPEG_STATUS_INCOMPLETE_BITSTREAM:
		return RL_ERR_DECODE;
	case NVJPEG_STATUS_ALLOCATOR_FAILURE:
		return RL_ERR_OOM;
	default:
		return RL_ERR_LIBRARY;
	}
}

#define JPG(expr, what)                                                                                                \
	do {                                                                                                               \
		nvjpegStatus_t _s = (expr);                                                                                    \
		if (_s != NVJPEG_STATUS_SUCCESS)                                                                               \
			return make_status(jcode(_s), "%s: nvJPEG status %d", what, (int)_s);                                      \
	} while (0)

Status jpeg_init(Engine *e) {
	if (nvjpegCreateEx(NVJPEG_BACKEND_HARDWARE, nullptr, nullptr, 0, &e->jpeg) == NVJPEG_STATUS_SUCCESS) {
		e->jpeg_hw = 1;
	} else {
		e->jpeg = nullptr;
		JPG(nvjpegCreateSimple(&e->jpeg), "create nvJPEG handle");
	}
	JPG(nvjpegCreateSimple(&e->jpeg1), "create nvJPEG handle");
	for (int i = 0; i < e->cfg.pipelines; i++)
		RL_TRY(jpeg_pipe_init(e, &e->pipes[i]));
	return ok_status();
}

Status jpeg_pipe_init(Engine *e, Pipe *p) {
	JPG(nvjpegJpegStateCreate(e->jpeg, &p->jstate), "create nvJPEG state");
	JPG(nvjpegJpegStateCreate(e->jpeg1, &p->jstate1), "create nvJPEG state");
	p->jbatch = 0;
	return ok_status();
}

// grow makes the device buffer *buf hold at least need bytes, waiting for p's stream
// before it frees the smaller one.
static Status grow(Pipe *p, uint8_t **buf, int64_t *cap, int64_t need, const char *what) {
	if (need <= *cap)
		return ok_status();
	cudaStreamSynchronize(p->stream);
	cudaFree(*buf);
	*buf = nullptr, *cap = 0;
	RL_CUDA(cudaMalloc((void **)buf, (size_t)need), what);
	*cap = need;
	return ok_status();
}

// jpeg_decode decodes the JPEG images among imgs into p's slot buffers (interleaved
// RGB, pitch 3 x width) on p's stream; rgb[j] receives slot j's buffer.
Status jpeg_decode(Engine *e, Pipe *p, int n, rl_image *imgs, uint8_t **rgb) {
	const unsigned char *data[RL_MAXBATCH];
	size_t lens[RL_MAXBATCH];
	nvjpegImage_t dst[RL_MAXBATCH];
	int slot[RL_MAXBATCH];
	int m = 0;
	for (int j = 0; j < n; j++) {
		rgb[j] = nullptr;
		const rl_image &im = imgs[j];
		if (im.format != RL_PIX_JPEG)
			continue;
		int comps = 0, ws[NVJPEG_MAX_COMPONENT], hs[NVJPEG_MAX_COMPONENT];
		nvjpegChromaSubsampling_t sub;
		const unsigned char *bits = p->staging + im.off[0];
		nvjpegStatus_t hs0 = nvjpegGetImageInfo(e->jpeg1, bits, (size_t)im.len, &comps, &sub, ws, hs);
		if (hs0 != NVJPEG_STATUS_SUCCESS) // a header nvJPEG cannot read is a bad bitstream
			return make_status(hs0 == NVJPEG_STATUS_ALLOCATOR_FAILURE ? RL_ERR_OOM : RL_ERR_DECODE,
			                   "image %d: read JPEG header (%lld bytes): nvJPEG status %d", j, (long long)im.len, (int)hs0);
		if (ws[0] != im.width || hs[0] != im.height)
			return make_status(RL_ERR_DECODE, "image %d: JPEG is %dx%d, expected %dx%d", j, ws[0], hs[0], im.width,
			                   im.height);
		int64_t need = (int64_t)im.width * im.height * 3;
		JpegSlot &s = p->jpeg[j];
		RL_TRY(grow(p, &s.rgb, &s.cap, need, "allocate decoded image"));
		rgb[j] = s.rgb;
		memset(&dst[m], 0, sizeof dst[m]);
		dst[m].channel[0] = s.rgb;
		dst[m].pitch[0] = (size_t)im.width * 3;
		data[m] = bits;
		lens[m] = (size_t)im.len;
		slot[m] = j;
		m++;
	}
	if (m == 0)
		return ok_status();
	if (p->jbatch != m) {
		JPG(nvjpegDecodeBatchedInitialize(e->jpeg, p->jstate, m, 1, NVJPEG_OUTPUT_RGBI), "initialise batched decode");
		p->jbatch = m;
	}
	nvjpegStatus_t st = nvjpegDecodeBatched(e->jpeg, p->jstate, data, lens, dst, p->stream);
	if (st != NVJPEG_STATUS_SUCCESS) {
		// the batched decoder refused (e.g. progressive JPEG on the hardware decoder): one by one
		p->jbatch = 0;
		for (int i = 0; i < m; i++) {
			nvjpegStatus_t s1 =
			    nvjpegDecode(e->jpeg1, p->jstate1, data[i], lens[i], NVJPEG_OUTPUT_RGBI, &dst[i], p->stream);
			if (s1 != NVJPEG_STATUS_SUCCESS)
				return make_status(jcode(s1), "decode JPEG image %d (%zu bytes): nvJPEG status %d (batched: %d)",
				                   slot[i], lens[i], (int)s1, (int)st);
		}
	}
	for (int i = 0; i < m; i++) {
		JpegSlot &s = p->jpeg[slot[i]];
		s.w = imgs[slot[i]].width, s.h = imgs[slot[i]].height, s.ready = true;
	}
	return ok_status();
}

// luma8 is the BT.601 luminance of an RGB pixel, rounded as Go's image/color does.
__device__ __forceinline__ uint8_t luma8(const uint8_t *px) {
	uint32_t r = px[0], g = px[1], b = px[2];
	return (uint8_t)((19595u * r + 38470u * g + 7471u * b + (1u << 15)) >> 16);
}

// rgb_luma writes the luminance of n interleaved RGB pixels.
__global__ void rgb_luma(const uint8_t *rgb, uint8_t *y, int64_t n) {
	int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] = luma8(rgb + 3 * i);
}

// rects_luma writes the luminance of rectangles of the slots' pictures, one per
// blockIdx.y (RectJob), row-major at each job's offset of y.
__global__ void rects_luma(const RectJob *jobs, uint8_t *y) {
	const RectJob q = jobs[blockIdx.y];
	int64_t rw = q.x1 - q.x0, n = rw * (q.y1 - q.y0);
	uint8_t *out = y + q.off;
	for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
		int64_t row = q.y0 + i / rw, col = q.x0 + i % rw;
		out[i] = luma8(q.rgb + 3 * (row * q.w + col));
	}
}

// jpeg_luma copies the luminance of slot's picture, decoded by the last pre-processing,
// to host (w×h bytes): what the pipeline aligns to measure looming, without decoding
// the JPEG a second time on the host.
Status jpeg_luma(Engine *e, Pipe *p, int slot, int w, int h, uint8_t *host) {
	if (slot < 0 || slot >= RL_MAXBATCH)
		return make_status(RL_ERR_ARG, "luma of slot %d", slot);
	JpegSlot &s = p->jpeg[slot];
	if (!s.ready || s.w != w || s.h != h)
		return make_status(RL_ERR_ARG, "slot %d holds no %dx%d JPEG picture decoded by the last pre-processing", slot,
		                   w, h);
	int64_t n = (int64_t)w * h;
	RL_TRY(grow(p, &s.luma, &s.luma_cap, n, "allocate luminance"));
	rgb_luma<<<(unsigned)((n + 255) / 256), 256, 0, p->stream>>>(s.rgb, s.luma, n);
	RL_CUDA(cudaGetLastError(), "launch luminance");
	RL_CUDA(cudaMemcpyAsync(host, s.luma, (size_t)n, cudaMemcpyDeviceToHost, p->stream), "copy luminance");
	RL_CUDA(cudaStreamSynchronize(p->stream), "wait for luminance");
	return ok_status();
}

// jpeg_luma_rects copies the luminance of n rectangles of the slots' pictures,
// decoded by the last pre-processing, to host, one after the other (cap bytes at
// most): one kernel, one copy, one wait.
Status jpeg_luma_rects(Engine *e, Pipe *p, int n, const int32_t *rects, uint8_t *host, int64_t cap) {
	(void)e;
	if (n < 1 || n > 65535)
		return make_status(RL_ERR_ARG, "luma of %d rectangles", n);
	if (n > p->rect_cap) { // the job tables: pinned on the host, and on the device
		int64_t c = n < 256 ? 256 : n;
		RectJob *h = nullptr, *d = nullptr;
		RL_CUDA(cudaStreamSynchronize(p->stream), "wait before growing the rectangle table");
		if (cudaHostAlloc((void **)&h, (size_t)c * sizeof(RectJob), cudaHostAllocDefault) != cudaSuccess ||
		    cudaMalloc((void **)&d, (size_t)c * sizeof(RectJob)) != cudaSuccess) {
			cudaFreeHost(h);
			cudaFree(d);
			return make_status(RL_ERR_OOM, "rectangle table of %lld", (long long)c);
		}
		cudaFreeHost(p->rect_host);
		cudaFree(p->rect_dev);
		p->rect_host = h, p->rect_dev = d, p->rect_cap = c;
	}
	int64_t total = 0, most = 0;
	for (int r = 0; r < n; r++) {
		const int32_t *q = rects + 5 * r;
		int slot = q[0];
		if (slot < 0 || slot >= RL_MAXBATCH || !p->jpeg[slot].ready)
			return make_status(RL_ERR_ARG, "rectangle %d: slot %d holds no JPEG picture decoded by the last pre-processing",
			                   r, slot);
		const JpegSlot &s = p->jpeg[slot];
		if (q[1] < 0 || q[2] < 0 || q[3] > s.w || q[4] > s.h || q[1] >= q[3] || q[2] >= q[4])
			return make_status(RL_ERR_ARG, "rectangle %d (%d,%d)-(%d,%d) is not inside slot %d's %dx%d picture", r, q[1],
			                   q[2], q[3], q[4], slot, s.w, s.h);
		int64_t a = (int64_t)(q[3] - q[1]) * (q[4] - q[2]);
		p->rect_host[r] = RectJob{s.rgb, total, s.w, q[1], q[2], q[3], q[4], 0};
		total += a, most = a > most ? a : most;
	}
	if (total > cap)
		return make_status(RL_ERR_ARG, "%d rectangles hold %lld bytes, the host buffer %lld", n, (long long)total,
		                   (long long)cap);
	RL_TRY(grow(p, &p->rect_out, &p->rect_out_cap, total, "allocate luminance"));
	RL_CUDA(cudaMemcpyAsync(p->rect_dev, p->rect_host, (size_t)n * sizeof(RectJob), cudaMemcpyHostToDevice, p->stream),
	        "upload rectangle table");
	unsigned gx = (unsigned)((most + 255) / 256);
	rects_luma<<<dim3(gx > 64 ? 64 : gx, (unsigned)n), 256, 0, p->stream>>>(p->rect_dev, p->rect_out);
	RL_CUDA(cudaGetLastError(), "launch luminance of rectangles");
	RL_CUDA(cudaMemcpyAsync(host, p->rect_out, (size_t)total, cudaMemcpyDeviceToHost, p->stream), "copy luminance");
	RL_CUDA(cudaStreamSynchronize(p->stream), "wait for luminance");
	return ok_status();
}

void jpeg_destroy(Engine *e) {
	for (int i = 0; i < RL_MAXPIPE; i++) {
		Pipe *p = &e->pipes[i];
		if (p->jstate)
			nvjpegJpegStateDestroy(p->jstate);
		if (p->jstate1)
			nvjpegJpegStateDestroy(p->jstate1);
	}
	if (e->jpeg)
		nvjpegDestroy(e->jpeg);
	if (e->jpeg1)
		nvjpegDestroy(e->jpeg1);
}

#endif
