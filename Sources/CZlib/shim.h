#ifndef TRAINER_CZLIB_SHIM_H
#define TRAINER_CZLIB_SHIM_H
/* gzopen/gzread read gzip streams and plain files alike (dataset archives, MNIST idx files). */
#include <zlib.h>
#endif
