/* 2×2 stride-2 max-pooling of one plane, eight outputs at a time: even and odd lanes of the two
 * input rows are the window's four candidates, taken in row-major order with the rule of the
 * scalar loop (a later candidate wins when it is greater or NaN, unless a NaN already won), so
 * value and position are those of the first maximum, or of the first NaN, as PyTorch's. */
#include "lanes.h"

typedef int vi8 __attribute__((vector_size(32), aligned(4)));
typedef float vf4 __attribute__((vector_size(16), aligned(4)));
typedef int vi4 __attribute__((vector_size(16), aligned(4)));

BODY void consider(float *best, int *at, float v, int pos) {
    if (*best == *best && (v > *best || v != v)) { *best = v; *at = pos; }
}

BODY void consider8(vf8 *best, vi8 *at, vf8 v, vi8 pos) {
    vi8 take = (*best == *best) & ((v > *best) | (v != v));
    *best = (vf8)(((vi8)v & take) | ((vi8)*best & ~take));
    *at = (pos & take) | (*at & ~take);
}

BODY void consider4(vf4 *best, vi4 *at, vf4 v, vi4 pos) {
    vi4 take = (*best == *best) & ((v > *best) | (v != v));
    *best = (vf4)(((vi4)v & take) | ((vi4)*best & ~take));
    *at = (pos & take) | (*at & ~take);
}

BODY void ck_maxpool2x2_body(const float *src, int width, float *dst, int *arg, int out_height, int out_width) {
    const vi8 lanes = { 0, 2, 4, 6, 8, 10, 12, 14 };
    for (int r = 0; r < out_height; r++) {
        const float *r0 = src + (size_t)2 * r * width, *r1 = r0 + width;
        int base = 2 * r * width;
        float *d = dst + (size_t)r * out_width;
        int *a = arg + (size_t)r * out_width;
        int c = 0;
        for (; c + 8 <= out_width; c += 8) {
            vf8 lo0 = *(const vf8 *)(r0 + 2 * c), hi0 = *(const vf8 *)(r0 + 2 * c + 8);
            vf8 lo1 = *(const vf8 *)(r1 + 2 * c), hi1 = *(const vf8 *)(r1 + 2 * c + 8);
            vf8 best = __builtin_shufflevector(lo0, hi0, 0, 2, 4, 6, 8, 10, 12, 14);
            vi8 pos = lanes + (base + 2 * c), at = pos;
            consider8(&best, &at, __builtin_shufflevector(lo0, hi0, 1, 3, 5, 7, 9, 11, 13, 15), pos + 1);
            consider8(&best, &at, __builtin_shufflevector(lo1, hi1, 0, 2, 4, 6, 8, 10, 12, 14), pos + width);
            consider8(&best, &at, __builtin_shufflevector(lo1, hi1, 1, 3, 5, 7, 9, 11, 13, 15), pos + width + 1);
            *(vf8 *)(d + c) = best;
            *(vi8 *)(a + c) = at;
        }
        if (c + 4 <= out_width) {   /* 4x4 outputs (cifar_cnn's last pool) and 4-wide tails */
            vf8 t0 = *(const vf8 *)(r0 + 2 * c), t1 = *(const vf8 *)(r1 + 2 * c);
            vf4 best = __builtin_shufflevector(t0, t0, 0, 2, 4, 6);
            vi4 pos = (vi4){ 0, 2, 4, 6 } + (base + 2 * c), at = pos;
            consider4(&best, &at, __builtin_shufflevector(t0, t0, 1, 3, 5, 7), pos + 1);
            consider4(&best, &at, __builtin_shufflevector(t1, t1, 0, 2, 4, 6), pos + width);
            consider4(&best, &at, __builtin_shufflevector(t1, t1, 1, 3, 5, 7), pos + width + 1);
            *(vf4 *)(d + c) = best;
            *(vi4 *)(a + c) = at;
            c += 4;
        }
        for (; c < out_width; c++) {
            int p = base + 2 * c;
            float best = r0[2 * c];
            int at = p;
            consider(&best, &at, r0[2 * c + 1], p + 1);
            consider(&best, &at, r1[2 * c], p + width);
            consider(&best, &at, r1[2 * c + 1], p + width + 1);
            d[c] = best; a[c] = at;
        }
    }
}
VARIANTS(ck_maxpool2x2, (const float *src, int width, float *dst, int *arg, int out_height, int out_width),
         (src, width, dst, arg, out_height, out_width))

/* Its backward over the windows (rows 0..2·out_height, columns 0..2·out_width of the plane): each
 * window pixel gets 0 + g where it is the window's recorded maximum and 0 elsewhere, which is what
 * zeroing the plane and adding g at the maximum gives (signed zeros included), in one pass. */
BODY void ck_maxpool2x2_backward_body(const float *gy, const int *arg, int out_height, int out_width, float *dst, int width) {
    const vf8 zero = { 0 };
    const vi8 lanes = { 0, 2, 4, 6, 8, 10, 12, 14 };
    for (int r = 0; r < out_height; r++) {
        const float *g = gy + (size_t)r * out_width;
        const int *a = arg + (size_t)r * out_width;
        float *d0 = dst + (size_t)2 * r * width, *d1 = d0 + width;
        int base = 2 * r * width, c = 0;
        for (; c + 8 <= out_width; c += 8) {
            vi8 v = (vi8)(zero + *(const vf8 *)(g + c)), at = *(const vi8 *)(a + c);
            vi8 pos = lanes + (base + 2 * c);
            vi8 p00 = v & (at == pos), p01 = v & (at == pos + 1);
            vi8 p10 = v & (at == pos + width), p11 = v & (at == pos + width + 1);
            *(vi8 *)(d0 + 2 * c) = __builtin_shufflevector(p00, p01, 0, 8, 1, 9, 2, 10, 3, 11);
            *(vi8 *)(d0 + 2 * c + 8) = __builtin_shufflevector(p00, p01, 4, 12, 5, 13, 6, 14, 7, 15);
            *(vi8 *)(d1 + 2 * c) = __builtin_shufflevector(p10, p11, 0, 8, 1, 9, 2, 10, 3, 11);
            *(vi8 *)(d1 + 2 * c + 8) = __builtin_shufflevector(p10, p11, 4, 12, 5, 13, 6, 14, 7, 15);
        }
        if (c + 4 <= out_width) {
            vi4 v = (vi4)((vf4){ 0 } + *(const vf4 *)(g + c)), at = *(const vi4 *)(a + c);
            vi4 pos = (vi4){ 0, 2, 4, 6 } + (base + 2 * c);
            vi4 p00 = v & (at == pos), p01 = v & (at == pos + 1);
            vi4 p10 = v & (at == pos + width), p11 = v & (at == pos + width + 1);
            *(vi8 *)(d0 + 2 * c) = __builtin_shufflevector(p00, p01, 0, 4, 1, 5, 2, 6, 3, 7);
            *(vi8 *)(d1 + 2 * c) = __builtin_shufflevector(p10, p11, 0, 4, 1, 5, 2, 6, 3, 7);
            c += 4;
        }
        for (; c < out_width; c++) {
            int p = base + 2 * c;
            float v = 0.0f + g[c];
            d0[2 * c] = a[c] == p ? v : 0.0f;
            d0[2 * c + 1] = a[c] == p + 1 ? v : 0.0f;
            d1[2 * c] = a[c] == p + width ? v : 0.0f;
            d1[2 * c + 1] = a[c] == p + width + 1 ? v : 0.0f;
        }
    }
}
VARIANTS(ck_maxpool2x2_backward, (const float *gy, const int *arg, int out_height, int out_width, float *dst, int width),
         (gy, arg, out_height, out_width, dst, width))

/* 2×2 stride-2 average pooling of one plane with even height and width, eight outputs at a time:
 * (((0 + a) + b) + c) + d over the window in row-major order, divided by 4, the scalar loop's
 * arithmetic (the same bits). Contraction stays off for that. */
#pragma clang fp contract(off)
BODY void ck_avgpool2x2_body(const float *src, int width, float *dst, int out_height, int out_width) {
    const vf8 zero = { 0 }, four = { 4, 4, 4, 4, 4, 4, 4, 4 };
    for (int r = 0; r < out_height; r++) {
        const float *r0 = src + (size_t)2 * r * width, *r1 = r0 + width;
        float *d = dst + (size_t)r * out_width;
        int c = 0;
        for (; c + 8 <= out_width; c += 8) {
            vf8 lo0 = *(const vf8 *)(r0 + 2 * c), hi0 = *(const vf8 *)(r0 + 2 * c + 8);
            vf8 lo1 = *(const vf8 *)(r1 + 2 * c), hi1 = *(const vf8 *)(r1 + 2 * c + 8);
            vf8 s = zero + __builtin_shufflevector(lo0, hi0, 0, 2, 4, 6, 8, 10, 12, 14);
            s = s + __builtin_shufflevector(lo0, hi0, 1, 3, 5, 7, 9, 11, 13, 15);
            s = s + __builtin_shufflevector(lo1, hi1, 0, 2, 4, 6, 8, 10, 12, 14);
            s = s + __builtin_shufflevector(lo1, hi1, 1, 3, 5, 7, 9, 11, 13, 15);
            *(vf8 *)(d + c) = s / four;
        }
        for (; c < out_width; c++)
            d[c] = ((((0.0f + r0[2 * c]) + r0[2 * c + 1]) + r1[2 * c]) + r1[2 * c + 1]) / 4.0f;
    }
}
VARIANTS(ck_avgpool2x2, (const float *src, int width, float *dst, int out_height, int out_width),
         (src, width, dst, out_height, out_width))

/* Its backward: each input of a window gets 0 + g/4 (the scalar loop adds onto zeros). */
BODY void ck_avgpool2x2_backward_body(const float *gy, int out_height, int out_width, float *dst, int width) {
    const vf8 zero = { 0 }, four = { 4, 4, 4, 4, 4, 4, 4, 4 };
    for (int r = 0; r < out_height; r++) {
        const float *g = gy + (size_t)r * out_width;
        float *d0 = dst + (size_t)2 * r * width, *d1 = d0 + width;
        int c = 0;
        for (; c + 8 <= out_width; c += 8) {
            vf8 v = zero + *(const vf8 *)(g + c) / four;
            vf8 pair0 = __builtin_shufflevector(v, v, 0, 0, 1, 1, 2, 2, 3, 3);
            vf8 pair1 = __builtin_shufflevector(v, v, 4, 4, 5, 5, 6, 6, 7, 7);
            *(vf8 *)(d0 + 2 * c) = pair0; *(vf8 *)(d0 + 2 * c + 8) = pair1;
            *(vf8 *)(d1 + 2 * c) = pair0; *(vf8 *)(d1 + 2 * c + 8) = pair1;
        }
        for (; c < out_width; c++) {
            float v = 0.0f + g[c] / 4.0f;
            d0[2 * c] = v; d0[2 * c + 1] = v; d1[2 * c] = v; d1[2 * c + 1] = v;
        }
    }
}
VARIANTS(ck_avgpool2x2_backward, (const float *gy, int out_height, int out_width, float *dst, int width),
         (gy, out_height, out_width, dst, width))
