#include "vl_decoder.h"

#include <stdio.h>

// Whether `size` bytes hold exactly the decoder's output, computed without overflow.
static int vl_buffer_matches(const vl_decoder *decoder, size_t size) {
    const size_t stride = (size_t)decoder->width * decoder->bytes_per_pixel;
    return stride != 0 && size % stride == 0 && size / stride == decoder->height;
}

vl_status vl_decoder_read(
    vl_decoder *decoder, uint8_t *pixels, size_t pixels_size, vl_image_info *info, vl_message *message) {
    if (!vl_buffer_matches(decoder, pixels_size)) {
        vl_set_message(message, "the pixel buffer does not match the image size");
        return VL_STATUS_CORRUPT;
    }
    return decoder->read(decoder, pixels, info, message);
}

void vl_decoder_close(vl_decoder *decoder) {
    if (decoder != NULL) {
        decoder->destroy(decoder);
    }
}

void vl_set_message(vl_message *message, const char *text) {
    snprintf(message->text, sizeof message->text, "%s", text);
}
