/* 8×8 float transposes, for the kernels that compute with output channels in the vector lanes
 * (conv3x3.c's packed ∂y, blocked.c's pixel blocks) and move between that layout and planes.
 * Data movement only: no arithmetic, the same bits at every SIMD level. */
#ifndef TRAINER_CKERNELS_TRANSPOSE_H
#define TRAINER_CKERNELS_TRANSPOSE_H
#include "lanes.h"

/* r[j] becomes what was column j of the rows r[0..7]. */
BODY void transpose8(vf8 r[8]) {
    vf8 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4)
        for (int j = 0; j < 2; j++) {
            u[i + 2 * j] = __builtin_shufflevector(t[i + j], t[i + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[i + 2 * j + 1] = __builtin_shufflevector(t[i + j], t[i + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int j = 0; j < 4; j++) {
        r[j] = __builtin_shufflevector(u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[j + 4] = __builtin_shufflevector(u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* dst[j·ldd + q] = src[q·16 + j] for j < 16 and q < n: n pixels of 16 lanes into 16 planes. */
BODY void lanes_to_planes(const float *src, int n, float *dst, size_t ldd) {
    int q = 0;
    for (; q + 8 <= n; q += 8)
        for (int half = 0; half < 16; half += 8) {
            vf8 r[8];
            for (int i = 0; i < 8; i++) r[i] = *(const vf8 *)(src + (size_t)(q + i) * 16 + half);
            transpose8(r);
            for (int j = 0; j < 8; j++) *(vf8 *)(dst + (size_t)(half + j) * ldd + q) = r[j];
        }
    for (; q < n; q++)
        for (int j = 0; j < 16; j++) dst[j * ldd + q] = src[(size_t)q * 16 + j];
}

/* dst[q·16 + j] = src[j·lds + q] for q < n, j < 16, zero for j ≥ rows: `rows` planes into n pixels
 * of 16 lanes. */
BODY void planes_to_lanes(const float *src, size_t lds, int rows, int n, float *dst) {
    int q = 0;
    for (; q + 8 <= n; q += 8)
        for (int half = 0; half < 16; half += 8) {
            vf8 r[8];
            for (int j = 0; j < 8; j++) r[j] = half + j < rows ? *(const vf8 *)(src + (size_t)(half + j) * lds + q) : (vf8){0};
            transpose8(r);
            for (int i = 0; i < 8; i++) *(vf8 *)(dst + (size_t)(q + i) * 16 + half) = r[i];
        }
    for (; q < n; q++) {
        for (int j = 0; j < rows; j++) dst[(size_t)q * 16 + j] = src[j * lds + q];
        for (int j = rows; j < 16; j++) dst[(size_t)q * 16 + j] = 0;
    }
}
#endif
