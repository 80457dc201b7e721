#ifndef TRAINER_CJPEG_SHIM_H
#define TRAINER_CJPEG_SHIM_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

/* libjpeg reports errors by longjmp from its error_exit hook, which Swift cannot catch; this
 * decoder keeps the setjmp on the C side. Decodes `data` (a whole JPEG file) to 8-bit pixels with
 * `channels` 1 (grayscale) or 3 (RGB) components, row-major (H, W, C), into a malloc'd buffer the
 * caller frees. Returns 0, or -1 with the library's message in `message` (size `message_size`). */
struct trainer_jpeg_error { struct jpeg_error_mgr mgr; jmp_buf jump; };

static void trainer_jpeg_error_exit(j_common_ptr info) {
    struct trainer_jpeg_error *e = (struct trainer_jpeg_error *)info->err;
    longjmp(e->jump, 1);
}

/* The library's text for the error that jumped, into `message`. */
static inline void trainer_jpeg_message(j_common_ptr info, char *message, size_t message_size) {
    char text[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, text);
    snprintf(message, message_size, "%s", text);
}

static inline int trainer_jpeg_decode(const unsigned char *data, unsigned long size, int channels,
                                      unsigned char **pixels, int *width, int *height,
                                      char *message, size_t message_size) {
    struct jpeg_decompress_struct info;
    struct trainer_jpeg_error err;
    unsigned char *volatile out = NULL;
    info.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = trainer_jpeg_error_exit;
    if (setjmp(err.jump)) {
        trainer_jpeg_message((j_common_ptr)&info, message, message_size);
        jpeg_destroy_decompress(&info);
        free(out);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * (size_t)info.output_components;
    out = (unsigned char *)malloc(stride * info.output_height);
    if (out == NULL) { snprintf(message, message_size, "out of memory"); jpeg_destroy_decompress(&info); return -1; }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = out + (size_t)info.output_scanline * stride;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    *width = (int)info.output_width; *height = (int)info.output_height; *pixels = out;
    jpeg_destroy_decompress(&info);
    return 0;
}

/* The encoder, for tests that write JPEG files in the real format. Returns 0, or -1 with a message. */
static inline int trainer_jpeg_encode_file(const char *path, const unsigned char *pixels, int width, int height,
                                           int channels, int quality, char *message, size_t message_size) {
    struct jpeg_compress_struct info;
    struct trainer_jpeg_error err;
    FILE *volatile f = fopen(path, "wb");
    if (f == NULL) { snprintf(message, message_size, "cannot open for writing"); return -1; }
    info.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = trainer_jpeg_error_exit;
    if (setjmp(err.jump)) {
        trainer_jpeg_message((j_common_ptr)&info, message, message_size);
        jpeg_destroy_compress(&info);
        fclose(f);
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_stdio_dest(&info, f);
    info.image_width = (JDIMENSION)width; info.image_height = (JDIMENSION)height;
    info.input_components = channels; info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * (size_t)width * (size_t)channels);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    fclose(f);
    return 0;
}
#endif
