/* Runtime SIMD dispatch for the hand-written hot loops.
 *
 * Swift code builds for the default x86-64 target: SSE2 without FMA, so its SIMD8 loops run at
 * 128-bit width and every `addingProduct` is a call into libm's software fmaf. Each kernel here
 * is written once as a plain loop (`*_body`, always inlined) and compiled into three entry points
 * with different `target` attributes; `ck_vector_level` picks one from cpuid the first time.
 * The default build therefore still runs on any x86-64, and full-width AVX2/AVX-512 with
 * hardware FMA is used where the CPU has it. Results are identical across the three variants:
 * each element's arithmetic is the same sequence of fused multiply-adds. */
#include "dispatch.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int level = -1;

int ck_vector_level(void) {
    if (level >= 0) return level;
    __builtin_cpu_init();
    int best = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = 1;
    if (best == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) best = 2;
    const char *cap = getenv("TRAINER_SIMD");
    if (cap && strcmp(cap, "sse") == 0) best = 0;
    else if (cap && strcmp(cap, "avx2") == 0 && best > 1) best = 1;
    level = best;
    return level;
}

static int shapes = -1;

int ck_register_shapes(void) { return shapes >= 0 ? shapes : ck_vector_level(); }

void ck_set_register_shapes(int lvl) { shapes = lvl; }

BODY void ck_sgd_body(size_t n, float *restrict p, const float *restrict grad, float *restrict buf, float wd,
                      float m, float keep, float neg_lr, int first, int nesterov) {
    if (m == 0) {
        for (size_t i = 0; i < n; i++) {
            float g = wd != 0 ? fmaf(wd, p[i], grad[i]) : grad[i];
            p[i] = fmaf(neg_lr, g, p[i]);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float g = wd != 0 ? fmaf(wd, p[i], grad[i]) : grad[i];
        float b = first ? g : fmaf(keep, g, buf[i] * m);
        buf[i] = b;
        float d = nesterov ? fmaf(m, b, g) : b;
        p[i] = fmaf(neg_lr, d, p[i]);
    }
}
VARIANTS(ck_sgd, (size_t n, float *p, const float *grad, float *buf, float wd, float m, float keep, float neg_lr,
                  int first, int nesterov),
         (n, p, grad, buf, wd, m, keep, neg_lr, first, nesterov))
