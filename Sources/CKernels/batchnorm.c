/* BatchNorm's four passes over a block of channels [k0, k0 + channels) of `images` images: plane
 * (i, k) of a tensor t lives at t + i·ts + k·spatial, with t pointing at channel k0 of image 0 and
 * every per-channel array at entry k0.
 *
 * The walk is image-major inside the block (for each image, the block's planes in turn: one
 * contiguous run of channels·spatial floats), so small planes are read as long streams rather
 * than 256-byte pieces a page apart, and a block sized to the cache is read from it by the
 * second pass. A channel's planes are still visited in image order, so every channel's sums
 * are the same whatever the blocking or the thread count.
 *
 * Per plane, 16 float lanes (vf16: the same arithmetic at every SIMD level) over runs of at most
 * 1024 values, each run's lanes summed in a fixed order into a double. Contraction is off: the
 * backward's ReLU mask (x − mean)·scale + shift > 0 repeats the forward's rounding exactly. */
#include "lanes.h"
#pragma clang fp contract(off)

#define RUN 1024

typedef int vi16 __attribute__((vector_size(64), aligned(4)));

static inline const vf16 *at(const float *p) { return (const vf16 *)p; }

/* Σ(x − shift) and Σ(x − shift)² of one plane. */
BODY void plane_moments(int n, const float *x, float shift, double *s1, double *s2) {
    const vf16 sh = SPLAT(shift);
    int j = 0;
    while (j < n) {
        int end = j + RUN < n ? j + RUN : n;
        vf16 a = { 0 }, q = { 0 };
        float ta = 0, tq = 0;
        for (; j + 16 <= end; j += 16) { vf16 d = *at(x + j) - sh; a += d; q += d * d; }
        for (; j < end; j++) { float d = x[j] - shift; ta += d; tq += d * d; }
        *s1 += (double)lane_sum(&a) + (double)ta;
        *s2 += (double)lane_sum(&q) + (double)tq;
    }
}

BODY void ck_bn_moments_body(int images, int channels, int spatial, const float *x, size_t xs,
                             const float *shift, double *s1, double *s2) {
    for (int i = 0; i < images; i++)
        for (int k = 0; k < channels; k++)
            plane_moments(spatial, x + i * xs + (size_t)k * spatial, shift[k], s1 + k, s2 + k);
}
VARIANTS(ck_bn_moments, (int images, int channels, int spatial, const float *x, size_t xs, const float *shift,
                         double *s1, double *s2),
         (images, channels, spatial, x, xs, shift, s1, s2))

/* y = relu?((x − mean)·scale + shift): the forward's value, and its sign for the backward's mask. */
#define AFFINE16(x, mean, scale, shift) (((x) - (mean)) * (scale) + (shift))
BODY float affine1(float x, float mean, float scale, float shift) { return (x - mean) * scale + shift; }

BODY void ck_bn_apply_body(int images, int channels, int spatial, const float *x, size_t xs, float *y, size_t ys,
                           const float *mean, const float *scale, const float *shift, int relu) {
    const vf16 zero = { 0 };
    for (int i = 0; i < images; i++)
        for (int k = 0; k < channels; k++) {
            const float *src = x + i * xs + (size_t)k * spatial;
            float *dst = y + i * ys + (size_t)k * spatial;
            const vf16 m = SPLAT(mean[k]), sc = SPLAT(scale[k]), sh = SPLAT(shift[k]);
            int j = 0;
            for (; j + 16 <= spatial; j += 16) {
                vf16 v = AFFINE16(*at(src + j), m, sc, sh);
                if (relu) v = (vf16)((vi16)v & (v > zero));
                *(vf16 *)(dst + j) = v;
            }
            for (; j < spatial; j++) {
                float v = affine1(src[j], mean[k], scale[k], shift[k]);
                dst[j] = relu && !(v > 0) ? 0 : v;
            }
        }
}
VARIANTS(ck_bn_apply, (int images, int channels, int spatial, const float *x, size_t xs, float *y, size_t ys,
                       const float *mean, const float *scale, const float *shift, int relu),
         (images, channels, spatial, x, xs, y, ys, mean, scale, shift, relu))

/* Σĝ and Σĝ·(x − mean) of one plane, ĝ = g where the fused ReLU passed its input. */
BODY void plane_gradient_sums(int n, const float *g, const float *x, float mean, float scale, float shift, int relu,
                              double *sg, double *sgx) {
    const vf16 m = SPLAT(mean), sc = SPLAT(scale), sh = SPLAT(shift), zero = { 0 };
    int j = 0;
    while (j < n) {
        int end = j + RUN < n ? j + RUN : n;
        vf16 a = { 0 }, q = { 0 };
        float ta = 0, tq = 0;
        for (; j + 16 <= end; j += 16) {
            vf16 xv = *at(x + j), gv = *at(g + j), xc = xv - m;
            if (relu) gv = (vf16)((vi16)gv & (AFFINE16(xv, m, sc, sh) > zero));
            a += gv; q += gv * xc;
        }
        for (; j < end; j++) {
            float gv = !relu || affine1(x[j], mean, scale, shift) > 0 ? g[j] : 0;
            ta += gv; tq += gv * (x[j] - mean);
        }
        *sg += (double)lane_sum(&a) + (double)ta;
        *sgx += (double)lane_sum(&q) + (double)tq;
    }
}

BODY void ck_bn_gradient_sums_body(int images, int channels, int spatial, const float *g, size_t gs, const float *x,
                                   size_t xs, const float *mean, const float *scale, const float *shift, int relu,
                                   double *sg, double *sgx) {
    for (int i = 0; i < images; i++)
        for (int k = 0; k < channels; k++) {
            size_t p = (size_t)k * spatial;
            plane_gradient_sums(spatial, g + i * gs + p, x + i * xs + p, mean[k], scale[k], shift[k], relu,
                                sg + k, sgx + k);
        }
}
VARIANTS(ck_bn_gradient_sums, (int images, int channels, int spatial, const float *g, size_t gs, const float *x,
                               size_t xs, const float *mean, const float *scale, const float *shift, int relu,
                               double *sg, double *sgx),
         (images, channels, spatial, g, gs, x, xs, mean, scale, shift, relu, sg, sgx))

/* dst (+)= scale·ĝ + b·(x − mean) + d. */
BODY void ck_bn_gradient_body(int images, int channels, int spatial, const float *g, size_t gs, const float *x,
                              size_t xs, float *dst, size_t ds, const float *mean, const float *scale,
                              const float *shift, const float *b, const float *d, int relu, int accumulate) {
    const vf16 zero = { 0 };
    for (int i = 0; i < images; i++)
        for (int k = 0; k < channels; k++) {
            size_t p = (size_t)k * spatial;
            const float *gp = g + i * gs + p, *xp = x + i * xs + p;
            float *out = dst + i * ds + p;
            const vf16 m = SPLAT(mean[k]), sc = SPLAT(scale[k]), sh = SPLAT(shift[k]);
            const vf16 bv = SPLAT(b[k]), dv = SPLAT(d[k]);
            int j = 0;
            for (; j + 16 <= spatial; j += 16) {
                vf16 xv = *at(xp + j), gv = *at(gp + j);
                if (relu) gv = (vf16)((vi16)gv & (AFFINE16(xv, m, sc, sh) > zero));
                vf16 v = sc * gv + bv * (xv - m) + dv;
                if (accumulate) v += *at(out + j);
                *(vf16 *)(out + j) = v;
            }
            for (; j < spatial; j++) {
                float gv = !relu || affine1(xp[j], mean[k], scale[k], shift[k]) > 0 ? gp[j] : 0;
                float v = scale[k] * gv + b[k] * (xp[j] - mean[k]) + d[k];
                out[j] = accumulate ? out[j] + v : v;
            }
        }
}
VARIANTS(ck_bn_gradient, (int images, int channels, int spatial, const float *g, size_t gs, const float *x, size_t xs,
                          float *dst, size_t ds, const float *mean, const float *scale, const float *shift,
                          const float *b, const float *d, int relu, int accumulate),
         (images, channels, spatial, g, gs, x, xs, dst, ds, mean, scale, shift, b, d, relu, accumulate))
