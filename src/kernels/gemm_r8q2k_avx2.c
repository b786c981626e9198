/*
 * AVX2 kernel for Q2_K weights repacked 8 rows at a time (block_q2_Kx8, repack_q2k.c): one
 * row per 32-bit lane, Q8_K tokens read in place, up to 4 tokens per unpacked piece.
 *
 * A piece (4 bytes of each row: 4 elements of a 16-element sub-block) is q (0..3) after one
 * shift and one mask, so maddubs takes it and the token's quants directly. Pair sums reach
 * 2 x 3 x 128, so a sub-block's 4 pieces are summed in int16 before one madd with its scale
 * pair [sc, sc]. The mins come in once per block: sum_s m_s x bsum_s, a madd of the rows' min
 * pairs with the token's bsums (per 16 elements, as the sub-blocks). Scales and mins are the
 * low and high nibbles of the 4 scale words, row r in lane r.
 */
#include "avx2_int.h"

#define INLINE static inline __attribute__((always_inline))

/* pshufb controls: 0..3, byte k of every 32-bit lane as the int16 pair [k, k]; 4, 5: bytes
 * (0, 1) and (2, 3) as two int16. The bytes are 0..15: zero high bytes widen them. */
#define Z 0x80
#define LANES(a, b, c, d)                                                                          \
    a, b, c, d, (a) + 4, (b) + 4, (c) + 4, (d) + 4, (a) + 8, (b) + 8, (c) + 8, (d) + 8, (a) + 12,  \
        (b) + 12, (c) + 12, (d) + 12
#define CTL(a, b, c, d)                                                                            \
    { LANES(a, b, c, d), LANES(a, b, c, d) }
static const uint8_t ctl[6][32] __attribute__((aligned(32))) = {
    CTL(0, Z, 0, Z), CTL(1, Z, 1, Z), CTL(2, Z, 2, Z),
    CTL(3, Z, 3, Z), CTL(0, Z, 1, Z), CTL(2, Z, 3, Z),
};
#undef Z

INLINE __m256i shuf(__m256i v, int k) {
    return _mm256_shuffle_epi8(v, _mm256_load_si256((const __m256i *)ctl[k]));
}

/* A single token (generation) streams the weights from memory, where the hardware
 * prefetcher alone leaves the bus idle part of the time: the next block's lines (672 bytes,
 * not line-aligned: up to 12) are asked for a few at a time (prefetch_l1): 4 at the start,
 * then 1 with every other sub-block. */
INLINE void prefetch_lines(const block_q2_Kx8 *w, int line, int n) {
    const uintptr_t p = (uintptr_t)(w + 1) + 64 * (uintptr_t)line;
    for (int l = 0; l < n; l++) prefetch_l1(p + 64 * (uintptr_t)l);
}

/* sumi[t] += sc_s * (sub-block s of the 8 rows . token t's quants), sc the scale pair. */
INLINE void sub_block(const block_q2_Kx8 *w, const block_q8_K *const *y, int s, __m256i sc,
                      __m256i *sumi, const int NT) {
    const __m256i m3 = _mm256_set1_epi8(3);
    if (NT == 1 && !(s & 1)) prefetch_lines(w, 4 + s / 2, 1);
    const __m256i v = _mm256_loadu_si256((const __m256i *)w->qs[s]);
    __m256i a[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) a[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(v, 2 * p), m3);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            a[t] =
                _mm256_add_epi16(a[t], _mm256_maddubs_epi16(q, bcast4(y[t]->qs + 16 * s + 4 * p)));
            KEEP(a[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(a[t], sc));
        KEEP(sumi[t]);
    }
}

/* sum_s m_s * bsum_s per row lane: mp[j] the min pair of sub-blocks 2j, 2j + 1, madd'ed with
 * the token's bsums of the same two, broadcast. */
INLINE __m256i mins_dot(const __m256i mp[8], const block_q8_K *y) {
    const __m256i b0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)y->bsums));
    const __m256i b1 =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(y->bsums + 8)));
    __m256i o = _mm256_madd_epi16(mp[0], _mm256_shuffle_epi32(b0, 0x00));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(mp[1], _mm256_shuffle_epi32(b0, 0x55)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(mp[2], _mm256_shuffle_epi32(b0, 0xAA)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(mp[3], _mm256_shuffle_epi32(b0, 0xFF)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(mp[4], _mm256_shuffle_epi32(b1, 0x00)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(mp[5], _mm256_shuffle_epi32(b1, 0x55)));
    o = _mm256_add_epi32(o, _mm256_madd_epi16(mp[6], _mm256_shuffle_epi32(b1, 0xAA)));
    return _mm256_add_epi32(o, _mm256_madd_epi16(mp[7], _mm256_shuffle_epi32(b1, 0xFF)));
}

/* One super-block of the 8 rows times NT tokens, added to acc[t]: d d_t sumi - dmin d_t mins,
 * as vec_dot_q2_K sums. */
INLINE void super_block(const block_q2_Kx8 *w, const block_q8_K *const *y, __m256 *acc,
                        const int NT) {
    if (NT == 1) prefetch_lines(w, 0, 4);
    const __m256i k0f = _mm256_set1_epi8(0xF);
    __m256i sc[4], mn[4];
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        const __m256i sm = _mm256_loadu_si256((const __m256i *)w->sm[g]);
        sc[g] = _mm256_and_si256(sm, k0f);
        mn[g] = _mm256_and_si256(_mm256_srli_epi16(sm, 4), k0f);
    }
    __m256i sumi[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    /* Sub-blocks 4g..4g + 3: one copy of the code, the scales' register picked by g. */
    for (int g = 0; g < 4; g++) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) sub_block(w, y, 4 * g + k, shuf(sc[g], k), sumi, NT);
    }
    const __m256i mp[8] = {shuf(mn[0], 4), shuf(mn[0], 5), shuf(mn[1], 4), shuf(mn[1], 5),
                           shuf(mn[2], 4), shuf(mn[2], 5), shuf(mn[3], 4), shuf(mn[3], 5)};
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->d));
    const __m256 dmw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->dmin));
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        const __m256 yd = _mm256_set1_ps(y[t]->d);
        acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, yd), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(dmw, yd), _mm256_cvtepi32_ps(mins_dot(mp, y[t])),
                                  acc[t]);
    }
}

DEFINE_R8_Q8K(q2_Kr8_avx2, block_q2_Kx8)

void kern_patch_avx2_r8q2k(kern_r8_fn *table) {
    table[KERN_TYPE_Q2_K_R8 - KERN_R8_FIRST] = q2_Kr8_avx2;
}
