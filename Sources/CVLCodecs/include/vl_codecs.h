// Thin PNG and JPEG decoders over libpng and libjpeg for the VLImage module.
//
// Two phases, so the caller can check the size from the header before it allocates any pixels:
//   vl_png_open / vl_jpeg_open  parse the header and fill a vl_image_info,
//   vl_decoder_read             decodes every pixel into a buffer the caller allocated,
//   vl_decoder_close            frees everything (call it after a successful open, whatever happened next).
// libpng's and libjpeg's setjmp/longjmp error handling never leaves these functions: every failure comes back
// as a vl_status plus a message. Nothing is printed. The input bytes must stay valid until vl_decoder_close.
#ifndef VL_CODECS_H
#define VL_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Outcome of a decoder call.
typedef enum vl_status {
    VL_STATUS_OK = 0,
    /// The data ends before the image does.
    VL_STATUS_TRUNCATED = 1,
    /// The codec rejected the data (or ran out of memory); the vl_message says why.
    VL_STATUS_CORRUPT = 2,
} vl_status;

/// The layout of the pixels vl_decoder_read writes: 8 bits per sample, interleaved, rows top to bottom.
typedef enum vl_pixel_format {
    /// R, G, B.
    VL_PIXELS_RGB = 3,
    /// R, G, B, A with straight (not premultiplied) alpha.
    VL_PIXELS_RGBA = 4,
    /// C, M, Y, K exactly as stored in a 4-component JPEG (Adobe files store them inverted).
    VL_PIXELS_CMYK = 5,
} vl_pixel_format;

/// What a decoder knows about an image.
typedef struct vl_image_info {
    /// Size as stored, before any EXIF orientation.
    uint32_t width;
    uint32_t height;
    /// Layout of the decoded pixels; 3 or 4 bytes per pixel.
    vl_pixel_format format;
    uint32_t bytes_per_pixel;
    /// TIFF structure of the EXIF block (JPEG APP1 "Exif\0\0" payload, PNG eXIf chunk), or NULL.
    /// Owned by the decoder; valid until vl_decoder_close. PNG files may add it after the pixels: read it
    /// after vl_decoder_read.
    const uint8_t *exif;
    size_t exif_size;
    /// XMP packet (JPEG APP1 "http://ns.adobe.com/xap/1.0/", PNG text "XML:com.adobe.xmp"), or NULL; same rules.
    const uint8_t *xmp;
    size_t xmp_size;
} vl_image_info;

/// A codec's message about a failure, NUL-terminated.
typedef struct vl_message {
    char text[200];
} vl_message;

/// An open decoder; opaque.
typedef struct vl_decoder vl_decoder;

/// Parses a PNG header. On success *decoder is set and must be closed; on failure it is NULL.
vl_status vl_png_open(
    const uint8_t *data, size_t size, vl_decoder **decoder, vl_image_info *info, vl_message *message);

/// Parses a JPEG header. On success *decoder is set and must be closed; on failure it is NULL.
vl_status vl_jpeg_open(
    const uint8_t *data, size_t size, vl_decoder **decoder, vl_image_info *info, vl_message *message);

/// Decodes all pixels into `pixels`, which must hold width * height * bytes_per_pixel bytes; call once.
/// Updates `info` with metadata found after the pixel data.
vl_status vl_decoder_read(
    vl_decoder *decoder, uint8_t *pixels, size_t pixels_size, vl_image_info *info, vl_message *message);

/// Frees the decoder; NULL is allowed.
void vl_decoder_close(vl_decoder *decoder);

#ifdef __cplusplus
}
#endif

#endif
