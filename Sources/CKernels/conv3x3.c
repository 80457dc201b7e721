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
 * registers) and the map is read three times. Each entry's sum is the same either way. */
BODY int taps_per_block(void) { return ck_register_shapes() == 2 ? 9 : 3; }

/* taps_block on tap rows: du (R, taps t0..t0+N−1) += ∂y (R rows, whole vectors) against the aligned
 * tap rows of each image; the same fused multiply-adds in the same order as taps_block (the same bits). */
BODY void tap_rows_block(const int R, const int N, int t0, int images, int p, const float *gy, size_t gs, size_t ldg,
                         const float *taps, float *du, size_t lddu) {
    vf16 acc[2][9];
    for (int r = 0; r < R; r++) for (int t = 0; t < N; t++) acc[r][t] = (vf16){0};
    for (int i = 0; i < images; i++) {
        const float *g = gy + i * gs, *ti = taps + (size_t)i * 9 * p;
        for (int q = 0; q < p; q += 16) {
            vf16 z[2];
            for (int r = 0; r < R; r++) z[r] = *(const vf16 *)(g + r * ldg + q);
            for (int t = 0; t < N; t++) {
                vf16 xv = *(const vf16 *)(ti + (size_t)(t0 + t) * p + q);
                for (int r = 0; r < R; r++) acc[r][t] = __builtin_elementwise_fma(z[r], xv, acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < N; t++) du[r * lddu + t0 + t] += lane_sum(&acc[r][t]) + 0.0f;   /* taps_block adds its (empty) tail */
}

/* du (R, taps t0..t0+N−1; row stride lddu) += ∂y (R rows of the map, `ldg` apart; images `gs`
 * apart) against the shifted copies of one channel. */
BODY void taps_block(const int R, const int N, int t0, int images, int h, int w, const float *gy, size_t gs,
                     size_t ldg, const float *s, size_t L, float *du, size_t lddu) {
    const int p = h * w, p16 = p / 16 * 16;
    vf16 acc[2][9];
    float rest[2][9];
    for (int r = 0; r < R; r++) for (int t = 0; t < N; t++) { acc[r][t] = (vf16){0}; rest[r][t] = 0; }
    for (int i = 0; i < images; i++) {
        const float *g = gy + i * gs, *si = s + (size_t)i * 3 * L;
        for (int q = 0; q < p16; q += 16) {
            vf16 z[2];
            for (int r = 0; r < R; r++) z[r] = *(const vf16 *)(g + r * ldg + q);
            for (int t = 0; t < N; t++) {
                int tap = t0 + t;
                vf16 xv = *(const vf16 *)(si + (tap % 3) * L + (tap / 3) * w + q);
                for (int r = 0; r < R; r++) acc[r][t] = __builtin_elementwise_fma(z[r], xv, acc[r][t]);
            }
        }
        for (int q = p16; q < p; q++) {
            for (int r = 0; r < R; r++) {
                float zq = g[r * ldg + q];
                for (int t = 0; t < N; t++) {
                    int tap = t0 + t;
                    rest[r][t] = __builtin_fmaf(zq, si[(tap % 3) * L + (tap / 3) * w + q], rest[r][t]);
                }
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < N; t++) du[r * lddu + t0 + t] += lane_sum(&acc[r][t]) + rest[r][t];
}

/* The blocks of output channels o, o+1 (one where k ends) and every tap, a row of taps at a time
 * where the register file needs it. */
#define EACH_TAP_GROUP(call)                                                                            \
    for (int o = 0; o < k; o += 2) {                                                                   \
        const float *g = gy + o * p;                                                                   \
        float *d = du + (size_t)o * lddu + ch * 9;                                                     \
        if (group == 9) { if (k - o >= 2) call(2, 9, 0); else call(1, 9, 0); }                        \
        else for (int t0 = 0; t0 < 9; t0 += 3) { if (k - o >= 2) call(2, 3, t0); else call(1, 3, t0); } \
    }

BODY void ck_conv3x3_weight_gradient_body(int k, int c, int images, int h, int w, const float *x, size_t xs,
                                          const float *gy, size_t gs, float *du, size_t lddu, float *scratch) {
    size_t L = copy_length(h, w), p = (size_t)h * w;
    const int group = taps_per_block();
    if (uses_tap_rows(h, w)) {
        float *taps = scratch + 3 * L;
        for (int ch = 0; ch < c; ch++) {
            tap_rows(images, h, w, x + ch * p, xs, scratch, L, taps);
#define ROWS(R, N, t0) tap_rows_block(R, N, t0, images, (int)p, g, gs, p, taps, d, lddu)
            EACH_TAP_GROUP(ROWS)
#undef ROWS
        }
        return;
    }
    for (int ch = 0; ch < c; ch++) {
        shifted_copies(images, h, w, x + ch * p, xs, scratch, L);
#define COPIES(R, N, t0) taps_block(R, N, t0, images, h, w, g, gs, p, scratch, L, d, lddu)
        EACH_TAP_GROUP(COPIES)
#undef COPIES
    }
}
VARIANTS(ck_conv3x3_weight_gradient, (int k, int c, int images, int h, int w, const float *x, size_t xs,
                                       const float *gy, size_t gs, float *du, size_t lddu, float *scratch),
         (k, c, images, h, w, x, xs, gy, gs, du, lddu, scratch))
