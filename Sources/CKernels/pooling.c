/* 2×2 stride-2 max-pooling of one plane, eight outputs at a time: even and odd lanes of the two
 * input rows are the window's four candidates, taken in row-major order with the rule of the
 * scalar loop (a later candidate wins when it is greater or NaN, unless a NaN already won), so
 * value and position are those of the first maximum, or of the first NaN, as PyTorch's. */
#include "dispatch.h"

typedef float vf8 __attribute__((vector_size(32), aligned(4)));
typedef int vi8 __attribute__((vector_size(32), aligned(4)));

BODY void consider(float *best, int *at, float v, int pos) {
    if (*best == *best && (v > *best || v != v)) { *best = v; *at = pos; }
}

BODY void consider8(vf8 *best, vi8 *at, vf8 v, vi8 pos) {
    vi8 take = (*best == *best) & ((v > *best) | (v != v));
    *best = (vf8)(((vi8)v & take) | ((vi8)*best & ~take));
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
