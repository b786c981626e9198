/*
 * AVX2 kernel for Q3_K weights repacked 8 rows at a time (block_q3_Kx8, repack_q3k.c): one
 * row per 32-bit lane, Q8_K tokens read in place, up to 4 tokens per unpacked piece.
 *
 * A piece (4 bytes of each row: 4 elements of a 16-element sub-block) is q + 4 (0..7,
 * unsigned), its low 2 bits and its high bit each brought into place with one shift and one
 * mask, so maddubs takes it and the token's quants directly. Pair sums reach 2 x 7 x 128, so a
 * sub-block's 4 pieces are summed in int16 before one madd with its scale pair
 * [sc - 32, sc - 32]. The +4 is taken off once per block: 4 x sum_s (sc_s - 32) x bsum_s, a
 * madd of scale pairs with the token's bsums (per 16 elements, as the sub-blocks). The 8 rows'
 * 16 scales come out of their 3 words a byte each (sc - 32, row r in lane r) with a few
 * lane-wise shifts and masks.
 */
#include "avx2_int.h"

#define INLINE static inline __attribute__((always_inline))

/* pshufb controls: 0..3, byte k of every 32-bit lane in all its bytes (sign-extended into
 * both int16 halves by an arithmetic shift: the pair [k, k]); 4, 5: bytes (0, 1) and (2, 3)
 * in the high bytes of the int16 halves (the pair [0, 1] or [2, 3] after the same shift). */
#define Z 0x80
#define LANES(a, b, c, d)                                                                          \
    a, b, c, d, (a) + 4, (b) + 4, (c) + 4, (d) + 4, (a) + 8, (b) + 8, (c) + 8, (d) + 8, (a) + 12,  \
        (b) + 12, (c) + 12, (d) + 12
#define CTL(a, b, c, d)                                                                            \
    { LANES(a, b, c, d), LANES(a, b, c, d) }
static const uint8_t ctl[6][32] __attribute__((aligned(32))) = {
    CTL(0, 0, 0, 0), CTL(1, 1, 1, 1), CTL(2, 2, 2, 2),
    CTL(3, 3, 3, 3), CTL(Z, 0, Z, 1), CTL(Z, 2, Z, 3),
};
#undef Z

/* ctl[k] applied to v, each int16 then shifted right by 8 with its sign. */
INLINE __m256i pair16(__m256i v, int k) {
    return _mm256_srai_epi16(_mm256_shuffle_epi8(v, _mm256_load_si256((const __m256i *)ctl[k])), 8);
}

/* sc - 32 of sub-blocks 4g..4g + 3 in sc[g] as int8, row r in lane r. Word w holds the
 * file's scale bytes 4w..4w + 3: low nibbles of scales 0-3 and 8-11 in word 0, of 4-7 and
 * 12-15 in word 1, the top 2 bits of scale 4g + c at bits 2g, 2g + 1 of byte c of word 2. */
INLINE void unpack_scales(const block_q3_Kx8 *w, __m256i sc[4]) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i *)w->scales[0]);
    const __m256i w1 = _mm256_loadu_si256((const __m256i *)w->scales[1]);
    const __m256i w2 = _mm256_loadu_si256((const __m256i *)w->scales[2]);
    const __m256i k0f = _mm256_set1_epi8(0xF), k30 = _mm256_set1_epi8(0x30);
    const __m256i k32 = _mm256_set1_epi8(32);
    const __m256i lo[4] = {w0, w1, _mm256_srli_epi16(w0, 4), _mm256_srli_epi16(w1, 4)};
    const __m256i hi[4] = {_mm256_slli_epi16(w2, 4), _mm256_slli_epi16(w2, 2), w2,
                           _mm256_srli_epi16(w2, 2)};
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++)
        sc[g] = _mm256_sub_epi8(
            _mm256_or_si256(_mm256_and_si256(lo[g], k0f), _mm256_and_si256(hi[g], k30)), k32);
}

/* A single token (generation) streams the weights from memory, where the hardware
 * prefetcher alone leaves the bus idle part of the time: the next block's 15 lines (880
 * bytes, not line-aligned) are asked for a few at a time (prefetch_l1): 2 at the start, then
 * 2 with every other sub-block, 1 with the last of those. */
INLINE void prefetch_lines(const block_q3_Kx8 *w, int line, int n) {
    const uintptr_t p = (uintptr_t)(w + 1) + 64 * (uintptr_t)line;
    for (int l = 0; l < n; l++) prefetch_l1(p + 64 * (uintptr_t)l);
}

/* Bit b of every byte of v moved to bit 2 (the high bit of q + 4). */
INLINE __m256i to_bit2(__m256i v, int b) {
    return b > 2 ? _mm256_srli_epi16(v, b - 2) : b < 2 ? _mm256_slli_epi16(v, 2 - b) : v;
}

/* sumi[t] += (sc_s - 32) * (sub-block s = 4g + k of the 8 rows, q + 4, . token t's quants),
 * sc the scale pair. */
INLINE void sub_block(const block_q3_Kx8 *w, const block_q8_K *const *y, int g, int k, __m256i sc,
                      __m256i *sumi, const int NT) {
    const __m256i m3 = _mm256_set1_epi8(3), b2 = _mm256_set1_epi8(4);
    const int s = 4 * g + k, h = k & 1;
    if (NT == 1 && !h) prefetch_lines(w, 2 + s, s == 12 ? 1 : 2);
    const __m256i lw = _mm256_loadu_si256((const __m256i *)w->qs[s]);
    const __m256i hw = _mm256_loadu_si256((const __m256i *)w->hm[s / 2]);
    __m256i a[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) a[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        const __m256i q = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lw, 2 * p), m3),
                                          _mm256_and_si256(to_bit2(hw, 4 * h + p), b2));
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

/* One super-block of the 8 rows times NT tokens, added to acc[t]. */
INLINE void super_block(const block_q3_Kx8 *w, const block_q8_K *const *y, __m256 *acc,
                        const int NT) {
    if (NT == 1) prefetch_lines(w, 0, 2);
    __m256i sc[4];
    unpack_scales(w, sc);
    __m256i sumi[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    /* Sub-blocks 4g..4g + 3: one copy of the code, the scales' register picked by g. */
    for (int g = 0; g < 4; g++) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) sub_block(w, y, g, k, pair16(sc[g], k), sumi, NT);
    }
    const __m256i sp[8] = {pair16(sc[0], 4), pair16(sc[0], 5), pair16(sc[1], 4), pair16(sc[1], 5),
                           pair16(sc[2], 4), pair16(sc[2], 5), pair16(sc[3], 4), pair16(sc[3], 5)};
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->d));
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        const __m256i off4 = _mm256_slli_epi32(pairs_dot_bsums16(sp, y[t]->bsums), 2);
        const __m256 yd = _mm256_set1_ps(y[t]->d);
        acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, yd),
                                 _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[t], off4)), acc[t]);
    }
}

DEFINE_R8_Q8K(q3_Kr8_avx2, block_q3_Kx8)

void kern_patch_avx2_r8q3k(kern_r8_fn *table) {
    table[KERN_TYPE_Q3_K_R8 - KERN_R8_FIRST] = q3_Kr8_avx2;
}
