// Block-quantized weight formats for vlbatch, and their matrix-vector products. ISA-neutral: no intrinsics here.
//
// Both formats cut every row of a row-major [rows, cols] F32 matrix into blocks of VL_QBLOCK = 32 consecutive
// weights; cols must be a multiple of 32 (the loader keeps other shapes in higher precision). The blocks of a row
// are contiguous, rows follow each other, and each block holds its own scale before its quantized values:
//   row r, block j starts at byte (r * (cols / 32) + j) * BLOCK_BYTES.
// No padding and no alignment requirement: kernels read scales with memcpy, so any byte address works.
//
// q8 (VL_Q8_BLOCK_BYTES = 36 bytes per 32 weights, 9 bits per weight):
//   bytes 0..3   d, an IEEE binary32 scale in little-endian byte order: d = max|w| / 127 (float division)
//   bytes 4..35  q[i], int8 (two's complement), i = 0..31: q[i] = round(w[i] / d), ties away from zero, in -127..127
//   weight i = (float)q[i] * d   (one float multiplication, rounded to nearest)
// q4 (VL_Q4_BLOCK_BYTES = 20 bytes per 32 weights, 5 bits per weight), symmetric:
//   bytes 0..3   d = max|w| / 7, binary32 as above
//   bytes 4..19  16 bytes of nibbles; byte j (j = 0..15) holds weight j in its low nibble and weight j + 16 in its
//                high nibble (the llama.cpp Q4_0 nibble order), each stored as q + 8 with q = round(w / d) in -7..7
//                (so stored nibbles are 1..15; 0 is never written and decodes to -8)
//   weight i = (float)q[i] * d
// A block whose max|w| is 0 (or so small that d underflows to 0) stores d = 0 and all q = 0: it decodes to +0.
// Non-finite inputs are outside the contract; they give some finite or non-finite block, never undefined behaviour.
//
// Matrix-vector products take their input vectors quantized to q8 as well (vl_quantize_q8 of each vector: one row
// of vl_q8_bytes(1, cols) bytes per vector), as llama.cpp's Q8_0 / Q4_0 dot products do, and compute in integers
// where they can. For weight row r and input vector b, with w_j, x_j their blocks j and d_w, d_x the blocks' scales:
//   s[0..7] = +0
//   for j in 0 ..< cols / 32, for l in 0 ..< 8:
//       i = sum over t in 4l ..< 4l + 4 of w_j[t] * x_j[t]          (exact integers, |i| <= 4 * 127 * 127)
//       s[l] = fma((float)i, d_w * d_x, s[l])                        (d_w * d_x one float multiplication)
//   u[i] = s[i] + s[i + 4]  (i < 4);  v[i] = u[i] + u[i + 2]  (i < 2);  y = v[0] + v[1]
// Every ISA follows this order, so results are bit-identical across ISAs, row ranges (threads) and batch sizes. They
// differ from vl_matvec_f32 on the dequantized weights by the activation quantization (relative error of order
// 1/254 per block; measured in the tests and stated in the Swift API).
#ifndef VL_QUANT_H
#define VL_QUANT_H

#include "vl_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Weights per quantization block.
#define VL_QBLOCK 32
/// Bytes of one q8 block: a binary32 scale and 32 int8 values.
#define VL_Q8_BLOCK_BYTES 36
/// Bytes of one q4 block: a binary32 scale and 16 bytes holding 32 nibbles.
#define VL_Q4_BLOCK_BYTES 20

/// Bytes of a q8 matrix of `rows` rows of `cols` columns (cols a multiple of 32).
size_t vl_q8_bytes(size_t rows, size_t cols);

/// Bytes of a q4 matrix of `rows` rows of `cols` columns (cols a multiple of 32).
size_t vl_q4_bytes(size_t rows, size_t cols);

/// Quantizes the row-major F32 matrix src [rows, cols] to q8 in dst (vl_q8_bytes(rows, cols) bytes). Returns 0, or
/// -1 without writing when cols is not a multiple of 32. Used for weights at load time and for the input vectors of
/// every matrix-vector product; the vector code gives the same bytes as the scalar reference.
int vl_quantize_q8(vl_isa isa, const float *src, size_t rows, size_t cols, void *dst);

/// Quantizes src [rows, cols] to q4 in dst (vl_q4_bytes(rows, cols) bytes); otherwise as vl_quantize_q8.
int vl_quantize_q4(vl_isa isa, const float *src, size_t rows, size_t cols, void *dst);

/// Decodes a q8 matrix [rows, cols] to F32 in dst (rows * cols floats). Returns 0, or -1 when cols % 32 != 0.
int vl_dequantize_q8(vl_isa isa, const void *src, size_t rows, size_t cols, float *dst);

/// Decodes a q4 matrix [rows, cols] to F32 in dst (rows * cols floats). Returns 0, or -1 when cols % 32 != 0.
int vl_dequantize_q4(vl_isa isa, const void *src, size_t rows, size_t cols, float *dst);

/// y[b * y_stride + r] = the q8 x q8 product above of weight row r of the q8 matrix w ([rows, cols], cols a multiple
/// of 32, else nothing is written) and input vector b of xq, for r in [row_begin, row_end) and b < batch. xq holds
/// `batch` vectors quantized by vl_quantize_q8 (a [batch, cols] q8 matrix). Rows are read from memory once for up to
/// 8 vectors.
void vl_matvec_q8(vl_isa isa, const void *w, size_t cols, size_t row_begin, size_t row_end, const void *xq,
                  size_t batch, float *y, size_t y_stride);

/// vl_matvec_q8 with q4 weights.
void vl_matvec_q4(vl_isa isa, const void *w, size_t cols, size_t row_begin, size_t row_end, const void *xq,
                  size_t batch, float *y, size_t y_stride);

#ifdef __cplusplus
}
#endif

#endif
