// JPEG decoding through libjpeg(-turbo) with the settings Pillow's JpegDecode.c leaves in place: the default
// JDCT_ISLOW inverse DCT and fancy upsampling, so the pixels equal Pillow's. Greyscale and YCbCr become RGB;
// CMYK and YCCK come out as the stored CMYK bytes, which the caller converts the way Pillow does.
#include "vl_decoder.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

// A well-formed progressive JPEG has about ten scans. Each scan costs a pass over the whole coefficient buffer,
// so a small file holding thousands of tiny scans could keep a decoder busy for minutes (the CPU-time attack that
// libjpeg-turbo's djpeg -maxscans and TurboJPEG's TJPARAM_SCANLIMIT guard against).
enum { VL_JPEG_MAX_SCANS = 1000 };

static const char vl_exif_signature[] = "Exif\0";  // six bytes with the terminator
static const char vl_xmp_signature[] = "http://ns.adobe.com/xap/1.0/";  // 29 bytes with the terminator

typedef struct vl_jpeg {
    vl_decoder base;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr error;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    // Set by the callbacks just before they longjmp to `jump`.
    vl_status failure;
    vl_message message;
    // Copies of the metadata segments: libjpeg frees its saved markers in jpeg_finish_decompress.
    uint8_t *exif;
    size_t exif_size;
    uint8_t *xmp;
    size_t xmp_size;
} vl_jpeg;

static void vl_jpeg_fail(j_common_ptr cinfo, vl_status failure) {
    vl_jpeg *d = cinfo->client_data;
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    vl_set_message(&d->message, text);
    d->failure = failure;
    longjmp(d->jump, 1);
}

static void vl_jpeg_error_exit(j_common_ptr cinfo) {
    vl_jpeg_fail(cinfo, VL_STATUS_CORRUPT);
}

// jpeg_mem_src reports running out of data as a warning and feeds libjpeg a fake EOI, which would leave the rest
// of the image grey; Pillow raises "image file is truncated" there, so this is an error. Other warnings (corrupt
// entropy data, extraneous bytes) are ignored: Pillow decodes such files as well as libjpeg can.
static void vl_jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        vl_jpeg_fail(cinfo, VL_STATUS_TRUNCATED);
    }
}

// A library never prints.
static void vl_jpeg_output_message(j_common_ptr cinfo) {
    (void)cinfo;
}

static void vl_jpeg_progress(j_common_ptr cinfo) {
    if (((j_decompress_ptr)cinfo)->input_scan_number > VL_JPEG_MAX_SCANS) {
        vl_jpeg *d = cinfo->client_data;
        snprintf(d->message.text, sizeof d->message.text, "more than %d scans", VL_JPEG_MAX_SCANS);
        d->failure = VL_STATUS_CORRUPT;
        longjmp(d->jump, 1);
    }
}

static void vl_jpeg_destroy(vl_decoder *base) {
    vl_jpeg *d = (vl_jpeg *)base;
    jpeg_destroy_decompress(&d->cinfo);
    free(d->exif);
    free(d->xmp);
    free(d);
}

static vl_status vl_jpeg_failure(const vl_jpeg *d, vl_message *message) {
    *message = d->message;
    return d->failure;
}

// Copies the payload after `signature` (its terminator included) from a saved marker.
static int vl_jpeg_copy_payload(
    jpeg_saved_marker_ptr marker, const char *signature, size_t signature_size, uint8_t **copy, size_t *size) {
    if (marker->data_length < signature_size || memcmp(marker->data, signature, signature_size) != 0) {
        return 0;
    }
    const size_t payload_size = marker->data_length - signature_size;
    uint8_t *payload = malloc(payload_size + 1);  // +1: malloc(0) may return NULL
    if (payload == NULL) {
        return 0;
    }
    memcpy(payload, marker->data + signature_size, payload_size);
    free(*copy);
    *copy = payload;
    *size = payload_size;
    return 1;
}

// Keeps the first EXIF segment (Pillow's JpegImagePlugin.APP parses the first and appends later ones after it)
// and the last XMP segment (each overwrites info["xmp"] there).
static void vl_jpeg_keep_metadata(vl_jpeg *d) {
    for (jpeg_saved_marker_ptr marker = d->cinfo.marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker != JPEG_APP0 + 1) {
            continue;
        }
        if (d->exif == NULL && vl_jpeg_copy_payload(marker, vl_exif_signature, sizeof vl_exif_signature, &d->exif,
                                                    &d->exif_size)) {
            continue;
        }
        vl_jpeg_copy_payload(marker, vl_xmp_signature, sizeof vl_xmp_signature, &d->xmp, &d->xmp_size);
    }
}

static void vl_jpeg_describe(const vl_jpeg *d, vl_image_info *info) {
    memset(info, 0, sizeof *info);
    info->width = d->base.width;
    info->height = d->base.height;
    info->format = d->cinfo.out_color_space == JCS_CMYK ? VL_PIXELS_CMYK : VL_PIXELS_RGB;
    info->bytes_per_pixel = d->base.bytes_per_pixel;
    info->exif = d->exif;
    info->exif_size = d->exif_size;
    info->xmp = d->xmp;
    info->xmp_size = d->xmp_size;
}

// Reads the markers up to the first scan. Returns 0 on failure.
static int vl_jpeg_read_header(vl_jpeg *d, const uint8_t *data, size_t size) {
    if (setjmp(d->jump)) {
        return 0;
    }
    jpeg_create_decompress(&d->cinfo);
    d->cinfo.progress = &d->progress;
    jpeg_mem_src(&d->cinfo, data, (unsigned long)size);
    jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&d->cinfo, TRUE);
    // Pillow decodes 4-component files as CMYK (libjpeg turns YCCK into CMYK) and greyscale as "L", which
    // convert("RGB") replicates exactly as libjpeg's greyscale-to-RGB conversion does.
    const int cmyk = d->cinfo.jpeg_color_space == JCS_CMYK || d->cinfo.jpeg_color_space == JCS_YCCK;
    d->cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    d->base.width = d->cinfo.image_width;
    d->base.height = d->cinfo.image_height;
    d->base.bytes_per_pixel = cmyk ? 4 : 3;
    vl_jpeg_keep_metadata(d);
    return 1;
}

// Decodes every scanline into `pixels`. Returns 0 on failure.
static int vl_jpeg_read_scanlines(vl_jpeg *d, uint8_t *pixels) {
    if (setjmp(d->jump)) {
        return 0;
    }
    jpeg_start_decompress(&d->cinfo);
    if (d->cinfo.output_width != d->base.width || d->cinfo.output_height != d->base.height ||
        (uint32_t)d->cinfo.output_components != d->base.bytes_per_pixel) {
        vl_set_message(&d->message, "unexpected output size");
        d->failure = VL_STATUS_CORRUPT;
        return 0;
    }
    const size_t stride = (size_t)d->base.width * d->base.bytes_per_pixel;
    while (d->cinfo.output_scanline < d->cinfo.output_height) {
        JSAMPROW row = pixels + d->cinfo.output_scanline * stride;
        // A memory source never suspends, so no progress here would mean a libjpeg bug; do not spin on it.
        if (jpeg_read_scanlines(&d->cinfo, &row, 1) != 1) {
            vl_set_message(&d->message, "the decoder stopped before the last scanline");
            d->failure = VL_STATUS_CORRUPT;
            return 0;
        }
    }
    // Reads up to EOI, so a file cut after the last scanline is reported as truncated, as Pillow does.
    jpeg_finish_decompress(&d->cinfo);
    return 1;
}

static vl_status vl_jpeg_read(vl_decoder *base, uint8_t *pixels, vl_image_info *info, vl_message *message) {
    vl_jpeg *d = (vl_jpeg *)base;
    if (!vl_jpeg_read_scanlines(d, pixels)) {
        return vl_jpeg_failure(d, message);
    }
    vl_jpeg_describe(d, info);
    return VL_STATUS_OK;
}

vl_status vl_jpeg_open(
    const uint8_t *data, size_t size, vl_decoder **decoder, vl_image_info *info, vl_message *message) {
    *decoder = NULL;
    vl_jpeg *d = calloc(1, sizeof *d);
    if (d == NULL) {
        vl_set_message(message, "out of memory");
        return VL_STATUS_CORRUPT;
    }
    d->base.read = vl_jpeg_read;
    d->base.destroy = vl_jpeg_destroy;
    d->cinfo.err = jpeg_std_error(&d->error);
    d->error.error_exit = vl_jpeg_error_exit;
    d->error.emit_message = vl_jpeg_emit_message;
    d->error.output_message = vl_jpeg_output_message;
    d->progress.progress_monitor = vl_jpeg_progress;
    d->cinfo.client_data = d;
    if (!vl_jpeg_read_header(d, data, size)) {
        const vl_status status = vl_jpeg_failure(d, message);
        vl_jpeg_destroy(&d->base);
        return status;
    }
    vl_jpeg_describe(d, info);
    *decoder = &d->base;
    return VL_STATUS_OK;
}
