#ifndef TRAINER_CBLAS_SHIM_H
#define TRAINER_CBLAS_SHIM_H
#include <cblas.h>
/* OpenBLAS thread control; declared here so Swift sees one stable signature. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
/* The kernel set OpenBLAS picked at load time ("Prescott", "SkylakeX", ...). */
char* openblas_get_corename(void);

/* 2: the CPU and OS support AVX-512 (F, BW, DQ, VL); 1: AVX2 with FMA; 0: neither. */
static inline int trainer_cpu_vector_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
}
#endif
