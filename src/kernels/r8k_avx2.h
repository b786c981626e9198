/*
 * What the AVX2 kernels of packed Q4_K and Q5_K (gemm_r8k_avx2.c, gemm_r8q5k_avx2.c) share:
 * the two types have the same scales, mins and packed scale words (block_q4_Kx8's), so the
 * 8 rows' scales are unpacked and the mins and block scales applied alike. Q2_K's kernel
 * (gemm_r8q2k_avx2.c) uses shuf() for its scale and min pairs.
 */
#ifndef R8K_AVX2_H
#define R8K_AVX2_H

#include "avx2_int.h"

#define INLINE static inline __attribute__((always_inline))

/* pshufb controls picking bytes (a, b, c, d) of every 32-bit lane; 0x80 and up give zero. */
#define Z 0x80
#define LANES(a, b, c, d)                                                                          \
    a, b, c, d, (a) + 4, (b) + 4, (c) + 4, (d) + 4, (a) + 8, (b) + 8, (c) + 8, (d) + 8, (a) + 12,  \
        (b) + 12, (c) + 12, (d) + 12
#define CTL(a, b, c, d)                                                                            \
    { LANES(a, b, c, d), LANES(a, b, c, d) }
/* 0..3: byte k as the int16 pair [k, k] (a scale for both halves of a madd pair);
 * 4, 5: bytes (0, 1) and (2, 3) as int16 (two mins). */
static const uint8_t ctl[6][32] __attribute__((aligned(32))) = {
    CTL(0, Z, 0, Z), CTL(1, Z, 1, Z), CTL(2, Z, 2, Z),
    CTL(3, Z, 3, Z), CTL(0, Z, 1, Z), CTL(2, Z, 3, Z),
};
#undef Z

INLINE __m256i shuf(__m256i v, int k) {
    return _mm256_shuffle_epi8(v, _mm256_load_si256((const __m256i *)ctl[k]));
}

/* Scales of sub-blocks 0-3 and 4-7, mins likewise, one byte each, row r in lane r. */
typedef struct {
    __m256i sc[2], m[2];
} q4k_sm;

INLINE q4k_sm unpack_scales(const uint8_t scales[3][32]) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)scales[0]);
    const __m256i w1 = _mm256_loadu_si256((const __m256i *)scales[1]);
    const __m256i w2 = _mm256_loadu_si256((const __m256i *)scales[2]);
    const __m256i k3f = _mm256_set1_epi8(0x3F), k0f = _mm256_set1_epi8(0xF);
    const __m256i k30 = _mm256_set1_epi8(0x30);
    q4k_sm o;
    o.sc[0] = _mm256_and_si256(w0, k3f);
    o.m[0] = _mm256_and_si256(w1, k3f);
    /* 4-7: low 4 bits from the third word, the top 2 from the top bits of the first two. */
    o.sc[1] =
        _mm256_or_si256(_mm256_and_si256(w2, k0f), _mm256_and_si256(_mm256_srli_epi32(w0, 2), k30));
    o.m[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w2, 4), k0f),
                             _mm256_and_si256(_mm256_srli_epi32(w1, 2), k30));
    return o;
}

/* sum_s m_s * (token's sum of sub-block s) per row lane: bsums pairs added to the 8
 * sub-block sums, broadcast two at a time. */
INLINE __m256i mins_dot(const __m256i mp[4], const block_q8_K *y) {
    const __m128i s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y->bsums),
                                     _mm_loadu_si128((const __m128i *)(y->bsums + 8)));
    const __m256i sb = _mm256_broadcastsi128_si256(s);
    const __m256i a = _mm256_add_epi32(_mm256_madd_epi16(mp[0], _mm256_shuffle_epi32(sb, 0x00)),
                                       _mm256_madd_epi16(mp[1], _mm256_shuffle_epi32(sb, 0x55)));
    const __m256i b = _mm256_add_epi32(_mm256_madd_epi16(mp[2], _mm256_shuffle_epi32(sb, 0xAA)),
                                       _mm256_madd_epi16(mp[3], _mm256_shuffle_epi32(sb, 0xFF)));
    return _mm256_add_epi32(a, b);
}

/* A super-block's end for NT tokens: acc[t] += d * d_t * sumi[t] - dmin * d_t * (mins . the
 * token's sub-block sums), d and dmin the 8 rows' halves. */
INLINE void finish_block(const uint16_t *d, const uint16_t *dmin, const q4k_sm *sm,
                         const __m256i *sumi, const block_q8_K *const *y, __m256 *acc,
                         const int NT) {
    const __m256i mp[4] = {shuf(sm->m[0], 4), shuf(sm->m[0], 5), shuf(sm->m[1], 4),
                           shuf(sm->m[1], 5)};
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
    const __m256 dmw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dmin));
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        const __m256 yd = _mm256_set1_ps(y[t]->d);
        const __m256 mins = _mm256_cvtepi32_ps(mins_dot(mp, y[t]));
        acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, yd), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(dmw, yd), mins, acc[t]);
    }
}

#endif
