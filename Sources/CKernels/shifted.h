/* The three column-shifted copies of a plane that the 3×3 stride-1 padding-1 kernels read their
 * taps from (conv3x3.c's weight gradient, blocked.c's convolution): tap (kh, kw) of output
 * pixel p is copy kw at W + p + (kh − 1)·W, zeros standing in for the padding. */
#ifndef TRAINER_CKERNELS_SHIFTED_H
#define TRAINER_CKERNELS_SHIFTED_H
#include "lanes.h"

/* Floats of one shifted copy: the plane plus a zero row above and below, rounded up to 16. */
BODY size_t copy_length(int h, int w) { return ((size_t)h * w + 2 * (size_t)w + 15) / 16 * 16; }

/* d[q] = src[q + shift] for q in [from, to), to − from ≥ 8, by 8-float moves; the last one
 * overlaps the one before instead of leaving a scalar tail (data movement only). */
BODY void move8(float *d, const float *src, int shift, int from, int to) {
    for (int q = from; q < to; q += 8) {
        int at = q + 8 <= to ? q : to - 8;
        *(vf8 *)(d + at) = *(const vf8 *)(src + at + shift);
    }
}

/* s[(i·3 + kw)·L + W + p] = x_i[p + kw − 1] where that pixel is in p's row, else 0; zero borders.
 * Whole-plane shifted copies, then the wrapped column zeroed: a copy call per row cost as much
 * as the products for small maps. */
BODY void shifted_copies(int images, int h, int w, const float *x, size_t xs, float *s, size_t L) {
    int p = h * w;
    for (int i = 0; i < images; i++) {
        const float *restrict src = x + i * xs;
        for (int kw = 0; kw < 3; kw++) {
            float *restrict row = s + ((size_t)i * 3 + kw) * L;
            for (int j = 0; j < w; j++) row[j] = 0;
            for (size_t j = (size_t)w + p; j < L; j++) row[j] = 0;
            float *restrict d = row + w;
            if (p < 9) {
                for (int q = 0; q < p; q++) { int from = q + kw - 1; d[q] = from >= 0 && from < p ? src[from] : 0; }
            } else if (kw == 1) {
                move8(d, src, 0, 0, p);
            } else if (kw == 0) {
                d[0] = 0;
                move8(d, src, -1, 1, p);
            } else {
                move8(d, src, 1, 0, p - 1);
                d[p - 1] = 0;
            }
            if (kw == 0) for (int y = 0; y < h; y++) d[y * w] = 0;
            if (kw == 2) for (int y = 0; y < h; y++) d[y * w + w - 1] = 0;
        }
    }
}

#endif
