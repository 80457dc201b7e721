/* A 3×3, stride-1, padding-1, ungrouped convolution computed directly, for layers with few output
 * channels (DenseNet's growth of 12, its input gradient of 12 channels, 3-channel first layers),
 * where Winograd's transforms are paid for by too few products and im2col's GEMM is 12 rows tall:
 *   y[o][p] = relu?(bias[o] + Σ_ci Σ_t w[o][ci][t] · x[ci][p shifted by t]).
 *
 * Per image, the three shifted copies of every input channel (shifted.h) are built once; then for
 * each block of R output channels and each 32 output pixels, R × 2 vectors of accumulators take,
 * channel by channel and tap by tap, one fused multiply-add per output channel with the tap's two
 * input vectors (the R weights of a tap are contiguous in the packed layout, broadcast from L1).
 * Each output sums its c·9 terms in the same order whatever the image split, at every SIMD level. */
#include "shifted.h"

#pragma clang fp contract(off)

/* Output channels per register block: 12 for counts divisible by 12 (DenseNet), else 8. */
static int block_rows(int k) { return k % 12 == 0 ? 12 : 8; }

/* The copies of every input channel, then a spare plane for the rows of a last, partial block. */
size_t ck_direct3x3_scratch(int c, int h, int w) { return (size_t)c * 3 * copy_length(h, w) + (size_t)h * w; }

size_t ck_direct3x3_packed(int k, int c) {
    int r = block_rows(k);
    return (size_t)((k + r - 1) / r) * c * 9 * r;
}

/* packed[block][ci][t][r] = w[block·R + r][ci][t] (0 past k); `flipped`: the kernel of the input
 * gradient, a convolution from the layer's k outputs to its c inputs with the taps reversed:
 * here k is the layer's input channel count and c its output channel count. */
void ck_direct3x3_pack(int k, int c, const float *w, int flipped, float *packed) {
    int R = block_rows(k);
    size_t total = ck_direct3x3_packed(k, c);
    for (size_t i = 0; i < total; i++) packed[i] = 0;
    for (int o = 0; o < k; o++)
        for (int ci = 0; ci < c; ci++)
            for (int t = 0; t < 9; t++) {
                float v = flipped ? w[((size_t)ci * k + o) * 9 + 8 - t] : w[((size_t)o * c + ci) * 9 + t];
                packed[(((size_t)(o / R) * c + ci) * 9 + t) * R + o % R] = v;
            }
}

/* V (1 or 2) vectors of 16 output pixels from q on, R output channels into the rows `out[r]`.
 * Every loop over the accumulators is unrolled and indexes them by constants only (rows past the
 * layer's last channel are written to a spare plane), so they stay in registers: indexing them by a
 * run-time row count put them on the stack, 4× slower. */
#define UNROLL _Pragma("clang loop unroll(full)")
#define BLOCK(R, V)                                                                                    \
    BODY void block##R##_##V(int c, int w, const float *copies, size_t L, const float *wt,            \
                             const float *bv, int relu, int q, float *const *out) {                   \
        vf16 a0[R], a1[R];                                                                             \
        UNROLL for (int r = 0; r < R; r++) { a0[r] = SPLAT(bv[r]); a1[r] = a0[r]; }                    \
        const float *cp = copies + q;                                                                  \
        for (int ci = 0; ci < c; ci++, cp += 3 * L, wt += 9 * R) {                                     \
            UNROLL for (int t = 0; t < 9; t++) {                                                       \
                const float *src = cp + (t % 3) * L + (t / 3) * w;                                     \
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
BLOCK(12, 2)
BLOCK(12, 1)
BLOCK(8, 2)
BLOCK(8, 1)

/* The output channels [o, o + rows) of one image from its copies; the map's pixels are whole
 * vectors. One entry point per block height: with all four blocks inlined into one function the
 * compiler spilled accumulators. */
#define ROWS(R)                                                                                        \
    BODY void rows##R##_body(int rows, int c, int h, int w, const float *copies, size_t L, const float *wt, \
                             const float *bias, int relu, float *y, float *spare) {                   \
        int p = h * w, q = 0;                                                                          \
        float bv[R], *out[R];                                                                          \
        for (int r = 0; r < R; r++) {                                                                  \
            bv[r] = bias && r < rows ? bias[r] : 0.0f;                                                 \
            out[r] = r < rows ? y + (size_t)r * p : spare;                                             \
        }                                                                                              \
        for (; q + 32 <= p; q += 32) block##R##_2(c, w, copies, L, wt, bv, relu, q, out);              \
        if (q < p) block##R##_1(c, w, copies, L, wt, bv, relu, q, out);                                \
    }                                                                                                  \
    VARIANTS(rows##R, (int rows, int c, int h, int w, const float *copies, size_t L, const float *wt,  \
                       const float *bias, int relu, float *y, float *spare),                          \
             (rows, c, h, w, copies, L, wt, bias, relu, y, spare))
ROWS(12)
ROWS(8)

BODY void copies_body(int c, int h, int w, const float *x, float *s, size_t L) {
    shifted_copies(c, h, w, x, (size_t)h * w, s, L);
}
VARIANTS(copies, (int c, int h, int w, const float *x, float *s, size_t L), (c, h, w, x, s, L))

void ck_direct3x3(int k, int c, int images, int h, int w, const float *x, size_t xs, const float *packed,
                  const float *bias, int relu, float *y, size_t ys, float *scratch) {
    int R = block_rows(k), p = h * w;
    size_t L = copy_length(h, w);
    for (int i = 0; i < images; i++) {
        copies(c, h, w, x + i * xs, scratch, L);
        for (int o = 0; o < k; o += R) {
            int rows = k - o < R ? k - o : R;
            const float *wt = packed + (size_t)(o / R) * c * 9 * R, *b = bias ? bias + o : 0;
            float *out = y + i * ys + (size_t)o * p;
            float *spare = scratch + (size_t)c * 3 * L;
            if (R == 12) rows12(rows, c, h, w, scratch, L, wt, b, relu, out, spare);
            else rows8(rows, c, h, w, scratch, L, wt, b, relu, out, spare);
        }
    }
}
