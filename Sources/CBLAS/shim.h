#ifndef TRAINER_CBLAS_SHIM_H
#define TRAINER_CBLAS_SHIM_H
#include <cblas.h>
/* OpenBLAS thread control; declared here so Swift sees one stable signature. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
