/* The backward of a ReLU fused into the layer under it: the gradient masked by the ReLU's output
 * and, in the same pass, its per-channel sums (that layer's bias gradient), over a block of
 * channels walked image-major as in batchnorm.c (plane (i, k) of each tensor at i·ys + k·spatial;
 * a channel's planes summed in image order, 16 lanes per plane, runs of 1024 added in double). */
#include "lanes.h"
#pragma clang fp contract(off)

typedef int vi16 __attribute__((vector_size(64), aligned(4)));

BODY void ck_relu_mask_sums_body(int images, int channels, int spatial, const float *g, const float *y, size_t ys,
                                 float *out, double *sums) {
    const vf16 zero = { 0 };
    for (int i = 0; i < images; i++)
        for (int k = 0; k < channels; k++) {
            size_t at = i * ys + (size_t)k * spatial;
            const float *gp = g + at, *yp = y + at;
            float *op = out + at;
            int j = 0;
            while (j < spatial) {
                int end = j + 1024 < spatial ? j + 1024 : spatial;
                vf16 acc = { 0 };
                float tail = 0;
                for (; j + 16 <= end; j += 16) {
                    vf16 v = (vf16)((vi16) * (const vf16 *)(gp + j) & (*(const vf16 *)(yp + j) > zero));
                    *(vf16 *)(op + j) = v;
                    acc += v;
                }
                for (; j < end; j++) { float v = yp[j] > 0 ? gp[j] : 0; op[j] = v; tail += v; }
                sums[k] += (double)lane_sum(&acc) + (double)tail;
            }
        }
}
VARIANTS(ck_relu_mask_sums, (int images, int channels, int spatial, const float *g, const float *y, size_t ys,
                             float *out, double *sums),
         (images, channels, spatial, g, y, ys, out, sums))
