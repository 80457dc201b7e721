/* Winograd F(m×m, 3×3) tile transforms and the α² batched products, m = 2 or 4, α = m + 2
 * (the matrices are listed in TensorCore/WinogradTransforms.swift).
 *
 * A 2-D transform L·X·Lᵀ runs as two 1-D passes so that both vectorise over tiles: a row pass
 * along each image row (tiles `m` floats apart) into a scratch of (row, point, image·tile
 * column), then a column pass down the rows over that contiguous last axis. Tiles are therefore
 * ordered (tile row, image, tile column) within a chunk; the products do not care about the
 * order. The transforms are plain adds and multiplies with contraction off, so every SIMD level
 * gives the same bits; the products use explicit fused multiply-adds in a fixed order over the
 * inner dimension, so a column's result does not depend on the other columns. */
#include "lanes.h"
#include <string.h>

#pragma clang fp contract(off)

/* Row passes run over a map's tile columns (2 to 16 of them): 8 lanes (4 on maps of 4 tile
 * columns), not the 64 the vectoriser would pick for an unknown trip count. */
#define ROW_LOOP _Pragma("clang loop vectorize_width(8) interleave_count(1)")
#define ROW_LOOP4 _Pragma("clang loop vectorize_width(4) interleave_count(1)")

/* ---- 1-D transforms: x[0..nIn) → y[0..nOut) -------------------------------------------------- */

BODY void input1d(int m, const float *d, float *y) {              /* Bᵀ d, α → α */
    if (m == 2) {
        y[0] = d[0] - d[2]; y[1] = d[1] + d[2]; y[2] = d[2] - d[1]; y[3] = d[1] - d[3];
        return;
    }
    float a = d[4] - 4 * d[2], b = d[3] - 4 * d[1], c = d[4] - d[2], e = 2 * (d[3] - d[1]);
    y[0] = 4 * d[0] - 5 * d[2] + d[4];
    y[1] = a + b; y[2] = a - b; y[3] = c + e; y[4] = c - e;
    y[5] = 4 * d[1] - 5 * d[3] + d[5];
}

BODY void output1d(int m, const float *x, float *y) {             /* Aᵀ M, α → m */
    if (m == 2) {
        y[0] = x[0] + x[1] + x[2]; y[1] = x[1] - x[2] - x[3];
        return;
    }
    float s12 = x[1] + x[2], d12 = x[1] - x[2], s34 = x[3] + x[4], d34 = x[3] - x[4];
    y[0] = x[0] + s12 + s34; y[1] = d12 + 2 * d34; y[2] = s12 + 4 * s34; y[3] = d12 + 8 * d34 + x[5];
}

BODY void gradient1d(int m, const float *x, float *y) {           /* A ∂y, m → α */
    if (m == 2) {
        y[0] = x[0]; y[1] = x[0] + x[1]; y[2] = x[0] - x[1]; y[3] = -x[1];
        return;
    }
    float even = x[0] + x[2], odd = x[1] + x[3], even4 = x[0] + 4 * x[2], odd4 = 2 * x[1] + 8 * x[3];
    y[0] = x[0]; y[1] = even + odd; y[2] = even - odd; y[3] = even4 + odd4; y[4] = even4 - odd4; y[5] = x[3];
}

/* ---- Geometry --------------------------------------------------------------------------------- */

typedef struct { int m, a, h, w, th, tw, images; size_t rs; } geo;

BODY geo geometry(int m, int images, int h, int w) {
    geo g = { m, m + 2, h, w, (h + m - 1) / m, (w + m - 1) / m, images, 0 };
    g.rs = (size_t)images * g.tw;
    return g;
}

size_t ck_winograd_scratch(int m, int images, int h, int w) {
    geo g = geometry(m, images, h, w);
    size_t rows = (size_t)g.th * m + 2, pw = (size_t)g.tw * m + 2;
    return rows * g.a * g.rs + rows * pw + 32;
}

/* dst[0..n) = src[0..n), inlined: the rows are short (4 to 64 floats), and a libc memcpy call
 * per row cost more than the copy. */
BODY void copy_row(float *restrict dst, const float *restrict src, int n) {
    for (int i = 0; i < n; i++) dst[i] = src[i];
}

/* Columns [tiles, ld) of the α² rows `ps` apart are zeroed: the products may read them. */
BODY void zero_tail(float *v, size_t ps, int a, size_t tiles, size_t ld) {
    if (tiles == ld) return;
    for (int xi = 0; xi < a * a; xi++) memset(v + xi * ps + tiles, 0, (ld - tiles) * sizeof(float));
}

/* ---- Input: V = Bᵀ d B ------------------------------------------------------------------------ */

/* Row pass of one padded image row `row` (tw·m + 2 floats): r[j·rs + tc] = (Bᵀ d)_j, d = row[tc·m ..]. */
#define INPUT_ROW(name, lanes)                                                                   \
    BODY void name(geo g, const float *restrict row, float *restrict r) {                        \
        lanes                                                                                    \
        for (int tc = 0; tc < g.tw; tc++) {                                                      \
            float d[6], y[6];                                                                    \
            for (int j = 0; j < g.a; j++) d[j] = row[tc * g.m + j];                              \
            input1d(g.m, d, y);                                                                  \
            for (int j = 0; j < g.a; j++) r[j * g.rs + tc] = y[j];                               \
        }                                                                                        \
    }
INPUT_ROW(input_row8, ROW_LOOP)
INPUT_ROW(input_row4, ROW_LOOP4)

BODY void input_row(geo g, const float *restrict row, float *restrict r) {
    if (g.tw >= 8) input_row8(g, row, r); else input_row4(g, row, r);
}

/* Whether the shuffle row passes (input and output) serve this map: F(2×2) on rows of 32, the
 * widest layers of CIFAR networks. */
BODY int shuffle_rows(int m, int w) { return m == 2 && w == 32; }

/* F(2×2) row pass straight from an image row of 32 floats, no padded copy: the padded row
 * is 0, x, 0, so tile tc reads x[2tc − 1 .. 2tc + 2], which are the odd lanes shifted up one, the
 * even lanes, the odd lanes and the even lanes shifted down one. The same arithmetic as
 * input_row (the same bits), a few shuffles instead of a copy and element-wise gathers. */
BODY void input_row2_w32(const float *x, float *r, size_t rs) {
    vf16 lo = *(const vf16 *)x, hi = *(const vf16 *)(x + 16), zero = { 0 };
    vf16 e = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    vf16 o = __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    vf16 before = __builtin_shufflevector(o, zero, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    vf16 after = __builtin_shufflevector(e, zero, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    *(vf16 *)r = before - o;
    *(vf16 *)(r + rs) = e + o;
    *(vf16 *)(r + 2 * rs) = o - e;
    *(vf16 *)(r + 3 * rs) = e - after;
}

/* Column pass of the scratch R (rows, α, rs): V[(i·α + j)·ps + tr·rs + t] = (Bᵀ R[tr·m ..][j])_i. */
BODY void input_columns(geo g, const float *r, float *v, size_t ps) {
    size_t pitch = (size_t)g.a * g.rs;
    for (int tr = 0; tr < g.th; tr++) {
        for (int j = 0; j < g.a; j++) {
            const float *src = r + (size_t)tr * g.m * pitch + j * g.rs;
            float *dst = v + j * ps + tr * g.rs;
            for (size_t t = 0; t < g.rs; t++) {
                float d[6], y[6];
                for (int i = 0; i < g.a; i++) d[i] = src[i * pitch + t];
                input1d(g.m, d, y);
                for (int i = 0; i < g.a; i++) dst[i * g.a * ps + t] = y[i];
            }
        }
    }
}

BODY void input_body(int m, const float *x, size_t xs, int images, int h, int w, float *v, size_t ps, size_t ld,
                     float *scratch) {
    geo g = geometry(m, images, h, w);
    int rows = g.th * m + 2, pw = g.tw * m + 2;
    /* The image's zero-bordered plane first, then the row passes over it: rows copied just
     * before they are read would stall store-to-load forwarding on the unaligned loads. */
    float *plane = scratch, *r = scratch + (size_t)rows * pw + 16;
    int direct = shuffle_rows(m, w);
    if (!direct) memset(plane, 0, (size_t)rows * pw * sizeof(float));
    for (int i = 0; i < images; i++) {
        const float *image = x + i * xs;
        if (!direct)
            for (int pr = 1; pr <= h; pr++) copy_row(plane + pr * pw + 1, image + (size_t)(pr - 1) * w, w);
        for (int pr = 0; pr < rows; pr++) {
            float *dst = r + (size_t)pr * g.a * g.rs + (size_t)i * g.tw;
            if (pr == 0 || pr > h) {
                for (int j = 0; j < g.a; j++) memset(dst + j * g.rs, 0, g.tw * sizeof(float));
            } else if (direct) {
                const float *row = image + (size_t)(pr - 1) * w;
                input_row2_w32(row, dst, g.rs);
            } else {
                input_row(g, plane + pr * pw, dst);
            }
        }
    }
    input_columns(g, r, v, ps);
    zero_tail(v, ps, g.a, (size_t)g.th * g.rs, ld);
}

/* ---- Output gradient: Z = A ∂y Aᵀ ------------------------------------------------------------- */

/* Row pass of one ∂y row (tw·m floats): r[j·rs + tc] = (A d)_j, d = src[tc·m ..]. */
BODY void gradient_row(geo g, const float *restrict src, float *restrict r) {
    ROW_LOOP
    for (int tc = 0; tc < g.tw; tc++) {
        float d[4], y[6];
        for (int j = 0; j < g.m; j++) d[j] = src[tc * g.m + j];
        gradient1d(g.m, d, y);
        for (int j = 0; j < g.a; j++) r[j * g.rs + tc] = y[j];
    }
}

BODY void gradient_body(int m, const float *gy, size_t ys, int images, int h, int w, float *z, size_t ps, size_t ld,
                        float *scratch) {
    geo g = geometry(m, images, h, w);
    int rows = g.th * m, pw = g.tw * m;
    float *row = scratch, *r = scratch + pw + 16;
    size_t pitch = (size_t)g.a * g.rs;
    memset(row, 0, pw * sizeof(float));
    for (int i = 0; i < images; i++) {
        for (int pr = 0; pr < rows; pr++) {
            float *dst = r + pr * pitch + (size_t)i * g.tw;
            if (pr >= h) {
                for (int j = 0; j < g.a; j++) memset(dst + j * g.rs, 0, g.tw * sizeof(float));
                continue;
            }
            const float *src = gy + i * ys + (size_t)pr * w;
            if (pw != w) { copy_row(row, src, w); src = row; }
            gradient_row(g, src, dst);
        }
    }
    for (int tr = 0; tr < g.th; tr++) {
        for (int j = 0; j < g.a; j++) {
            const float *src = r + (size_t)tr * m * pitch + j * g.rs;
            float *dst = z + j * ps + tr * g.rs;
            for (size_t t = 0; t < g.rs; t++) {
                float d[4], y[6];
                for (int i = 0; i < m; i++) d[i] = src[i * pitch + t];
                gradient1d(m, d, y);
                for (int i = 0; i < g.a; i++) dst[i * g.a * ps + t] = y[i];
            }
        }
    }
    zero_tail(z, ps, g.a, (size_t)g.th * g.rs, ld);
}

/* ---- Output: y = relu?(Aᵀ M A + bias) ------------------------------------------------------------ */

/* A fused ReLU on a row just written (still in L1): x where x > 0, else 0 (NaN too), as
 * Kernels.relu. */
BODY void relu_row(float *restrict row, int n) {
    ROW_LOOP
    for (int j = 0; j < n; j++) row[j] = row[j] > 0 ? row[j] : 0;
}

/* One output row: dst[tc·m + c] = (Aᵀ t)_c + bias, t[j] = src[j·rs + tc]. */
#define OUTPUT_ROW(name, lanes)                                                                  \
    BODY void name(geo g, const float *restrict src, float bias, float *restrict dst) {          \
        lanes                                                                                    \
        for (int tc = 0; tc < g.tw; tc++) {                                                      \
            float d[6], o[4];                                                                    \
            for (int j = 0; j < g.a; j++) d[j] = src[j * g.rs + tc];                             \
            output1d(g.m, d, o);                                                                 \
            for (int c = 0; c < g.m; c++) dst[tc * g.m + c] = o[c] + bias;                       \
        }                                                                                        \
    }
OUTPUT_ROW(output_row8, ROW_LOOP)
OUTPUT_ROW(output_row4, ROW_LOOP4)

BODY void output_row(geo g, const float *restrict src, float bias, float *restrict dst) {
    if (g.tw >= 8) output_row8(g, src, bias, dst); else output_row4(g, src, bias, dst);
}

/* F(2×2) output row of 32 floats: both outputs of 16 tiles, interleaved by two shuffles (the
 * arithmetic of output_row, the same bits). */
BODY void output_row2_w32(const float *src, size_t rs, float bias, float *dst) {
    vf16 d0 = *(const vf16 *)src, d1 = *(const vf16 *)(src + rs), d2 = *(const vf16 *)(src + 2 * rs),
         d3 = *(const vf16 *)(src + 3 * rs);
    vf16 o0 = d0 + d1 + d2, o1 = d1 - d2 - d3;
    vf16 lo = __builtin_shufflevector(o0, o1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    vf16 hi = __builtin_shufflevector(o0, o1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    *(vf16 *)dst = lo + SPLAT(bias);
    *(vf16 *)(dst + 16) = hi + SPLAT(bias);
}

/* Row pass of output row `ro` of tile row `tr`: T (m, α, rs) → y rows, clipped to the map. */
BODY void output_rows(geo g, const float *t, int tr, float bias, int relu, float *y, size_t ys, float *row) {
    int m = g.m, pw = g.tw * m;
    for (int ro = 0; ro < m && tr * m + ro < g.h; ro++) {
        for (int i = 0; i < g.images; i++) {
            const float *src = t + (size_t)ro * g.a * g.rs + (size_t)i * g.tw;
            float *out = y + i * ys + (size_t)(tr * m + ro) * g.w;
            if (shuffle_rows(m, g.w)) {
                output_row2_w32(src, g.rs, bias, out);
            } else {
                float *dst = pw == g.w ? out : row;
                output_row(g, src, bias, dst);
                if (dst != out) copy_row(out, row, g.w);
            }
            if (relu) relu_row(out, g.w);
        }
    }
}

BODY void output_body(int m, const float *mm, size_t ps, int images, int h, int w, float bias, int relu, float *y,
                      size_t ys, float *scratch) {
    geo g = geometry(m, images, h, w);
    float *row = scratch, *t = scratch + g.tw * m + 16;
    for (int tr = 0; tr < g.th; tr++) {
        for (int j = 0; j < g.a; j++) {
            const float *src = mm + j * ps + tr * g.rs;
            for (size_t k = 0; k < g.rs; k++) {
                float d[6], o[4];
                for (int i = 0; i < g.a; i++) d[i] = src[i * g.a * ps + k];
                output1d(m, d, o);
                for (int i = 0; i < m; i++) t[((size_t)i * g.a + j) * g.rs + k] = o[i];
            }
        }
        output_rows(g, t, tr, bias, relu, y, ys, row);
    }
}

#define TRANSFORM_PARAMS(src) (int m, const float *src, size_t stride, int images, int h, int w, float *dst, \
                               size_t ps, size_t ld, float *scratch)
BODY void ck_winograd_input_body TRANSFORM_PARAMS(x) {
    if (m == 2) input_body(2, x, stride, images, h, w, dst, ps, ld, scratch);
    else input_body(4, x, stride, images, h, w, dst, ps, ld, scratch);
}
VARIANTS(ck_winograd_input, TRANSFORM_PARAMS(x), (m, x, stride, images, h, w, dst, ps, ld, scratch))

BODY void ck_winograd_gradient_body TRANSFORM_PARAMS(gy) {
    if (m == 2) gradient_body(2, gy, stride, images, h, w, dst, ps, ld, scratch);
    else gradient_body(4, gy, stride, images, h, w, dst, ps, ld, scratch);
}
VARIANTS(ck_winograd_gradient, TRANSFORM_PARAMS(gy), (m, gy, stride, images, h, w, dst, ps, ld, scratch))

BODY void ck_winograd_output_body(int m, const float *mm, size_t ps, int images, int h, int w, float bias, int relu,
                                  float *y, size_t ys, float *scratch) {
    if (m == 2) output_body(2, mm, ps, images, h, w, bias, relu, y, ys, scratch);
    else output_body(4, mm, ps, images, h, w, bias, relu, y, ys, scratch);
}
VARIANTS(ck_winograd_output, (int m, const float *mm, size_t ps, int images, int h, int w, float bias, int relu,
                              float *y, size_t ys, float *scratch),
         (m, mm, ps, images, h, w, bias, relu, y, ys, scratch))

/* ---- Products ----------------------------------------------------------------------------------- */

/* out (R, 16·NV) = a (R, inner; row stride lda) · b (inner, 16·NV; row stride ldb). */
BODY void product_block(const int R, const int NV, int inner, const float *a, size_t lda, const float *b, size_t ldb,
                        float *out, size_t ldo) {
    vf16 acc[6][2];
    for (int r = 0; r < R; r++) for (int v = 0; v < NV; v++) acc[r][v] = (vf16){0};
    for (int c = 0; c < inner; c++) {
        vf16 bv[2];
        for (int v = 0; v < NV; v++) bv[v] = *(const vf16 *)(b + c * ldb + 16 * v);
        for (int r = 0; r < R; r++) {
            vf16 s = SPLAT(a[r * lda + c]);
            for (int v = 0; v < NV; v++) acc[r][v] = __builtin_elementwise_fma(s, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++) for (int v = 0; v < NV; v++) *(vf16 *)(out + r * ldo + 16 * v) = acc[r][v];
}

BODY void product_rows(int R, int NV, int inner, const float *a, size_t lda, const float *b, size_t ldb, float *out,
                       size_t ldo) {
    switch (R * 2 + NV - 1) {
#define CASE(r, nv) case r * 2 + nv - 1: product_block(r, nv, inner, a, lda, b, ldb, out, ldo); break;
    CASE(1, 1) CASE(1, 2) CASE(2, 1) CASE(2, 2) CASE(3, 1) CASE(3, 2)
    CASE(4, 1) CASE(4, 2) CASE(5, 1) CASE(5, 2) CASE(6, 1) CASE(6, 2)
#undef CASE
    }
}

/* Vectors of 16 across a register block of the products: 6 rows × 2 fill AVX-512's registers; on
 * AVX2 (16 registers of 8 floats) 6 × 2 would spill, so there a block is 6 × 1. The shape never
 * changes an entry's sum. */
BODY int block_vectors(void) { return ck_register_shapes() == 2 ? 2 : 1; }

/* out[ξ] (rows, cols) = a[ξ] (rows, inner) · b[ξ] (inner, cols) for ξ < points; cols rounded up to 16
 * must fit the row strides ldb and ldo. */
BODY void ck_winograd_products_body(int points, int rows, int inner, int cols, const float *a, const float *b,
                                    size_t ldb, size_t bs, float *out, size_t ldo, size_t os) {
    const int vectors = block_vectors();
    for (int xi = 0; xi < points; xi++) {
        const float *ax = a + (size_t)xi * rows * inner, *bx = b + xi * bs;
        float *ox = out + xi * os;
        for (int n0 = 0; n0 < cols; n0 += 16 * vectors) {
            int nv = vectors == 2 && cols - n0 > 16 ? 2 : 1;
            for (int r0 = 0; r0 < rows; r0 += 6) {
                int r = rows - r0 < 6 ? rows - r0 : 6;
                product_rows(r, nv, inner, ax + (size_t)r0 * inner, inner, bx + n0, ldb, ox + r0 * ldo + n0, ldo);
            }
        }
    }
}
VARIANTS(ck_winograd_products, (int points, int rows, int inner, int cols, const float *a, const float *b,
                                 size_t ldb, size_t bs, float *out, size_t ldo, size_t os),
         (points, rows, inner, cols, a, b, ldb, bs, out, ldo, os))

/* ---- Weight-gradient products: du (k, c) += z (k, T) · v (c, T)ᵀ -------------------------------
 * Both operands have T contiguous (tiles, or im2col columns), rows ldz and ldv apart; du has rows
 * lddu apart. Few channels or long rows use the dot form (16 partial sums per entry, added in a
 * fixed order); otherwise the outer form packs 32-channel blocks of v and broadcasts z. */

typedef struct { const float *z; size_t ldz; const float *v; size_t ldv; float *du; size_t lddu; } grad_ops;

/* du (R, S) += z (R, T) · v (S, T)ᵀ: 16 lanes over whole vectors of T, then the rest one by one. */
BODY void dot_block(const int R, const int S, int tiles, grad_ops o) {
    vf16 acc[4][4];
    int t16 = tiles / 16 * 16;
    for (int r = 0; r < R; r++) for (int s = 0; s < S; s++) acc[r][s] = (vf16){0};
    for (int t = 0; t < t16; t += 16) {
        vf16 zv[4], vv[4];
        for (int r = 0; r < R; r++) zv[r] = *(const vf16 *)(o.z + r * o.ldz + t);
        for (int s = 0; s < S; s++) vv[s] = *(const vf16 *)(o.v + s * o.ldv + t);
        for (int r = 0; r < R; r++)
            for (int s = 0; s < S; s++) acc[r][s] = __builtin_elementwise_fma(zv[r], vv[s], acc[r][s]);
    }
    for (int r = 0; r < R; r++) {
        for (int s = 0; s < S; s++) {
            float rest = 0;
            for (int t = t16; t < tiles; t++) rest = __builtin_fmaf(o.z[r * o.ldz + t], o.v[s * o.ldv + t], rest);
            o.du[r * o.lddu + s] += lane_sum(&acc[r][s]) + rest;
        }
    }
}

BODY void dot_rows(int R, int S, int tiles, grad_ops o) {
    switch ((R - 1) * 4 + S - 1) {
#define CASE(r, s) case (r - 1) * 4 + s - 1: dot_block(r, s, tiles, o); break;
    CASE(1, 1) CASE(1, 2) CASE(1, 3) CASE(1, 4) CASE(2, 1) CASE(2, 2) CASE(2, 3) CASE(2, 4)
    CASE(3, 1) CASE(3, 2) CASE(3, 3) CASE(3, 4) CASE(4, 1) CASE(4, 2) CASE(4, 3) CASE(4, 4)
#undef CASE
    }
}

/* v's rows (four, or three on AVX2, whose 16 registers hold 2 × 3 accumulators and the z rows)
 * stay in L1 while every row block of z (k·T, in L2) passes them. */
BODY void dot_products(int k, int c, int tiles, grad_ops o) {
    const int wide = block_vectors() == 2, RB = wide ? 4 : 2, SB = wide ? 4 : 3;
    for (int s0 = 0; s0 < c; s0 += SB) {
        int s = c - s0 < SB ? c - s0 : SB;
        for (int r0 = 0; r0 < k; r0 += RB) {
            int r = k - r0 < RB ? k - r0 : RB;
            grad_ops b = { o.z + r0 * o.ldz, o.ldz, o.v + s0 * o.ldv, o.ldv, o.du + r0 * o.lddu + s0, o.lddu };
            dot_rows(r, s, tiles, b);
        }
    }
}

/* A block of v (32 channels × TB columns) is transposed into `pack` (TB, 32) once and reused by every
 * row block of z, whose entries are broadcast. du[k][c] += Σ over each TB-column block, in order. */
enum { TB = 128 };

/* pack (t, 32) = v (rows < cs, t < tb; row stride ld)ᵀ, channels past cs zero. */
BODY void pack_block(const float *v, size_t ld, int cs, int tb, float *pack) {
    for (int t = 0; t < tb; t++) for (int c = cs; c < 32; c++) pack[t * 32 + c] = 0;
    for (int c = 0; c < cs; c++) {
        const float *src = v + c * ld;
        for (int t = 0; t < tb; t++) pack[t * 32 + c] = src[t];
    }
}

/* du (R, channels c0..c0+16·NV of the cs) += z (R, tb) · pack (tb, those channels). */
BODY void outer_block(const int R, const int NV, int c0, int tb, const float *z, size_t ldz, const float *pack,
                      float *du, size_t lddu, int cs) {
    vf16 acc[6][2];
    for (int r = 0; r < R; r++) for (int v = 0; v < NV; v++) acc[r][v] = (vf16){0};
    for (int t = 0; t < tb; t++) {
        vf16 pv[2];
        for (int v = 0; v < NV; v++) pv[v] = *(const vf16 *)(pack + t * 32 + c0 + 16 * v);
        for (int r = 0; r < R; r++) {
            vf16 s = SPLAT(z[r * ldz + t]);
            for (int v = 0; v < NV; v++) acc[r][v] = __builtin_elementwise_fma(s, pv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++) {
        float *d = du + r * lddu + c0;
        for (int v = 0; v < NV; v++, d += 16) {
            if (c0 + 16 * (v + 1) <= cs) *(vf16 *)d = *(vf16 *)d + acc[r][v];
            else for (int c = 0; c < cs - c0 - 16 * v; c++) d[c] += acc[r][v][c];
        }
    }
}

/* The pack's 32 channels in one block (AVX-512) or two halves of 16 (AVX2, see block_vectors). */
BODY void outer_rows(int R, int tb, const float *z, size_t ldz, const float *pack, float *du, size_t lddu, int cs) {
    int halves = block_vectors() == 1;
    switch (R * 2 + halves) {
#define CASE(r) case r * 2: outer_block(r, 2, 0, tb, z, ldz, pack, du, lddu, cs); break;                      \
                case r * 2 + 1: outer_block(r, 1, 0, tb, z, ldz, pack, du, lddu, cs);                       \
                    if (cs > 16) outer_block(r, 1, 16, tb, z, ldz, pack, du, lddu, cs); break;
    CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
#undef CASE
    }
}

BODY void outer_products(int k, int c, int tiles, grad_ops o) {
    float pack[TB * 32] __attribute__((aligned(64)));
    for (int c0 = 0; c0 < c; c0 += 32) {
        int cs = c - c0 < 32 ? c - c0 : 32;
        for (int t0 = 0; t0 < tiles; t0 += TB) {
            int tb = tiles - t0 < TB ? tiles - t0 : TB;
            pack_block(o.v + (size_t)c0 * o.ldv + t0, o.ldv, cs, tb, pack);
            for (int r0 = 0; r0 < k; r0 += 6) {
                int r = k - r0 < 6 ? k - r0 : 6;
                outer_rows(r, tb, o.z + r0 * o.ldz + t0, o.ldz, pack, o.du + r0 * o.lddu + c0, o.lddu, cs);
            }
        }
    }
}

BODY void gradient_products(int k, int c, int tiles, grad_ops o) {
    if (c < 32 || tiles >= 1024) dot_products(k, c, tiles, o);
    else outer_products(k, c, tiles, o);
}

BODY void ck_winograd_gradient_products_body(int points, int k, int c, int tiles, const float *z, size_t zs,
                                             const float *v, size_t vs, size_t ld, float *du) {
    for (int xi = 0; xi < points; xi++) {
        grad_ops o = { z + xi * zs, ld, v + xi * vs, ld, du + (size_t)xi * k * c, (size_t)c };
        gradient_products(k, c, tiles, o);
    }
}
VARIANTS(ck_winograd_gradient_products, (int points, int k, int c, int tiles, const float *z, size_t zs,
                                          const float *v, size_t vs, size_t ld, float *du),
         (points, k, c, tiles, z, zs, v, vs, ld, du))

BODY void ck_gradient_products_body(int k, int c, int cols, const float *z, size_t ldz, const float *v, size_t ldv,
                                    float *du, size_t lddu) {
    grad_ops o = { z, ldz, v, ldv, du, lddu };
    gradient_products(k, c, cols, o);
}
VARIANTS(ck_gradient_products, (int k, int c, int cols, const float *z, size_t ldz, const float *v, size_t ldv,
                                 float *du, size_t lddu),
         (k, c, cols, z, ldz, v, ldv, du, lddu))
