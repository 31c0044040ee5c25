// What the PNG and JPEG decoders share: the object behind the opaque vl_decoder handle.
#ifndef VL_DECODER_H
#define VL_DECODER_H

#include "vl_codecs.h"

// Each codec's decoder struct starts with this, so vl_decoder_read and vl_decoder_close can dispatch.
struct vl_decoder {
    // Decodes into a buffer already checked against the size below.
    vl_status (*read)(vl_decoder *self, uint8_t *pixels, vl_image_info *info, vl_message *message);
    void (*destroy)(vl_decoder *self);
    // The output size, known once the header has been read.
    uint32_t width;
    uint32_t height;
    uint32_t bytes_per_pixel;
};

// Copies `text` into `message`, truncating it to fit.
void vl_set_message(vl_message *message, const char *text);

#endif
