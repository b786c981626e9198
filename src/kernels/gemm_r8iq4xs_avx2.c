/*
 * AVX2 kernel for IQ4_XS weights repacked 8 rows at a time (block_iq4_xsx8, repack_iq4xs.c):
 * one row per 32-bit lane, Q8_K tokens read in place, up to 4 tokens per unpacked piece.
 *
 * A piece (4 bytes of each row, both nibbles of one sub-block) becomes its signed levels
 * (-127..113) with one pshufb per nibble half, the 16 levels in both 128-bit lanes, and their
 * magnitudes with a second table (pshufb, beside the multiplies, rather than an abs among
 * them). maddubs takes the magnitudes and the token's quants given the levels' signs (the
 * sign trick); its pair sums reach 2 x 127 x 128, so each is widened at once by a madd with
 * the sub-block's scale pair [ls - 32, ls - 32] into the int32 sums. The 8 rows' scales come
 * out of their 48 bytes a byte each (ls - 32, row r in lane r) with a few lane-wise shifts
 * and masks; a sub-block's pair is then one pshufb and one arithmetic shift.
 */
#include "avx2_int.h"

#define INLINE static inline __attribute__((always_inline))


/* pshufb controls giving every byte of a 32-bit lane that lane's byte k. */
#define LANE4(k) k, k, k, k
#define PICK(k)                                                                                    \
    {LANE4(k), LANE4((k) + 4), LANE4((k) + 8), LANE4((k) + 12),                                   \
     LANE4(k), LANE4((k) + 4), LANE4((k) + 8), LANE4((k) + 12)}
static const uint8_t pick[4][32] __attribute__((aligned(32))) = {PICK(0), PICK(1), PICK(2),
                                                                  PICK(3)};

/* The scale pair of sub-block 4h + k: int8 byte k of each lane of sc[h], sign-extended into
 * both int16 halves. */
INLINE __m256i scale_pair(__m256i sc, int k) {
    return _mm256_srai_epi16(
        _mm256_shuffle_epi8(sc, _mm256_load_si256((const __m256i *)pick[k])), 8);
}

/* ls - 32 of sub-blocks 0-3 (sc[0]) and 4-7 (sc[1]) as int8, row r in lane r. */
INLINE void unpack_scales(const block_iq4_xsx8 *w, __m256i sc[2]) {
    const __m256i b = _mm256_loadu_si256((const __m256i *)w->sc);
    const __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)w->sc4));
    const __m256i k3f = _mm256_set1_epi8(0x3F), k0f = _mm256_set1_epi8(0xF);
    const __m256i k30 = _mm256_set1_epi8(0x30), k32 = _mm256_set1_epi8(32);
    /* Row r's two sc4 bytes, one per 16 bits, spread a nibble per byte: the low 4 bits of
     * ls_4..ls_7 in bytes 0..3 of lane r. */
    const __m256i lo4 = _mm256_and_si256(_mm256_or_si256(x, _mm256_slli_epi16(x, 4)), k0f);
    sc[0] = _mm256_sub_epi8(_mm256_and_si256(b, k3f), k32);
    sc[1] = _mm256_sub_epi8(
        _mm256_or_si256(lo4, _mm256_and_si256(_mm256_srli_epi16(b, 2), k30)), k32);
}

/* A single token (generation) streams the weights from memory, where the hardware
 * prefetcher alone leaves the bus idle part of the time: the next block's 17 lines are asked
 * for a few at a time (prefetch_l1): its first (d, scales) at the start, then 2 with each
 * sub-block. */
INLINE void prefetch_lines(const block_iq4_xsx8 *w, int line, int n) {
    const uintptr_t p = (uintptr_t)(w + 1) + 64 * (uintptr_t)line;
    for (int l = 0; l < n; l++) prefetch_l1(p + 64 * (uintptr_t)l);
}

/* sumi[t] += (ls_s - 32) * (sub-block s of the 8 rows . token t's quants), sc the scale pair;
 * lv and mag: the levels and their magnitudes in both 128-bit lanes. */
INLINE void sub_block(const block_iq4_xsx8 *w, const block_q8_K *const *y, int s, __m256i sc,
                      __m256i lv, __m256i mag, __m256i *sumi, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0xF);
    if (NT == 1) prefetch_lines(w, 1 + 2 * s, 2);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)w->qs[4 * s + p]);
        const __m256i lo = _mm256_and_si256(v, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        const __m256i wl = _mm256_shuffle_epi8(lv, lo), wh = _mm256_shuffle_epi8(lv, hi);
        const __m256i al = _mm256_shuffle_epi8(mag, lo), ah = _mm256_shuffle_epi8(mag, hi);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const int8_t *q = y[t]->qs + 32 * s + 4 * p;
            const __m256i pl = _mm256_maddubs_epi16(al, _mm256_sign_epi8(bcast4(q), wl));
            const __m256i ph = _mm256_maddubs_epi16(ah, _mm256_sign_epi8(bcast4(q + 16), wh));
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(pl, sc));
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(ph, sc));
            KEEP(sumi[t]);
        }
    }
}

/* One super-block of the 8 rows times NT tokens, added to acc[t]. */
INLINE void super_block(const block_iq4_xsx8 *w, const block_q8_K *const *y, __m256 *acc,
                        const int NT) {
    /* The levels and their magnitudes: loop-invariant, the compiler keeps them in registers
     * across the super-blocks. */
    const __m256i lv =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kern_iq4nl_values));
    const __m256i mag = _mm256_abs_epi8(lv);
    if (NT == 1) prefetch_lines(w, 0, 1);
    __m256i sc[2];
    unpack_scales(w, sc);
    __m256i sumi[KERN_R8_NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
    /* Sub-blocks 0-3 then 4-7: one copy of the code, the scales' register picked by h. */
    for (int h = 0; h < 2; h++) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            sub_block(w, y, 4 * h + k, scale_pair(sc[h], k), lv, mag, sumi, NT);
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w->d));
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++)
        acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(y[t]->d)),
                                 _mm256_cvtepi32_ps(sumi[t]), acc[t]);
}

DEFINE_R8_Q8K(iq4_xsr8_avx2, block_iq4_xsx8)

void kern_patch_avx2_r8iq4xs(kern_r8_fn *table) {
    table[KERN_TYPE_IQ4_XS_R8 - KERN_R8_FIRST] = iq4_xsr8_avx2;
}
