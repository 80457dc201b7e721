#ifndef TRAINER_CKERNELS_H
#define TRAINER_CKERNELS_H
/* Hot loops compiled three times (x86-64 baseline, AVX2+FMA, AVX-512) and chosen once per
 * process from the CPU's features: see kernels.c. */
#include <stddef.h>

/* 0: baseline SSE2, 1: AVX2 + FMA, 2: AVX-512 (F, BW, DQ, VL). TRAINER_SIMD=sse|avx2|avx512 lowers it. */
int ck_vector_level(void);

/* torch.optim.SGD's update over n floats (fused multiply-adds, as PyTorch's kernels):
 *   g = grad + wd·p;  b = first ? g : m·b + keep·g;  d = nesterov ? g + m·b : b;  p += neg_lr·d
 * momentum_buffer `buf` may be NULL when m = 0 (then d = g). */
void ck_sgd(size_t n, float *p, const float *grad, float *buf, float wd, float m, float keep,
            float neg_lr, int first, int nesterov);
#endif
