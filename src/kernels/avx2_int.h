/*
 * Helpers shared by the AVX2 kernel files (compiled with -mavx2 -mfma -mf16c only): int8 dot
 * products with maddubs/madd, nibble unpacking, horizontal sums.
 */
#ifndef AVX2_INT_H
#define AVX2_INT_H

#include "kernels_int.h"

#include <immintrin.h>

/* A table load beats the F16C scalar conversion in the per-block scale arithmetic (same values). */
#define H2F(h) (kern_f16_table[(h)])

static inline float hsum_f32x8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

static inline int hsum_i32x8(__m256i x) {
    __m128i r = _mm_add_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    r = _mm_add_epi32(r, _mm_unpackhi_epi64(r, r));
    r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 1));
    return _mm_cvtsi128_si32(r);
}

/* 16 bytes of nibbles -> 32 bytes: low nibbles in bytes 0..15, high nibbles in 16..31
 * (the element order of the 32-blocks). */
static inline __m256i nibbles_32(const uint8_t *p) {
    const __m128i t = _mm_loadu_si128((const __m128i *)p);
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes, 0xFF where the bit is set. */
static inline __m256i bits_to_bytes_32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)x),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    /* Byte k keeps only bit k%8 clear in the mask; all ones after the OR iff that bit is set. */
    const __m256i m = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(m, _mm256_set1_epi64x(-1));
}

/* Keeps v in a register here: stops GCC from reassociating a chain of integer sums into a
 * tree, which would hoist every product of a sub-block and spill them. */
#define KEEP(v) __asm__("" : "+x"(v))

/* The kern_r8_fn `name` of a packed super-block type with Q8_K tokens, from the file's
 * block_fn(w, y, acc, NT): every super-block i of the 8 rows against block i of NT tokens
 * (y[t]), accumulated in acc[t] (vec_t, from zero()) and stored at the end (store). NT is a
 * constant in each case of the switch, so that the token loops unroll and keep their
 * registers. inl qualifies the inner function, attr the kernel (the AVX-512 files' VNNI
 * target). */
#define DEFINE_R8_Q8K_WITH(name, block_t, block_fn, vec_t, zero, store, inl, attr)                \
    inl void name##_nt(int64_t nb, const block_t *W, const uint8_t *xq, size_t x_row, float *Y,   \
                       size_t ldy, const int NT) {                                                \
        vec_t acc[KERN_R8_NT];                                                                    \
        _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++) acc[t] = zero();                     \
        for (int64_t i = 0; i < nb; i++) {                                                        \
            const block_q8_K *y[KERN_R8_NT];                                                      \
            _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++) y[t] =                           \
                (const block_q8_K *)(xq + (size_t)t * x_row) + i;                                 \
            block_fn(W + i, y, acc, NT);                                                          \
        }                                                                                         \
        _Pragma("GCC unroll 4") for (int t = 0; t < NT; t++) store(Y + (size_t)t * ldy, acc[t]);  \
    }                                                                                             \
    attr static void name(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,             \
                          const float *dc, float *Y, size_t ldy, int nt) {                        \
        (void)dc;                                                                                 \
        switch (nt) {                                                                             \
        case 1: name##_nt(nb, W, xq, x_row, Y, ldy, 1); break;                                    \
        case 2: name##_nt(nb, W, xq, x_row, Y, ldy, 2); break;                                    \
        case 3: name##_nt(nb, W, xq, x_row, Y, ldy, 3); break;                                    \
        default: name##_nt(nb, W, xq, x_row, Y, ldy, 4); break;                                   \
        }                                                                                         \
    }
/* The AVX2 kernels' form: their super_block(), 8 floats per token. */
#define DEFINE_R8_Q8K(name, block_t)                                                              \
    DEFINE_R8_Q8K_WITH(name, block_t, super_block, __m256, _mm256_setzero_ps, _mm256_storeu_ps,   \
                       static inline __attribute__((always_inline)), )

/* The 4 bytes at p in every 32-bit lane (a token's 4 quants against one row per lane). */
static inline __m256i bcast4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* A prefetch of the line at address a into L1, as an asm statement: the compiler leaves it
 * where it is written, while it gathers _mm_prefetch builtins of an unrolled loop into one
 * burst at the top. A single token's mat-vec asks for the next block's lines a few at a time
 * across the block's work: in one burst the same prefetches served far worse (packed Q4_K at
 * 80-91% of the plain read against 99-108% spread, Q6_K 55-64% against 89-104%; 2 threads,
 * alternated A/B). a may lie past the end of the matrix: a prefetch cannot fault, and no C
 * access is made through it. */
static inline void prefetch_l1(uintptr_t a) {
    __asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)a));
}

/* Packed types with 16 sub-blocks of 16 (Q2_K, Q3_K), 8 rows in the lanes: sum_s p_s *
 * bsum_s per row lane, sp[j] the int16 pair (p_2j, p_2j+1) of each row, madd'ed with the
 * token's bsums of the same two sub-blocks, broadcast. */
static inline __attribute__((always_inline)) __m256i pairs_dot_bsums16(const __m256i sp[8],
                                                                       const int16_t *bsums) {
    const __m256i b0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)bsums));
    const __m256i b1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(bsums + 8)));
    __m256i o = _mm256_madd_epi16(sp[0], _mm256_shuffle_epi32(b0, 0x00));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(sp[1], _mm256_shuffle_epi32(b0, 0x55)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(sp[2], _mm256_shuffle_epi32(b0, 0xAA)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(sp[3], _mm256_shuffle_epi32(b0, 0xFF)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(sp[4], _mm256_shuffle_epi32(b1, 0x00)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(sp[5], _mm256_shuffle_epi32(b1, 0x55)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(sp[6], _mm256_shuffle_epi32(b1, 0xAA)));
    return _mm256_add_epi32(o, _mm256_madd_epi16(sp[7], _mm256_shuffle_epi32(b1, 0xFF)));
}

/* Two 16-byte halves from two places (two blocks' data side by side). */
static inline __m256i load_2x16(const void *a, const void *b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                                   _mm_loadu_si128((const __m128i *)b), 1);
}

static inline __m256 scales_2x4(float a, float b) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_set1_ps(a)), _mm_set1_ps(b), 1);
}

/* Sum of pairs of u8 * s8 products into 8 int32 (u <= 127 or pairs that cannot saturate). */
static inline __m256i dot_u8s8_i32(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* The same for two signed vectors: move x's sign onto y. */
static inline __m256i dot_s8s8_i32(__m256i x, __m256i y) {
    return dot_u8s8_i32(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* 16 int8 scales of 16-element sub-blocks -> 16 int16 with the even sub-blocks' scales in the
 * low 128-bit lane and the odd ones' in the high lane, so that bcast_pair(v, m) (an in-lane
 * shuffle) gives the scales of sub-blocks 2m (low 8 lanes) and 2m+1 (high 8 lanes): exactly
 * the layout of maddubs products over 32 consecutive elements. */
static inline __m256i scales_even_odd(__m128i sc8) {
    const __m128i perm = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, perm));
}

/* All 16-bit lanes of each 128-bit half set to that half's int16 number m. */
static inline __m256i bcast_pair(__m256i v, int m) {
    return _mm256_shuffle_epi8(v, _mm256_set1_epi16((short)(((2 * m + 1) << 8) | (2 * m))));
}

/* The 8 six-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K/Q5_K block. */
static inline __m128i k4_scales_mins(const uint8_t *q) {
    uint32_t u[4];
    memcpy(u, q, 12);
    const uint32_t m1 = 0x3f3f3f3f, m2 = 0x0f0f0f0f, m3 = 0x03030303;
    u[3] = ((u[2] >> 4) & m2) | (((u[1] >> 6) & m3) << 4);
    const uint32_t mins_lo = u[1] & m1;
    u[1] = (u[2] & m2) | (((u[0] >> 6) & m3) << 4);
    u[2] = mins_lo;
    u[0] &= m1;
    return _mm_set_epi32((int)u[3], (int)u[2], (int)u[1], (int)u[0]);
}

/* The 16 six-bit Q3_K scales (0..63, before the -32) from their 12 packed bytes. */
static inline __m128i q3k_scales(const uint8_t *q) {
    uint32_t a[3];
    memcpy(a, q, 12);
    const uint32_t m2 = 0x0f0f0f0f, m3 = 0x03030303;
    const uint32_t s0 = (a[0] & m2) | (((a[2] >> 0) & m3) << 4);
    const uint32_t s1 = (a[1] & m2) | (((a[2] >> 2) & m3) << 4);
    const uint32_t s2 = ((a[0] >> 4) & m2) | (((a[2] >> 4) & m3) << 4);
    const uint32_t s3 = ((a[1] >> 4) & m2) | (((a[2] >> 6) & m3) << 4);
    return _mm_set_epi32((int)s3, (int)s2, (int)s1, (int)s0);
}

/* Pairs of adjacent bsums: the activation sums over each 32-element sub-block. */
static inline __m128i q8k_sums32(const block_q8_K *y) {
    const __m256i b = _mm256_loadu_si256((const __m256i *)y->bsums);
    return _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
}

static inline int hsum_i32x4(__m128i r) {
    r = _mm_add_epi32(r, _mm_unpackhi_epi64(r, r));
    r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 1));
    return _mm_cvtsi128_si32(r);
}

/* Q6_K: the four 32-quant groups of one 128-quant half as unsigned 6-bit values (0..63), from
 * its 64 bytes of low nibbles (ql) and 32 bytes of high bit pairs (qh). */
static inline void q6k_unpack_128(const uint8_t *ql, const uint8_t *qh, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
    const __m256i b1 = _mm256_loadu_si256((const __m256i *)ql);
    const __m256i b2 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    const __m256i bh = _mm256_loadu_si256((const __m256i *)qh);
    q[0] = _mm256_or_si256(_mm256_and_si256(b1, m4), _mm256_slli_epi16(_mm256_and_si256(bh, m2), 4));
    q[1] = _mm256_or_si256(_mm256_and_si256(b2, m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(bh, 2), m2), 4));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b1, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(bh, 4), m2), 4));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b2, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(bh, 6), m2), 4));
}

#endif
