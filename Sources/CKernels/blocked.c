/* Convolutions computed directly with register-blocked accumulators, for the layers where neither
 * Winograd nor an im2col GEMM has enough rows to work with: 3×3 stride-1 padding-1 layers with few
 * output channels (DenseNet's growth of 12, and its input gradient from 12 channels, 3-channel first
 * layers), and pointwise (1×1 stride-1 unpadded) layers with few outputs (DenseNet's bottleneck of
 * 48, whose GEMM is 48 rows tall):
 *   y[o][p] = relu?(bias[o] + Σ_ci Σ_t w[o][ci][t] · x[ci][p shifted by t]),  t over 9 taps or 1.
 *
 * A 3×3 layer reads its taps from the three shifted copies of every input channel of the image
 * (shifted.h), a pointwise one its image repacked by blocks of pixels. For each block of R output channels
 * and each 32 output pixels, R × 2 vectors of accumulators take, channel by channel and tap by tap,
 * one fused multiply-add per output channel with the tap's two input vectors (the R weights of a
 * tap are contiguous in the packed layout, broadcast from L1). Each output sums its c·taps terms in
 * the same order whatever the image split, at every SIMD level. */
#include "shifted.h"
#include "transpose.h"

#pragma clang fp contract(off)

/* The register block per SIMD level: R output channels (the packed weights' block height) × V
 * vectors of 16 pixels. R × V vectors of accumulators, the V inputs and the broadcast weight must
 * fit the register file: AVX-512 has 32 registers of 16 floats (12 × 2 or 8 × 2); AVX2 and SSE
 * have 16 of 8 or 4, a vector taking two or four (6 × 1, or 4 × 1 for counts 6 does not divide).
 * Blocks of 12 × 2 on AVX2 spilled their accumulators to the stack and ran at a third of the rate.
 * AVX2's 3×3 layers with a multiple of 16 outputs and 16 inputs or more take pixel blocks instead
 * (16 rows; PIXELS; with 3 inputs they ran 0.84× the row blocks' rate).
 * The shape changes which outputs share a block, never an output's sum: the same bits everywhere. */
static int block_rows(int k, int c, int kernel) {
    if (ck_register_shapes() == 2) return k % 12 == 0 ? 12 : 8;
    if (ck_register_shapes() == 1 && kernel == 3 && k % 16 == 0 && c >= 16) return 16;
    return k % 6 == 0 ? 6 : 4;
}

/* The copies of every input channel (3×3) or the image repacked by pixel blocks (pointwise), then a
 * spare plane for the rows of a last, partial block, or 16 for the outputs of pixel blocks. */
size_t ck_blocked_conv_scratch(int c, int kernel, int h, int w) {
    return (kernel == 3 ? (size_t)c * 3 * copy_length(h, w) : (size_t)c * h * w) + (size_t)16 * h * w;
}

size_t ck_blocked_conv_packed(int k, int c, int kernel) {
    int r = block_rows(k, c, kernel);
    return (size_t)((k + r - 1) / r) * c * kernel * kernel * r;
}

/* packed[block][ci][t][r] = w[block·R + r][ci][t] (0 past k); `flipped`: the kernel of the input
 * gradient, a convolution from the layer's k outputs to its c inputs with the taps reversed:
 * here k is the layer's input channel count and c its output channel count. */
void ck_blocked_conv_pack(int k, int c, int kernel, const float *w, int flipped, float *packed) {
    int R = block_rows(k, c, kernel), T = kernel * kernel;
    size_t total = ck_blocked_conv_packed(k, c, kernel);
    for (size_t i = 0; i < total; i++) packed[i] = 0;
    for (int o = 0; o < k; o++)
        for (int ci = 0; ci < c; ci++)
            for (int t = 0; t < T; t++) {
                float v = flipped ? w[((size_t)ci * k + o) * T + T - 1 - t] : w[((size_t)o * c + ci) * T + t];
                packed[(((size_t)(o / R) * c + ci) * T + t) * R + o % R] = v;
            }
}

/* V (1 or 2) vectors of 16 output pixels from q on, R output channels into the rows `out[r]`.
 * Every loop over the accumulators is unrolled and indexes them by constants only (rows past the
 * layer's last channel are written to a spare plane), so they stay in registers: indexing them by a
 * run-time row count put them on the stack, 4× slower. */
#define UNROLL _Pragma("clang loop unroll(full)")
#define BLOCK(R, V, T)                                                                                    \
    BODY void block##R##_##V##_##T(int c, int w, const float *base, size_t cs, size_t L,              \
                                   const float *wt, const float *bv, int relu, int q, float *const *out) { \
        vf16 a0[R], a1[R];                                                                             \
        UNROLL for (int r = 0; r < R; r++) { a0[r] = SPLAT(bv[r]); a1[r] = a0[r]; }                    \
        const float *cp = base;                                                                        \
        for (int ci = 0; ci < c; ci++, cp += cs, wt += T * R) {                                        \
            UNROLL for (int t = 0; t < T; t++) {                                                       \
                const float *src = T == 9 ? cp + (t % 3) * L + (t / 3) * w : cp;                       \
                vf16 x0 = *(const vf16 *)src, x1 = V == 2 ? *(const vf16 *)(src + 16) : x0;           \
                const float *wr = wt + t * R;                                                          \
                UNROLL for (int r = 0; r < R; r++) {                                                   \
                    vf16 b = SPLAT(wr[r]);                                                             \
                    a0[r] = __builtin_elementwise_fma(b, x0, a0[r]);                                   \
                    if (V == 2) a1[r] = __builtin_elementwise_fma(b, x1, a1[r]);                       \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
        const vf16 zero = { 0 };                                                                       \
        UNROLL for (int r = 0; r < R; r++) {                                                           \
            vf16 o0 = a0[r], o1 = a1[r];                                                               \
            if (relu) { o0 = (vf16)((vi16)o0 & (o0 > zero)); o1 = (vf16)((vi16)o1 & (o1 > zero)); }    \
            *(vf16 *)(out[r] + q) = o0;                                                                \
            if (V == 2) *(vf16 *)(out[r] + q + 16) = o1;                                               \
        }                                                                                              \
    }

typedef int vi16 __attribute__((vector_size(64), aligned(4)));
#define BLOCKS(R) BLOCK(R, 2, 9) BLOCK(R, 1, 9) BLOCK(R, 2, 1) BLOCK(R, 1, 1)
BLOCKS(12)
BLOCKS(8)
BLOCKS(6)
BLOCKS(4)

/* One image: for each 16·V output pixels (16 for a last partial step), every block of R output
 * channels in turn, so the pixels' inputs stay in L1 across the blocks (an image's worth of them
 * is hundreds of KB). 3×3: the copies, pixel q at q; pointwise: the image packed by 32-pixel
 * blocks, block b at b·c (its channel rows 32 floats apart, 16 in a last half block).
 * One entry point per block shape: with all the blocks inlined into one function the compiler
 * spilled accumulators. */
#define CONV(R, V, T)                                                                                  \
    BODY void conv##R##_##V##_##T##_body(int k, int c, int h, int w, const float *planes, size_t cs, size_t L, \
                                         const float *packed, const float *bias, int relu, float *y, float *spare) { \
        int p = h * w;                                                                                 \
        for (int q = 0; q < p; q += 16 * V) {                                                          \
            int whole = V == 2 && q + 32 <= p;                                                         \
            int qb = q / 32 * 32;                                                                      \
            const float *base = T == 9 ? planes + q : planes + (size_t)qb * c + (q - qb);              \
            size_t stride = T == 9 ? cs : qb + 32 <= p ? 32 : 16;                                      \
            for (int o = 0; o < k; o += R) {                                                           \
                float bv[R], *out[R];                                                                  \
                for (int r = 0; r < R; r++) {                                                          \
                    bv[r] = bias && o + r < k ? bias[o + r] : 0.0f;                                    \
                    out[r] = o + r < k ? y + (size_t)(o + r) * p : spare;                              \
                }                                                                                      \
                const float *wt = packed + (size_t)(o / R) * c * T * R;                                \
                if (whole) block##R##_2_##T(c, w, base, stride, L, wt, bv, relu, q, out);              \
                else block##R##_1_##T(c, w, base, stride, L, wt, bv, relu, q, out);                    \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
    VARIANTS(conv##R##_##V##_##T, (int k, int c, int h, int w, const float *planes, size_t cs, size_t L, \
                                   const float *packed, const float *bias, int relu, float *y, float *spare), \
             (k, c, h, w, planes, cs, L, packed, bias, relu, y, spare))
CONV(12, 2, 9)
CONV(8, 2, 9)
CONV(6, 1, 9)
CONV(4, 1, 9)
CONV(12, 2, 1)
CONV(8, 2, 1)
CONV(6, 1, 1)
CONV(4, 1, 1)

/* AVX2 with 16-row blocks (3×3, k a multiple of 16): the block's 16 output channels are the lanes
 * of one vector and the pixels are broadcast, as in conv3x3.c's weight gradient. 16 outputs × NP
 * pixels: 6 vectors (12 ymm registers), 2 vector loads of packed weights and 6 broadcasts per tap
 * for 12 fused multiply-adds, against 4 rows × 16 pixels' 6 loads per 8 (too few accumulators to
 * cover the FMA latency). Two groups at once (2 × 3) needed 17 registers and spilled. Each output
 * sums the same terms in the same order as the row blocks (bias, then channel by channel, tap by
 * tap): the same bits. The outputs, pixel-major in `lanes` (16 per pixel), go to their planes by
 * transposes. */
#define PIXELS(NP)                                                                                     \
    BODY void pixels##NP(int c, int w, const float *planes, size_t cs, size_t L, const float *wt,        \
                         const float *bias, int relu, int q, float *lanes) {                            \
        vf16 a[NP];                                                                                    \
        const vf16 b = bias ? *(const vf16 *)bias : (vf16){0};                                         \
        UNROLL for (int j = 0; j < NP; j++) a[j] = b;                                                  \
        const float *cp = planes + q;                                                                  \
        for (int ci = 0; ci < c; ci++, cp += cs, wt += 9 * 16) {                                       \
            UNROLL for (int t = 0; t < 9; t++) {                                                       \
                const float *src = cp + (t % 3) * L + (t / 3) * w;                                     \
                const vf16 wv = *(const vf16 *)(wt + t * 16);                                          \
                UNROLL for (int j = 0; j < NP; j++) a[j] = __builtin_elementwise_fma(wv, SPLAT(src[j]), a[j]); \
            }                                                                                          \
        }                                                                                              \
        const vf16 zero = { 0 };                                                                       \
        UNROLL for (int j = 0; j < NP; j++) {                                                          \
            vf16 o = a[j];                                                                             \
            if (relu) o = (vf16)((vi16)o & (o > zero));                                                \
            *(vf16 *)(lanes + (size_t)(q + j) * 16) = o;                                               \
        }                                                                                              \
    }
PIXELS(6)
PIXELS(1)

/* One image by pixel blocks: per 16-output group, every 6 pixels, then the last p mod 6 one at a
 * time, then the group's outputs transposed into their planes. */
BODY void conv16_px_body(int k, int c, int h, int w, const float *planes, size_t cs, size_t L, const float *packed,
                         const float *bias, int relu, float *y, float *lanes) {
    const int p = h * w;
    const size_t gstride = (size_t)c * 9 * 16;
    for (int g = 0; g < k / 16; g++) {
        const float *wt = packed + g * gstride, *bv = bias ? bias + 16 * g : 0;
        int q = 0;
        for (; q + 6 <= p; q += 6) pixels6(c, w, planes, cs, L, wt, bv, relu, q, lanes);
        for (; q < p; q++) pixels1(c, w, planes, cs, L, wt, bv, relu, q, lanes);
        lanes_to_planes(lanes, p, y + (size_t)g * 16 * p, (size_t)p);
    }
}
VARIANTS(conv16_px, (int k, int c, int h, int w, const float *planes, size_t cs, size_t L, const float *packed,
                     const float *bias, int relu, float *y, float *lanes),
         (k, c, h, w, planes, cs, L, packed, bias, relu, y, lanes))

typedef void conv_fn(int k, int c, int h, int w, const float *planes, size_t cs, size_t L, const float *packed,
                     const float *bias, int relu, float *y, float *spare);

/* The entry point for a block height: V = 2 with AVX-512's heights, 1 with AVX2's (block_rows);
 * 16: AVX2's pixel blocks (3×3 only). */
static conv_fn *conv_for(int rows, int kernel) {
    switch (rows) {
    case 16: return conv16_px;
    case 12: return kernel == 3 ? conv12_2_9 : conv12_2_1;
    case 8: return kernel == 3 ? conv8_2_9 : conv8_2_1;
    case 6: return kernel == 3 ? conv6_1_9 : conv6_1_1;
    default: return kernel == 3 ? conv4_1_9 : conv4_1_1;
    }
}

BODY void copies_body(int c, int h, int w, const float *x, float *s, size_t L) {
    shifted_copies(c, h, w, x, (size_t)h * w, s, L);
}
VARIANTS(copies, (int c, int h, int w, const float *x, float *s, size_t L), (c, h, w, x, s, L))

/* A pointwise layer's input repacked by pixel blocks: block q (32 pixels, 16 for a last half block)
 * holds each channel's pixels of the block contiguously, at q·c. Read straight from the planes, the
 * c rows of a block are 4 KB apart on 32×32 maps, all in one L1 set: 2× slower from 64 channels. */
BODY void pack_pixels_body(int c, int p, const float *x, float *dst) {
    for (int q = 0; q < p; q += 32) {
        int width = q + 32 <= p ? 32 : 16;
        float *d = dst + (size_t)q * c;
        for (int ci = 0; ci < c; ci++, d += width)
            for (int j = 0; j < width; j++) d[j] = x[(size_t)ci * p + q + j];
    }
}
VARIANTS(pack_pixels, (int c, int p, const float *x, float *dst), (c, p, x, dst))

void ck_blocked_conv(int k, int c, int kernel, int images, int h, int w, const float *x, size_t xs,
                     const float *packed, const float *bias, int relu, float *y, size_t ys, float *scratch) {
    int p = h * w;
    conv_fn *conv = conv_for(block_rows(k, c, kernel), kernel);
    size_t L = copy_length(h, w), cs = kernel == 3 ? 3 * L : (size_t)p;
    float *spare = scratch + (kernel == 3 ? (size_t)c * 3 * L : (size_t)c * p);
    for (int i = 0; i < images; i++) {
        const float *planes = x + i * xs;
        if (kernel == 3) copies(c, h, w, planes, scratch, L);
        else pack_pixels(c, p, planes, scratch);
        conv(k, c, h, w, scratch, cs, L, packed, bias, relu, y + i * ys, spare);
    }
}
