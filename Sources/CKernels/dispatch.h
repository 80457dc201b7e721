/* Shared by the kernel files: the target attributes of the three SIMD levels and VARIANTS,
 * which compiles one always-inlined body (`name##_body`) three times and dispatches on
 * ck_vector_level(). */
#ifndef TRAINER_CKERNELS_DISPATCH_H
#define TRAINER_CKERNELS_DISPATCH_H
#include "ckernels.h"

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#define BODY static inline __attribute__((always_inline))

/* Declares name_sse, name_avx2, name_avx512 around name_body and the dispatching name. */
#define VARIANTS(name, params, args)                                   \
    static void name##_sse params { name##_body args; }                \
    AVX2 static void name##_avx2 params { name##_body args; }          \
    AVX512 static void name##_avx512 params { name##_body args; }      \
    void name params {                                                 \
        switch (ck_vector_level()) {                                   \
        case 2: name##_avx512 args; break;                             \
        case 1: name##_avx2 args; break;                               \
        default: name##_sse args; break;                               \
        }                                                              \
    }
#endif
