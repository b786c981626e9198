/*
 * kernels internals: ggml's block layouts (bit for bit, so GGUF tensors are used in place),
 * small helpers shared by the reference and SIMD files, and the per-type function names that
 * types.c puts in the table. Not for use outside src/kernels/.
 */
#ifndef KERNELS_INT_H
#define KERNELS_INT_H

#include "kernels.h"

#include <assert.h>
#include <string.h>

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK4_NL 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef uint16_t kern_half; /* IEEE binary16 bits */

typedef struct {
    kern_half d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;
typedef struct {
    kern_half d, m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;
typedef struct {
    kern_half d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;
typedef struct {
    kern_half d, m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;
typedef struct {
    kern_half d;
    int8_t qs[QK8_0];
} block_q8_0;
/* s = d * sum(qs): lets Q4_1/Q5_1 dots add the weight's offset without a second pass. */
typedef struct {
    kern_half d, s;
    int8_t qs[QK8_1];
} block_q8_1;
typedef struct {
    kern_half d;
    uint8_t qs[QK4_NL / 2];
} block_iq4_nl;

/* 16 sub-blocks of 16: 4-bit scale and 4-bit min each; 2-bit quants. */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    kern_half d, dmin;
} block_q2_K;
/* 16 sub-blocks of 16: 6-bit scales packed in 12 bytes; 2 low bits + 1 high bit (hmask). */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    kern_half d;
} block_q3_K;
/* 8 sub-blocks of 32: 6-bit scale and min packed in 12 bytes; 4-bit quants. */
typedef struct {
    kern_half d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;
typedef struct {
    kern_half d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
/* 16 sub-blocks of 16 with int8 scales; 4 low bits in ql, 2 high bits in qh. */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    kern_half d;
} block_q6_K;
/* Activations for the K-quants: float scale, and sums of each 16 quants (for the mins). */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
typedef struct {
    kern_half d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
} block_iq4_xs;

static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");
static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");
static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");
static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");
static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

/* ---- activations packed for the register-blocked GEMM (matmul.c packs, gemm_*.c read) ----
 * A prompt batch's activations, already quantized to Q8_0 or Q8_K rows exactly as the mat-vec
 * path quantizes them, are regrouped by KERN_GEMM_NT tokens: block k of the 4 tokens side by
 * side, with the scales as floats and the sums the weight offsets need. A GEMM kernel then
 * loads each weight block once for 4 tokens and keeps the 4 tokens' sums in the lanes of one
 * register. A last group with fewer tokens is padded with zero blocks. F16 and BF16 weights
 * (n a multiple of 8) take their F16 / BF16 activations back as floats: float[n / 8][4][8],
 * elements 8k..8k+7 of the 4 tokens side by side. */
#define KERN_GEMM_NT 4

typedef struct {
    float d[KERN_GEMM_NT];         /* each token's block scale */
    int32_t s[KERN_GEMM_NT];       /* sum of each token's 32 quants (Q4_0 / Q5_0 offsets) */
    int8_t qs[KERN_GEMM_NT][QK8_0];
} block_q8_0x4;
typedef struct {
    float d[KERN_GEMM_NT];
    /* Sums of the 32-element sub-blocks j = 0..7, laid out for Q4_K/Q5_K mins: in register
     * half h (0, 1) and 128-bit lane l (0, 1), token t holds the pair (j, j + 1) with
     * j = 4h + 2l: msum[h][l][t][0..1]. */
    int16_t msum[2][2][KERN_GEMM_NT][2];
    int16_t bsums[KERN_GEMM_NT][QK_K / 16]; /* Q8_K's sums of each 16 quants */
    int8_t qs[KERN_GEMM_NT][QK_K];
} block_q8_Kx4;
/* One token's Q8_0 activations for a mat-vec with Q4_0 weights, two blocks (i, i + 1) per
 * element in the lane order of the Q4_0 kernels (low nibbles | high nibbles of both blocks):
 * the weight row is then unpacked with 3 instructions per 2 blocks and its -8 offset is taken
 * off with one subtraction of 8 * (token sum) per block. A last odd block is paired with zeros. */
typedef struct {
    float d[8];        /* [d_i x 4 | d_i+1 x 4] */
    int32_t off[8];    /* [8 sum_i, 0, 0, 0 | 8 sum_i+1, 0, 0, 0] */
    int8_t lo[32];     /* elements 0-15 of block i | of block i + 1 */
    int8_t hi[32];     /* elements 16-31 of block i | of block i + 1 */
} block_q8_0x2v;
static_assert(sizeof(block_q8_0x2v) == 128, "block_q8_0x2v size");
/* Q4_0's and Q5_0's GEMMs take blocks in pairs, like their mat-vecs: 4 tokens' blocks i and
 * i + 1 in the lane order of two blocks unpacked in one register (low nibbles | high
 * nibbles), so one unpacking serves 64 elements; a last odd block is paired with zeros. */
typedef struct {
    float d[8];                     /* [d of t0..t3, block i | block i + 1] */
    int32_t s[8];                   /* [sum of t0..t3's quants, block i | block i + 1] */
    int8_t lo[KERN_GEMM_NT][32];    /* per token: elements 0-15 of block i | of block i + 1 */
    int8_t hi[KERN_GEMM_NT][32];    /* elements 16-31 */
} block_q8_0x4p;
static_assert(sizeof(block_q8_0x4p) == 320, "block_q8_0x4p size");
static_assert(sizeof(block_q8_0x4) == 160, "block_q8_0x4 size");
static_assert(sizeof(block_q8_Kx4) == 1232, "block_q8_Kx4 size");

/* Register-blocked product of nr weight rows (W, w_row bytes apart, n elements each) with
 * one or two packed groups of 4 tokens, xp and xp + xp_group (n / block elements of
 * block_q8_0x4 or block_q8_Kx4 each; for Q4_0 and Q5_0 weights (n / 64 rounded up)
 * block_q8_0x4p; for F16 and BF16 weights the floats above):
 * Y[t * ldy + r] for r < nr, t < nt <= 8 (tokens 4..7 from the second group; the padded
 * tokens' results are not stored). Set by the ISA patch functions for the types that have
 * one; matmul.c uses it for batches of 2 or more tokens. The results equal vec_dot's to float
 * rounding (the sums run in another order), and a token's result does not depend on the
 * other tokens of its group. */
typedef void (*kern_gemm_fn)(int64_t n, const void *W, size_t w_row, int64_t nr, const void *xp,
                             size_t xp_group, float *Y, size_t ldy, int nt);
extern kern_gemm_fn kern_gemm_table[GGUF_TYPE_COUNT];
/* Mat-vec over nr weight rows with one token packed as (n / 64 rounded up) block_q8_0x2v:
 * Y[r] for r < nr. Same contract as vec_dot (results to float rounding); matmul.c uses it for
 * single tokens where it is set (Q4_0 on AVX2). */
typedef void (*kern_gemv_fn)(int64_t n, const void *W, size_t w_row, int64_t nr, const void *xp,
                             float *Y);
extern kern_gemv_fn kern_gemv_table[GGUF_TYPE_COUNT];

/* Repacked weights (kernels.h): block i of 8 consecutive rows. qs holds 4-byte pieces of
 * the rows' blocks, piece j of rows 0..7 side by side (32 bytes per j), so a 256-bit load
 * has one row per 32-bit lane: Q4_0 piece j is bytes 4j..4j+3 of qs (elements 4j..4j+3 in
 * the low nibbles, 16+4j.. in the high ones), Q8_0 piece j is elements 4j..4j+3. */
typedef struct {
    uint16_t d[8];
    uint8_t qs[8 * QK4_0 / 2];
} block_q4_0x8;
typedef struct {
    uint16_t d[8];
    int8_t qs[8 * QK8_0];
} block_q8_0x8;
/* Q5_0: qs as Q4_0's; the fifth bits regrouped per piece: hb[j][r] holds row r's bits of
 * elements 4j..4j+3 (bits 0-3) and 16+4j..16+4j+3 (bits 4-7). */
typedef struct {
    uint16_t d[8];
    uint8_t hb[4][8];
    uint8_t qs[8 * QK5_0 / 2];
} block_q5_0x8;
/* Q4_1, Q5_1: Q4_0's and Q5_0's layouts with the 8 rows' minimums after their scales. */
typedef struct {
    uint16_t d[8], m[8];
    uint8_t qs[8 * QK4_1 / 2];
} block_q4_1x8;
typedef struct {
    uint16_t d[8], m[8];
    uint8_t hb[4][8];
    uint8_t qs[8 * QK5_1 / 2];
} block_q5_1x8;
/* IQ4_NL's blocks are Q4_0's bytes (d, then the nibbles in the same order; only what a
 * nibble means differs): packed, block_q4_0x8. */
static_assert(sizeof(block_iq4_nl) == sizeof(block_q4_0) &&
                  offsetof(block_iq4_nl, qs) == offsetof(block_q4_0, qs),
              "IQ4_NL blocks laid out as Q4_0's");
static_assert(sizeof(block_q4_1x8) == 8 * sizeof(block_q4_1), "block_q4_1x8 size");
static_assert(sizeof(block_q5_1x8) == 8 * sizeof(block_q5_1), "block_q5_1x8 size");
/* The four nibble types' packed blocks, for kernels written once for all of them: d[8] first,
 * Q4_1 / Q5_1 (MIN) the rows' minimums m[8] next, then Q5_0 / Q5_1 (Q5) the fifth bits hb,
 * then qs. */
static inline size_t kern_qx_r8_bytes(bool Q5, bool MIN) {
    return MIN ? (Q5 ? sizeof(block_q5_1x8) : sizeof(block_q4_1x8))
               : (Q5 ? sizeof(block_q5_0x8) : sizeof(block_q4_0x8));
}
static inline size_t kern_qx_r8_qs(bool Q5, bool MIN) {
    return MIN ? (Q5 ? offsetof(block_q5_1x8, qs) : offsetof(block_q4_1x8, qs))
               : (Q5 ? offsetof(block_q5_0x8, qs) : offsetof(block_q4_0x8, qs));
}
static_assert(sizeof(block_q5_0x8) == 8 * sizeof(block_q5_0), "block_q5_0x8 size");
static_assert(sizeof(block_q4_0x8) == 8 * sizeof(block_q4_0), "block_q4_0x8 size");
static_assert(sizeof(block_q8_0x8) == 8 * sizeof(block_q8_0), "block_q8_0x8 size");
/* Super-block i of 8 rows of Q4_K. scales[w] holds bytes 4w..4w+3 of each row's 12 scale
 * bytes (row r at 4r), so that the SIMD kernel unpacks the 8 rows' 6-bit scales and mins
 * with a few lane-wise shifts and masks. The nibbles are regrouped by sub-block, Q4_0-style,
 * so that both nibbles of a byte share a scale: piece j (sub-block j / 4, p = j % 4) of row
 * r is 4 bytes at qs[j][4r], byte c holding elements 4p + c (low nibble) and 16 + 4p + c
 * (high nibble) of the sub-block. */
typedef struct {
    uint16_t d[8], dmin[8];
    uint8_t scales[3][32];
    uint8_t qs[QK_K / 8][32];
} block_q4_Kx8;
static_assert(sizeof(block_q4_Kx8) == 8 * sizeof(block_q4_K), "block_q4_Kx8 size");
/* Q5_K: block_q4_Kx8 with the fifth bits of each sub-block s in one 32-byte word, row r's
 * 4 bytes at qh[s][4r] in the order of its nibble pieces: bit p of byte c is the high bit of
 * element 4p + c of the sub-block (the low nibbles of piece p), bit 4 + p that of element
 * 16 + 4p + c (the high nibbles). Piece p's fifth bits then move to bit 4 of every byte with
 * one shift and one mask per nibble half. */
typedef struct {
    uint16_t d[8], dmin[8];
    uint8_t scales[3][32];
    uint8_t qh[QK_K / 32][32];
    uint8_t qs[QK_K / 8][32];
} block_q5_Kx8;
static_assert(sizeof(block_q5_Kx8) == 8 * sizeof(block_q5_K), "block_q5_Kx8 size");
/* IQ4_XS: the 8 rows' 6-bit sub-block scales ls_s (the weight scale is ls_s - 32) in 6 bytes
 * per row, placed so that the SIMD kernel has them a byte each after a few lane-wise shifts
 * and masks: sc[4r + c] holds ls_c of row r in bits 0-5 and the top 2 bits of ls_4+c in bits
 * 6-7, sc4[2r + j] the low 4 bits of ls_4+2j (low nibble) and ls_5+2j (high nibble). The
 * nibbles are laid out as block_q4_Kx8's, which is a file sub-block's order already: piece p
 * of sub-block s of row r is the row's bytes 16s + 4p..16s + 4p + 3. */
typedef struct {
    uint16_t d[8];
    uint8_t sc4[16];
    uint8_t sc[32];
    uint8_t qs[QK_K / 8][32];
} block_iq4_xsx8;
static_assert(sizeof(block_iq4_xsx8) == 8 * sizeof(block_iq4_xs), "block_iq4_xsx8 size");
/* Q3_K: scales[w] holds bytes 4w..4w+3 of each row's 12 scale bytes (row r at 4r), as
 * block_q4_Kx8's, so that the 16 6-bit scales of 8 rows come out a byte each (sub-blocks
 * 4g..4g+3 in word g, row r in lane r) with a few lane-wise shifts and masks. Sub-block s
 * (16 elements) of row r: its low 2 bits in the 4 bytes at qs[s][4r], bits 2k, 2k + 1 of
 * byte c those of element 4k + c; its high bits (hmask) in the 4 bytes at hm[s / 2][4r], bit
 * 4 (s % 2) + k of byte c that of element 4k + c. One shift and one mask per piece k then
 * bring either to its place in q + 4 (0..7). */
typedef struct {
    uint16_t d[8];
    uint8_t scales[3][32];
    uint8_t hm[QK_K / 32][32];
    uint8_t qs[QK_K / 16][32];
} block_q3_Kx8;
static_assert(sizeof(block_q3_Kx8) == 8 * sizeof(block_q3_K), "block_q3_Kx8 size");

/* Q2_K: sm[g] holds the file's scale bytes 4g..4g+3 of each row (row r at 4r): a byte per
 * sub-block, its scale in the low nibble and its min in the high one. qs as block_q3_Kx8's:
 * sub-block s (16 elements) of row r is the 4 bytes at qs[s][4r], bits 2k, 2k + 1 of byte c
 * those of element 4k + c. */
typedef struct {
    uint16_t d[8], dmin[8];
    uint8_t sm[4][32];
    uint8_t qs[QK_K / 16][32];
} block_q2_Kx8;
static_assert(sizeof(block_q2_Kx8) == 8 * sizeof(block_q2_K), "block_q2_Kx8 size");

/* 8 interleaved rows (nb blocks at W) times nt <= 4 tokens: Y[t * ldy + r] for r < 8. Token
 * t is a row of the packed type's activation blocks (Q8_0, Q8_1 or Q8_K) at xq + t * x_row;
 * for Q8_0 and Q8_1 tokens also float pairs at dc + 2 * (n_in / 32) * t: block k's scale and
 * offset term. Q8_0: offset * scale * (sum of its quants), offset being the weight type's (-8
 * for Q4_0). Q8_1 (Q4_1, Q5_1, offset 1): the block's own s, d * sum as llama.cpp rounds it,
 * which the kernels scale by each row's minimum. dc is NULL for Q8_K tokens (their blocks
 * carry d and bsums). */
#define KERN_R8_NT 4
typedef void (*kern_r8_fn)(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                           const float *dc, float *Y, size_t ldy, int nt);
/* Block k of a token row xr (Q8_0 or Q8_1 quants, vtype): its (scale, offset term) pair as
 * the packed kernels read it (dc above; offset: the weight type's, 0 for none) into pair, and
 * its quants; NULL for other token types (Q8_K: no pair). */
static inline const int8_t *kern_r8_token_pair(int vtype, float offset, const void *xr,
                                               int64_t k, float pair[2]) {
    if (vtype == GGUF_TYPE_Q8_1) {
        const block_q8_1 *b = (const block_q8_1 *)xr + k;
        pair[0] = kern_f16_to_f32(b->d);
        pair[1] = offset * kern_f16_to_f32(b->s);
        return b->qs;
    }
    if (vtype != GGUF_TYPE_Q8_0) return NULL;
    const block_q8_0 *b = (const block_q8_0 *)xr + k;
    int32_t sum = 0;
    for (int e = 0; e < QK8_0; e++) sum += b->qs[e];
    pair[0] = kern_f16_to_f32(b->d);
    pair[1] = offset * pair[0] * (float)sum;
    return b->qs;
}
/* A kern_r8_fn called name (attr: a target attribute, or nothing) whose body is call(NT),
 * NT the constant 1..KERN_R8_NT for nt tokens, so that the kernel is compiled per count. */
#define KERN_DEFINE_R8(name, attr, call)                                                           \
    attr static void name(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,             \
                          const float *dc, float *Y, size_t ldy, int nt) {                         \
        switch (nt) {                                                                              \
        case 1: call(1); break;                                                                    \
        case 2: call(2); break;                                                                    \
        case 3: call(3); break;                                                                    \
        default: call(4); break;                                                                   \
        }                                                                                          \
    }
/* The plain-C kernels of the packed types with Q8_K tokens share one driver: Y[t * ldy + r] =
 * the sum over blocks i of dot(packed block i, row r, token t's block i), in block order
 * (repack.c). */
typedef float (*kern_r8k_block_dot)(const void *b, int r, const block_q8_K *y);
void kern_r8k_tokens_ref(int64_t nb, const void *W, size_t bbytes, kern_r8k_block_dot dot,
                         const uint8_t *xq, size_t x_row, float *Y, size_t ldy, int nt);
/* One packed type: how to make it and its plain-C kernel (the definition of its product;
 * it runs where the ISA has no kernel). */
typedef struct kern_r8_desc {
    int wtype, vtype;   /* the file's type, the tokens' type (Q8_0, Q8_1 or Q8_K) */
    int block_elems;    /* elements per block of a row: 32 or 256 */
    size_t block_bytes; /* one packed block of 8 rows */
    float offset;       /* Q8_0 / Q8_1 tokens: see dc above; 0: the kernels read only the scale */
    /* Rows [8 g, 8 g + 8) of W (nb blocks per row) -> nb packed blocks at dst. */
    void (*group)(const void *W, int64_t nb, int64_t g, void *dst);
    /* Blocks [i0, i1) of row r (0..7) of a packed group, back in the file's layout at dst. */
    void (*row)(const void *G, int64_t i0, int64_t i1, int r, void *dst);
    kern_r8_fn ref;
} kern_r8_desc;
#define KERN_R8_FIRST KERN_TYPE_Q4_0_R8
#define KERN_R8_COUNT 12
/* Indexed by packed type - KERN_R8_FIRST: the ISA's kernels (NULL: no packing). */
extern kern_r8_fn kern_r8_table[KERN_R8_COUNT];
/* Batches: the same 8 rows times nt <= KERN_R8B_MAXT tokens, the weights of a block unpacked
 * once for all of them. The tokens are transposed (block-major): Q8_0 and Q8_1 tokens have
 * block k of token t's quants at xt + 32 * (k * ld + t), its (scale, offset term) pair at
 * dct + 2 * (k * ld + t); Q8_K tokens have the whole block_q8_K at index k * ld + t of xt and
 * dct is NULL. acc: nt * 8 floats of the caller's scratch. Y[t * ldy + r]. NULL entries use
 * kern_r8_fn. */
#define KERN_R8B_MAXT 64
typedef void (*kern_r8b_fn)(int64_t nb, const void *W, const int8_t *xt, const float *dct,
                            int64_t ld, int nt, float *acc, float *Y, size_t ldy);
extern kern_r8b_fn kern_r8b_table[KERN_R8_COUNT];
/* The same for two groups (16 rows) per call: W's group and the next one (nb blocks later),
 * Y[t * ldy + r] for r < 16, acc: nt * 16 floats. Where an entry is set, batches go by pairs
 * of groups and kern_r8b_table serves a chunk's odd last group. */
extern kern_r8b_fn kern_r8b2_table[KERN_R8_COUNT];
/* A single token against ng <= KERN_R8V_MAXG groups at once, block by block: group s at W +
 * s * w_step, its 8 results at Y + s * y_step; tokens and dc as kern_r8_fn's for one token.
 * The weights come as ng streams. One stream per thread left the memory bus part idle on the
 * Xeon we measured (bench/RESULTS.md): the hardware prefetchers follow each stream only so
 * far ahead, and only within a 4 KiB page. The caller makes each stream long: the groups of
 * a chunk split into ng runs, and call j takes group j of every run (w_step = a run's bytes),
 * so that a stream goes on where the last call left it. NULL entries use kern_r8_fn group by
 * group. */
#define KERN_R8V_MAXG 8
typedef void (*kern_r8v_fn)(int64_t nb, const void *W, size_t w_step, int ng, const uint8_t *xq,
                            const float *dc, float *Y, size_t y_step);
extern kern_r8v_fn kern_r8v_table[KERN_R8_COUNT];
/* call(N) with N the constant n for n in 1..7, and 8 for any other n: loops over N unroll
 * and keep their registers (the kernels by runs of groups, attn_avx2.c's runs of heads). */
#define KERN_CASES_1_8(n, call)                                                                    \
    switch (n) {                                                                                   \
    case 1: call(1); break;                                                                        \
    case 2: call(2); break;                                                                        \
    case 3: call(3); break;                                                                        \
    case 4: call(4); break;                                                                        \
    case 5: call(5); break;                                                                        \
    case 6: call(6); break;                                                                        \
    case 7: call(7); break;                                                                        \
    default: call(8); break;                                                                       \
    }
/* A kern_r8v_fn called name whose body is call(S), S the constant 1..KERN_R8V_MAXG for ng
 * groups (KERN_R8V_MAXG is 8, as KERN_CASES_1_8 takes). */
#define KERN_DEFINE_R8V(name, attr, call)                                                          \
    attr static void name(int64_t nb, const void *W, size_t w_step, int ng, const uint8_t *xq,    \
                          const float *dc, float *Y, size_t y_step) {                              \
        KERN_CASES_1_8(ng, call)                                                                   \
    }
void kern_patch_avx2_r8(kern_r8_fn *table, kern_r8b_fn *batch, kern_r8b_fn *batch2); /* gemm_r8_avx2.c */
/* Q6_K (repack_q6k.c, gemm_r8q6k_avx2.c): d, then the 16 scales of the 8 rows by pairs of
 * sub-blocks (sc[p][r] = {scale 2p, scale 2p + 1} of row r: one sign extension gives a lane per
 * row),
 * then ql and qh in 4-byte pieces of the 8 rows side by side: ql piece (16 h + p) is bytes
 * 64 h + 4 p of each row's ql, qh piece (8 h + k) bytes 32 h + 4 k of its qh. */
typedef struct {
    uint16_t d[8];
    int8_t sc[QK_K / 32][8][2];
    uint8_t ql[8 * QK_K / 2];
    uint8_t qh[8 * QK_K / 4];
} block_q6_Kx8;
static_assert(sizeof(block_q6_Kx8) == 8 * sizeof(block_q6_K), "block_q6_Kx8 size");
void kern_r8_q6_K_group(const void *W, int64_t nb, int64_t g, void *dst);
void kern_r8_q6_K_row(const void *G, int64_t i0, int64_t i1, int r, void *dst);
void kern_r8_q6_K_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                      const float *dc, float *Y, size_t ldy, int nt);
void kern_patch_avx2_r8q6k(kern_r8_fn *table, kern_r8b_fn *batch); /* gemm_r8q6k_avx2.c */
/* gemm_r8k_avx2.c, gemm_r8q5k_avx2.c, gemm_r8iq4xs_avx2.c and gemm_r8q3k_avx2.c, called by
 * the above */
void kern_patch_avx2_r8k(kern_r8_fn *table);
void kern_patch_avx2_r8q5k(kern_r8_fn *table);
void kern_patch_avx2_r8iq4xs(kern_r8_fn *table);
void kern_patch_avx2_r8q3k(kern_r8_fn *table);
/* Q4_K (repack_q4k.c): the layout conversions and the plain-C kernel. */
void kern_q4_Kr8_group(const void *W, int64_t nb, int64_t g, void *dst);
void kern_q4_Kr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst);
void kern_q4_Kr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
                     float *Y, size_t ldy, int nt);
/* A Q4_K/Q5_K block's 128 bytes of nibbles regrouped by sub-block as block_q4_Kx8 has them
 * (16 bytes each, byte e holding elements e and e + 16), and back. */
void kern_q4k_regroup(const uint8_t *qs, uint8_t out[QK_K / 2]);
void kern_q4k_ungroup(const uint8_t *q, uint8_t qs[QK_K / 2]);
/* Q5_K (repack_q5k.c): as Q4_K. */
void kern_q5_Kr8_group(const void *W, int64_t nb, int64_t g, void *dst);
void kern_q5_Kr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst);
void kern_q5_Kr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
                     float *Y, size_t ldy, int nt);
/* IQ4_XS (repack_iq4xs.c): as Q4_K. */
void kern_iq4_xsr8_group(const void *W, int64_t nb, int64_t g, void *dst);
void kern_iq4_xsr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst);
void kern_iq4_xsr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                       const float *dc, float *Y, size_t ldy, int nt);
/* Q3_K (repack_q3k.c): as Q4_K. */
void kern_q2_Kr8_group(const void *W, int64_t nb, int64_t g, void *dst);
void kern_q2_Kr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst);
void kern_q2_Kr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
                     float *Y, size_t ldy, int nt);
void kern_patch_avx2_r8q2k(kern_r8_fn *table); /* gemm_r8q2k_avx2.c */
void kern_q3_Kr8_group(const void *W, int64_t nb, int64_t g, void *dst);
void kern_q3_Kr8_row(const void *G, int64_t i0, int64_t i1, int r, void *dst);
void kern_q3_Kr8_ref(int64_t nb, const void *W, const uint8_t *xq, size_t x_row, const float *dc,
                     float *Y, size_t ldy, int nt);
/* kern_matmul for the packed types (repack.c). */
size_t kern_matmul_r8_scratch_size(int ptype, int64_t n_in, int64_t n_tok);
int kern_matmul_r8(tpool *pool, int ptype, const void *W, int64_t n_in, int64_t n_out,
                   const float *X, int64_t n_tok, float *Y, void *scratch);
/* kern_matmul_multi for packed types whose tokens are converted alike (kern_matmul_r8_shares
 * with the first item): one conversion, one run of the pool. */
bool kern_matmul_r8_shares(int ptype_a, int ptype_b);
int kern_matmul_r8_multi(tpool *pool, const kern_mm_item *items, int n_items, int64_t n_in,
                         const float *X, int64_t n_tok, void *scratch);

/* The 16 non-linear levels of IQ4_NL / IQ4_XS. */
extern const int8_t kern_iq4nl_values[16];

/* Scale and min j (0..7) of a Q4_K/Q5_K block, from the 12 packed bytes. */
static inline void kern_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Round to nearest, ties to even, for |f| < 2^22 (ggml's nearest_int, same results). */
static inline int kern_nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/* Every half's float value (kern_f16_to_f32), filled by kern_init: a load is cheaper than a
 * conversion in the per-block scale arithmetic of the SIMD dots. */
extern float kern_f16_table[65536];

/* Unpack the 12 bytes of Q3_K scales into 16 unsigned 6-bit values (before the -32). */
void kern_q3k_unpack_scales(const uint8_t *packed, uint8_t out[16]);

/* ---- reference implementations (the definition of each type) ---- */

#define KERN_DECL_TYPE(t)                                                                          \
    void kern_to_float_##t##_ref(const void *x, float *y, int64_t n);                              \
    void kern_vec_dot_##t##_ref(int64_t n, float *s, const void *x, const void *y);

KERN_DECL_TYPE(f32)
KERN_DECL_TYPE(f16)
KERN_DECL_TYPE(bf16)
KERN_DECL_TYPE(q4_0)
KERN_DECL_TYPE(q4_1)
KERN_DECL_TYPE(q5_0)
KERN_DECL_TYPE(q5_1)
KERN_DECL_TYPE(q8_0)
KERN_DECL_TYPE(iq4_nl)
KERN_DECL_TYPE(q2_K)
KERN_DECL_TYPE(q3_K)
KERN_DECL_TYPE(q4_K)
KERN_DECL_TYPE(q5_K)
KERN_DECL_TYPE(q6_K)
KERN_DECL_TYPE(iq4_xs)

void kern_to_float_q8_1_ref(const void *x, float *y, int64_t n);
void kern_to_float_q8_K_ref(const void *x, float *y, int64_t n);

void kern_from_float_f32_ref(const float *x, void *y, int64_t n);
void kern_from_float_f16_ref(const float *x, void *y, int64_t n);
void kern_from_float_bf16_ref(const float *x, void *y, int64_t n);
void kern_from_float_q4_0_ref(const float *x, void *y, int64_t n);
void kern_from_float_q8_0_ref(const float *x, void *y, int64_t n);
void kern_from_float_q8_1_ref(const float *x, void *y, int64_t n);
void kern_from_float_q8_K_ref(const float *x, void *y, int64_t n);
void kern_from_float_q4_K_ref(const float *x, void *y, int64_t n);

void kern_f16_to_f32_row_ref(const uint16_t *x, float *y, int64_t n);
void kern_f32_to_f16_row_ref(const float *x, uint16_t *y, int64_t n);

/* ---- per-ISA tables: each overrides the entries it has faster versions of ---- */

void kern_patch_avx2(kern_traits *table);
/* dot_kq_avx2.c and dot_rows_avx2.c, called by kern_patch_avx2 */
void kern_patch_avx2_kq(kern_traits *table);
void kern_patch_avx2_rows(kern_traits *table);
void kern_patch_avx2_quant(kern_traits *table); /* quant_avx2.c */
void kern_patch_avx2_gemm(kern_gemm_fn *gemm, kern_gemv_fn *gemv); /* gemm_avx2.c */
/* dot_avx512.c: the AVX-512 kernels over the AVX2 ones (vec_dot entries, and packed-weight
 * kernels in r8 / r8b where it has them); vnni: the CPU has AVX512_VNNI. */
void kern_patch_avx512(kern_traits *table, kern_r8_fn *r8, kern_r8b_fn *r8b, kern_r8v_fn *r8v,
                       bool vnni);
/* dot_q_avx512.c, called by kern_patch_avx512: Q4_1, Q5_0, Q5_1 and IQ4_NL. */
void kern_patch_avx512_q(kern_traits *table, bool vnni);
/* dot_kq_avx512.c, called by kern_patch_avx512: Q2_K, Q3_K, Q5_K and IQ4_XS vec_dot. */
void kern_patch_avx512_kq(kern_traits *table, bool vnni);
/* dot_f_avx512.c, called by kern_patch_avx512: F32/F16/BF16 vec_dot, Q8_0/Q8_1/Q8_K from_float. */
void kern_patch_avx512_f(kern_traits *table, bool vnni);
void kern_patch_avx512_r8(kern_r8_fn *r8, kern_r8b_fn *r8b, kern_r8v_fn *r8v,
                          bool vnni); /* gemm_r8_avx512.c */
void kern_patch_avx512_r8q6k(kern_r8_fn *r8, kern_r8b_fn *r8b,
                             kern_r8v_fn *r8v); /* gemm_r8q6k_avx512.c, VNNI */
/* gemm_r8k_avx512.c, called by kern_patch_avx512_r8: Q4_K and Q5_K mat-vec (VNNI only). */
void kern_patch_avx512_r8k(kern_r8_fn *r8, kern_r8v_fn *r8v, bool vnni);

/* Tests on CPUs without AVX-512: kern_init(KERN_ISA_AVX512) then takes its kernels from patch
 * (kern_patch_avx512_emu, the *_avx512.c files built on SIMDe's portable intrinsics; see
 * avx512_emu.h) with VNNI as given, and kern_cpu_supports(KERN_ISA_AVX512) says true. NULL
 * ends it. Never set in the product. */
typedef void (*kern_avx512_patch_fn)(kern_traits *table, kern_r8_fn *r8, kern_r8b_fn *r8b,
                                     kern_r8v_fn *r8v, bool vnni);
void kern_emulate_avx512(kern_avx512_patch_fn patch, bool vnni);
/* gemm_r8amx_avx512.c: AMX kernels for batches by pairs of groups in r8b2, over the AVX-512
 * VNNI batch kernels in r8b. The caller has checked that the CPU has AMX-INT8 and the OS lets
 * this process use it. A tile product costs the same for 1 token as for 16, so batches of
 * fewer than KERN_AMX_MIN_TOKENS go to the kernels in r8b (the AMX kernels call them), or, for
 * a type with none (Q4_K, Q5_K), to the mat-vec kernel (kern_matmul_r8 does not use r8b2). */
#define KERN_AMX_MIN_TOKENS 8
void kern_patch_amx(kern_r8b_fn *r8b, kern_r8b_fn *r8b2);
/* Tests on CPUs without AMX: kern_init(KERN_ISA_AVX512) then also installs patch's kernels
 * (kern_patch_amx_emu: the tile instructions emulated in C); NULL ends it. Never set in the
 * product. */
typedef void (*kern_amx_patch_fn)(kern_r8b_fn *r8b, kern_r8b_fn *r8b2);
void kern_emulate_amx(kern_amx_patch_fn patch);
/* Whether kern_init installed AMX kernels. */
bool kern_amx_active(void);
/* Compare table[type]'s vec_dot and from_float (bytes) with the reference on fixed data;
 * false (and a warning) when they disagree. selfcheck.c. */
bool kern_selfcheck(const kern_traits *table, int type);
/* The same for a packed type's kernels (any may be NULL: not checked) against its plain-C
 * kernel: nt 1..4, a batch of 5 tokens and 1..KERN_R8V_MAXG groups of one token (the same
 * group repeated) on a few blocks of 8 rows. selfcheck.c. */
bool kern_selfcheck_r8(int ptype, kern_r8_fn fn, kern_r8b_fn bfn, kern_r8v_fn vfn);
/* The same for a kernel of two groups (kern_r8b2_table): 16 rows, 21 tokens. */
bool kern_selfcheck_r8b2(int ptype, kern_r8b_fn b2fn);
/* A packed type's description (repack.c), or NULL. */
const kern_r8_desc *kern_r8_desc_of(int ptype);

/* Used by the patch functions to install SIMD versions of the public row conversions. */
void kern_set_f16_rows(void (*to32)(const uint16_t *, float *, int64_t),
                       void (*to16)(const float *, uint16_t *, int64_t));

#endif
