// Block-quantized weights (q8, q4) for vlbatch, the q8 form of the inputs they multiply, and their product.
// ISA-neutral: no intrinsics here.
//
// Blocks. Every row of a [rows, cols] F32 weight matrix is cut into blocks of VL_QBLOCK = 32 consecutive weights
// (cols must be a multiple of 32; the loader keeps other shapes in higher precision). A block has one scale d and 32
// small integers q, and weight i = (float)q[i] * d (one float multiplication, rounded to nearest):
//   q8: d = max|w| / 127 (float division); q[i] = round(w[i] / d), ties away from zero, in -127..127
//   q4: d = max|w| / 7; q[i] in -7..7 the same way
// A block whose max|w| is 0 (or so small that d underflows to 0) has d = 0 and all q = 0: it decodes to +0.
// Non-finite inputs are outside the contract; they give some finite or non-finite block, never undefined behaviour.
//
// Weight layout. Rows go in groups of VL_QGROUP = 16 (the last group of a row count that is not a multiple of 16 is
// padded with rows whose d and q are 0). The 16 blocks of a group that cover the same 32 columns are stored together
// as a group block, and a group's group blocks follow each other from column 0; groups follow each other from row 0:
//   group block (g, j), rows 16g .. 16g + 15, columns 32j .. 32j + 31, starts at byte (g * (cols / 32) + j) * 16 * B
// with B = VL_Q8_BLOCK_BYTES (36) or VL_Q4_BLOCK_BYTES (20) bytes per block. A group block holds:
//   bytes 0..63      the 16 scales d, row 16g + c at bytes 4c .. 4c + 3 (IEEE binary32, little-endian)
//   then 64-byte chunks, byte 4c + i of a chunk belonging to row 16g + c:
//   q8: 8 chunks; chunk t, byte 4c + i = q[4t + i] + 128 (an unsigned byte, 1..255)
//   q4: 4 chunks; chunk t, byte 4c + i = (q[4t + i] + 8) | (q[16 + 4t + i] + 8) << 4 (nibbles 1..15)
// So one aligned 64-byte load gives 16 rows times 4 consecutive weights, as unsigned bytes: the operand of the
// AVX512_VNNI dot product, which adds 4 byte products into one 32-bit lane per row. A row range streams through
// memory in one contiguous run, whatever the number of inputs. q8 takes 9 bits per weight, q4 5.
//
// Inputs. The vectors a q8 / q4 matrix multiplies are quantized to q8 blocks as well (vl_quantize_inputs), as
// llama.cpp's Q8_0 / Q4_0 products do, stored row after row, block after block, VL_QINPUT_BLOCK_BYTES = 40 bytes each:
//   bytes 0..3   d (binary32, as above, max|x| / 127)
//   bytes 4..7   -o * (the sum of the block's 32 q), int32 little-endian, with o the weights' offset (128 for q8, 8 for
//                q4): the start of the integer lane that removes it. Inputs are therefore prepared for one format.
//   bytes 8..39  q[i], int8, i = 0..31
//
// Product. For weight row r and input row b, with w_j, x_j their blocks j and d_w, d_x the blocks' scales:
//   s = +0
//   for j in 0 ..< cols / 32:
//       i = sum over t < 32 of w_j[t] * x_j[t]         (an exact integer, |i| <= 32 * 127 * 127)
//       s = fma((float)i, d_w * d_x, s)                 (d_w * d_x one float multiplication)
//   y = s + bias[r]   (or s without a bias)
// Every ISA and every split of rows (threads) or inputs (batches, prefill against decode) follows this order, so
// results are bit-identical across all of them. They differ from the F32 product on the dequantized weights by the
// input quantization (a relative error of about 0.3 %, measured in the tests).
#ifndef VL_QUANT_H
#define VL_QUANT_H

#include "vl_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Weights per quantization block.
#define VL_QBLOCK 32
/// Rows per group of the weight layout.
#define VL_QGROUP 16
/// Bytes of one q8 weight block: a binary32 scale and 32 bytes.
#define VL_Q8_BLOCK_BYTES 36
/// Bytes of one q4 weight block: a binary32 scale and 16 bytes holding 32 nibbles.
#define VL_Q4_BLOCK_BYTES 20
/// Bytes of one input block: a binary32 scale, the int32 sum of the values, 32 int8 values.
#define VL_QINPUT_BLOCK_BYTES 40

/// The weight formats.
typedef enum { VL_Q8 = 0, VL_Q4 = 1 } vl_qformat;

/// Bytes of a [rows, cols] weight matrix in `format` (rows rounded up to a whole group; cols a multiple of 32).
size_t vl_qweights_bytes(vl_qformat format, size_t rows, size_t cols);

/// Quantizes the row-major F32 matrix src [rows, cols] into dst (vl_qweights_bytes(format, rows, cols) bytes, the
/// padding rows of the last group included). Returns 0, or -1 without writing when cols is not a multiple of 32.
/// Every isa gives the same bytes. A matrix may be quantized in bands of rows, each band a multiple of 16 rows but
/// the last, at byte offset vl_qweights_bytes(format, first row of the band, cols).
int vl_quantize_weights(vl_isa isa, vl_qformat format, const float *src, size_t rows, size_t cols, void *dst);

/// Decodes rows [row_begin, row_end) of the weight matrix w ([rows, cols] in `format`) to F32: dst holds
/// (row_end - row_begin) * cols floats, row after row. Returns 0, or -1 when cols % 32 != 0.
int vl_dequantize_weights(vl_qformat format, const void *w, size_t cols, size_t row_begin, size_t row_end,
                          float *dst);

/// Bytes of `rows` input rows of `cols` values quantized by vl_quantize_inputs (cols a multiple of 32).
size_t vl_qinputs_bytes(size_t rows, size_t cols);

/// Quantizes the row-major F32 matrix src [rows, cols] into the input form above for weights in `format`
/// (vl_qinputs_bytes(rows, cols) bytes). Returns 0, or -1 without writing when cols is not a multiple of 32. Every
/// isa gives the same bytes.
int vl_quantize_inputs(vl_isa isa, vl_qformat format, const float *src, size_t rows, size_t cols, void *dst);

/// y[b * y_stride + r] = the product above of weight row r of w ([rows, cols] in `format`, cols a multiple of 32,
/// else nothing is written) and input row b of xq (`batch` rows quantized by vl_quantize_inputs), plus bias[r] when
/// bias is not NULL, for r in [row_begin, row_end) and b < batch. Only those outputs are written, so disjoint row
/// ranges may run on different threads; ranges that start and end on multiples of 16 share no work. Serves both
/// decoding (few inputs: each weight is read from memory once for all of them) and prefill (many inputs: cache
/// blocked, each weight read once per block of inputs from cache).
void vl_qproduct(vl_isa isa, vl_qformat format, const void *w, size_t cols, size_t row_begin, size_t row_end,
                 const void *xq, size_t batch, const float *bias, float *y, size_t y_stride);

#ifdef __cplusplus
}
#endif

#endif
