/*
 * AVX2 kernel for Q4_K weights repacked 8 rows at a time (block_q4_Kx8): one row per 32-bit
 * lane, Q8_K tokens read in place.
 *
 * Per super-block, the 8 rows' 6-bit scales and mins are unpacked together (lane-wise shifts
 * and masks of the 3 scale words, as a row's 12 bytes are defined), and each sub-block's
 * scale becomes an int16 pair [sc, sc] per lane with one pshufb. A piece of nibbles (4 bytes
 * of each row, both nibbles of one sub-block) is unpacked once for every token; the token's
 * quants are broadcast 4 at a time. The maddubs products of a sub-block are summed in int16
 * (4 pieces x 2 x 2 x 15 x 128 = 30720 fits), then one madd with the scale pair gives
 * sc * sum as int32. The mins: 4 madds of [m_2p, m_2p+1] pairs with the token's sub-block
 * sums (from bsums), one row per lane as well.
 */
#include "r8k_avx2.h"

/* A single token (generation) streams the weights from memory, where the hardware
 * prefetcher alone leaves the bus idle part of the time: the next super-block's 18 lines are
 * asked for 2 at a time, at the start and with each sub-block (prefetch_l1). */
INLINE void prefetch_next(const block_q4_Kx8 *w, int part) {
    const uintptr_t p = (uintptr_t)(w + 1) + 128 * (uintptr_t)part;
    prefetch_l1(p);
    prefetch_l1(p + 64);
}

/* sumi[t] += sc_s * (sub-block s of the 8 rows . token t's quants), sc as [sc, sc] pairs. */
INLINE void sub_block(const block_q4_Kx8 *w, const block_q8_K *const *y, int s, __m256i sc,
                      __m256i *sumi, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    if (NT == 1) prefetch_next(w, 1 + s);
    __m256i a[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) a[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)w->qs[4 * s + p]);
        const __m256i lo = _mm256_and_si256(v, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const int8_t *q = y[t]->qs + 32 * s + 4 * p;
            a[t] = _mm256_add_epi16(a[t], _mm256_maddubs_epi16(lo, bcast4(q)));
            a[t] = _mm256_add_epi16(a[t], _mm256_maddubs_epi16(hi, bcast4(q + 16)));
            KEEP(a[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(a[t], sc));
        KEEP(sumi[t]);
    }
}

/* One super-block of the 8 rows times NT tokens, added to acc[t]. */
INLINE void super_block(const block_q4_Kx8 *w, const block_q8_K *const *y, __m256 *acc,
                        const int NT) {
    if (NT == 1) prefetch_next(w, 0); /* d, dmin, scales */
    const q4k_sm sm = unpack_scales(w->scales);
    __m256i sumi[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    /* Sub-blocks 0-3 then 4-7: one copy of the code, the scales' register picked by h. */
    for (int h = 0; h < 2; h++) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) sub_block(w, y, 4 * h + k, shuf(sm.sc[h], k), sumi, NT);
    }
    finish_block(w->d, w->dmin, &sm, sumi, y, acc, NT);
}

DEFINE_R8_Q8K(q4_Kr8_avx2, block_q4_Kx8)

void kern_patch_avx2_r8k(kern_r8_fn *table) {
    table[KERN_TYPE_Q4_K_R8 - KERN_R8_FIRST] = q4_Kr8_avx2;
}
