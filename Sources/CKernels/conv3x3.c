/* Weight gradient of a 3×3, stride-1, padding-1 convolution read straight from the input planes,
 * without the 9-row im2col matrix:
 *   du[o][c][kh][kw] += Σ_i Σ_p ∂y[i][o][p] · x[i][c][p + (kh − 1)·W + kw − 1]   (0 off the plane).
 *
 * Per input channel, three column-shifted copies of each image's plane are built in `scratch`
 * (x shifted by kw − 1 with the wrapped column zeroed, a zero row of W floats above and below);
 * tap (kh, kw) is copy kw read from kh·W floats in. A block of R output channels × 9 taps then
 * loads R rows of ∂y and 9 of x per 16 lanes for 9R fused multiply-adds, from copies that stay in
 * L1. Each entry's 16 lanes run over the images and pixels in order and are added in a fixed
 * order, so the result depends on the images and the map only, at every SIMD level. */
#include "shifted.h"

#pragma clang fp contract(off)

/* Maps narrower than a vector whose pixels fill whole vectors (8×8, 4×4): tap rows kh·W into a
 * copy would be split loads, so the nine tap rows of each image are copied out aligned. */
BODY int uses_tap_rows(int h, int w) { return w % 16 != 0 && (h * w) % 16 == 0; }

size_t ck_conv3x3_weight_gradient_scratch(int images, int h, int w) {
    size_t shifted = (size_t)images * 3 * copy_length(h, w);
    return uses_tap_rows(h, w) ? 3 * copy_length(h, w) + (size_t)images * 9 * h * w : shifted;
}

/* taps[(i·9 + kh·3 + kw)·P ..] = copy kw of image i from kh·W on (P floats), through `s`, one
 * image's three shifted copies. */
BODY void tap_rows(int images, int h, int w, const float *x, size_t xs, float *s, size_t L, float *taps) {
    int p = h * w;
    for (int i = 0; i < images; i++) {
        shifted_copies(1, h, w, x + i * xs, xs, s, L);
        for (int t = 0; t < 9; t++) {
            const float *restrict src = s + (t % 3) * L + (t / 3) * w;
            float *restrict dst = taps + ((size_t)i * 9 + t) * p;
            for (int q = 0; q < p; q++) dst[q] = src[q];
        }
    }
}

/* Taps per register block: 2 × 9 vectors of accumulators fill AVX-512's 32 registers; on AVX2 they
 * would be 36 of its 16 and spill, so there a block takes the three taps of one kernel row (2 × 3 × 2
 * registers), image by image (rows_by_image). Each entry's sum is the same either way. */
BODY int taps_per_block(void) { return ck_register_shapes() == 2 ? 9 : 3; }

/* taps_block on tap rows: du (R, 9) += ∂y (R rows, whole vectors) against nine aligned rows per
 * image; the same fused multiply-adds in the same order as taps_block (the same bits). */
BODY void tap_rows_block(const int R, int images, int p, const float *gy, size_t gs, size_t ldg,
                         const float *taps, float *du, size_t lddu) {
    vf16 acc[2][9];
    for (int r = 0; r < R; r++) for (int t = 0; t < 9; t++) acc[r][t] = (vf16){0};
    for (int i = 0; i < images; i++) {
        const float *g = gy + i * gs, *ti = taps + (size_t)i * 9 * p;
        for (int q = 0; q < p; q += 16) {
            vf16 z[2];
            for (int r = 0; r < R; r++) z[r] = *(const vf16 *)(g + r * ldg + q);
            for (int t = 0; t < 9; t++) {
                vf16 xv = *(const vf16 *)(ti + (size_t)t * p + q);
                for (int r = 0; r < R; r++) acc[r][t] = __builtin_elementwise_fma(z[r], xv, acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < 9; t++) du[r * lddu + t] += lane_sum(&acc[r][t]) + 0.0f;   /* taps_block adds its (empty) tail */
}

/* du (R, 9; row stride lddu) += ∂y (R rows of the map, `ldg` apart; images `gs` apart) against the
 * shifted copies of one channel. */
BODY void taps_block(const int R, int images, int h, int w, const float *gy, size_t gs, size_t ldg,
                     const float *s, size_t L, float *du, size_t lddu) {
    const int p = h * w, p16 = p / 16 * 16;
    vf16 acc[2][9];
    float rest[2][9];
    for (int r = 0; r < R; r++) for (int t = 0; t < 9; t++) { acc[r][t] = (vf16){0}; rest[r][t] = 0; }
    for (int i = 0; i < images; i++) {
        const float *g = gy + i * gs, *si = s + (size_t)i * 3 * L;
        for (int q = 0; q < p16; q += 16) {
            vf16 z[2];
            for (int r = 0; r < R; r++) z[r] = *(const vf16 *)(g + r * ldg + q);
            for (int kh = 0; kh < 3; kh++) {
                for (int kw = 0; kw < 3; kw++) {
                    vf16 xv = *(const vf16 *)(si + kw * L + kh * w + q);
                    for (int r = 0; r < R; r++)
                        acc[r][kh * 3 + kw] = __builtin_elementwise_fma(z[r], xv, acc[r][kh * 3 + kw]);
                }
            }
        }
        for (int q = p16; q < p; q++) {
            for (int r = 0; r < R; r++) {
                float zq = g[r * ldg + q];
                for (int t = 0; t < 9; t++)
                    rest[r][t] = __builtin_fmaf(zq, si[(t % 3) * L + (t / 3) * w + q], rest[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < 9; t++) du[r * lddu + t] += lane_sum(&acc[r][t]) + rest[r][t];
}

/* ---- Kernel rows of taps, image by image (AVX2) -------------------------------------------------
 * With a kernel row per block, each block would stream every image's copies from L2 three times.
 * Instead the images are the outer loop: an image's copies and ∂y rows stay in L1 while every
 * block of up to PAIRS output pairs × 3 kernel rows passes them, each block's accumulators
 * waiting in memory between images. Stored and reloaded exactly, they form the same sums. */
enum { PAIRS = 16 };

typedef struct { vf16 lanes[2][3]; float rest[2][3]; } row_sums;

/* sums += ∂y rows (R of them, ldg apart) against one kernel row of taps of one image: its three
 * taps at `row`, `row + ts` and `row + 2·ts` (p pixels each, read in whole vectors, the rest one
 * by one). */
BODY void row_block(const int R, int p, const float *g, size_t ldg, const float *row, size_t ts, row_sums *sums) {
    const int p16 = p / 16 * 16;
    vf16 acc[2][3];
    float rest[2][3];
    for (int r = 0; r < R; r++) for (int t = 0; t < 3; t++) { acc[r][t] = sums->lanes[r][t]; rest[r][t] = sums->rest[r][t]; }
    for (int q = 0; q < p16; q += 16) {
        vf16 z[2];
        for (int r = 0; r < R; r++) z[r] = *(const vf16 *)(g + r * ldg + q);
        for (int t = 0; t < 3; t++) {
            vf16 xv = *(const vf16 *)(row + t * ts + q);
            for (int r = 0; r < R; r++) acc[r][t] = __builtin_elementwise_fma(z[r], xv, acc[r][t]);
        }
    }
    for (int q = p16; q < p; q++)
        for (int r = 0; r < R; r++) {
            float zq = g[r * ldg + q];
            for (int t = 0; t < 3; t++) rest[r][t] = __builtin_fmaf(zq, row[t * ts + q], rest[r][t]);
        }
    for (int r = 0; r < R; r++) for (int t = 0; t < 3; t++) { sums->lanes[r][t] = acc[r][t]; sums->rest[r][t] = rest[r][t]; }
}

/* du (k rows lddu apart, this channel's 9 columns) += the weight gradient of one input channel
 * (x: its plane in image 0, images xs apart), PAIRS output pairs at a time. The taps come from
 * the copies of all images made beforehand in `s` (images 3·L apart), or, with `taps`, from
 * nine aligned tap rows made per image there (through `s`). */
BODY void rows_by_image(int k, int images, int h, int w, const float *x, size_t xs, const float *gy, size_t gs,
                        float *s, size_t L, float *taps, float *du, size_t lddu) {
    const int p = h * w;
    for (int o0 = 0; o0 < k; o0 += 2 * PAIRS) {
        int pairs = (k - o0 + 1) / 2 < PAIRS ? (k - o0 + 1) / 2 : PAIRS;
        row_sums sums[PAIRS][3];
        for (int b = 0; b < pairs; b++)
            for (int kh = 0; kh < 3; kh++) sums[b][kh] = (row_sums){ 0 };
        for (int i = 0; i < images; i++) {
            const float *src = s + (size_t)i * 3 * L;
            if (taps) { tap_rows(1, h, w, x + i * xs, xs, s, L, taps); src = taps; }
            for (int b = 0; b < pairs; b++) {
                int o = o0 + 2 * b;
                const float *g = gy + i * gs + (size_t)o * p;
                for (int kh = 0; kh < 3; kh++) {
                    const float *row = taps ? src + (size_t)kh * 3 * p : src + kh * w;
                    size_t ts = taps ? (size_t)p : L;
                    if (k - o >= 2) row_block(2, p, g, p, row, ts, &sums[b][kh]);
                    else row_block(1, p, g, p, row, ts, &sums[b][kh]);
                }
            }
        }
        for (int b = 0; b < pairs; b++) {
            int o = o0 + 2 * b, R = k - o >= 2 ? 2 : 1;
            for (int kh = 0; kh < 3; kh++)
                for (int r = 0; r < R; r++)
                    for (int t = 0; t < 3; t++)
                        du[(size_t)(o + r) * lddu + kh * 3 + t] += lane_sum(&sums[b][kh].lanes[r][t]) + sums[b][kh].rest[r][t];
        }
    }
}

BODY void ck_conv3x3_weight_gradient_body(int k, int c, int images, int h, int w, const float *x, size_t xs,
                                          const float *gy, size_t gs, float *du, size_t lddu, float *scratch) {
    size_t L = copy_length(h, w), p = (size_t)h * w;
    const int by_rows = taps_per_block() == 3;
    if (uses_tap_rows(h, w)) {
        float *taps = scratch + 3 * L;
        for (int ch = 0; ch < c; ch++) {
            if (by_rows) {
                rows_by_image(k, images, h, w, x + ch * p, xs, gy, gs, scratch, L, taps, du + ch * 9, lddu);
                continue;
            }
            tap_rows(images, h, w, x + ch * p, xs, scratch, L, taps);
            for (int o = 0; o < k; o += 2) {
                const float *g = gy + o * p;
                float *d = du + (size_t)o * lddu + ch * 9;
                if (k - o >= 2) tap_rows_block(2, images, (int)p, g, gs, p, taps, d, lddu);
                else tap_rows_block(1, images, (int)p, g, gs, p, taps, d, lddu);
            }
        }
        return;
    }
    for (int ch = 0; ch < c; ch++) {
        shifted_copies(images, h, w, x + ch * p, xs, scratch, L);
        if (by_rows) {
            rows_by_image(k, images, h, w, x + ch * p, xs, gy, gs, scratch, L, NULL, du + ch * 9, lddu);
            continue;
        }
        for (int o = 0; o < k; o += 2) {
            const float *g = gy + o * p;
            float *d = du + (size_t)o * lddu + ch * 9;
            if (k - o >= 2) taps_block(2, images, h, w, g, gs, p, scratch, L, d, lddu);
            else taps_block(1, images, h, w, g, gs, p, scratch, L, d, lddu);
        }
    }
}
VARIANTS(ck_conv3x3_weight_gradient, (int k, int c, int images, int h, int w, const float *x, size_t xs,
                                       const float *gy, size_t gs, float *du, size_t lddu, float *scratch),
         (k, c, images, h, w, x, xs, gy, gs, du, lddu, scratch))
