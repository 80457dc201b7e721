/* Weight gradient of a 3×3, stride-1, padding-1 convolution read straight from the input planes,
 * without the 9-row im2col matrix:
 *   du[o][c][kh][kw] += Σ_i Σ_p ∂y[i][o][p] · x[i][c][p + (kh − 1)·W + kw − 1]   (0 off the plane).
 *
 * An outer-product kernel, as in a GEMM's micro-kernel: ∂y is packed pixel-major in groups of 16
 * output channels (one vector per pixel), and x is read one float at a time, broadcast, from
 * three column-shifted copies of each plane (x shifted by kw − 1 with the wrapped column zeroed,
 * a zero row above and below: tap (kh, kw) of pixel p is copy kw at p + kh·W). A register block of
 * 16·RO output channels × NC channels × NT taps costs RO vector loads and NC·NT broadcasts per
 * pixel for RO·NC·NT fused multiply-adds; no lane sums, and the taps need no aligned copies.
 *
 * Every entry's sum runs over the images and pixels in one fixed order (segments of SEGMENT
 * pixels, each summed from zero, added in turn) and is then added to du, so its bits depend on the
 * images and the map only: not on the block shape, the SIMD level or the channel count. */
#include "shifted.h"
#include "transpose.h"

#pragma clang fp contract(off)

/* Output channels per packed group: one vf16 of ∂y per pixel. */
enum { GROUP = 16 };

BODY size_t groups_of(int k) { return ((size_t)k + GROUP - 1) / GROUP; }

/* Input channels whose shifted copies are built at a time (the widest block's NC, AVX2's). */
enum { COPIED_CHANNELS = 2 };

size_t ck_conv3x3_weight_gradient_scratch(int k, int images, int h, int w) {
    size_t packed = groups_of(k) * GROUP * (size_t)images * h * w;
    return packed + (size_t)COPIED_CHANNELS * images * 3 * copy_length(h, w);
}

/* gp[(g·images·P + i·P + q)·16 + j] = ∂y_i[16g + j][q], zero for 16g + j ≥ k. */
BODY void pack_outputs(int k, int images, int p, const float *gy, size_t gs, float *gp) {
    for (size_t g = 0; g < groups_of(k); g++) {
        int rows = k - (int)g * GROUP < GROUP ? k - (int)g * GROUP : GROUP;
        for (int i = 0; i < images; i++)
            planes_to_lanes(gy + i * gs + g * GROUP * p, (size_t)p, rows, p, gp + (g * images + i) * (size_t)p * GROUP);
    }
}

/* Pixels per partial sum: an entry's accumulator runs over SEGMENT pixels (in image and pixel
 * order, across image boundaries) and is then added to the entry's running total, so a sum of n
 * terms rounds like SEGMENT + n / SEGMENT of them, not n (16 lanes did the same before). */
enum { SEGMENT = 64 };

/* du (16·RO rows, those of outputs o0.. below k; row stride lddu) at channels c0..c0+NC−1, taps
 * t0..t0+NT−1 += the packed groups against the shifted copies s (channel j's image i at
 * s + (j·images + i)·3L). */
BODY void block(const int RO, const int NC, const int NT, int t0, int k, int o0, int images, int h, int w,
                const float *gp, const float *s, size_t L, float *du, size_t lddu) {
    const int p = h * w;
    vf16 acc[2][2][9], total[2][2][9];
    for (int r = 0; r < RO; r++)
        for (int j = 0; j < NC; j++)
            for (int t = 0; t < NT; t++) acc[r][j][t] = total[r][j][t] = (vf16){0};
    const size_t group_stride = (size_t)images * p * GROUP;
    int left = SEGMENT;
    for (int i = 0; i < images; i++) {
        const float *g = gp + (size_t)i * p * GROUP;
        const float *x[2][9];
        for (int j = 0; j < NC; j++)
            for (int t = 0; t < NT; t++) {
                int tap = t0 + t;
                x[j][t] = s + ((size_t)j * images + i) * 3 * L + (tap % 3) * L + (tap / 3) * w;
            }
        for (int q = 0; q < p;) {
            const int run = p - q < left ? p - q : left;
            for (const int end = q + run; q < end; q++) {
                vf16 z[2];
                for (int r = 0; r < RO; r++) z[r] = *(const vf16 *)(g + r * group_stride + (size_t)q * GROUP);
                for (int j = 0; j < NC; j++)
                    for (int t = 0; t < NT; t++) {
                        vf16 xv = SPLAT(x[j][t][q]);
                        for (int r = 0; r < RO; r++) acc[r][j][t] = __builtin_elementwise_fma(z[r], xv, acc[r][j][t]);
                    }
            }
            left -= run;
            if (left == 0) {
                for (int r = 0; r < RO; r++)
                    for (int j = 0; j < NC; j++)
                        for (int t = 0; t < NT; t++) { total[r][j][t] += acc[r][j][t]; acc[r][j][t] = (vf16){0}; }
                left = SEGMENT;
            }
        }
    }
    for (int r = 0; r < RO; r++)
        for (int l = 0; l < GROUP && o0 + r * GROUP + l < k; l++) {
            float *d = du + (size_t)(r * GROUP + l) * lddu;
            for (int j = 0; j < NC; j++)
                for (int t = 0; t < NT; t++) d[j * 9 + t0 + t] += total[r][j][t][l] + acc[r][j][t][l];
        }
}

/* One block shape over every output group and tap of channels c0.. (NC of them, copied in s). */
#define EACH_BLOCK(RO, NC, NT)                                                                              \
    for (int g = 0; g < groups; g += RO) {                                                                  \
        const float *gg = gp + (size_t)g * images * p * GROUP;                                             \
        float *d = du + (size_t)g * GROUP * lddu + c0 * 9;                                                 \
        for (int t0 = 0; t0 < 9; t0 += NT) {                                                               \
            if (groups - g >= RO) block(RO, NC, NT, t0, k, g * GROUP, images, h, w, gg, s, L, d, lddu);   \
            else block(1, NC, NT, t0, k, g * GROUP, images, h, w, gg, s, L, d, lddu);                      \
        }                                                                                                   \
    }

BODY void ck_conv3x3_weight_gradient_body(int k, int c, int images, int h, int w, const float *x, size_t xs,
                                          const float *gy, size_t gs, float *du, size_t lddu, float *scratch) {
    const size_t L = copy_length(h, w);
    const int p = h * w, groups = (int)groups_of(k);
    float *gp = scratch, *s = scratch + groups_of(k) * GROUP * (size_t)images * p;
    pack_outputs(k, images, p, gy, gs, gp);
    /* The register block per level, 16·RO outputs × NC channels × NT taps (3: one kernel row;
     * 9: all): AVX-512 2 × 1 × 9 (18 of its 32 registers); AVX2 1 × 2 × 3 (12 of 16 ymm
     * registers, two per vector); SSE 1 × 1 × 3 (12 of 16 xmm registers). */
    const int level = ck_register_shapes(), channels = level == 1 ? COPIED_CHANNELS : 1;
    for (int c0 = 0; c0 < c; c0 += channels) {
        const int nc = c - c0 < channels ? c - c0 : channels;
        for (int j = 0; j < nc; j++) shifted_copies(images, h, w, x + (size_t)(c0 + j) * p, xs, s + (size_t)j * images * 3 * L, L);
        if (level == 2) { EACH_BLOCK(2, 1, 9) }
        else if (nc == 2) { EACH_BLOCK(1, 2, 3) }
        else { EACH_BLOCK(1, 1, 3) }
    }
}
#undef EACH_BLOCK
VARIANTS(ck_conv3x3_weight_gradient, (int k, int c, int images, int h, int w, const float *x, size_t xs,
                                       const float *gy, size_t gs, float *du, size_t lddu, float *scratch),
         (k, c, images, h, w, x, xs, gy, gs, du, lddu, scratch))
