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
#include "r8k_avx2.h" /* shuf(): scale pairs (0..3) and two mins (4, 5) of byte lanes */

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
        acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(dmw, yd),
                                  _mm256_cvtepi32_ps(pairs_dot_bsums16(mp, y[t]->bsums)), acc[t]);
    }
}

DEFINE_R8_Q8K(q2_Kr8_avx2, block_q2_Kx8)

void kern_patch_avx2_r8q2k(kern_r8_fn *table) {
    table[KERN_TYPE_Q2_K_R8 - KERN_R8_FIRST] = q2_Kr8_avx2;
}
