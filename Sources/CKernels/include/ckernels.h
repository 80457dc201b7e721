#ifndef TRAINER_CKERNELS_H
#define TRAINER_CKERNELS_H
/* Hot loops compiled three times (x86-64 baseline, AVX2+FMA, AVX-512) and chosen once per
 * process from the CPU's features: see kernels.c. */
#include <stddef.h>

/* 0: baseline SSE2, 1: AVX2 + FMA, 2: AVX-512 (F, BW, DQ, VL). TRAINER_SIMD=sse|avx2|avx512 lowers it. */
int ck_vector_level(void);

/* The level whose register-block shapes the product kernels use (blocked.c, conv3x3.c, winograd.c):
 * ck_vector_level() unless a test set another with ck_set_register_shapes (−1 restores it). A
 * shape only changes which outputs share a block, never an output's sum, so every level's
 * shapes give the same bits; the tests hold them to that on any CPU. */
int ck_register_shapes(void);
void ck_set_register_shapes(int level);

/* torch.optim.SGD's update over n floats (fused multiply-adds, as PyTorch's kernels):
 *   g = grad + wd·p;  b = first ? g : m·b + keep·g;  d = nesterov ? g + m·b : b;  p += neg_lr·d
 * momentum_buffer `buf` may be NULL when m = 0 (then d = g). */
void ck_sgd(size_t n, float *p, const float *grad, float *buf, float wd, float m, float keep,
            float neg_lr, int first, int nesterov);
/* Winograd F(m×m, 3×3), m = 2 or 4, α = m + 2, on one channel of a chunk of `images` h×w planes
 * `stride` floats apart (see winograd.c). Tiles are ordered (tile row, image, tile column); point
 * ξ of a tile lives at dst + ξ·ps, columns [tiles, ld) of each point are zeroed. `scratch` holds
 * ck_winograd_scratch floats. */
size_t ck_winograd_scratch(int m, int images, int h, int w);
/* V = Bᵀ d B of the padded (zero border 1) α×α input tiles. */
void ck_winograd_input(int m, const float *x, size_t stride, int images, int h, int w, float *dst, size_t ps,
                       size_t ld, float *scratch);
/* Z = A ∂y Aᵀ of the m×m output-gradient tiles (zero past the map). */
void ck_winograd_gradient(int m, const float *gy, size_t stride, int images, int h, int w, float *dst, size_t ps,
                          size_t ld, float *scratch);
/* y = relu?(Aᵀ M A + bias) of point matrices M (at mm + ξ·ps), clipped to the map. */
void ck_winograd_output(int m, const float *mm, size_t ps, int images, int h, int w, float bias, int relu, float *y,
                        size_t ys, float *scratch);
/* out[ξ] (rows, cols) = a[ξ] (rows, inner; packed) · b[ξ] (inner, cols; row stride ldb, ξ stride bs) for
 * ξ < points; cols are rounded up to 16, which must fit ldb and ldo. */
void ck_winograd_products(int points, int rows, int inner, int cols, const float *a, const float *b, size_t ldb,
                          size_t bs, float *out, size_t ldo, size_t os);
/* du[ξ] (k, c) += z[ξ] (k, tiles) · v[ξ] (c, tiles)ᵀ for ξ < points (the weight gradient's products);
 * z and v have row stride ld; du[ξ] is packed (k, c). */
void ck_winograd_gradient_products(int points, int k, int c, int tiles, const float *z, size_t zs, const float *v,
                                   size_t vs, size_t ld, float *du);
/* du (k, c; row stride lddu) += z (k, cols; ldz) · v (c, cols; ldv)ᵀ: a convolution's weight gradient
 * ∂y · im2col(x)ᵀ, with every entry summed in an order fixed by cols alone. */
void ck_gradient_products(int k, int c, int cols, const float *z, size_t ldz, const float *v, size_t ldv, float *du,
                          size_t lddu);
/* Weight gradient of a 3×3, stride-1, padding-1 convolution without im2col (see conv3x3.c):
 * du[o][c·9 + kh·3 + kw] (row stride lddu) += Σ_i Σ_p gy_i[o][p] · x_i[c][p shifted by (kh − 1, kw − 1)]
 * over `images` images of x (c, h, w; `xs` floats apart) and gy (k, h, w; `gs` apart). `scratch`
 * holds ck_conv3x3_weight_gradient_scratch floats. */
size_t ck_conv3x3_weight_gradient_scratch(int k, int images, int h, int w);
void ck_conv3x3_weight_gradient(int k, int c, int images, int h, int w, const float *x, size_t xs, const float *gy,
                                size_t gs, float *du, size_t lddu, float *scratch);
/* 2×2 stride-2 max-pool of one plane (row stride `width`): dst and arg (the input position h·width + w
 * of the first maximum, or of the first NaN) of out_height × out_width outputs (see pooling.c). */
void ck_maxpool2x2(const float *src, int width, float *dst, int *arg, int out_height, int out_width);
/* Its backward: the 2·out_height × 2·out_width window pixels of dst get gy where arg points, 0 elsewhere. */
void ck_maxpool2x2_backward(const float *gy, const int *arg, int out_height, int out_width, float *dst, int width);
/* BatchNorm over a block of `channels` channels of `images` images (see batchnorm.c): plane (i, k) of a
 * tensor t at t + i·ts + k·spatial; per-channel arrays indexed by k. Sums are added to s1, s2, sg, sgx. */
/* s1 += Σ(x − shift), s2 += Σ(x − shift)². */
void ck_bn_moments(int images, int channels, int spatial, const float *x, size_t xs, const float *shift,
                   double *s1, double *s2);
/* y = relu?((x − mean)·scale + shift). */
void ck_bn_apply(int images, int channels, int spatial, const float *x, size_t xs, float *y, size_t ys,
                 const float *mean, const float *scale, const float *shift, int relu);
/* sg += Σĝ, sgx += Σĝ·(x − mean), ĝ = g masked where relu?((x − mean)·scale + shift) was not positive. */
void ck_bn_gradient_sums(int images, int channels, int spatial, const float *g, size_t gs, const float *x, size_t xs,
                         const float *mean, const float *scale, const float *shift, int relu, double *sg, double *sgx);
/* dst (+)= scale·ĝ + b·(x − mean) + d, ĝ as in ck_bn_gradient_sums. */
void ck_bn_gradient(int images, int channels, int spatial, const float *g, size_t gs, const float *x, size_t xs,
                    float *dst, size_t ds, const float *mean, const float *scale, const float *shift, const float *b,
                    const float *d, int relu, int accumulate);
/* ReLU backward fused with the next sums over the same block layout: out = g where y > 0, else 0;
 * sums[k] += Σ out over channel k's planes (the bias gradient of the convolution under the ReLU). */
void ck_relu_mask_sums(int images, int channels, int spatial, const float *g, const float *y, size_t ys, float *out,
                       double *sums);
/* 2×2 stride-2 average pool of one plane of even height and width (row stride `width`), and its backward
 * (every input written), with the arithmetic of the scalar loops (see pooling.c). */
void ck_avgpool2x2(const float *src, int width, float *dst, int out_height, int out_width);
void ck_avgpool2x2_backward(const float *gy, int out_height, int out_width, float *dst, int width);
/* A 3×3 stride-1 padding-1 (kernel 3) or pointwise (kernel 1) ungrouped convolution with register-
 * blocked accumulators (see blocked.c): y (k planes per image, `ys` apart) = relu?(bias + conv(x (c planes,
 * `xs` apart), packed weights)) for `images` images whose h·w is a multiple of 16. Weights packed by
 * ck_blocked_conv_pack (ck_blocked_conv_packed floats; `flipped` packs the input gradient's kernel of a
 * layer with k inputs and c outputs); `scratch`: ck_blocked_conv_scratch floats. */
size_t ck_blocked_conv_scratch(int c, int kernel, int h, int w);
size_t ck_blocked_conv_packed(int k, int c, int kernel);
void ck_blocked_conv_pack(int k, int c, int kernel, const float *w, int flipped, float *packed);
void ck_blocked_conv(int k, int c, int kernel, int images, int h, int w, const float *x, size_t xs,
                     const float *packed, const float *bias, int relu, float *y, size_t ys, float *scratch);
#endif
