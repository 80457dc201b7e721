/* The 16-float vector the product kernels are written in (one AVX-512 register, two AVX2 ones,
 * four SSE ones: the same arithmetic at every SIMD level), its two helpers, and the 8-float vector
 * of the data-movement loops (shifted copies, transposes, pooling), shared by the kernel files. */
#ifndef TRAINER_CKERNELS_LANES_H
#define TRAINER_CKERNELS_LANES_H
#include "dispatch.h"

typedef float vf16 __attribute__((vector_size(64), aligned(4)));
typedef float vf8 __attribute__((vector_size(32), aligned(4)));

/* x in every lane; x − (+0) is x exactly, −0 included. */
#define SPLAT(x) ((x) - (vf16){0})

/* Σ of the 16 lanes in a fixed pairwise order (the same at every SIMD level). */
BODY float lane_sum(const vf16 *p) {
    typedef float vf4 __attribute__((vector_size(16)));
    vf16 v = *p;
    vf8 h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    vf4 q = __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
    return (q[0] + q[2]) + (q[1] + q[3]);
}
#endif
