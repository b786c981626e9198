/*
 * AVX2 kernel for Q5_K weights repacked 8 rows at a time (block_q5_Kx8, repack_q5k.c): one
 * row per 32-bit lane, Q8_K tokens read in place. The Q4_K kernel (gemm_r8k_avx2.c) with the
 * fifth bits: the scales, mins and block scales are handled as there (r8k_avx2.h).
 *
 * A sub-block's fifth bits are one 32-byte load (4 bytes per row). Piece p's bits sit at
 * bit p (low nibbles) and bit 4 + p (high nibbles) of every byte, so one shift and one mask
 * move each half's to bit 4 and an OR merges them into the nibbles: quants 0..31. maddubs
 * pair sums are now up to 2 x 31 x 128 = 7936, so only 2 pieces (4 products) are summed in
 * int16 before each madd with the scale pair [sc, sc] (Q4_K sums all 4 pieces).
 */
#include "r8k_avx2.h"

/* A single token (generation) streams the weights from memory, where the hardware
 * prefetcher alone leaves the bus idle part of the time: the next super-block's 22 lines are
 * asked for a few at a time (prefetch_l1): 2 at the start (d, dmin, scales), then 10 over
 * each half's 4 sub-blocks, 3, 2, 3 and 2. */
INLINE void prefetch_lines(const block_q5_Kx8 *w, int line, int n) {
    const uintptr_t p = (uintptr_t)(w + 1) + 64 * (uintptr_t)line;
    for (int l = 0; l < n; l++) prefetch_l1(p + 64 * (uintptr_t)l);
}

/* sumi[t] += sc * (sub-block 4h + k of the 8 rows . token t's quants), sc as [sc, sc] pairs. */
INLINE void sub_block(const block_q5_Kx8 *w, const block_q8_K *const *y, int h, int k,
                      __m256i sc, __m256i *sumi, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    const int s = 4 * h + k;
    if (NT == 1) prefetch_lines(w, 2 + 10 * h + (5 * k + 1) / 2, 3 - (k & 1));
    const __m256i hb = _mm256_loadu_si256((const __m256i *)w->qh[s]);
#pragma GCC unroll 2
    for (int half = 0; half < 2; half++) {
        __m256i a[KERN_R8_NT];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) a[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int pp = 0; pp < 2; pp++) {
            const int p = 2 * half + pp;
            const __m256i v = _mm256_loadu_si256((const __m256i *)w->qs[4 * s + p]);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(v, m4),
                                               _mm256_and_si256(_mm256_slli_epi16(hb, 4 - p), b4));
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4),
                                               _mm256_and_si256(_mm256_srli_epi16(hb, p), b4));
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
}

/* One super-block of the 8 rows times NT tokens, added to acc[t]. */
INLINE void super_block(const block_q5_Kx8 *w, const block_q8_K *const *y, __m256 *acc,
                        const int NT) {
    if (NT == 1) prefetch_lines(w, 0, 2);
    const q4k_sm sm = unpack_scales(w->scales);
    __m256i sumi[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    /* Sub-blocks 0-3 then 4-7: one copy of the code, the scales' register picked by h. */
    for (int h = 0; h < 2; h++) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) sub_block(w, y, h, k, shuf(sm.sc[h], k), sumi, NT);
    }
    finish_block(w->d, w->dmin, &sm, sumi, y, acc, NT);
}

DEFINE_R8_Q8K(q5_Kr8_avx2, block_q5_Kx8)

void kern_patch_avx2_r8q5k(kern_r8_fn *table) {
    table[KERN_TYPE_Q5_K_R8 - KERN_R8_FIRST] = q5_Kr8_avx2;
}
