#ifndef TRAINER_CPNG_SHIM_H
#define TRAINER_CPNG_SHIM_H
#include <png.h>
/* PNG_IMAGE_VERSION, PNG_FORMAT_* and PNG_IMAGE_FAILED are macros: expose what the decoder uses. */
static inline png_uint_32 trainer_png_image_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 trainer_png_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline png_uint_32 trainer_png_format_rgb(void) { return PNG_FORMAT_RGB; }
#endif
