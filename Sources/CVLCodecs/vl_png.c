// PNG decoding through libpng's progressive (push) reader: every colour type and bit depth becomes 8-bit RGB or
// RGBA. The push reader is used, rather than png_read_row, because it emits each row as soon as the available
// bytes hold it; an image is then complete exactly when Pillow's decoder, which also stops once it has every row,
// would find it complete, however the tail of the file (zlib checksum, CRC, IEND) is damaged or missing.
#include "vl_decoder.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

typedef struct vl_png {
    vl_decoder base;
    png_structp png;
    png_infop info;
    const uint8_t *data;
    size_t size;
    // Bytes png_process_data has consumed (or cached) so far.
    size_t consumed;
    // Set by the error callback just before it longjmps back into the function that called libpng.
    vl_status failure;
    vl_message message;
    int have_header;
    int interlaced;
    // Destination of the row callback while vl_png_read runs.
    uint8_t *pixels;
} vl_png;

static void vl_png_error(png_structp png, png_const_charp text) {
    vl_png *d = png_get_error_ptr(png);
    d->failure = VL_STATUS_CORRUPT;
    vl_set_message(&d->message, text);
    png_longjmp(png, 1);
}

// Warnings (bad ancillary CRCs, unknown sRGB profiles, ...) never change the pixels, and a library never prints.
static void vl_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

// Called at the first IDAT chunk: sets up the transformations to 8-bit RGB(A) and pauses png_process_data, so
// the caller can check the size before anything image-sized is allocated (png_read_update_info, which allocates
// the row buffers, waits for vl_png_read).
static void vl_png_header(png_structp png, png_infop info) {
    vl_png *d = png_get_progressive_ptr(png);
    const png_byte color_type = png_get_color_type(png, info);
    const png_byte bit_depth = png_get_bit_depth(png, info);
    const int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        // Scales 1/2/4-bit grey to 0…255 by bit replication, as Pillow's "1", "L;2" and "L;4" unpackers do.
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if (has_trns) {
        // Compares against the tRNS colour at the stored bit depth, before the 16-bit strip below.
        png_set_tRNS_to_alpha(png);
    }
    if (bit_depth == 16) {
        // Keeps the high byte, like Pillow's "RGB;16B", "RGBA;16B" and "LA;16B" unpackers.
        png_set_strip_16(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_gray_to_rgb(png);
    }
    d->interlaced = png_set_interlace_handling(png) > 1;
    d->base.width = png_get_image_width(png, info);
    d->base.height = png_get_image_height(png, info);
    d->base.bytes_per_pixel = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || has_trns ? 4 : 3;
    d->have_header = 1;
    d->consumed = d->size - png_process_data_pause(png, 0);
}

// Allocates libpng's row buffers and checks that the transformations give the layout the header promised.
// Returns 0 when libpng raised an error.
static int vl_png_start_rows(vl_png *d) {
    if (setjmp(png_jmpbuf(d->png))) {
        return 0;
    }
    png_read_update_info(d->png, d->info);
    if (png_get_bit_depth(d->png, d->info) != 8 || png_get_channels(d->png, d->info) != d->base.bytes_per_pixel ||
        png_get_rowbytes(d->png, d->info) != (size_t)d->base.width * d->base.bytes_per_pixel) {
        png_error(d->png, "unexpected pixel layout after the transformations");
    }
    return 1;
}

// Called for every row of every pass; png_progressive_combine_row places an interlaced pass's pixels (or does
// nothing when this pass has none in the row).
static void vl_png_row(png_structp png, png_bytep row, png_uint_32 row_number, int pass) {
    (void)pass;
    vl_png *d = png_get_progressive_ptr(png);
    if (row_number < d->base.height) {  // always true; a bound on writes into the caller's buffer all the same
        const size_t stride = (size_t)d->base.width * d->base.bytes_per_pixel;
        png_progressive_combine_row(png, d->pixels + row_number * stride, row);
    }
}

// After the last row libpng has moved past the last row, or past the last of the 7 Adam7 passes.
static int vl_png_rows_complete(const vl_png *d) {
    if (d->interlaced) {
        return png_get_current_pass_number(d->png) >= 7;
    }
    return png_get_current_row_number(d->png) >= d->base.height;
}

// Feeds the bytes not consumed yet to libpng. Returns 0 when libpng raised an error.
static int vl_png_process(vl_png *d) {
    if (setjmp(png_jmpbuf(d->png))) {
        return 0;
    }
    const size_t offset = d->consumed;
    d->consumed = d->size;  // unless the header callback pauses earlier
    png_process_data(d->png, d->info, (png_bytep)(d->data + offset), d->size - offset);
    return 1;
}

static void vl_png_destroy(vl_decoder *base) {
    vl_png *d = (vl_png *)base;
    png_destroy_read_struct(&d->png, &d->info, NULL);
    free(d);
}

// The failure after png_process_data left the image incomplete: libpng's error, else the data ran out.
static vl_status vl_png_failure(const vl_png *d, int raised_error, vl_message *message) {
    if (raised_error) {
        *message = d->message;
        return d->failure;
    }
    vl_set_message(message, "the data ends before the image does");
    return VL_STATUS_TRUNCATED;
}

static void vl_png_describe(const vl_png *d, vl_image_info *info) {
    memset(info, 0, sizeof *info);
    info->width = d->base.width;
    info->height = d->base.height;
    info->format = d->base.bytes_per_pixel == 4 ? VL_PIXELS_RGBA : VL_PIXELS_RGB;
    info->bytes_per_pixel = d->base.bytes_per_pixel;
    // The last eXIf chunk and the last XMP text win, as in Pillow, where each chunk overwrites `info`.
    png_unknown_chunkp chunks = NULL;
    const int chunk_count = png_get_unknown_chunks(d->png, d->info, &chunks);
    for (int i = 0; i < chunk_count; i++) {
        if (memcmp(chunks[i].name, "eXIf", 4) == 0) {
            info->exif = chunks[i].data;
            info->exif_size = chunks[i].size;
        }
    }
    png_textp texts = NULL;
    int text_count = 0;
    png_get_text(d->png, d->info, &texts, &text_count);
    for (int i = 0; i < text_count; i++) {
        if (texts[i].key != NULL && texts[i].text != NULL && strcmp(texts[i].key, "XML:com.adobe.xmp") == 0) {
            info->xmp = (const uint8_t *)texts[i].text;
            info->xmp_size =
                texts[i].compression >= PNG_ITXT_COMPRESSION_NONE ? texts[i].itxt_length : texts[i].text_length;
        }
    }
}

static vl_status vl_png_read(vl_decoder *base, uint8_t *pixels, vl_image_info *info, vl_message *message) {
    vl_png *d = (vl_png *)base;
    if (!vl_png_start_rows(d)) {
        return vl_png_failure(d, 1, message);
    }
    d->pixels = pixels;
    const int processed = vl_png_process(d);
    // Once every row is in place, trouble after it is ignored, as Pillow ignores it (PngImagePlugin.load_end).
    if (!vl_png_rows_complete(d)) {
        return vl_png_failure(d, !processed, message);
    }
    vl_png_describe(d, info);
    return VL_STATUS_OK;
}

vl_status vl_png_open(
    const uint8_t *data, size_t size, vl_decoder **decoder, vl_image_info *info, vl_message *message) {
    static const png_byte text_chunks[] = "tEXt\0zTXt\0iTXt";
    *decoder = NULL;
    vl_png *d = calloc(1, sizeof *d);
    if (d == NULL) {
        vl_set_message(message, "out of memory");
        return VL_STATUS_CORRUPT;
    }
    d->base.read = vl_png_read;
    d->base.destroy = vl_png_destroy;
    d->data = data;
    d->size = size;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, vl_png_error, vl_png_warning);
    if (d->png != NULL) {
        d->info = png_create_info_struct(d->png);
    }
    if (d->info == NULL) {
        vl_png_destroy(&d->base);
        vl_set_message(message, "out of memory");
        return VL_STATUS_CORRUPT;
    }
    // These set-up calls cannot fail with constant arguments, so they need no setjmp.
    png_set_progressive_read_fn(d->png, d, vl_png_header, vl_png_row, NULL);
    // The decompression-bomb guard is the caller's pixel limit, checked against this header; libpng's default
    // (1,000,000 pixels a side) would refuse long panoramas that Pillow opens.
    png_set_user_limits(d->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    // Skip the ancillary chunks the pixels do not depend on (ICC profiles, gamma, ...: Pillow's convert("RGB")
    // ignores them too) and keep the ones that may hold an orientation. eXIf is kept raw, as an unknown chunk,
    // because libpng drops the "Exif\0\0"-prefixed variant that Pillow accepts.
    png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_AS_DEFAULT, text_chunks, 3);
    png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_ALWAYS, (png_const_bytep) "eXIf", 1);
    const int processed = vl_png_process(d);
    if (!d->have_header) {
        const vl_status status = vl_png_failure(d, !processed, message);
        vl_png_destroy(&d->base);
        return status;
    }
    vl_png_describe(d, info);
    *decoder = &d->base;
    return VL_STATUS_OK;
}
